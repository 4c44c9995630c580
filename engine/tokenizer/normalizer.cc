#include "engine/tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/unistr.h>

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "re2/re2.h"

namespace kvlab::tokenizer_internal {
namespace {

bool IsAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(const icu::Normalizer2* n) : n_(n) {}
  void Normalize(std::string& text) const override {
    if (IsAscii(text)) return;  // every form is the identity on ASCII
    UErrorCode status = U_ZERO_ERROR;
    if (n_->isNormalizedUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())),
                             status) &&
        U_SUCCESS(status)) {
      return;
    }
    status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out);
    n_->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink,
                      nullptr, status);
    if (U_SUCCESS(status)) text = std::move(out);
  }

 private:
  const icu::Normalizer2* n_;  // owned by ICU
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  void Normalize(std::string& text) const override {
    if (!text.empty()) text = absl::StrCat(prepend_, text);
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void Normalize(std::string& text) const override {
    if (text.find(from_) != std::string::npos) text = absl::StrReplaceAll(text, {{from_, to_}});
  }

 private:
  std::string from_, to_;
};

class RegexReplaceNormalizer : public Normalizer {
 public:
  RegexReplaceNormalizer(std::unique_ptr<RE2> re, std::string to) : re_(std::move(re)), to_(std::move(to)) {}
  void Normalize(std::string& text) const override { RE2::GlobalReplace(&text, *re_, to_); }

 private:
  std::unique_ptr<RE2> re_;
  std::string to_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void Normalize(std::string& text) const override {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(text);
    u.toLower();
    text.clear();
    u.toUTF8String(text);
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void Normalize(std::string& text) const override {
    for (const auto& p : parts_) p->Normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

absl::Status Unsupported(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": unsupported normalizer ", what));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const nlohmann::json& config,
                                                                 const std::string& file) {
  if (config.is_null()) return std::unique_ptr<Normalizer>();
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return Unsupported(file, config.dump());
  }
  const std::string type = config["type"];
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = type == "NFC"    ? icu::Normalizer2::getNFCInstance(status)
                                : type == "NFD"  ? icu::Normalizer2::getNFDInstance(status)
                                : type == "NFKC" ? icu::Normalizer2::getNFKCInstance(status)
                                                 : icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status) || n == nullptr) {
      return absl::InternalError(absl::StrCat(file, ": ICU has no ", type, " normalizer"));
    }
    return std::unique_ptr<Normalizer>(new UnicodeNormalizer(n));
  }
  if (type == "Prepend") {
    return std::unique_ptr<Normalizer>(new PrependNormalizer(config.value("prepend", "")));
  }
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
  if (type == "Replace") {
    const auto& pattern = config.value("pattern", nlohmann::json::object());
    const std::string content = config.value("content", "");
    if (pattern.contains("String") && pattern["String"].is_string()) {
      const std::string from = pattern["String"];
      if (from.empty()) return Unsupported(file, "Replace with an empty pattern");
      return std::unique_ptr<Normalizer>(new ReplaceNormalizer(from, content));
    }
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      auto re = std::make_unique<RE2>(pattern["Regex"].get<std::string>());
      if (!re->ok()) return Unsupported(file, absl::StrCat("Replace regex: ", re->error()));
      // RE2 rewrite strings treat backslashes specially.
      return std::unique_ptr<Normalizer>(
          new RegexReplaceNormalizer(std::move(re), absl::StrReplaceAll(content, {{"\\", "\\\\"}})));
    }
    return Unsupported(file, "Replace without a String or Regex pattern");
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& part : config.value("normalizers", nlohmann::json::array())) {
      auto n = FromJson(part, file);
      if (!n.ok()) return n.status();
      if (*n) parts.push_back(std::move(*n));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(parts)));
  }
  return Unsupported(file, absl::StrCat("type \"", type, "\""));
}

}  // namespace kvlab::tokenizer_internal
