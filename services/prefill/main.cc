// kvlab-prefill: runs the model over shared contexts and stores their KV.
//
//   kvlab-prefill --model=DIR --kvstore=HOST:PORT --compressor=HOST:PORT
//                 [--listen=127.0.0.1:7101] [--max_context_tokens=131072] [common server flags]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/large_buffer_heap.h"
#include "engine/backend_flags.h"
#include "services/common/served_model.h"
#include "services/common/server_flags.h"
#include "services/compressor/grpc_client.h"
#include "services/kvstore/grpc_client.h"
#include "services/prefill/grpc_server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model directory to serve");
ABSL_FLAG(std::string, kvstore, "", "address of kvlab-kvstore (host:port)");
ABSL_FLAG(std::string, compressor, "", "address of kvlab-compressor (host:port)");
ABSL_FLAG(int64_t, max_context_tokens, 131072, "longest context accepted (tokens)");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "kvlab-prefill: %s\n", status.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-prefill: prefills shared contexts over gRPC (kvlab.v1.PrefillService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("prefill", "127.0.0.1:7101");
  if (!options.ok()) return Fail(options.status());
  if (absl::GetFlag(FLAGS_kvstore).empty()) return Fail(absl::InvalidArgumentError("--kvstore is required"));
  if (absl::GetFlag(FLAGS_compressor).empty()) return Fail(absl::InvalidArgumentError("--compressor is required"));
  if (absl::GetFlag(FLAGS_max_context_tokens) <= 0) {
    return Fail(absl::InvalidArgumentError("--max_context_tokens must be positive"));
  }
  auto backend = kvlab::BackendFromFlags();
  if (!backend.ok()) return Fail(backend.status());
  auto served = kvlab::LoadServedModel(absl::GetFlag(FLAGS_model), std::move(*backend));
  if (!served.ok()) return Fail(served.status());
  spdlog::info("serving model {} ({}) on {}", served->model->dir(), served->model->fingerprint().ToHex(),
               served->backend->name());
  auto store = kvlab::NewKvStoreClient(kvlab::PeerOptionsFromFlags(*options, absl::GetFlag(FLAGS_kvstore), "kvstore"));
  if (!store.ok()) return Fail(store.status());
  auto compressor = kvlab::NewCompressorClient(
      kvlab::PeerOptionsFromFlags(*options, absl::GetFlag(FLAGS_compressor), "compressor"));
  if (!compressor.ok()) return Fail(compressor.status());
  kvlab::PrefillOptions prefill_options;
  prefill_options.max_context_tokens = absl::GetFlag(FLAGS_max_context_tokens);
  auto prefiller = kvlab::NewLocalPrefiller(served->model.get(), served->tokenizer.get(), compressor->get(),
                                            store->get(), prefill_options);
  kvlab::PrefillGrpcService service(prefiller.get(), kvlab::Authenticator(options->auth_token));
  return kvlab::ServeUntilSignal("prefill", *options, {&service});
}
