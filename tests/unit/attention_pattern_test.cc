// Parsing and canonical spelling of prefill attention patterns.
#include "engine/attention_pattern.h"

#include <string>

#include "gtest/gtest.h"

namespace kvlab {
namespace {

std::string CanonicalOf(const std::string& spec) {
  auto p = ParsePrefillPattern(spec);
  EXPECT_TRUE(p.ok()) << spec << ": " << p.status();
  return p.ok() ? p->Canonical() : "";
}

TEST(AttentionPatternTest, DefaultsAreFilledIn) {
  EXPECT_EQ(CanonicalOf("dense"), "dense");
  EXPECT_EQ(CanonicalOf("dense{}"), "dense");
  EXPECT_EQ(CanonicalOf("a_shape"), "a_shape{n_init=128,n_local=4096}");
  EXPECT_EQ(CanonicalOf("tri_shape"), "tri_shape{n_init=128,n_local=4096,n_last=100}");
  EXPECT_EQ(CanonicalOf("vertical_slash"), "vertical_slash{n_vertical=1000,n_slash=6096,last_q=64}");
}

TEST(AttentionPatternTest, ParametersInAnyOrderPrintInFixedOrder) {
  EXPECT_EQ(CanonicalOf("a_shape{n_local=1024,n_init=4}"), "a_shape{n_init=4,n_local=1024}");
  EXPECT_EQ(CanonicalOf(" tri_shape { n_last = 7 , n_init=1 } "), "tri_shape{n_init=1,n_local=4096,n_last=7}");
  EXPECT_EQ(CanonicalOf("vertical_slash{n_slash=200,n_vertical=30,last_q=16}"),
            "vertical_slash{n_vertical=30,n_slash=200,last_q=16}");
  auto p = ParsePrefillPattern("a_shape{n_init=128,n_local=4096}");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, PrefillPattern::kAShape);
  EXPECT_EQ(p->n_init, 128);
  EXPECT_EQ(p->n_local, 4096);
}

TEST(AttentionPatternTest, CanonicalRoundTrips) {
  for (const char* spec : {"dense", "a_shape{n_init=3,n_local=9}", "tri_shape{n_init=1,n_local=2,n_last=3}",
                           "vertical_slash{n_vertical=5,n_slash=6,last_q=7}"}) {
    auto p = ParsePrefillPattern(spec);
    ASSERT_TRUE(p.ok()) << spec;
    EXPECT_EQ(p->Canonical(), spec);
    auto again = ParsePrefillPattern(p->Canonical());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *p);
  }
}

TEST(AttentionPatternTest, RejectsBadSpecsWithASentence) {
  struct Bad {
    const char* spec;
    const char* says;
  };
  for (const Bad& b : {Bad{"", "unknown pattern name"}, Bad{"sparse", "unknown pattern name 'sparse'"},
                       Bad{"A_SHAPE", "unknown pattern name"}, Bad{"a_shape{n_init=1", "must end with '}'"},
                       Bad{"a_shape}", "without a matching"}, Bad{"a_shape{n_init}", "key=value"},
                       Bad{"a_shape{n_init=1,,n_local=2}", "empty entry"},
                       Bad{"a_shape{n_last=3}", "unknown key 'n_last' for a_shape"},
                       Bad{"dense{n_init=1}", "takes no parameters"},
                       Bad{"a_shape{n_init=1,n_init=2}", "given twice"},
                       Bad{"a_shape{n_init=0}", "must be positive"},
                       Bad{"a_shape{n_local=-5}", "must be positive"},
                       Bad{"a_shape{n_local=1.5}", "not an integer"},
                       Bad{"a_shape{n_local=}", "not an integer"},
                       Bad{"a_shape{n_local=99999999999999999999}", "not an integer"},
                       Bad{"a_shape{n_init=1}{n_local=2}", "brace"}}) {
    auto p = ParsePrefillPattern(b.spec);
    ASSERT_FALSE(p.ok()) << b.spec;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << b.spec;
    EXPECT_NE(p.status().message().find(b.says), std::string::npos) << b.spec << " -> " << p.status();
  }
}

}  // namespace
}  // namespace kvlab
