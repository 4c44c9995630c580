#include "common/status_macros.h"
#include "kvcache/codec.h"
#include "kvcache/method_spec.h"
#include "services/compressor/compressor.h"

namespace kvlab {
namespace {

// Re-encodes every head of `entry` with `to` (rows and positions unchanged).
absl::Status Reencode(KvEntry& entry, const Codec& to) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> from, MakeCodec(entry.header.codec()));
  std::vector<float> k, v;
  for (std::string& bytes : entry.layers) {
    v1::KvLayer layer;
    if (!layer.ParseFromString(bytes)) return absl::DataLossError("KV entry layer is malformed");
    for (v1::KvHead& head : *layer.mutable_heads()) {
      KVLAB_RETURN_IF_ERROR(from->Decode(head.payload(), head.positions_size(), entry.header.head_dim(), &k, &v));
      head.set_payload(to.Encode(k, v, entry.header.head_dim()));
    }
    bytes = layer.SerializeAsString();
  }
  entry.header.set_codec(to.name());
  return absl::OkStatus();
}

class LocalCompressor : public Compressor {
 public:
  absl::StatusOr<KvEntry> Compress(CompressInput input, const std::string& method_spec) override {
    KVLAB_ASSIGN_OR_RETURN(MethodSpec spec, ParseMethodSpec(method_spec));
    KVLAB_RETURN_IF_ERROR(VerifyEntry(input.entry));
    KvEntry entry = std::move(input.entry);
    if (entry.header.codec() != spec.codec) {
      KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(spec.codec));
      KVLAB_RETURN_IF_ERROR(Reencode(entry, *codec));
    }
    entry.header.set_method_spec(spec.Canonical());
    SealEntry(entry);
    return entry;
  }
};

}  // namespace

std::unique_ptr<Compressor> NewLocalCompressor() { return std::make_unique<LocalCompressor>(); }

}  // namespace kvlab
