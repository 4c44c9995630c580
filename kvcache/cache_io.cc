#include "kvcache/cache_io.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<KvEntry> ExportCache(const KvCache& cache, const Model& model, const std::string& method_spec,
                                    const Codec& codec) {
  KvEntry entry;
  v1::KvEntryHeader& h = entry.header;
  h.set_format_version(kKvEntryFormatVersion);
  h.set_model_fingerprint(model.fingerprint().ToHex());
  h.set_method_spec(method_spec);
  h.set_codec(codec.name());
  h.set_backend(model.backend_description());
  h.mutable_tokens()->Assign(cache.tokens().begin(), cache.tokens().end());
  h.set_num_layers(cache.num_layers());
  h.set_num_kv_heads(cache.num_kv_heads());
  h.set_head_dim(cache.head_dim());
  h.set_next_position(cache.next_position());
  h.set_created_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  std::vector<float> k, v;
  for (int64_t l = 0; l < cache.num_layers(); ++l) {
    v1::KvLayer layer;
    for (int64_t hd = 0; hd < cache.num_kv_heads(); ++hd) {
      KVLAB_RETURN_IF_ERROR(cache.ReadHead(l, hd, &k, &v));
      v1::KvHead* head = layer.add_heads();
      const auto& pos = cache.positions(l, hd);
      head->mutable_positions()->Assign(pos.begin(), pos.end());
      head->set_payload(codec.Encode(k, v, cache.head_dim()));
      h.add_kept(static_cast<int64_t>(pos.size()));
    }
    entry.layers.push_back(layer.SerializeAsString());
  }
  SealEntry(entry);
  return entry;
}

absl::StatusOr<std::unique_ptr<KvCache>> ImportEntry(const KvEntry& entry, const Model& model,
                                                     int64_t extra_capacity) {
  KVLAB_RETURN_IF_ERROR(VerifyEntry(entry));
  const v1::KvEntryHeader& h = entry.header;
  const std::string fingerprint = model.fingerprint().ToHex();
  if (h.model_fingerprint() != fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat("KV entry was made by model ", h.model_fingerprint(),
                                                      " but this worker serves model ", fingerprint));
  }
  const ModelConfig& c = model.config();
  if (h.num_layers() != c.num_layers || h.num_kv_heads() != c.num_kv_heads || h.head_dim() != c.head_dim) {
    return absl::FailedPreconditionError("KV entry shape does not match the model");
  }
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(h.codec()));
  int64_t max_rows = 0;
  for (int64_t kept : h.kept()) max_rows = std::max(max_rows, kept);
  KVLAB_ASSIGN_OR_RETURN(auto cache, model.NewCache(max_rows + extra_capacity));
  std::vector<float> k, v;
  for (int64_t l = 0; l < h.num_layers(); ++l) {
    v1::KvLayer layer;
    if (!layer.ParseFromString(entry.layers[l]) || layer.heads_size() != h.num_kv_heads()) {
      return absl::DataLossError(absl::StrCat("KV entry layer ", l, " is malformed"));
    }
    for (int64_t hd = 0; hd < h.num_kv_heads(); ++hd) {
      const v1::KvHead& head = layer.heads(hd);
      const int64_t rows = head.positions_size();
      if (rows != h.kept(l * h.num_kv_heads() + hd)) {
        return absl::DataLossError(absl::StrCat("KV entry layer ", l, " head ", hd,
                                                " holds a different row count than its header"));
      }
      KVLAB_RETURN_IF_ERROR(codec->Decode(head.payload(), rows, h.head_dim(), &k, &v));
      KVLAB_RETURN_IF_ERROR(
          cache->SetHead(l, hd, k, v, std::vector<int32_t>(head.positions().begin(), head.positions().end())));
    }
  }
  cache->SetTokens(std::vector<int32_t>(h.tokens().begin(), h.tokens().end()), h.next_position());
  return cache;
}

}  // namespace kvlab
