// The model fingerprint: identifies a model's exact weights and architecture.
#ifndef KVLAB_ENGINE_FINGERPRINT_H_
#define KVLAB_ENGINE_FINGERPRINT_H_

#include "common/hash.h"
#include "engine/checkpoint.h"

namespace kvlab {

// xxh3-128 over the canonical config (ModelConfig::Canonical) and, for every
// tensor in name order, its name, dtype, shape and raw bytes as stored. Two
// directories with the same architecture and bit-identical tensors get the
// same fingerprint regardless of sharding or tensor order in the files.
// Reads every weight byte once (sequentially); thread-compatible.
Hash128 ComputeFingerprint(const Checkpoint& checkpoint);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_FINGERPRINT_H_
