// Validation and canonical form of the KV-policy axis and the decode-policy
// axis of a method spec.
//
// KV policy (`kv=`): an eviction policy, a codec, or an eviction policy
// followed by '+' and a codec. Every parameter is spelled out in the
// canonical form (keys sorted), so equal policies give equal cache keys.
//
//   full                         keep everything (`full{dtype=f32|f16}` for another dtype)
//   streamingllm{n_sink=128,n_recent=4096}
//   h2o{heavy=B,recent=B}        both required
//   snapkv{window=32,kernel=5,pool=avg|max,capacity=2048}
//   pyramidkv{window=32,kernel=5,pool=avg,capacity=2048,beta=20}
//   chunkkv{chunk=10,window=32,capacity=2048,reuse_layers=1}
//   kivi{bits=2|4,group=32,residual=128}     (bits default 2)
//   flexgen{bits=2|4,group=64}               (bits default 4)
//   f32 | f16 | bf16             dense codecs, e.g. `snapkv{capacity=512}+f16`; without one,
//                                kept rows are stored in kDefaultEntryCodec (bf16)
//   e.g. `snapkv{capacity=512}+kivi{bits=4}`
//
// Budgets (n_sink, n_recent, heavy, recent, capacity) are tokens ("256") or
// ratios of the context ("0.125"); see kvcache/budget.h. snapkv, pyramidkv
// and chunkkv also accept `ratio=r` as another spelling of `capacity=r`.
//
// Decode policy (`decode=`): `none`, `streamingllm{n_sink,n_recent}` or
// `h2o{heavy,recent}`, evicting while generating (engine/kv_eviction.h);
// ratios there are of the context length held when decoding starts.
#ifndef KVLAB_KVCACHE_KV_POLICY_SPEC_H_
#define KVLAB_KVCACHE_KV_POLICY_SPEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/kv_eviction.h"
#include "kvcache/budget.h"

namespace kvlab {

enum class EvictionKind { kNone, kStreamingLlm, kH2O, kSnapKv, kPyramidKv, kChunkKv };
enum class PoolKind { kAvg, kMax };

// The parameters of an eviction policy; only those of `kind` are meaningful.
struct EvictionPolicy {
  EvictionKind kind = EvictionKind::kNone;
  Budget n_sink, n_recent;  // streamingllm
  Budget heavy, recent;     // h2o
  Budget capacity;          // snapkv, pyramidkv, chunkkv: total rows kept per head (window included)
  int64_t window = 32;      // observation window (always kept)
  int64_t kernel = 5;       // snapkv/pyramidkv pooling kernel (odd)
  PoolKind pool = PoolKind::kAvg;
  int64_t beta = 20;        // pyramidkv
  int64_t chunk = 10;       // chunkkv
  int64_t reuse_layers = 1; // chunkkv
};

// The dense codec of entries whose policy names none: bf16, the dtype real
// checkpoints (Llama-3, Qwen2, Mistral) keep their KV cache in, so that a
// `full` entry is as large as the f16 KV the compression ratio is measured
// against. A spec asks for another with `full{dtype=f32}` or `+f32`.
inline constexpr std::string_view kDefaultEntryCodec = "bf16";

struct KvPolicy {
  EvictionPolicy eviction;
  std::string codec = std::string(kDefaultEntryCodec);  // canonical codec name (kvcache/codec.h)
  std::string canonical;      // canonical spelling of the whole policy
};

// Parses and validates a KV policy (see the file comment). INVALID_ARGUMENT
// with a sentence for unknown policies, unknown or malformed parameters and
// out-of-range values (capacity <= window for token budgets, even kernel,
// bits not 2 or 4, ...). Checks that need the context or the model shape
// (ratio budgets, group vs head_dim) happen when compressing.
absl::StatusOr<KvPolicy> ParseKvPolicy(std::string_view text);

// Returns the canonical spelling of the KV policy `text` and sets `codec` to
// the codec its entries use. Errors as ParseKvPolicy.
absl::StatusOr<std::string> CanonicalKvPolicy(std::string_view text, std::string* codec);

// A decode-time policy: kind kNone, kStreamingLlm or kH2O.
struct DecodePolicy {
  EvictionPolicy eviction;
  std::string canonical;
};

// Parses `none`, `streamingllm{n_sink=..,n_recent=..}` (defaults 128/4096) or
// `h2o{heavy=..,recent=..}` (both required). INVALID_ARGUMENT otherwise.
absl::StatusOr<DecodePolicy> ParseDecodePolicy(std::string_view text);

// The engine configuration of a decode policy for a cache that holds
// `context_tokens` tokens when decoding starts (ratios resolve against it).
// INVALID_ARGUMENT for kNone or a budget that resolves to no rows at all.
absl::StatusOr<DecodeEvictionConfig> ResolveDecodePolicy(const DecodePolicy& policy, int64_t context_tokens);

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_KV_POLICY_SPEC_H_
