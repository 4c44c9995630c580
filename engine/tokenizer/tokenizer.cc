#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "engine/tokenizer/added_vocabulary.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoder.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"

namespace kvlab {
namespace {

using tokenizer_internal::AddedToken;
using tokenizer_internal::AddedVocabulary;
using tokenizer_internal::BpeModel;
using tokenizer_internal::Decoder;
using tokenizer_internal::Normalizer;
using tokenizer_internal::PreTokenizer;

absl::Status Invalid(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", what));
}

// A token given in tokenizer_config.json: "text" or {"content": "text", ...}.
std::optional<std::string> ConfigToken(const nlohmann::json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

// transformers' clean_up_tokenization().
std::string CleanUpTokenization(const std::string& s) {
  std::string out = s;
  for (const auto& [from, to] : std::initializer_list<std::pair<const char*, const char*>>{
           {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
           {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}) {
    out = absl::StrReplaceAll(out, {{from, to}});
  }
  return out;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& tokenizer_json_path) {
  return Load(tokenizer_json_path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromModelDir(const std::string& dir) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                         Load((std::filesystem::path(dir) / "tokenizer.json").string()));
  KVLAB_RETURN_IF_ERROR(tok->LoadConfig(dir));
  return tok;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  KVLAB_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return Invalid(path, "a tokenizer.json must hold a JSON object");
  std::unique_ptr<Tokenizer> tok(new Tokenizer());

  KVLAB_ASSIGN_OR_RETURN(tok->normalizer_, Normalizer::FromJson(j.value("normalizer", nlohmann::json()), path));
  KVLAB_ASSIGN_OR_RETURN(tok->pre_tokenizer_,
                         PreTokenizer::FromJson(j.value("pre_tokenizer", nlohmann::json()), path));
  KVLAB_ASSIGN_OR_RETURN(tok->decoder_, Decoder::FromJson(j.value("decoder", nlohmann::json()), path));
  const bool byte_level = tok->pre_tokenizer_ != nullptr && tok->pre_tokenizer_->IsByteLevel();
  KVLAB_ASSIGN_OR_RETURN(tok->model_, BpeModel::FromJson(j.value("model", nlohmann::json()), byte_level, path));
  tok->vocab_size_ = tok->model_->size();

  std::vector<AddedToken> added;
  const auto added_json = j.value("added_tokens", nlohmann::json::array());
  if (!added_json.is_array()) return Invalid(path, "\"added_tokens\" is not an array");
  for (const auto& a : added_json) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string()) {
      return Invalid(path, absl::StrCat("malformed added token ", a.dump()));
    }
    AddedToken t;
    t.id = a["id"].get<int32_t>();
    if (t.id < 0) return Invalid(path, absl::StrCat("negative id in added token ", a.dump()));
    t.content = a["content"];
    t.special = a.value("special", false);
    t.lstrip = a.value("lstrip", false);
    t.rstrip = a.value("rstrip", false);
    t.single_word = a.value("single_word", false);
    t.normalized = a.value("normalized", !t.special);
    tok->added_id_to_token_[t.id] = t.content;
    tok->added_token_to_id_[t.content] = t.id;
    if (t.special) tok->special_ids_.insert(t.id);
    tok->vocab_size_ = std::max(tok->vocab_size_, t.id + 1);
    added.push_back(std::move(t));
  }
  tok->added_ = std::make_unique<AddedVocabulary>(std::move(added));

  // Post-processor, flattened to one template for single sequences.
  auto token_ids = [&](const std::string& name) -> absl::StatusOr<int32_t> {
    if (auto id = tok->TokenToId(name)) return *id;
    return Invalid(path, absl::StrCat("post_processor token \"", name, "\" is not in the vocabulary"));
  };
  std::function<absl::Status(const nlohmann::json&)> add_processor = [&](const nlohmann::json& pp) -> absl::Status {
    if (pp.is_null()) return absl::OkStatus();
    const std::string type = pp.value("type", "");
    std::vector<PostItem> items;
    if (type == "ByteLevel") return absl::OkStatus();
    if (type == "Sequence") {
      for (const auto& p : pp.value("processors", nlohmann::json::array())) KVLAB_RETURN_IF_ERROR(add_processor(p));
      return absl::OkStatus();
    }
    if (type == "TemplateProcessing") {
      const auto specials = pp.value("special_tokens", nlohmann::json::object());
      for (const auto& piece : pp.value("single", nlohmann::json::array())) {
        if (piece.contains("Sequence")) {
          items.push_back({true, {}});
        } else if (piece.contains("SpecialToken")) {
          const std::string name = piece["SpecialToken"].value("id", "");
          PostItem item;
          if (specials.contains(name) && specials[name].contains("ids")) {
            item.ids = specials[name]["ids"].get<std::vector<int32_t>>();
          } else {
            KVLAB_ASSIGN_OR_RETURN(int32_t id, token_ids(name));
            item.ids = {id};
          }
          items.push_back(std::move(item));
        } else {
          return Invalid(path, absl::StrCat("malformed TemplateProcessing piece ", piece.dump()));
        }
      }
    } else if (type == "RobertaProcessing" || type == "BertProcessing") {
      const auto cls = pp.value("cls", nlohmann::json::array());
      const auto sep = pp.value("sep", nlohmann::json::array());
      if (cls.size() != 2 || sep.size() != 2) return Invalid(path, absl::StrCat("malformed ", type));
      items.push_back({false, {cls[1].get<int32_t>()}});
      items.push_back({true, {}});
      items.push_back({false, {sep[1].get<int32_t>()}});
    } else {
      return Invalid(path, absl::StrCat("unsupported post_processor type \"", type, "\""));
    }
    // Compose: the new template wraps what the previous ones produced.
    if (tok->post_template_.empty()) {
      tok->post_template_ = std::move(items);
    } else {
      std::vector<PostItem> composed;
      for (auto& item : items) {
        if (item.is_sequence) {
          composed.insert(composed.end(), tok->post_template_.begin(), tok->post_template_.end());
        } else {
          composed.push_back(std::move(item));
        }
      }
      tok->post_template_ = std::move(composed);
    }
    return absl::OkStatus();
  };
  KVLAB_RETURN_IF_ERROR(add_processor(j.value("post_processor", nlohmann::json())));
  if (!tok->post_template_.empty() && !tok->post_template_[0].is_sequence && !tok->post_template_[0].ids.empty()) {
    tok->bos_id_ = tok->post_template_[0].ids[0];
  }
  return tok;
}

absl::Status Tokenizer::LoadConfig(const std::string& dir) {
  const std::string config_path = (std::filesystem::path(dir) / "tokenizer_config.json").string();
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    KVLAB_ASSIGN_OR_RETURN(nlohmann::json config, ReadJsonFile(config_path));
    if (!config.is_object()) return Invalid(config_path, "must hold a JSON object");
    // transformers defaults clean_up_tokenization_spaces to true when absent.
    clean_up_spaces_ = config.value("clean_up_tokenization_spaces", true);
    auto lookup = [&](const char* key) -> absl::StatusOr<std::optional<int32_t>> {
      std::optional<std::string> name = ConfigToken(config, key);
      if (!name) return std::optional<int32_t>();
      std::optional<int32_t> id = TokenToId(*name);
      if (!id) return Invalid(config_path, absl::StrCat(key, " \"", *name, "\" is not in the vocabulary"));
      special_ids_.insert(*id);
      return id;
    };
    if (config.contains("bos_token")) {
      KVLAB_ASSIGN_OR_RETURN(bos_id_, lookup("bos_token"));
    }
    KVLAB_ASSIGN_OR_RETURN(std::optional<int32_t> eos, lookup("eos_token"));
    if (eos) eos_ids_.push_back(*eos);
    for (const char* key : {"unk_token", "pad_token"}) {
      KVLAB_ASSIGN_OR_RETURN(std::optional<int32_t> ignored, lookup(key));
      (void)ignored;
    }
    for (const auto& t : config.value("additional_special_tokens", nlohmann::json::array())) {
      std::optional<std::string> name = t.is_string() ? std::optional<std::string>(t.get<std::string>())
                                        : t.is_object() ? ConfigToken(nlohmann::json{{"t", t}}, "t")
                                                        : std::nullopt;
      if (name) {
        if (auto id = TokenToId(*name)) special_ids_.insert(*id);
      }
    }
  }
  const std::string gen_path = (std::filesystem::path(dir) / "generation_config.json").string();
  if (std::filesystem::exists(gen_path, ec)) {
    KVLAB_ASSIGN_OR_RETURN(nlohmann::json gen, ReadJsonFile(gen_path));
    if (gen.is_object() && gen.contains("eos_token_id")) {
      const auto& e = gen["eos_token_id"];
      std::vector<int32_t> ids;
      if (e.is_number_integer()) ids.push_back(e.get<int32_t>());
      else if (e.is_array()) {
        for (const auto& x : e) {
          if (x.is_number_integer()) ids.push_back(x.get<int32_t>());
        }
      }
      for (int32_t id : ids) {
        if (id < 0 || id >= vocab_size_) return Invalid(gen_path, absl::StrCat("eos_token_id ", id, " is out of range"));
        if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  const std::vector<tokenizer_internal::Section> sections = added_->Split(text);
  std::vector<std::string> pieces;
  for (size_t i = 0; i < sections.size(); ++i) {
    const auto& section = sections[i];
    if (section.added_id >= 0) {
      ids.push_back(section.added_id);
      continue;
    }
    std::string s(section.text);
    if (normalizer_) normalizer_->Normalize(s);
    if (s.empty()) continue;
    pieces.clear();
    pieces.push_back(std::move(s));
    if (pre_tokenizer_) pre_tokenizer_->PreTokenize(pieces, /*first_section=*/i == 0);
    for (const auto& p : pieces) model_->Encode(p, ids);
  }
  if (!add_special_tokens || post_template_.empty()) return ids;
  std::vector<int32_t> out;
  out.reserve(ids.size() + 4);
  for (const auto& item : post_template_) {
    if (item.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
    else out.insert(out.end(), item.ids.begin(), item.ids.end());
  }
  return out;
}

absl::StatusOr<std::string> Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    std::optional<std::string> token = IdToToken(id);
    if (!token) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is out of range (vocabulary size ", vocab_size_, ")"));
    }
    if (skip_special_tokens && IsSpecial(id)) continue;
    tokens.push_back(std::move(*token));
  }
  std::string text = decoder_ ? decoder_->Decode(std::move(tokens)) : absl::StrJoin(tokens, " ");
  if (clean_up_spaces_) text = CleanUpTokenization(text);
  return text;
}

int32_t Tokenizer::vocab_size() const { return vocab_size_; }

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (auto it = added_token_to_id_.find(absl::string_view(token.data(), token.size())); it != added_token_to_id_.end()) return it->second;
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(int32_t id) const {
  if (id < 0 || id >= vocab_size_) return std::nullopt;
  if (auto it = added_id_to_token_.find(id); it != added_id_to_token_.end()) return it->second;
  if (id < model_->size() && !model_->IdToToken(id).empty()) return model_->IdToToken(id);
  return std::nullopt;
}

}  // namespace kvlab
