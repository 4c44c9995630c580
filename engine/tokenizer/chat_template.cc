#include "engine/tokenizer/chat_template.h"

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "engine/tokenizer/unicode_util.h"
#include "re2/re2.h"

namespace kvlab {
namespace {

using tokenizer_internal::IsUnicodeWhitespace;
using tokenizer_internal::NextCodePoint;

constexpr char kQwen2DefaultSystem[] = "You are a helpful assistant.";

// Python's str.strip() / lstrip() / rstrip() without arguments.
std::string Strip(std::string_view s, bool left = true, bool right = true) {
  if (left) {
    size_t pos = 0, keep = 0;
    while (pos < s.size() && IsUnicodeWhitespace(NextCodePoint(s, pos))) keep = pos;
    s.remove_prefix(keep);
  }
  if (right) {
    while (!s.empty()) {
      size_t start = s.size() - 1;
      while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
      size_t pos = start;
      if (!IsUnicodeWhitespace(NextCodePoint(s, pos))) break;
      s.remove_suffix(s.size() - start);
    }
  }
  return std::string(s);
}

std::string LstripNewlines(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return std::string(s);
}

absl::Status CheckRoles(std::span<const ChatMessage> messages) {
  if (messages.empty()) return absl::InvalidArgumentError("chat template: the conversation is empty");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant") {
      return absl::InvalidArgumentError(
          absl::StrCat("chat template: message ", i, " has role \"", r, "\"; only system, user and assistant are supported"));
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> ConfigToken(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

const char* ChatFamilyName(ChatFamily family) {
  switch (family) {
    case ChatFamily::kLlama3: return "llama3";
    case ChatFamily::kChatMl: return "chatml";
    case ChatFamily::kQwen3: return "qwen3";
    case ChatFamily::kLlama2: return "llama2";
    case ChatFamily::kMistral: return "mistral";
  }
  return "unknown";
}

ChatTemplate ChatTemplate::ForFamily(ChatFamily family, std::string bos_token, std::string eos_token) {
  ChatTemplate t(family, std::move(bos_token), std::move(eos_token));
  if (family == ChatFamily::kChatMl) t.default_system_ = kQwen2DefaultSystem;
  return t;
}

absl::StatusOr<std::optional<ChatTemplate>> ChatTemplate::OptionalFromModelDir(const std::string& dir,
                                                                            std::string* why) {
  absl::StatusOr<ChatTemplate> t = FromModelDir(dir);
  if (t.ok()) return std::optional<ChatTemplate>(*std::move(t));
  if (t.status().code() == absl::StatusCode::kNotFound || t.status().code() == absl::StatusCode::kUnimplemented) {
    *why = std::string(t.status().message());
    return std::optional<ChatTemplate>();
  }
  return t.status();
}

absl::StatusOr<ChatTemplate> ChatTemplate::FromModelDir(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  KVLAB_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(path));
  if (!config.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": must hold a JSON object"));
  std::string tmpl;
  if (!config.contains("chat_template") || config["chat_template"].is_null()) {
    return absl::NotFoundError(absl::StrCat(path, ": no chat_template"));
  }
  if (config["chat_template"].is_string()) {
    tmpl = config["chat_template"];
  } else if (config["chat_template"].is_array()) {
    for (const auto& entry : config["chat_template"]) {
      if (entry.is_object() && entry.contains("name") && entry["name"] == "default" && entry.contains("template") &&
          entry["template"].is_string()) {
        tmpl = entry["template"];
      }
    }
  }
  if (tmpl.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": chat_template must be a non-empty string or a list holding a {\"name\": \"default\", "
              "\"template\": string} entry"));
  }
  const std::string bos = ConfigToken(config, "bos_token").value_or("");
  const std::string eos = ConfigToken(config, "eos_token").value_or("");
  auto has = [&tmpl](std::string_view s) { return tmpl.find(s) != std::string::npos; };
  auto unsupported = [&](const std::string& why) {
    return absl::UnimplementedError(absl::StrCat(path, ": chat_template is of no supported family (", why, ")"));
  };

  if (has("<|start_header_id|>")) {
    if (has("Cutting Knowledge Date") || has("tools") || !has("| trim")) {
      return unsupported("a Llama-3 template with tool or date handling");
    }
    ChatTemplate t(ChatFamily::kLlama3, bos, eos);
    t.always_generation_prompt_ = !has("add_generation_prompt");
    return t;
  }
  if (has("<|im_start|>")) {
    if (has("<think>")) return ChatTemplate(ChatFamily::kQwen3, bos, eos);
    ChatTemplate t(ChatFamily::kChatMl, bos, eos);
    // The default system prompt, when the template has one.
    static const RE2 kDefaultSystem("<\\|im_start\\|>system(?:\\\\n|\\n)([^'\"<{}]+)<\\|im_end\\|>");
    std::string prompt;
    if (RE2::PartialMatch(tmpl, kDefaultSystem, &prompt)) t.default_system_ = prompt;
    return t;
  }
  if (has("[INST]")) {
    if (has("<<SYS>>")) {
      if (bos.empty() || eos.empty()) return unsupported("Llama-2 template without bos/eos tokens");
      return ChatTemplate(ChatFamily::kLlama2, bos, eos);
    }
    if (has("\"[INST]\" + system_message + \"\\n\\n\" + message[\"content\"] + \"[/INST]\"")) {
      return ChatTemplate(ChatFamily::kMistral, bos, eos);
    }
    return unsupported("an [INST] template other than Llama-2's and Mistral V3's");
  }
  return unsupported("unknown markers");
}

