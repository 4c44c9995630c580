// The local compressor: parses and validates the method spec, selects the
// rows the eviction policy keeps (kvcache/policies/evict.h) and encodes them
// with the policy's codec (dense or quantizing). Stateless: a bad request
// fails alone and the compressor keeps serving.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/codec.h"
#include "kvcache/codec_spec.h"
#include "kvcache/kv_policy_spec.h"
#include "kvcache/method_spec.h"
#include "kvcache/policies/evict.h"
#include "services/compressor/compressor.h"

namespace kvlab {
namespace {

class LocalCompressor : public Compressor {
 public:
  absl::StatusOr<KvEntry> Compress(CompressInput input, const std::string& method_spec) override {
    KVLAB_ASSIGN_OR_RETURN(MethodSpec spec, ParseMethodSpec(method_spec));
    KVLAB_ASSIGN_OR_RETURN(KvPolicy policy, ParseKvPolicy(spec.kv));
    KVLAB_RETURN_IF_ERROR(VerifyEntry(input.entry));
    KVLAB_RETURN_IF_ERROR(CheckCodecFits(policy.codec, input.entry.header.head_dim()));
    if (policy.eviction.kind == EvictionKind::kNone && input.entry.header.codec() == policy.codec) {
      KvEntry entry = std::move(input.entry);  // nothing to do: keep the payload as is
      entry.header.set_method_spec(spec.Canonical());
      SealEntry(entry);
      return entry;
    }
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(policy.codec));
    KVLAB_ASSIGN_OR_RETURN(KeptRows kept, SelectKeptRows(input.entry, input.observations, policy.eviction));
    KVLAB_ASSIGN_OR_RETURN(KvEntry entry, BuildKeptEntry(input.entry, kept, *codec));
    entry.header.set_method_spec(spec.Canonical());
    SealEntry(entry);
    return entry;
  }
};

}  // namespace

std::unique_ptr<Compressor> NewLocalCompressor() { return std::make_unique<LocalCompressor>(); }

}  // namespace kvlab
