// kvlab-synth: training data for kvlab's own model (issue 9). Writes JSONL
// records of synthetic SCBench-style sessions rendered exactly as the cluster
// feeds them (chat template applied, both shared-context modes), with the
// gold answers marked as token and byte spans.
//
//   kvlab-synth --tokenizer DIR --task kv,passkey --seed 1 --count 100
//               --context_tokens 1024 --turns 5 --mode both --out data.jsonl
//
// Record: {"task", "index", "context_tokens", "mode", "turn", "ids",
//          "answer_spans": [[b,e],...], "text", "answer_chars": [[b,e],...]}
// Sample i of task t is GenerateSyntheticSample(t, {context_tokens, turns,
// seed, start_index + i}), so a (seed, index) pair names the same session the
// evaluator would generate.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "services/evaluator/synthetic_tasks.h"
#include "tools/training_records.h"

ABSL_FLAG(std::string, tokenizer, "", "model directory with tokenizer.json + tokenizer_config.json (required)");
ABSL_FLAG(std::vector<std::string>, task, {"kv"}, "synthetic tasks (comma-separated)");
ABSL_FLAG(uint64_t, seed, 1, "generator seed");
ABSL_FLAG(int64_t, count, 10, "samples per task");
ABSL_FLAG(int64_t, start_index, 0, "index of the first sample");
ABSL_FLAG(int64_t, context_tokens, 1024, "target context length in tokens of --tokenizer");
ABSL_FLAG(int64_t, turns, 5, "turns per session");
ABSL_FLAG(bool, ordered_questions, false,
          "ask the spread targets front to back (a training curriculum step; the evaluator always shuffles)");
ABSL_FLAG(std::string, mode, "both", "multi_turn | multi_request | both");
ABSL_FLAG(bool, text, true, "include the decoded text and byte spans");
ABSL_FLAG(std::string, out, "-", "output file; - = stdout");

namespace kvlab {
namespace {

nlohmann::json ToJson(const std::string& task, int64_t index, const TrainingRecord& r, bool text) {
  nlohmann::json j;
  j["task"] = task;
  j["index"] = index;
  j["context_tokens"] = absl::GetFlag(FLAGS_context_tokens);
  j["mode"] = r.mode;
  j["turn"] = r.turn;
  j["ids"] = r.ids;
  j["answer_spans"] = r.answer_spans;
  if (text) {
    j["text"] = r.text;
    j["answer_chars"] = r.answer_chars;
  }
  return j;
}

absl::Status Run() {
  const std::string dir = absl::GetFlag(FLAGS_tokenizer);
  if (dir.empty()) return absl::InvalidArgumentError("--tokenizer is required");
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode != "multi_turn" && mode != "multi_request" && mode != "both") {
    return absl::InvalidArgumentError(absl::StrCat("--mode must be multi_turn, multi_request or both, not ", mode));
  }
  KVLAB_ASSIGN_OR_RETURN(auto tokenizer, Tokenizer::FromModelDir(dir));
  KVLAB_ASSIGN_OR_RETURN(ChatTemplate chat, ChatTemplate::FromModelDir(dir));
  std::ofstream file;
  const std::string out_path = absl::GetFlag(FLAGS_out);
  if (out_path != "-") {
    file.open(out_path);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot write ", out_path));
  }
  std::ostream& out = out_path == "-" ? std::cout : file;
  const bool text = absl::GetFlag(FLAGS_text);
  for (const std::string& task : absl::GetFlag(FLAGS_task)) {
    if (!IsSyntheticTask(task)) return absl::InvalidArgumentError(absl::StrCat("not a synthetic task: ", task));
    for (int64_t i = 0; i < absl::GetFlag(FLAGS_count); ++i) {
      SyntheticOptions opts;
      opts.context_tokens = absl::GetFlag(FLAGS_context_tokens);
      opts.turns = static_cast<int>(absl::GetFlag(FLAGS_turns));
      opts.ordered_questions = absl::GetFlag(FLAGS_ordered_questions);
      opts.seed = absl::GetFlag(FLAGS_seed);
      opts.index = static_cast<int>(absl::GetFlag(FLAGS_start_index) + i);
      KVLAB_ASSIGN_OR_RETURN(TaskSample sample, GenerateSyntheticSample(task, opts, *tokenizer));
      KVLAB_ASSIGN_OR_RETURN(auto records, BuildTrainingRecords(sample, *tokenizer, chat, mode != "multi_request",
                                                                mode != "multi_turn"));
      for (const TrainingRecord& r : records) out << ToJson(task, opts.index, r, text).dump() << '\n';
    }
  }
  out.flush();
  if (!out) return absl::DataLossError(absl::StrCat("write to ", out_path, " failed"));
  return absl::OkStatus();
}

}  // namespace
}  // namespace kvlab

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kvlab-synth --tokenizer DIR --task kv,passkey --count N --context_tokens T [--mode both] [--out F]");
  absl::ParseCommandLine(argc, argv);
  absl::Status s = kvlab::Run();
  if (!s.ok()) {
    std::fprintf(stderr, "kvlab-synth: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
