// The decode worker interface: answers from cached contexts, multi-turn
// sessions checkpointed to the kvstore.
#ifndef KVLAB_SERVICES_DECODE_DECODE_WORKER_H_
#define KVLAB_SERVICES_DECODE_DECODE_WORKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "kvlab/v1/decode.pb.h"
#include "services/kvstore/kv_store.h"

namespace kvlab {

// Thread-safe; turns of one session are serialized.
class DecodeWorker {
 public:
  virtual ~DecodeWorker() = default;
  // See kvlab.v1.DecodeService for semantics and errors.
  virtual absl::StatusOr<v1::AnswerResponse> Answer(const v1::AnswerRequest& request) = 0;
  virtual absl::StatusOr<v1::TurnResponse> Turn(const v1::TurnRequest& request) = 0;
  virtual absl::Status CloseSession(const std::string& session_id) = 0;
};

struct DecodeOptions {
  // Upper bound on GenerationParams.max_new_tokens.
  int32_t max_new_tokens = 1024;
  // Longest query / turn append accepted (tokens).
  int64_t max_query_tokens = 32768;
  // Sessions held in memory; the least recently used beyond this are dropped
  // (they can still be resumed from their checkpoints).
  int32_t max_sessions = 64;
};

// The in-process worker. Pointers are borrowed and must outlive it;
// `tokenizer` may be null (token ids only, no text).
std::unique_ptr<DecodeWorker> NewLocalDecodeWorker(const Model* model, const Tokenizer* tokenizer, KvStore* store,
                                                   const DecodeOptions& options = {});

// The kvstore id of a session's checkpoint.
std::string SessionCheckpointId(const std::string& session_id);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_DECODE_DECODE_WORKER_H_
