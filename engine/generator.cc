#include "engine/generator.h"

#include <algorithm>
#include <chrono>

#include "common/status_macros.h"

namespace kvlab {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Position of the earliest stop string in text, or npos.
size_t FindStop(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = std::string::npos;
  for (const std::string& s : stops) {
    if (s.empty()) continue;
    size_t p = text.find(s);
    if (p != std::string::npos) best = std::min(best, p);
  }
  return best;
}

}  // namespace

int32_t Argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

absl::StatusOr<GenerationResult> Generate(const Model& model, KvCache& cache,
                                          std::span<const int32_t> prompt,
                                          const Tokenizer* tokenizer,
                                          const GenerationOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("generate: the prompt is empty");
  if (options.max_new_tokens < 1) {
    return absl::InvalidArgumentError("generate: max_new_tokens must be at least 1");
  }
  if (tokenizer == nullptr && !options.stop_strings.empty()) {
    return absl::InvalidArgumentError("generate: stop strings need a tokenizer");
  }
  GenerationResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  // Reserve everything up front so the cache never reallocates mid-generation.
  KVLAB_RETURN_IF_ERROR(cache.Reserve(static_cast<int64_t>(prompt.size()) + options.max_new_tokens));

  ForwardOptions forward;
  if (options.step_observation != nullptr) {
    forward.observe.attention_mass = true;
    forward.observation = options.step_observation;
  }
  auto t0 = std::chrono::steady_clock::now();
  KVLAB_ASSIGN_OR_RETURN(Logits logits, model.Forward(prompt, cache, forward));
  if (options.after_step) KVLAB_RETURN_IF_ERROR(options.after_step(cache));
  result.prefill_seconds = SecondsSince(t0);
  auto t1 = std::chrono::steady_clock::now();

  std::vector<int32_t> text_ids;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const int32_t next = Argmax(logits.Row(0));
    result.tokens.push_back(next);
    if (std::find(options.eos_ids.begin(), options.eos_ids.end(), next) != options.eos_ids.end()) {
      result.finish = GenerationResult::Finish::kEos;
      break;
    }
    text_ids.push_back(next);
    if (!options.stop_strings.empty()) {
      KVLAB_ASSIGN_OR_RETURN(std::string text, tokenizer->Decode(text_ids, /*skip_special_tokens=*/true));
      if (FindStop(text, options.stop_strings) != std::string::npos) {
        result.finish = GenerationResult::Finish::kStop;
        break;
      }
    }
    if (step + 1 == options.max_new_tokens) break;
    const int32_t feed[1] = {next};
    KVLAB_ASSIGN_OR_RETURN(logits, model.Forward(feed, cache, forward));
    if (options.after_step) KVLAB_RETURN_IF_ERROR(options.after_step(cache));
  }
  result.decode_seconds = SecondsSince(t1);
  if (tokenizer == nullptr) return result;
  KVLAB_ASSIGN_OR_RETURN(result.text, tokenizer->Decode(text_ids, /*skip_special_tokens=*/true));
  size_t stop = FindStop(result.text, options.stop_strings);
  if (stop != std::string::npos) result.text.resize(stop);
  return result;
}

}  // namespace kvlab
