// Native renderings of the chat templates of the supported model families
// (no Jinja engine): the output is byte-identical to what HF
// apply_chat_template(tokenize=False) renders with the upstream template.
//
// Families and the upstream templates they reproduce:
//   kLlama3  Meta-Llama-3 / 3.1-style "<|start_header_id|>role<|end_header_id|>\n\n"
//            + trimmed content + "<|eot_id|>", BOS before the first message. The
//            base-model variant whose template always appends the assistant
//            header is detected and reproduced.
//   kChatMl  Qwen1.5 / Qwen2 / Qwen2.5 "<|im_start|>role\n...<|im_end|>\n"; the
//            default system prompt (inserted when the conversation has no
//            system message) is taken from the template text, e.g. Qwen2's
//            "You are a helpful assistant." (ForFamily uses that one).
//   kQwen3   Qwen3's ChatML variant: no default system prompt, and the
//            assistant message after the last user turn gets an empty
//            "<think>\n\n</think>\n\n" block.
//   kLlama2  Llama-2-chat "[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]", BOS per
//            user turn, " answer </s>" per assistant turn.
//   kMistral Mistral (V3/Tekken, e.g. Mistral-Nemo) "[INST]...[/INST]answer</s>";
//            the system message is prepended to the last user message.
// Not supported (INVALID_ARGUMENT): roles other than system/user/assistant
// (tools, tool calls), Qwen3 thinking content ("<think>" / "</think>" in an
// assistant message), a system message anywhere but first for Llama-2, and
// empty conversations.
#ifndef KVLAB_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_
#define KVLAB_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_

#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace kvlab {

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

enum class ChatFamily { kLlama3, kChatMl, kQwen3, kLlama2, kMistral };

// Returns "llama3", "chatml", "qwen3", "llama2" or "mistral".
const char* ChatFamilyName(ChatFamily family);

// A chat template of one family. Copyable value type; thread-safe.
class ChatTemplate {
 public:
  // Reads <dir>/tokenizer_config.json and detects the family from its
  // "chat_template" string (or the "default" entry of a template list) and
  // its bos/eos tokens. NOT_FOUND naming the file when the file or its
  // chat_template is missing; UNIMPLEMENTED when the template is of no
  // supported family; INVALID_ARGUMENT naming the file when the file is not
  // JSON or chat_template is neither a string nor a list holding a
  // "default" entry.
  static absl::StatusOr<ChatTemplate> FromModelDir(const std::string& dir);

  // For servers and tools: the model's template, or nullopt (with `why` set)
  // when it has none or one of no supported family, so prompts go without
  // one. A broken tokenizer_config.json (INVALID_ARGUMENT above) is an error,
  // never a silent fallback.
  static absl::StatusOr<std::optional<ChatTemplate>> OptionalFromModelDir(const std::string& dir, std::string* why);

  // The family's canonical template (Llama-3 instruct with a conditional
  // generation prompt; ChatML with Qwen2's default system prompt).
  static ChatTemplate ForFamily(ChatFamily family, std::string bos_token, std::string eos_token);

  // Renders exactly what the upstream template renders. INVALID_ARGUMENT for
  // conversations the upstream template rejects (e.g. non-alternating roles
  // for Llama-2 / Mistral) and for the unsupported inputs listed above.
  absl::StatusOr<std::string> Render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  ChatFamily family() const { return family_; }
  // The system prompt inserted when a conversation has none (ChatML only).
  const std::optional<std::string>& default_system_prompt() const { return default_system_; }

 private:
  ChatTemplate(ChatFamily family, std::string bos, std::string eos)
      : family_(family), bos_(std::move(bos)), eos_(std::move(eos)) {}

  absl::StatusOr<std::string> RenderLlama3(std::span<const ChatMessage> m, bool gen) const;
  absl::StatusOr<std::string> RenderChatMl(std::span<const ChatMessage> m, bool gen) const;
  absl::StatusOr<std::string> RenderQwen3(std::span<const ChatMessage> m, bool gen) const;
  absl::StatusOr<std::string> RenderLlama2(std::span<const ChatMessage> m) const;
  absl::StatusOr<std::string> RenderMistral(std::span<const ChatMessage> m) const;

  ChatFamily family_;
  std::string bos_;
  std::string eos_;
  std::optional<std::string> default_system_;
  bool always_generation_prompt_ = false;  // Llama-3 base template
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_