absl::StatusOr<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages,
                                                 bool add_generation_prompt) const {
  KVLAB_RETURN_IF_ERROR(CheckRoles(messages));
  switch (family_) {
    case ChatFamily::kLlama3: return RenderLlama3(messages, add_generation_prompt);
    case ChatFamily::kChatMl: return RenderChatMl(messages, add_generation_prompt);
    case ChatFamily::kQwen3: return RenderQwen3(messages, add_generation_prompt);
    case ChatFamily::kLlama2: return RenderLlama2(messages);
    case ChatFamily::kMistral: return RenderMistral(messages);
  }
  return absl::InternalError("unknown chat family");
}

absl::StatusOr<std::string> ChatTemplate::RenderLlama3(std::span<const ChatMessage> messages, bool gen) const {
  std::string out = bos_;
  for (const auto& m : messages) {
    absl::StrAppend(&out, "<|start_header_id|>", m.role, "<|end_header_id|>\n\n", Strip(m.content), "<|eot_id|>");
  }
  if (gen || always_generation_prompt_) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

absl::StatusOr<std::string> ChatTemplate::RenderChatMl(std::span<const ChatMessage> messages, bool gen) const {
  std::string out;
  if (messages[0].role != "system" && default_system_) {
    absl::StrAppend(&out, "<|im_start|>system\n", *default_system_, "<|im_end|>\n");
  }
  for (const auto& m : messages) absl::StrAppend(&out, "<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n");
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

absl::StatusOr<std::string> ChatTemplate::RenderQwen3(std::span<const ChatMessage> messages, bool gen) const {
  // The last user message that is not a tool response.
  size_t last_query = messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    const std::string& c = messages[i].content;
    if (messages[i].role == "user" && !(c.starts_with("<tool_response>") && c.ends_with("</tool_response>"))) {
      last_query = i;
      break;
    }
  }
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" || m.role == "system") {
      absl::StrAppend(&out, "<|im_start|>", m.role, "\n", m.content, "<|im_end|>\n");
      continue;
    }
    if (m.content.find("<think>") != std::string::npos || m.content.find("</think>") != std::string::npos) {
      return absl::InvalidArgumentError("chat template: Qwen3 thinking content (<think>) is not supported");
    }
    if (i > last_query && i + 1 == messages.size()) {
      absl::StrAppend(&out, "<|im_start|>assistant\n<think>\n\n</think>\n\n", LstripNewlines(m.content));
    } else {
      absl::StrAppend(&out, "<|im_start|>assistant\n", m.content);
    }
    out += "<|im_end|>\n";
  }
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

absl::StatusOr<std::string> ChatTemplate::RenderLlama2(std::span<const ChatMessage> messages) const {
  std::optional<std::string> system;
  if (messages[0].role == "system") {
    system = messages[0].content;
    messages = messages.subspan(1);
  }
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "system") {
      return absl::InvalidArgumentError("chat template: Llama-2 allows a system message only first");
    }
    if ((m.role == "user") != (i % 2 == 0)) {
      return absl::InvalidArgumentError("chat template: Conversation roles must alternate user/assistant/user/assistant/...");
    }
    std::string content = m.content;
    if (i == 0 && system) content = absl::StrCat("<<SYS>>\n", *system, "\n<</SYS>>\n\n", m.content);
    if (m.role == "user") {
      absl::StrAppend(&out, bos_, "[INST] ", Strip(content), " [/INST]");
    } else {
      absl::StrAppend(&out, " ", Strip(content), " ", eos_);
    }
  }
  return out;
}

absl::StatusOr<std::string> ChatTemplate::RenderMistral(std::span<const ChatMessage> messages) const {
  std::optional<std::string> system;
  if (messages[0].role == "system") {
    system = messages[0].content;
    messages = messages.subspan(1);
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != (i % 2 == 0)) {
      return absl::InvalidArgumentError(
          "chat template: After the optional system message, conversation roles must alternate "
          "user/assistant/user/assistant/...");
    }
  }
  std::string out = bos_;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user") {
      if (i + 1 == messages.size() && system) {
        absl::StrAppend(&out, "[INST]", *system, "\n\n", m.content, "[/INST]");
      } else {
        absl::StrAppend(&out, "[INST]", m.content, "[/INST]");
      }
    } else if (m.role == "assistant") {
      absl::StrAppend(&out, m.content, eos_);
    } else {
      return absl::InvalidArgumentError(
          "chat template: Only user and assistant roles are supported, with the exception of an initial "
          "optional system message!");
    }
  }
  return out;
}

}  // namespace kvlab
