// The --backend, --kv_dtype and --weights_dtype flags shared by every binary
// that runs the model (kvlab run, kvlab-generate, kvlab-prefill,
// kvlab-decode, the benchmarks).
#ifndef KVLAB_ENGINE_BACKEND_FLAGS_H_
#define KVLAB_ENGINE_BACKEND_FLAGS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend.h"

namespace kvlab {

// NewBackend(--backend, --kv_dtype, --weights_dtype), errors prefixed with
// the flag names.
absl::StatusOr<std::unique_ptr<Backend>> BackendFromFlags();

// The three flags as command-line arguments ("--backend=...", ...), to start
// another kvlab binary on the same backend.
std::vector<std::string> BackendFlagArgs();

}  // namespace kvlab

#endif  // KVLAB_ENGINE_BACKEND_FLAGS_H_
