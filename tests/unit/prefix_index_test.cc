// The block-chained prefix index (services/kvstore/prefix_index.h).
#include "services/kvstore/prefix_index.h"

#include "gtest/gtest.h"

namespace kvlab {
namespace {

std::vector<int32_t> Tokens(size_t n, int32_t base = 0) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = base + static_cast<int32_t>(i);
  return t;
}

const auto kAcceptAll = [](const std::string&, int64_t) { return true; };

TEST(PrefixIndexTest, HashesChainOnTheParentBlock) {
  std::vector<int32_t> a = Tokens(768), b = Tokens(768);
  b[10] = -5;  // first block differs
  auto ha = PrefixIndex::BlockHashes("fp", "m", a), hb = PrefixIndex::BlockHashes("fp", "m", b);
  ASSERT_EQ(ha.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(ha[i], hb[i]);  // later blocks inherit the difference
  EXPECT_NE(PrefixIndex::BlockHashes("fp2", "m", a)[0], ha[0]);
  EXPECT_NE(PrefixIndex::BlockHashes("fp", "m2", a)[0], ha[0]);
  EXPECT_EQ(PrefixIndex::BlockHashes("fp", "m", Tokens(255)).size(), 0u);
  EXPECT_EQ(PrefixIndex::BlockHashes("fp", "m", Tokens(600)), std::vector<uint64_t>(ha.begin(), ha.begin() + 2));
}

TEST(PrefixIndexTest, FindsTheLongestCachedPrefix) {
  PrefixIndex index;
  index.Insert("short", "fp", "m", Tokens(300));  // one block
  index.Insert("long", "fp", "m", Tokens(1100));  // four blocks
  index.Insert("tiny", "fp", "m", Tokens(100));   // not indexed
  EXPECT_EQ(index.entries(), 2u);

  auto m = index.Longest("fp", "m", Tokens(2000), kAcceptAll);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "long");
  EXPECT_EQ(m->matched_tokens, 1024);

  m = index.Longest("fp", "m", Tokens(600), kAcceptAll);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->matched_tokens, 512);

  std::vector<int32_t> other = Tokens(2000);
  other[700] = -1;  // third block differs
  m = index.Longest("fp", "m", other, kAcceptAll);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->matched_tokens, 512);

  EXPECT_FALSE(index.Longest("fp", "other-method", Tokens(2000), kAcceptAll));
  EXPECT_FALSE(index.Longest("fp", "m", Tokens(200), kAcceptAll));
}

TEST(PrefixIndexTest, RejectedCandidatesFallBackToShorterPrefixes) {
  PrefixIndex index;
  index.Insert("short", "fp", "m", Tokens(300));
  index.Insert("long", "fp", "m", Tokens(1100));
  auto m = index.Longest("fp", "m", Tokens(2000), [](const std::string& id, int64_t) { return id != "long"; });
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "short");
  EXPECT_EQ(m->matched_tokens, 256);
}

TEST(PrefixIndexTest, EraseAndReinsert) {
  PrefixIndex index;
  index.Insert("a", "fp", "m", Tokens(600));
  index.Insert("b", "fp", "m", Tokens(600));
  index.Erase("a");
  auto m = index.Longest("fp", "m", Tokens(600), kAcceptAll);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "b");
  index.Erase("b");
  EXPECT_FALSE(index.Longest("fp", "m", Tokens(600), kAcceptAll));
  EXPECT_EQ(index.blocks(), 0u);
  index.Insert("a", "fp", "m", Tokens(600, 7));
  index.Insert("a", "fp", "m", Tokens(600));  // replaces the first insertion
  EXPECT_FALSE(index.Longest("fp", "m", Tokens(600, 7), kAcceptAll));
  EXPECT_TRUE(index.Longest("fp", "m", Tokens(600), kAcceptAll));
  EXPECT_EQ(index.blocks(), 2u);
}

}  // namespace
}  // namespace kvlab
