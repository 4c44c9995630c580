// The prefill interface: context in, stored KV entry handle out.
#ifndef KVLAB_SERVICES_PREFILL_PREFILLER_H_
#define KVLAB_SERVICES_PREFILL_PREFILLER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "kvlab/v1/prefill.pb.h"
#include "services/compressor/compressor.h"
#include "services/kvstore/kv_store.h"

namespace kvlab {

// Thread-safe.
class Prefiller {
 public:
  virtual ~Prefiller() = default;
  // See kvlab.v1.PrefillService.Prefill for semantics and errors.
  virtual absl::StatusOr<v1::PrefillResponse> Prefill(const v1::PrefillRequest& request) = 0;
};

struct PrefillOptions {
  // Longest context accepted (tokens); longer ones get RESOURCE_EXHAUSTED.
  int64_t max_context_tokens = 131072;
};

// The in-process prefill: runs `model` itself and talks to `compressor` and
// `store` (local or gRPC clients). All pointers are borrowed and must outlive
// the prefiller; `tokenizer` may be null when requests carry token ids.
std::unique_ptr<Prefiller> NewLocalPrefiller(const Model* model, const Tokenizer* tokenizer,
                                             Compressor* compressor, KvStore* store,
                                             const PrefillOptions& options = {});

}  // namespace kvlab

#endif  // KVLAB_SERVICES_PREFILL_PREFILLER_H_
