#include <atomic>
#include <vector>

#include "common/hash.h"
#include "common/json_file.h"
#include "common/mapped_file.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

using ::testing::HasSubstr;

TEST(HashTest, StreamingEqualsOneShotAndLengthPrefixSeparatesFields) {
  std::string data = "the quick brown fox";
  Hasher h;
  h.AddRaw(data.data(), 4);
  h.AddRaw(data.data() + 4, data.size() - 4);
  EXPECT_EQ(h.Finish(), HashBytes(data.data(), data.size()));

  Hasher a, b;
  a.AddString("ab");
  a.AddString("c");
  b.AddString("a");
  b.AddString("bc");
  EXPECT_NE(a.Finish(), b.Finish());
  EXPECT_EQ(HashBytes("", 0).ToHex().size(), 32u);
}

TEST(ParallelTest, CoversRangeExactlyOnce) {
  for (int64_t n : {0, 1, 7, 1000, 12345}) {
    std::vector<std::atomic<int>> seen(n);
    ParallelFor(n, 3, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) seen[i]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << i;
  }
}

TEST(ParallelTest, NestedCallsRunSerially) {
  std::atomic<int64_t> total{0};
  ParallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      ParallelFor(10, 1, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
    }
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(MappedFileTest, MapsAndReportsMissingFiles) {
  testing::TempDir tmp;
  testing::WriteFile(tmp.Join("a.bin"), "hello");
  auto f = MappedFile::Open(tmp.Join("a.bin"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*f)->bytes().data()), 5), "hello");
  auto missing = MappedFile::Open(tmp.Join("nope.bin"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.bin"));
}

TEST(JsonFileTest, MalformedJsonNamesFileAndPosition) {
  testing::TempDir tmp;
  testing::WriteFile(tmp.Join("x.json"), "{\"a\": 1,,}");
  auto doc = ReadJsonFile(tmp.Join("x.json"));
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(doc.status().message(), HasSubstr("x.json"));
  EXPECT_THAT(doc.status().message(), HasSubstr("byte"));
  testing::WriteFile(tmp.Join("y.json"), "{\"a\": [1, 2]}");
  auto ok = ReadJsonFile(tmp.Join("y.json"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"][1], 2);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  KVLAB_ASSIGN_OR_RETURN(int h, Half(x));
  KVLAB_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvlab
