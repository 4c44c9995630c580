#include "kvcache/policies/evict.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "kvcache/policies/selection.h"
#include "kvcache/policies/window_scores.h"
#include "nlohmann/json.hpp"

namespace kvlab {
namespace {

// What prefill observed for one layer, decoded.
struct LayerView {
  std::vector<float> queries;  // [w, num_q_heads, head_dim]
  std::vector<float> mass;     // [num_q_heads, n]
  std::vector<char> mass_seen;
  int64_t mass_elements = 0;
};

const char* KindName(EvictionKind k) {
  switch (k) {
    case EvictionKind::kNone:
      return "none";
    case EvictionKind::kStreamingLlm:
      return "streamingllm";
    case EvictionKind::kH2O:
      return "h2o";
    case EvictionKind::kSnapKv:
      return "snapkv";
    case EvictionKind::kPyramidKv:
      return "pyramidkv";
    case EvictionKind::kChunkKv:
      return "chunkkv";
  }
  return "?";
}

std::vector<int32_t> AllRows(int64_t n) {
  std::vector<int32_t> r(n);
  std::iota(r.begin(), r.end(), 0);
  return r;
}

absl::StatusOr<std::map<int64_t, LayerView>> IndexObservations(const std::vector<v1::LayerObservation>& obs,
                                                               int64_t num_layers) {
  std::map<int64_t, LayerView> views;
  for (const v1::LayerObservation& o : obs) {
    if (o.layer() < 0 || o.layer() >= num_layers) {
      return absl::InvalidArgumentError(absl::StrCat("observation for layer ", o.layer(), " of a ", num_layers,
                                                     "-layer entry"));
    }
    LayerView& v = views[o.layer()];
    if (!o.window_queries().empty()) {
      if (!v.queries.empty() || o.window_queries().size() % 4 != 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("observation: layer ", o.layer(), " has duplicate or misaligned window queries"));
      }
      v.queries.resize(o.window_queries().size() / 4);
      std::memcpy(v.queries.data(), o.window_queries().data(), o.window_queries().size());
    }
    if (!o.attention_mass().empty()) {
      if (o.attention_mass().size() % 4 != 0 || o.mass_offset() < 0) {
        return absl::InvalidArgumentError(absl::StrCat("observation: layer ", o.layer(), " attention mass piece ",
                                                       "is misaligned or has a negative offset"));
      }
      const int64_t count = static_cast<int64_t>(o.attention_mass().size() / 4), end = o.mass_offset() + count;
      if (end > (int64_t{1} << 34)) return absl::InvalidArgumentError("observation: attention mass too large");
      if (static_cast<int64_t>(v.mass.size()) < end) {
        v.mass.resize(end, 0.0f);
        v.mass_seen.resize(end, 0);
      }
      for (int64_t i = 0; i < count; ++i) {
        if (v.mass_seen[o.mass_offset() + i]) {
          return absl::InvalidArgumentError(
              absl::StrCat("observation: layer ", o.layer(), " attention mass pieces overlap"));
        }
        v.mass_seen[o.mass_offset() + i] = 1;
      }
      std::memcpy(v.mass.data() + o.mass_offset(), o.attention_mass().data(), count * 4);
      v.mass_elements += count;
    }
  }
  return views;
}

// Number of query heads of the window queries of `layer` (rows w).
absl::StatusOr<int64_t> QueryHeads(const std::map<int64_t, LayerView>& views, int64_t layer, int64_t w,
                                   int64_t head_dim, int64_t kv_heads, const char* policy) {
  auto it = views.find(layer);
  if (it == views.end() || it->second.queries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(policy, " needs the window queries of layer ", layer,
                                                   " and the prefill sent none"));
  }
  const int64_t size = static_cast<int64_t>(it->second.queries.size());
  const int64_t hq = size / (w * head_dim);
  if (hq * w * head_dim != size || hq == 0 || hq % kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(policy, ": layer ", layer, " window queries hold ", size,
                                                   " floats, not ", w, " tokens x a multiple of ", kv_heads,
                                                   " heads x ", head_dim));
  }
  return hq;
}

// Parses layer `l` of `entry`. DATA_LOSS when it is malformed.
absl::Status ParseLayer(const KvEntry& entry, int64_t l, v1::KvLayer* layer) {
  if (!layer->ParseFromString(entry.layers[l]) || layer->heads_size() != entry.header.num_kv_heads()) {
    return absl::DataLossError(absl::StrCat("KV entry layer ", l, " is malformed"));
  }
  return absl::OkStatus();
}

// Decodes the K rows of every head of one layer (all the scoring reads).
// `k` keeps its buffers from layer to layer.
absl::Status DecodeLayerKeys(const KvEntry& entry, const Codec& codec, int64_t l, v1::KvLayer* layer,
                             std::vector<std::vector<float>>* k) {
  const auto& h = entry.header;
  KVLAB_RETURN_IF_ERROR(ParseLayer(entry, l, layer));
  k->resize(h.num_kv_heads());
  std::vector<absl::Status> status(h.num_kv_heads());
  ParallelFor(h.num_kv_heads(), 1, [&](int64_t b, int64_t e) {
    for (int64_t hd = b; hd < e; ++hd) {
      status[hd] = codec.DecodeKeys(layer->heads(hd).payload(), layer->heads(hd).positions_size(), h.head_dim(),
                                    &(*k)[hd]);
    }
  });
  for (const absl::Status& s : status) KVLAB_RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

void AddStats(const KvEntry& entry, const EvictionPolicy& policy, const std::vector<int64_t>& layer_budgets,
              KeptRows* out) {
  const auto& h = entry.header;
  const int64_t layers = h.num_layers(), heads = h.num_kv_heads();
  int64_t kept = 0;
  for (const auto& r : out->rows) kept += static_cast<int64_t>(r.size());
  nlohmann::json j;
  j["policy"] = KindName(policy.kind);
  j["kept_rows"] = kept;
  j["total_rows"] = static_cast<int64_t>(h.tokens_size()) * layers * heads;
  if (!layer_budgets.empty()) j["layer_budgets"] = layer_budgets;
  std::vector<double> jac;
  double sum = 0;
  for (int64_t l = 0; l + 1 < layers; ++l) {
    double s = 0;
    for (int64_t hd = 0; hd < heads; ++hd) s += Jaccard(out->rows[l * heads + hd], out->rows[(l + 1) * heads + hd]);
    jac.push_back(s / static_cast<double>(heads));
    sum += jac.back();
  }
  j["adjacent_layer_jaccard"] = jac;
  j["adjacent_layer_jaccard_mean"] = jac.empty() ? 1.0 : sum / static_cast<double>(jac.size());
  out->stats_json = j.dump();
}

}  // namespace

absl::StatusOr<KeptRows> SelectKeptRows(const KvEntry& entry, const std::vector<v1::LayerObservation>& observations,
                                        const EvictionPolicy& policy) {
  const v1::KvEntryHeader& h = entry.header;
  const int64_t n = h.tokens_size(), layers = h.num_layers(), heads = h.num_kv_heads(), d = h.head_dim();
  const char* name = KindName(policy.kind);
  for (int64_t kept : h.kept()) {
    if (kept != n) {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a full entry (every head holding all ", n,
                                                     " context rows); this one is already compressed"));
    }
  }
  KeptRows out;
  out.rows.assign(layers * heads, {});
  std::vector<int64_t> layer_budgets;
  auto fill_all = [&](const std::vector<int32_t>& rows) {
    for (auto& r : out.rows) r = rows;
  };

  if (policy.kind == EvictionKind::kNone) {
    fill_all(AllRows(n));
  } else if (policy.kind == EvictionKind::kStreamingLlm) {
    fill_all(StreamingKept(n, policy.n_sink.Resolve(n), policy.n_recent.Resolve(n)));
  } else if (policy.kind == EvictionKind::kH2O) {
    const int64_t heavy = policy.heavy.Resolve(n), recent = policy.recent.Resolve(n);
    if (heavy + recent < 1) {
      return absl::InvalidArgumentError(absl::StrCat("h2o keeps no rows of a ", n, "-token context"));
    }
    if (n <= heavy + recent) {
      fill_all(AllRows(n));
    } else {
      KVLAB_ASSIGN_OR_RETURN(auto views, IndexObservations(observations, layers));
      for (int64_t l = 0; l < layers; ++l) {
        auto it = views.find(l);
        if (it == views.end() || it->second.mass.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("h2o needs the attention mass of layer ", l, " and the prefill sent none"));
        }
        const LayerView& v = it->second;
        const int64_t size = static_cast<int64_t>(v.mass.size()), hq = size / n;
        if (hq * n != size || hq == 0 || hq % heads != 0 || v.mass_elements != size) {
          return absl::InvalidArgumentError(absl::StrCat("h2o: layer ", l, " attention mass holds ", size,
                                                         " values, not a multiple of ", heads, " heads x ", n,
                                                         " tokens without gaps"));
        }
        const int64_t group = hq / heads;
        for (int64_t hd = 0; hd < heads; ++hd) {
          std::vector<float> score(n - recent, 0.0f);
          for (int64_t g = 0; g < group; ++g) {
            const float* m = v.mass.data() + (hd * group + g) * n;
            for (int64_t j = 0; j < n - recent; ++j) score[j] += m[j];
          }
          for (float& s : score) s /= static_cast<float>(group);
          out.rows[l * heads + hd] = TopKPlusTail(score, heavy, n);
        }
      }
    }
  } else {
    // SnapKV, PyramidKV, ChunkKV.
    const int64_t w = policy.window, capacity = policy.capacity.Resolve(n);
    if (capacity <= w) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": capacity ", policy.capacity.Canonical(), " of a ", n,
                                                     "-token context is ", capacity, " rows, not more than the ",
                                                     "window (", w, ")"));
    }
    if (n <= capacity) {
      fill_all(AllRows(n));
      if (policy.kind == EvictionKind::kPyramidKv) layer_budgets.assign(layers, n);
    } else {
      if (policy.kind == EvictionKind::kPyramidKv) {
        layer_budgets = PyramidBudgets(layers, n, capacity, w, policy.beta);
      } else {
        layer_budgets.assign(layers, capacity - w);
      }
      KVLAB_ASSIGN_OR_RETURN(auto views, IndexObservations(observations, layers));
      KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(h.codec()));
      const bool chunk = policy.kind == EvictionKind::kChunkKv;
      v1::KvLayer layer;
      std::vector<std::vector<float>> k;
      for (int64_t l = 0; l < layers; ++l) {
        if (chunk && l % policy.reuse_layers != 0) {  // layer-wise index reuse
          const int64_t leader = l - l % policy.reuse_layers;
          for (int64_t hd = 0; hd < heads; ++hd) out.rows[l * heads + hd] = out.rows[leader * heads + hd];
          continue;
        }
        KVLAB_ASSIGN_OR_RETURN(int64_t hq, QueryHeads(views, l, w, d, heads, name));
        KVLAB_RETURN_IF_ERROR(DecodeLayerKeys(entry, *codec, l, &layer, &k));
        const std::vector<float>& q = views[l].queries;
        const int64_t group = hq / heads;
        std::vector<std::vector<float>> scores(heads);
        const int64_t kernel = chunk ? 1 : policy.kernel;
        ParallelFor(heads, 1, [&](int64_t b, int64_t e) {
          for (int64_t hd = b; hd < e; ++hd) {
            scores[hd] = WindowScores(q, w, hq, hd * group, group, k[hd], n, d, kernel, policy.pool);
          }
        });
        if (chunk) {
          // One index set per layer: scores averaged over all heads.
          std::vector<float> mean(n - w, 0.0f);
          for (int64_t hd = 0; hd < heads; ++hd) {
            for (int64_t j = 0; j < n - w; ++j) mean[j] += scores[hd][j];
          }
          for (float& s : mean) s /= static_cast<float>(heads);
          std::vector<int32_t> rows = ChunkKept(mean, capacity - w, policy.chunk, n);
          for (int64_t hd = 0; hd < heads; ++hd) out.rows[l * heads + hd] = rows;
        } else {
          for (int64_t hd = 0; hd < heads; ++hd) {
            out.rows[l * heads + hd] = TopKPlusTail(scores[hd], layer_budgets[l], n);
          }
        }
      }
      for (int64_t& b : layer_budgets) b += w;  // report rows kept, window included
    }
  }
  AddStats(entry, policy, layer_budgets, &out);
  return out;
}

absl::StatusOr<KvEntry> BuildKeptEntry(const KvEntry& entry, const KeptRows& kept, const Codec& codec) {
  const v1::KvEntryHeader& h = entry.header;
  const int64_t heads = h.num_kv_heads(), d = h.head_dim();
  if (static_cast<int64_t>(kept.rows.size()) != h.num_layers() * heads) {
    return absl::InvalidArgumentError("kept rows do not cover every layer and head");
  }
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> from, MakeCodec(h.codec()));
  KvEntry out;
  out.header = h;
  out.header.set_codec(codec.name());
  out.header.clear_kept();
  out.header.set_stats_json(kept.stats_json);
  // Same codec in and out: dense payloads are cut, not decoded and re-encoded.
  const bool same_codec = codec.name() == from->name();
  // `layer` keeps its parsed payload buffers from layer to layer (fresh
  // multi-MiB buffers cost page faults); the kept rows go into `kept_layer`.
  v1::KvLayer layer, kept_layer;
  for (int64_t l = 0; l < h.num_layers(); ++l) {
    KVLAB_RETURN_IF_ERROR(ParseLayer(entry, l, &layer));
    while (kept_layer.heads_size() < heads) kept_layer.add_heads();
    std::vector<absl::Status> status(heads);
    ParallelFor(heads, 1, [&](int64_t b, int64_t e) {
      std::vector<float> nk, nv;
      for (int64_t hd = b; hd < e; ++hd) {
        const std::vector<int32_t>& rows = kept.rows[l * heads + hd];
        const v1::KvHead& head = layer.heads(hd);
        v1::KvHead* out_head = kept_layer.mutable_heads(hd);
        const int64_t have = head.positions_size();
        if (!same_codec || !from->GatherRows(head.payload(), have, d, rows, out_head->mutable_payload())) {
          status[hd] = from->DecodeRows(head.payload(), have, d, rows, &nk, &nv);
          if (!status[hd].ok()) continue;
          out_head->set_payload(codec.Encode(nk, nv, d));
        }
        out_head->clear_positions();
        for (int32_t r : rows) out_head->add_positions(head.positions(r));
      }
    });
    for (const absl::Status& s : status) KVLAB_RETURN_IF_ERROR(s);
    for (int64_t hd = 0; hd < heads; ++hd) out.header.add_kept(kept_layer.heads(hd).positions_size());
    out.layers.push_back(kept_layer.SerializeAsString());
  }
  SealEntry(out);
  return out;
}

}  // namespace kvlab
