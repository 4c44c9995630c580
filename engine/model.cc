#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/checkpoint.h"
#include "engine/fingerprint.h"

namespace kvlab {
namespace {

// Loads one checkpoint tensor onto the backend: a weight matrix in the
// backend's MatrixDType for its stored dtype, a vector in f32.
absl::StatusOr<Tensor> LoadTensor(const Checkpoint& ckpt, Backend& backend, const std::string& name,
                                  const std::vector<int64_t>& shape, int64_t& total_bytes) {
  KVLAB_ASSIGN_OR_RETURN(const TensorView* view, ckpt.Require(name, shape));
  std::vector<float> host(view->num_elements());
  ConvertToF32(view->dtype, view->data.data(), host.size(), host.data());
  for (float f : host) {
    if (!std::isfinite(f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "' in '", ckpt.FileOf(name), "' holds a non-finite value"));
    }
  }
  const DType dtype = shape.size() == 2 ? backend.MatrixDType(view->dtype) : DType::kF32;
  KVLAB_ASSIGN_OR_RETURN(Tensor t, backend.Allocate(dtype, shape));
  if (dtype == DType::kF32) {
    KVLAB_RETURN_IF_ERROR(backend.Upload(host.data(), t));
  } else if (dtype == view->dtype) {
    KVLAB_RETURN_IF_ERROR(backend.Upload(view->data.data(), t));
  } else {
    std::vector<uint16_t> narrow(host.size());
    ConvertFromF32(dtype, host.data(), host.size(), narrow.data());
    KVLAB_RETURN_IF_ERROR(backend.Upload(narrow.data(), t));
  }
  ckpt.Release(*view);
  total_bytes += static_cast<int64_t>(t.bytes());
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& dir, Backend& backend) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  auto model = std::unique_ptr<Model>(new Model(backend));
  model->dir_ = dir;
  model->config_ = ckpt->config();
  if (model->config_.head_dim > backend.max_head_dim()) {
    return absl::UnimplementedError(absl::StrCat("model '", dir, "': head_dim ", model->config_.head_dim,
                                                 " is above the ", backend.name(), " backend's limit of ",
                                                 backend.max_head_dim()));
  }
  model->fingerprint_ = ComputeFingerprint(*ckpt);
  for (double f : model->config_.RopeInverseFrequencies()) model->inv_freq_.push_back(static_cast<float>(f));
  KVLAB_RETURN_IF_ERROR(model->LoadWeights([&](const std::string& name, const std::vector<int64_t>& shape) {
    return LoadTensor(*ckpt, backend, name, shape, model->weight_bytes_);
  }));
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> Model::CreateRandom(const ModelConfig& config, Backend& backend,
                                                           DType matrix_dtype, uint64_t seed) {
  auto model = std::unique_ptr<Model>(new Model(backend));
  model->dir_ = "(random weights)";
  model->config_ = config;
  const std::string identity = absl::StrCat(config.Canonical(), "|random|", seed);
  model->fingerprint_ = HashBytes(identity.data(), identity.size());
  for (double f : config.RopeInverseFrequencies()) model->inv_freq_.push_back(static_cast<float>(f));
  // One pool of N(0, 0.02) values, tiled over every matrix; unit vectors.
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> pool(int64_t{1} << 22);
  for (float& x : pool) x = normal(rng);
  std::vector<uint16_t> pool16(pool.size());
  if (matrix_dtype != DType::kF32) ConvertFromF32(matrix_dtype, pool.data(), pool.size(), pool16.data());
  KVLAB_RETURN_IF_ERROR(model->LoadWeights([&](const std::string&, const std::vector<int64_t>& shape)
                                               -> absl::StatusOr<Tensor> {
    const DType dtype = shape.size() == 2 ? matrix_dtype : DType::kF32;
    KVLAB_ASSIGN_OR_RETURN(Tensor t, backend.Allocate(dtype, shape));
    const int64_t n = t.num_elements();
    if (shape.size() != 2) {
      std::vector<float> ones(n, 1.0f);
      KVLAB_RETURN_IF_ERROR(backend.Upload(ones.data(), t));
    } else {
      const Tensor flat = t.Reshape({n});
      const int64_t step = static_cast<int64_t>(pool.size());
      for (int64_t off = 0; off < n; off += step) {
        const Tensor part = flat.Slice(off, std::min(n, off + step));
        const void* src = dtype == DType::kF32 ? static_cast<const void*>(pool.data()) : pool16.data();
        KVLAB_RETURN_IF_ERROR(backend.Upload(src, part));
      }
    }
    model->weight_bytes_ += static_cast<int64_t>(t.bytes());
    return t;
  }));
  return model;
}

absl::Status Model::LoadWeights(const WeightSource& load) {
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size, q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;
  KVLAB_ASSIGN_OR_RETURN(embed_, load("model.embed_tokens.weight", {c.vocab_size, h}));
  KVLAB_ASSIGN_OR_RETURN(final_norm_, load("model.norm.weight", {h}));
  if (c.tie_word_embeddings) {
    lm_head_ = embed_;
  } else {
    KVLAB_ASSIGN_OR_RETURN(lm_head_, load("lm_head.weight", {c.vocab_size, h}));
  }
  layers_.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights& w = layers_[i];
    KVLAB_ASSIGN_OR_RETURN(w.input_norm, load(p + "input_layernorm.weight", {h}));
    KVLAB_ASSIGN_OR_RETURN(w.post_norm, load(p + "post_attention_layernorm.weight", {h}));
    KVLAB_ASSIGN_OR_RETURN(w.wq, load(p + "self_attn.q_proj.weight", {q_dim, h}));
    KVLAB_ASSIGN_OR_RETURN(w.wk, load(p + "self_attn.k_proj.weight", {kv_dim, h}));
    KVLAB_ASSIGN_OR_RETURN(w.wv, load(p + "self_attn.v_proj.weight", {kv_dim, h}));
    KVLAB_ASSIGN_OR_RETURN(w.wo, load(p + "self_attn.o_proj.weight", {h, q_dim}));
    if (c.attention_bias) {
      KVLAB_ASSIGN_OR_RETURN(w.bq, load(p + "self_attn.q_proj.bias", {q_dim}));
      KVLAB_ASSIGN_OR_RETURN(w.bk, load(p + "self_attn.k_proj.bias", {kv_dim}));
      KVLAB_ASSIGN_OR_RETURN(w.bv, load(p + "self_attn.v_proj.bias", {kv_dim}));
    }
    KVLAB_ASSIGN_OR_RETURN(w.w_gate, load(p + "mlp.gate_proj.weight", {c.intermediate_size, h}));
    KVLAB_ASSIGN_OR_RETURN(w.w_up, load(p + "mlp.up_proj.weight", {c.intermediate_size, h}));
    KVLAB_ASSIGN_OR_RETURN(w.w_down, load(p + "mlp.down_proj.weight", {h, c.intermediate_size}));
  }
  return backend_.Synchronize();
}

