// kvlab-decode: a decode worker answering from cached contexts and running
// multi-turn sessions checkpointed to the kvstore.
//
//   kvlab-decode --model=DIR --kvstore=HOST:PORT [--listen=127.0.0.1:7104]
//                [--max_new_tokens=1024] [--max_query_tokens=32768] [--max_sessions=64]
//                [common server flags]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/large_buffer_heap.h"
#include "engine/backend_flags.h"
#include "services/common/served_model.h"
#include "services/common/server_flags.h"
#include "services/decode/grpc_server.h"
#include "services/kvstore/grpc_client.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model directory to serve");
ABSL_FLAG(std::string, kvstore, "", "address of kvlab-kvstore (host:port)");
ABSL_FLAG(int32_t, max_new_tokens, 1024, "largest max_new_tokens a request may ask for");
ABSL_FLAG(int64_t, max_query_tokens, 32768, "longest query / turn append accepted (tokens)");
ABSL_FLAG(int32_t, max_sessions, 64, "sessions held in memory (older ones resume from their checkpoints)");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "kvlab-decode: %s\n", status.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-decode: a decode worker over gRPC (kvlab.v1.DecodeService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("decode", "127.0.0.1:7104");
  if (!options.ok()) return Fail(options.status());
  if (absl::GetFlag(FLAGS_kvstore).empty()) return Fail(absl::InvalidArgumentError("--kvstore is required"));
  kvlab::DecodeOptions decode_options;
  decode_options.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  decode_options.max_query_tokens = absl::GetFlag(FLAGS_max_query_tokens);
  decode_options.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  if (decode_options.max_new_tokens < 1 || decode_options.max_query_tokens < 1 || decode_options.max_sessions < 1) {
    return Fail(absl::InvalidArgumentError("--max_new_tokens, --max_query_tokens and --max_sessions must be >= 1"));
  }
  auto backend = kvlab::BackendFromFlags();
  if (!backend.ok()) return Fail(backend.status());
  auto served = kvlab::LoadServedModel(absl::GetFlag(FLAGS_model), std::move(*backend));
  if (!served.ok()) return Fail(served.status());
  spdlog::info("serving model {} ({}) on {}", served->model->dir(), served->model->fingerprint().ToHex(),
               served->backend->name());
  auto store = kvlab::NewKvStoreClient(kvlab::PeerOptionsFromFlags(*options, absl::GetFlag(FLAGS_kvstore), "kvstore"));
  if (!store.ok()) return Fail(store.status());
  auto worker = kvlab::NewLocalDecodeWorker(served->model.get(), served->tokenizer.get(), store->get(),
                                            decode_options);
  kvlab::DecodeGrpcService service(worker.get(), kvlab::Authenticator(options->auth_token));
  return kvlab::ServeUntilSignal("decode", *options, {&service});
}
