// kvlab-generate: greedy generation from a Hugging Face model directory.
//
//   kvlab-generate --model DIR --prompt "text" [--chat] [--system "..."]
//                  [--max_new_tokens 128] [--stop "\n"]...
//   kvlab-generate --model DIR --prompt_tokens 8192   # random ids, no tokenizer
//
// Prints the generated text, then the timings (prompt tokens, time to first
// token, decode tokens/s) on stderr.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/backend.h"
#include "engine/backend_flags.h"
#include "engine/generator.h"
#include "engine/model.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model directory (required)");
ABSL_FLAG(std::string, prompt, "", "prompt text");
ABSL_FLAG(bool, chat, false, "wrap the prompt in the model's chat template as a user turn");
ABSL_FLAG(std::string, system, "", "system message (with --chat)");
ABSL_FLAG(int64_t, max_new_tokens, 128, "maximum tokens to generate");
ABSL_FLAG(std::vector<std::string>, stop, {}, "stop strings (comma-separated)");
ABSL_FLAG(int64_t, prompt_tokens, 0,
          "instead of --prompt, feed this many random token ids (benchmarking; no tokenizer needed)");
ABSL_FLAG(bool, quiet, false, "print nothing but errors");

namespace kvlab {
namespace {

absl::Status RunRandom(const Model& model, int64_t n, int64_t max_new, bool quiet) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> d(0, static_cast<int32_t>(model.config().vocab_size - 1));
  std::vector<int32_t> ids(n);
  for (auto& x : ids) x = d(rng);
  KVLAB_ASSIGN_OR_RETURN(auto cache, model.NewCache(n + max_new));
  auto t0 = std::chrono::steady_clock::now();
  KVLAB_ASSIGN_OR_RETURN(Logits logits, model.Forward(ids, *cache));
  auto t1 = std::chrono::steady_clock::now();
  for (int64_t i = 1; i < max_new; ++i) {
    const int32_t next[1] = {Argmax(logits.Row(0))};
    KVLAB_ASSIGN_OR_RETURN(logits, model.Forward(next, *cache));
  }
  auto t2 = std::chrono::steady_clock::now();
  if (!quiet) {
    double prefill = std::chrono::duration<double>(t1 - t0).count();
    double decode = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "prompt %lld tokens, prefill %.3f s (%.0f tok/s), decode %.1f tok/s\n",
                 (long long)n, prefill, n / prefill, (max_new - 1) / decode);
  }
  return absl::OkStatus();
}

absl::Status Run() {
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) return absl::InvalidArgumentError("--model is required");
  const bool quiet = absl::GetFlag(FLAGS_quiet);
  KVLAB_ASSIGN_OR_RETURN(auto backend, BackendFromFlags());
  KVLAB_ASSIGN_OR_RETURN(auto model, Model::Load(dir, *backend));
  const int64_t max_new = absl::GetFlag(FLAGS_max_new_tokens);
  if (max_new < 1) return absl::InvalidArgumentError("--max_new_tokens must be at least 1");
  if (absl::GetFlag(FLAGS_prompt_tokens) > 0) {
    return RunRandom(*model, absl::GetFlag(FLAGS_prompt_tokens), max_new, quiet);
  }
  KVLAB_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromModelDir(dir));
  std::string text = absl::GetFlag(FLAGS_prompt);
  bool add_special = true;
  if (absl::GetFlag(FLAGS_chat)) {
    KVLAB_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::FromModelDir(dir));
    std::vector<ChatMessage> messages;
    if (!absl::GetFlag(FLAGS_system).empty()) messages.push_back({"system", absl::GetFlag(FLAGS_system)});
    messages.push_back({"user", text});
    KVLAB_ASSIGN_OR_RETURN(text, tmpl.Render(messages, /*add_generation_prompt=*/true));
    add_special = false;  // the template already holds the special tokens
  }
  KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tokenizer->Encode(text, add_special));
  GenerationOptions opts;
  opts.max_new_tokens = max_new;
  opts.eos_ids = model->config().eos_token_ids;
  for (int32_t id : tokenizer->eos_ids()) opts.eos_ids.push_back(id);
  opts.stop_strings = absl::GetFlag(FLAGS_stop);
  KVLAB_ASSIGN_OR_RETURN(auto cache, model->NewCache(static_cast<int64_t>(ids.size()) + max_new));
  KVLAB_ASSIGN_OR_RETURN(GenerationResult r, Generate(*model, *cache, ids, tokenizer.get(), opts));
  if (!quiet) {
    std::printf("%s\n", r.text.c_str());
    const char* finish = r.finish == GenerationResult::Finish::kEos    ? "eos"
                         : r.finish == GenerationResult::Finish::kStop ? "stop string"
                                                                       : "length";
    std::fprintf(stderr,
                 "prompt %lld tokens | time to first token %.3f s (%.0f tok/s prefill) | %zu new tokens, "
                 "%.1f tok/s decode | finished by %s\n",
                 (long long)r.prompt_tokens, r.prefill_seconds, r.prompt_tokens / r.prefill_seconds,
                 r.tokens.size(), r.decode_tokens_per_second(), finish);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace kvlab

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("kvlab-generate --model DIR --prompt TEXT [--chat] [--max_new_tokens N]");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = kvlab::Run();
  if (!s.ok()) {
    std::fprintf(stderr, "kvlab-generate: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
