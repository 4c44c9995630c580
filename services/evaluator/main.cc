// kvlab-evaluator: runs SCBench-style jobs over a prefill service and decode
// workers.
//
//   kvlab-evaluator --prefill=HOST:PORT --decode=HOST:PORT[,HOST:PORT...] --model=DIR
//                   [--jobs_dir=kvlab-jobs] [--data_dir=DIR,...] [--listen=127.0.0.1:7100]
//                   [common server flags]
#include <cstdio>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "common/large_buffer_heap.h"
#include "engine/tokenizer/chat_template.h"
#include "services/common/server_flags.h"
#include "services/decode/grpc_client.h"
#include "services/evaluator/grpc_server.h"
#include "services/evaluator/local_evaluator.h"
#include "services/prefill/grpc_client.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, prefill, "", "address of kvlab-prefill (host:port)");
ABSL_FLAG(std::vector<std::string>, decode, {}, "addresses of kvlab-decode workers (host:port,...)");
ABSL_FLAG(std::string, model, "", "model directory whose tokenizer and chat template build the prompts");
ABSL_FLAG(std::string, jobs_dir, "kvlab-jobs",
          "where jobs write their outputs: <jobs_dir>/<job id>, or <jobs_dir>/<output_dir> for a request that names "
          "one (relative, no '..')");
ABSL_FLAG(std::vector<std::string>, data_dir, {},
          "directories (comma-separated) that jobs' task files and source_dir are named relative to; none = jobs "
          "may only use synthetic tasks");

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "kvlab-evaluator: %s\n", status.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-evaluator: runs evaluation jobs over gRPC (kvlab.v1.EvaluatorService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("evaluator", "127.0.0.1:7100");
  if (!options.ok()) return Fail(options.status());
  if (absl::GetFlag(FLAGS_prefill).empty()) return Fail(absl::InvalidArgumentError("--prefill is required"));
  std::vector<std::string> decode_addresses;
  for (const std::string& a : absl::GetFlag(FLAGS_decode)) {
    if (!a.empty()) decode_addresses.push_back(a);
  }
  if (decode_addresses.empty()) return Fail(absl::InvalidArgumentError("--decode needs at least one address"));
  const std::string model_dir = absl::GetFlag(FLAGS_model);
  if (model_dir.empty()) return Fail(absl::InvalidArgumentError("--model is required (for the tokenizer)"));
  auto tokenizer = kvlab::Tokenizer::FromModelDir(model_dir);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  std::string no_chat;
  auto chat = kvlab::ChatTemplate::OptionalFromModelDir(model_dir, &no_chat);
  if (!chat.ok()) return Fail(chat.status());
  if (!chat->has_value()) spdlog::warn("prompts without a chat template: {}", no_chat);

  auto prefill = kvlab::NewPrefillClient(
      kvlab::PeerOptionsFromFlags(*options, absl::GetFlag(FLAGS_prefill), "prefill"));
  if (!prefill.ok()) return Fail(prefill.status());
  std::vector<std::unique_ptr<kvlab::DecodeWorker>> workers;
  kvlab::JobDeps deps;
  deps.prefill = prefill->get();
  for (size_t i = 0; i < decode_addresses.size(); ++i) {
    auto worker = kvlab::NewDecodeClient(kvlab::PeerOptionsFromFlags(*options, decode_addresses[i], "decode"));
    if (!worker.ok()) return Fail(worker.status());
    deps.workers.push_back(worker->get());
    workers.push_back(std::move(*worker));
  }
  deps.tokenizer = tokenizer->get();
  deps.chat = *chat;
  auto config = kvlab::ModelConfig::FromModelDir(model_dir);
  if (!config.ok()) return Fail(config.status());
  deps.model = *config;
  kvlab::LocalEvaluatorOptions evaluator_options;
  evaluator_options.jobs_dir = absl::GetFlag(FLAGS_jobs_dir);
  evaluator_options.data_dirs = absl::GetFlag(FLAGS_data_dir);
  auto evaluator = kvlab::NewLocalEvaluator(deps, evaluator_options);
  kvlab::EvaluatorGrpcService service(evaluator.get(), kvlab::Authenticator(options->auth_token));
  const int code = kvlab::ServeUntilSignal("evaluator", *options, {&service});
  evaluator.reset();  // cancels running jobs before the clients go away
  return code;
}