std::string Model::backend_description() const {
  return absl::StrCat(backend_.name(), " (weights ", std::string(DTypeName(embed_.dtype())), ", KV ",
                      std::string(DTypeName(backend_.kv_dtype())), ")");
}

absl::StatusOr<std::unique_ptr<KvCache>> Model::NewCache(int64_t capacity) const {
  return KvCache::Create(backend_, config_, capacity);
}

absl::StatusOr<Logits> Model::Forward(std::span<const int32_t> tokens, KvCache& cache,
                                      const ForwardOptions& options) const {
  const ModelConfig& c = config_;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return absl::InvalidArgumentError("forward: no tokens to feed");
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("forward: token id ", tokens[i], " at index ", i,
                                                     " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  if (cache.num_layers() != c.num_layers || cache.num_kv_heads() != c.num_kv_heads ||
      cache.head_dim() != c.head_dim) {
    return absl::InvalidArgumentError("forward: the KV cache was made for a different model shape");
  }
  if (options.observe.window < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("forward: observation window must not be negative, got ", options.observe.window));
  }
  const bool observing = !options.observe.empty();
  if (observing && options.observation == nullptr) {
    return absl::InvalidArgumentError("forward: an observation was requested without an output to fill");
  }
  KVLAB_RETURN_IF_ERROR(cache.Reserve(n));

  const int64_t hd = c.head_dim, hq = c.num_heads, hkv = c.num_kv_heads, hidden = c.hidden_size;
  const int64_t chunk = std::max<int64_t>(1, std::min(options.chunk_tokens, n));
  const PrefillPattern* pattern =
      options.pattern != nullptr && !options.pattern->is_dense() ? options.pattern : nullptr;
  // vertical_slash estimates from the span's last queries: run the call layer
  // by layer, with one attention call over all n queries.
  const bool layer_major = pattern != nullptr && pattern->kind == PrefillPattern::kVerticalSlash;
  const int64_t full = layer_major ? n : chunk;  // rows of x, q, attn, rope
  auto alloc = [&](std::vector<int64_t> shape) { return backend_.Allocate(DType::kF32, shape); };
  KVLAB_ASSIGN_OR_RETURN(Tensor x_buf, alloc({full, hidden}));
  KVLAB_ASSIGN_OR_RETURN(Tensor h_buf, alloc({chunk, hidden}));
  KVLAB_ASSIGN_OR_RETURN(Tensor q_buf, alloc({full, hq, hd}));
  KVLAB_ASSIGN_OR_RETURN(Tensor k_buf, alloc({chunk, hkv, hd}));
  KVLAB_ASSIGN_OR_RETURN(Tensor v_buf, alloc({chunk, hkv, hd}));
  KVLAB_ASSIGN_OR_RETURN(Tensor attn_buf, alloc({full, hq, hd}));
  KVLAB_ASSIGN_OR_RETURN(Tensor gate_buf, alloc({chunk, c.intermediate_size}));
  KVLAB_ASSIGN_OR_RETURN(Tensor up_buf, alloc({chunk, c.intermediate_size}));
  KVLAB_ASSIGN_OR_RETURN(Tensor rope_buf, alloc({full, hd / 2, 2}));

  Logits logits;
  logits.vocab = c.vocab_size;
  logits.rows = options.all_logits ? n : 1;
  logits.values.resize(logits.rows * logits.vocab);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t start_position = cache.next_position();
  const float eps = static_cast<float>(c.rms_norm_eps);

  // Observation setup: mass tensors start at zero and are added to.
  Observation* obs = options.observation;
  std::vector<Tensor> mass(c.num_layers);
  if (observing) {
    int64_t before = 0;
    for (int64_t l = 0; l < c.num_layers; ++l) {
      for (int64_t h = 0; h < hkv; ++h) before = std::max(before, cache.length(l, h));
    }
    obs->window = std::min(options.observe.window, n);
    obs->n_keys = before + n;
    obs->num_heads = hq;
    obs->num_kv_heads = hkv;
    obs->head_dim = hd;
    obs->layers.assign(c.num_layers, LayerObservation{});
    for (int64_t l = 0; l < c.num_layers; ++l) {
      obs->layers[l].window_queries.resize(obs->window * hq * hd);
      if (options.observe.attention_mass) {
        KVLAB_ASSIGN_OR_RETURN(mass[l], alloc({hq, obs->n_keys}));
        std::vector<float> zeros(hq * obs->n_keys, 0.0f);
        KVLAB_RETURN_IF_ERROR(backend_.Upload(zeros.data(), mass[l]));
      }
    }
  }
  AttentionStats attention_stats;

  // Norm, q/k/v, RoPE and the cache append of rows [c0, c0 + q.dim(0)).
  auto attention_input = [&](int64_t l, const Tensor& x, const Tensor& q, const Tensor& rope,
                             int64_t c0) -> absl::Status {
    const LayerWeights& w = layers_[l];
    const int64_t m = x.dim(0);
    Tensor hbuf = h_buf.Slice(0, m), k = k_buf.Slice(0, m), v = v_buf.Slice(0, m);
    backend_.RmsNorm(x, w.input_norm, eps, hbuf);
    backend_.Linear(hbuf, w.wq, w.bq, q.Reshape({m, hq * hd}));
    backend_.Linear(hbuf, w.wk, w.bk, k.Reshape({m, hkv * hd}));
    backend_.Linear(hbuf, w.wv, w.bv, v.Reshape({m, hkv * hd}));
    backend_.ApplyRope(q, rope);
    backend_.ApplyRope(k, rope);
    cache.Append(l, k, v, start_position + c0);
    if (observing && obs->window > 0) {  // the window's queries, post-RoPE
      const int64_t lo = std::max(c0, n - obs->window), hi = c0 + m;
      if (lo < hi) {
        float* dst = obs->layers[l].window_queries.data() + (lo - (n - obs->window)) * hq * hd;
        KVLAB_RETURN_IF_ERROR(backend_.Download(q.Slice(lo - c0, hi - c0), dst));
      }
    }
    return absl::OkStatus();
  };
  // Attention of queries q (rows [c0, c0 + q.dim(0)) of this call) into attn.
  auto attention = [&](int64_t l, const Tensor& q, const Tensor& attn, int64_t c0) {
    AttentionArgs args;
    args.q = q;
    args.k = cache.k(l);
    args.v = cache.v(l);
    args.kv_len = cache.lengths(l);
    args.scale = scale;
    args.sliding_window = c.sliding_window.value_or(0);
    args.out = attn;
    args.pattern = pattern;
    args.pattern_rows_after = n - c0 - q.dim(0);
    args.attention_mass = mass[l];
    args.stats = options.stats != nullptr ? &attention_stats : nullptr;
    backend_.Attention(args);
  };
  // o_proj, residual, MLP of one chunk.
  auto attention_output_and_mlp = [&](int64_t l, const Tensor& x, const Tensor& attn) {
    const LayerWeights& w = layers_[l];
    const int64_t m = x.dim(0);
    Tensor hbuf = h_buf.Slice(0, m), gate = gate_buf.Slice(0, m), up = up_buf.Slice(0, m);
    backend_.Linear(attn.Reshape({m, hq * hd}), w.wo, Tensor(), hbuf);
    backend_.AddRmsNorm(x, hbuf, w.post_norm, eps, hbuf);
    backend_.Linear(hbuf, w.w_gate, Tensor(), gate);
    backend_.Linear(hbuf, w.w_up, Tensor(), up);
    backend_.SwiGlu(gate, up, gate);
    backend_.Linear(gate, w.w_down, Tensor(), hbuf);
    backend_.AddInPlace(x, hbuf);
  };
  // Final norm and LM head only for the rows whose logits are wanted.
  auto emit_logits = [&](const Tensor& x, int64_t c0) -> absl::Status {
    const int64_t m = x.dim(0);
    const bool last_chunk = c0 + m == n;
    if (!options.all_logits && !last_chunk) return absl::OkStatus();
    const int64_t first = options.all_logits ? 0 : m - 1;
    const int64_t rows = m - first;
    Tensor xs = x.Slice(first, m), hs = h_buf.Slice(0, rows);
    backend_.RmsNorm(xs, final_norm_, eps, hs);
    KVLAB_ASSIGN_OR_RETURN(Tensor out, alloc({rows, c.vocab_size}));
    backend_.Linear(hs, lm_head_, Tensor(), out);
    const int64_t dst_row = options.all_logits ? c0 : 0;
    return backend_.Download(out, logits.values.data() + dst_row * c.vocab_size);
  };
  auto set_positions = [&](int64_t c0, int64_t m, const Tensor& rope) {
    std::vector<int32_t> positions(m);
    for (int64_t i = 0; i < m; ++i) positions[i] = static_cast<int32_t>(start_position + c0 + i);
    backend_.RopeTable(positions, inv_freq_, rope);
  };

  if (!layer_major) {
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t m = std::min(chunk, n - c0);
      Tensor x = x_buf.Slice(0, m), q = q_buf.Slice(0, m), attn = attn_buf.Slice(0, m);
      Tensor rope = rope_buf.Slice(0, m);
      backend_.Embed(embed_, tokens.subspan(c0, m), x);
      set_positions(c0, m, rope);
      for (int64_t l = 0; l < c.num_layers; ++l) {
        KVLAB_RETURN_IF_ERROR(attention_input(l, x, q, rope, c0));
        attention(l, q, attn, c0);
        attention_output_and_mlp(l, x, attn);
      }
      KVLAB_RETURN_IF_ERROR(emit_logits(x, c0));
    }
  } else {
    backend_.Embed(embed_, tokens, x_buf);
    set_positions(0, n, rope_buf);
    for (int64_t l = 0; l < c.num_layers; ++l) {
      for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        const int64_t m = std::min(chunk, n - c0);
        KVLAB_RETURN_IF_ERROR(attention_input(l, x_buf.Slice(c0, c0 + m), q_buf.Slice(c0, c0 + m),
                                              rope_buf.Slice(c0, c0 + m), c0));
      }
      attention(l, q_buf, attn_buf, 0);
      for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        const int64_t m = std::min(chunk, n - c0);
        attention_output_and_mlp(l, x_buf.Slice(c0, c0 + m), attn_buf.Slice(c0, c0 + m));
      }
    }
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
      const int64_t m = std::min(chunk, n - c0);
      KVLAB_RETURN_IF_ERROR(emit_logits(x_buf.Slice(c0, c0 + m), c0));
    }
  }
  KVLAB_RETURN_IF_ERROR(backend_.Synchronize());
  if (observing && options.observe.attention_mass) {
    for (int64_t l = 0; l < c.num_layers; ++l) {
      obs->layers[l].attention_mass.resize(hq * obs->n_keys);
      KVLAB_RETURN_IF_ERROR(backend_.Download(mass[l], obs->layers[l].attention_mass.data()));
    }
  }
  if (options.stats != nullptr) {
    options.stats->computed_pairs = attention_stats.computed_pairs;
    options.stats->causal_pairs = attention_stats.causal_pairs;
  }
  cache.CommitTokens(tokens);
  return logits;
}

}  // namespace kvlab
