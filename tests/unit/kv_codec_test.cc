// The quantizing codecs (KIVI, FlexGen): error bounds, residual window, exact
// byte accounting, and entry round trips.
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/dtype.h"
#include "gtest/gtest.h"
#include "kvcache/codec.h"
#include "kvcache/codec_spec.h"
#include "kvcache/kv_entry.h"
#include "kvcache/quant_group.h"

namespace kvlab {
namespace {

std::vector<float> Random(int64_t count, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> x(count);
  for (float& v : x) v = d(rng);
  return x;
}

struct Param {
  float scale, min;
};

Param ReadParam(const std::string& p, int64_t offset) {
  uint16_t s, m;
  std::memcpy(&s, p.data() + offset, 2);
  std::memcpy(&m, p.data() + offset + 2, 2);
  return {HalfToFloat(s), HalfToFloat(m)};
}

// |x' - x| <= scale / 2 (plus the f32 rounding of the dequantization itself).
::testing::AssertionResult WithinHalfStep(float x, float y, const Param& p) {
  if (std::abs(x - y) <= 0.5f * p.scale * (1 + 1e-5f) + 1e-6f * std::abs(x)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "original " << x << " decoded " << y << " step " << p.scale;
}

int64_t Packed(int64_t count, int bits) { return (count * bits + 7) / 8; }

TEST(KvCodecTest, FlexGenIsWithinHalfAStepWithExactBytes) {
  for (int bits : {2, 4}) {
    for (int64_t group : {16, 32, 64}) {
      const int64_t d = 64, rows = 37;
      auto codec = MakeCodec(absl::StrCat("flexgen{bits=", bits, ",group=", group, "}"));
      ASSERT_TRUE(codec.ok()) << codec.status();
      std::vector<float> k = Random(rows * d, 1, 2.0f), v = Random(rows * d, 2, 0.5f), dk, dv;
      const std::string payload = (*codec)->Encode(k, v, d);
      const int64_t groups = rows * d / group;
      const int64_t tensor = groups * 4 + Packed(rows * d, bits);  // f16 scale + f16 min per group + codes
      EXPECT_EQ(static_cast<int64_t>(payload.size()), 2 * tensor);
      EXPECT_EQ((*codec)->EncodedBytes(rows, d), 2 * tensor);
      ASSERT_TRUE((*codec)->Decode(payload, rows, d, &dk, &dv).ok());
      for (int64_t i = 0; i < rows * d; ++i) {
        const int64_t g = i / group;
        ASSERT_TRUE(WithinHalfStep(k[i], dk[i], ReadParam(payload, g * 4))) << i;
        ASSERT_TRUE(WithinHalfStep(v[i], dv[i], ReadParam(payload, tensor + g * 4))) << i;
      }
      EXPECT_EQ((*codec)->Decode(payload.substr(1), rows, d, &dk, &dv).code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(KvCodecTest, KiviQuantizesAgedGroupsAndKeepsTheResidualInBf16) {
  const int64_t d = 32;
  for (int bits : {2, 4}) {
    for (int64_t group : {8, 16, 32}) {
      for (int64_t residual : {0, 16, 128}) {
        for (int64_t rows : {1, 7, 16, 100, 129, 300}) {
          SCOPED_TRACE(absl::StrCat(bits, "/", group, "/", residual, "/", rows));
          auto codec = MakeCodec(absl::StrCat("kivi{bits=", bits, ",group=", group, ",residual=", residual, "}"));
          ASSERT_TRUE(codec.ok()) << codec.status();
          std::vector<float> k = Random(rows * d, 3, 4.0f), v = Random(rows * d, 4, 1.0f), dk, dv;
          const std::string p = (*codec)->Encode(k, v, d);
          const int64_t nq = rows > residual ? (rows - residual) / group * group : 0, nr = rows - nq;
          EXPECT_GE(nr, std::min(rows, residual));
          EXPECT_LT(nr, std::max<int64_t>(residual + group, 1) + (rows <= residual ? rows : 0));
          const int64_t k_params = (nq / group) * d * 4, k_codes = Packed(nq * d, bits);
          const int64_t v_params = nq * (d / group) * 4, v_codes = Packed(nq * d, bits);
          const int64_t expected = k_params + k_codes + v_params + v_codes + 2 * nr * d * 2;
          ASSERT_EQ(static_cast<int64_t>(p.size()), expected);
          EXPECT_EQ((*codec)->EncodedBytes(rows, d), expected);
          ASSERT_TRUE((*codec)->Decode(p, rows, d, &dk, &dv).ok());
          // Keys: per channel c over token groups t.
          for (int64_t i = 0; i < nq; ++i) {
            for (int64_t c = 0; c < d; ++c) {
              const int64_t g = (i / group) * d + c;
              ASSERT_TRUE(WithinHalfStep(k[i * d + c], dk[i * d + c], ReadParam(p, g * 4))) << i << "," << c;
              const int64_t vg = (i * d + c) / group;
              ASSERT_TRUE(WithinHalfStep(v[i * d + c], dv[i * d + c],
                                         ReadParam(p, k_params + k_codes + vg * 4)))
                  << i << "," << c;
            }
          }
          // Residual rows: the bf16 rounding (nearest even) of the input, exactly.
          for (int64_t i = nq * d; i < rows * d; ++i) {
            ASSERT_EQ(dk[i], BF16ToFloat(FloatToBF16(k[i]))) << i;
            ASSERT_EQ(dv[i], BF16ToFloat(FloatToBF16(v[i]))) << i;
          }
        }
      }
    }
  }
}

TEST(KvCodecTest, ConstantAndTinyRangesStayWithinHalfAStep) {
  auto codec = *MakeCodec("flexgen{bits=2,group=4}");
  std::vector<float> k = {0.1f, 0.1f, 0.1f, 0.1f, 1e-6f, 2e-6f, 3e-6f, 4e-6f, -7.3f, -7.3f, 5.0f, -7.3f};
  std::vector<float> v(k.rbegin(), k.rend()), dk, dv;
  const std::string p = codec->Encode(k, v, 4);
  ASSERT_TRUE(codec->Decode(p, 3, 4, &dk, &dv).ok());
  for (size_t i = 0; i < k.size(); ++i) {
    const Param q = ReadParam(p, (i / 4) * 4);
    EXPECT_LE(std::abs(k[i] - dk[i]), 0.5f * q.scale * (1 + 1e-5f) + 1e-6f * std::abs(k[i])) << i;
  }
}

TEST(KvCodecTest, CodecNamesAndShapeChecks) {
  EXPECT_EQ((*MakeCodec("kivi"))->name(), "kivi{bits=2,group=32,residual=128}");
  EXPECT_EQ((*MakeCodec("kivi{residual=0,bits=4}"))->name(), "kivi{bits=4,group=32,residual=0}");
  EXPECT_EQ((*MakeCodec("flexgen"))->name(), "flexgen{bits=4,group=64}");
  EXPECT_FALSE(MakeCodec("kivi{bits=3}").ok());
  EXPECT_FALSE(MakeCodec("flexgen{residual=4}").ok());
  EXPECT_FALSE(MakeCodec("int8").ok());
  EXPECT_TRUE(CheckCodecFits("kivi{group=32}", 128).ok());
  EXPECT_EQ(CheckCodecFits("kivi{group=48}", 128).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckCodecFits("flexgen", 16).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckCodecFits("f16", 16).ok());
}

TEST(KvCodecTest, QuantizedEntryRoundTripsThroughSerializationByteExact) {
  auto codec = *MakeCodec("kivi{bits=2,group=16,residual=32}");
  const int64_t d = 32, rows = 90;
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_codec(codec->name());
  e.header.set_num_layers(2);
  e.header.set_num_kv_heads(2);
  e.header.set_head_dim(d);
  for (int64_t i = 0; i < rows; ++i) e.header.add_tokens(static_cast<int32_t>(i));
  for (int l = 0; l < 2; ++l) {
    v1::KvLayer layer;
    for (int h = 0; h < 2; ++h) {
      v1::KvHead* head = layer.add_heads();
      for (int64_t i = 0; i < rows; ++i) head->add_positions(static_cast<int32_t>(i * 2));
      head->set_payload(codec->Encode(Random(rows * d, 10 + l * 2 + h, 1.0f), Random(rows * d, 20 + l, 1.0f), d));
      e.header.add_kept(rows);
    }
    e.layers.push_back(layer.SerializeAsString());
  }
  SealEntry(e);
  ASSERT_TRUE(VerifyEntry(e).ok());
  // Serialize the header and layers, parse them back, serialize again.
  v1::KvEntryHeader h2;
  ASSERT_TRUE(h2.ParseFromString(e.header.SerializeAsString()));
  KvEntry back{h2, {}};
  for (const std::string& l : e.layers) {
    v1::KvLayer parsed;
    ASSERT_TRUE(parsed.ParseFromString(l));
    back.layers.push_back(parsed.SerializeAsString());
  }
  EXPECT_EQ(back.header.SerializeAsString(), e.header.SerializeAsString());
  EXPECT_EQ(back.layers, e.layers);
  ASSERT_TRUE(VerifyEntry(back).ok());
  // Decoding then re-encoding the residual keeps it bit-exact; payload sizes match EncodedBytes.
  for (const std::string& l : back.layers) {
    v1::KvLayer parsed;
    ASSERT_TRUE(parsed.ParseFromString(l));
    for (const auto& head : parsed.heads()) {
      EXPECT_EQ(static_cast<int64_t>(head.payload().size()), codec->EncodedBytes(rows, d));
    }
  }
}

// The packed fast path of QuantizeGroup gives the codes of the element-wise
// definition (ChooseQuantParams, QuantizeValue, PutCode), for aligned and
// unaligned code ranges, constant groups and NaNs.
TEST(KvCodecTest, GroupQuantizationMatchesTheElementWiseDefinition) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int bits : {2, 4}) {
    for (int64_t count : {2, 6, 32, 64, 128}) {
      for (int64_t first : {int64_t{0}, count, int64_t{3}}) {
        std::vector<float> x(count);
        for (float& f : x) f = dist(rng);
        if (count == 6) std::fill(x.begin(), x.end(), 1.25f);
        if (count == 64) x[5] = std::nanf("");
        const int64_t bytes = PackedBytes(first + count, bits);
        std::string fast(bytes, '\0'), slow(bytes, '\0');
        char params[4];
        QuantizeGroup(x.data(), count, bits, params, fast.data(), first);
        float lo = x[0], hi = x[0];
        for (float f : x) lo = std::min(lo, f), hi = std::max(hi, f);
        const QuantParams q = ChooseQuantParams(lo, hi, bits);
        EXPECT_EQ(std::memcmp(params, &q.scale, 2), 0);
        EXPECT_EQ(std::memcmp(params + 2, &q.min, 2), 0);
        for (int64_t i = 0; i < count; ++i) {
          PutCode(slow.data(), first + i, QuantizeValue(x[i], HalfToFloat(q.scale), HalfToFloat(q.min), bits), bits);
        }
        EXPECT_EQ(fast, slow) << "bits " << bits << " count " << count << " first " << first;
      }
    }
  }
}

// The vectorized f16 conversions equal the scalar definitions (round to
// nearest even, overflow to infinity, subnormals), in both directions.
TEST(KvCodecTest, VectorHalfConversionsMatchTheScalarOnes) {
  std::mt19937 rng(5);
  std::vector<float> x = {0.0f, -0.0f, 1.0f, 65504.0f, 65520.0f, 1e9f, -1e9f, 6e-8f, 3e-8f, 1e-5f, -2.5e-6f,
                          1.0009765625f, 1.00048828125f, 1.00146484375f};
  std::uniform_real_distribution<float> exponent(-30.0f, 18.0f), sign(-1.0f, 1.0f);
  while (x.size() < 1003) x.push_back((sign(rng) < 0 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
  std::vector<uint16_t> vec(x.size());
  ConvertFromF32(DType::kF16, x.data(), x.size(), vec.data());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(vec[i], FloatToHalf(x[i])) << "x = " << x[i];
  std::vector<float> back(x.size());
  ConvertToF32(DType::kF16, vec.data(), vec.size(), back.data());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(back[i], HalfToFloat(vec[i])) << "h = " << vec[i];
}

}  // namespace
}  // namespace kvlab
