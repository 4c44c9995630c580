#include "engine/tokenizer/decoder.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/unicode_util.h"

namespace kvlab::tokenizer_internal {
namespace {

absl::Status Unsupported(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": unsupported decoder ", what));
}

class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    const ByteLevelMap& map = ByteLevelMap::Get();
    std::string bytes;
    for (const auto& t : tokens) {
      if (!map.Decode(t, bytes)) bytes.append(t);  // e.g. added tokens with other characters
    }
    tokens.assign(1, Utf8Lossy(bytes));
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = absl::StrReplaceAll(t, {{from_, to_}});
  }

 private:
  std::string from_, to_;
};

// <0xNN> tokens become bytes; a run of them that is not valid UTF-8 becomes
// one U+FFFD per byte (HF tokenizers' ByteFallback).
class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string run;
    size_t run_len = 0;
    auto flush = [&]() {
      if (run_len == 0) return;
      if (Utf8Lossy(run) == run) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run_len; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_len = 0;
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.starts_with("<0x") && t.ends_with(">")) {
        byte = 0;
        for (size_t i = 3; i < 5 && byte >= 0; ++i) {
          const char c = t[i];
          const int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                        : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
          byte = v < 0 ? -1 : byte * 16 + v;
        }
      }
      if (byte >= 0) {
        run.push_back(static_cast<char>(byte));
        ++run_len;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>& tokens) const override { tokens.assign(1, absl::StrJoin(tokens, "")); }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : start_(start), stop_(stop) {
    AppendUtf8(content, content_);
  }
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::string_view v = t;
      for (size_t i = 0; i < start_ && v.starts_with(content_); ++i) v.remove_prefix(content_.size());
      for (size_t i = 0; i < stop_ && v.ends_with(content_); ++i) v.remove_suffix(content_.size());
      t = std::string(v);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = absl::StrReplaceAll(tokens[i], {{replacement_, " "}});
      if (i == 0 && strip_first_ && tokens[i].starts_with(' ')) tokens[i].erase(0, 1);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void DecodeChain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::string Decoder::Decode(std::vector<std::string> tokens) const {
  DecodeChain(tokens);
  return absl::StrJoin(tokens, "");
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::FromJson(const nlohmann::json& config, const std::string& file) {
  if (config.is_null()) return std::unique_ptr<Decoder>();
  if (!config.is_object() || !config.contains("type") || !config["type"].is_string()) {
    return Unsupported(file, config.dump());
  }
  const std::string type = config["type"];
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Replace") {
    const auto& pattern = config.value("pattern", nlohmann::json::object());
    if (!pattern.contains("String") || !pattern["String"].is_string() || pattern["String"].get<std::string>().empty()) {
      return Unsupported(file, "Replace without a String pattern");
    }
    return std::unique_ptr<Decoder>(new ReplaceDecoder(pattern["String"], config.value("content", "")));
  }
  if (type == "Strip") {
    const std::string content = config.value("content", " ");
    size_t pos = 0;
    if (content.empty()) return Unsupported(file, "Strip without content");
    const char32_t cp = NextCodePoint(content, pos);
    return std::unique_ptr<Decoder>(
        new StripDecoder(cp, config.value("start", size_t{0}), config.value("stop", size_t{0})));
  }
  if (type == "Metaspace") {
    bool strip_first = config.value("add_prefix_space", true);
    if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string()) {
      strip_first = config["prepend_scheme"].get<std::string>() != "never";
    }
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(config.value("replacement", "\u2581"), strip_first));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& part : config.value("decoders", nlohmann::json::array())) {
      auto d = FromJson(part, file);
      if (!d.ok()) return d.status();
      if (*d) parts.push_back(std::move(*d));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(parts)));
  }
  return Unsupported(file, absl::StrCat("type \"", type, "\""));
}

}  // namespace kvlab::tokenizer_internal
