// A loaded transformer (Llama / Mistral / Qwen2 family) and its forward pass.
#ifndef KVLAB_ENGINE_MODEL_H_
#define KVLAB_ENGINE_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/hash.h"
#include "engine/attention_pattern.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/observation.h"

namespace kvlab {

// What a Forward call's attention computed.
struct ForwardStats {
  // Query-key pairs computed, summed over layers and query heads.
  int64_t computed_pairs = 0;
  // Pairs dense attention would compute (causal, sliding window if any).
  int64_t causal_pairs = 0;

  // computed / causal: 1 for dense attention, < 1 under a sparse pattern.
  double density() const {
    return causal_pairs == 0 ? 1.0 : static_cast<double>(computed_pairs) / static_cast<double>(causal_pairs);
  }
};

struct ForwardOptions {
  // Return logits for every fed token instead of only the last one.
  bool all_logits = false;
  // Tokens processed per step during prefill; bounds activation memory.
  int64_t chunk_tokens = 512;
  // Sparse prefill pattern applied to the queries of THIS call (null or dense:
  // dense). Its geometry is on cache rows, so chunking does not change the
  // result. SCBench semantics: pass it only when feeding the shared context;
  // query tokens appended later and decode steps are fed without it (dense
  // over the whole cache). vertical_slash runs the call layer by layer
  // (activations of all fed tokens are kept, about 3 x n x hidden floats)
  // because its estimate needs the last queries of the span. Not owned.
  const PrefillPattern* pattern = nullptr;
  // What to observe for a KV compressor (DESIGN.md §4); needs `observation`.
  ObservationRequest observe;
  // Out (not owned): filled when observe is non-empty.
  Observation* observation = nullptr;
  // Out (not owned): the pair counts of this call (overwritten).
  ForwardStats* stats = nullptr;
};

// Logits on the host, row-major [rows, vocab].
struct Logits {
  int64_t rows = 0;
  int64_t vocab = 0;
  std::vector<float> values;

  std::span<const float> Row(int64_t r) const {
    return std::span<const float>(values).subspan(r * vocab, vocab);
  }
};

// Weights live on the backend: matrices in the backend's MatrixDType for the
// checkpoint's dtype (f32 on the CPU; the checkpoint's bf16/f16 on CUDA),
// vectors in f32. A Model is immutable after Load and may be used from several
// threads, each with its own KvCache (both backends are safe for concurrent
// Forward calls).
class Model {
 public:
  // Loads a Hugging Face model directory (see Checkpoint::Open) onto `backend`
  // (not owned; must outlive the model), converting weights to the backend's
  // dtypes once and computing the fingerprint. Errors name the file and the problem.
  static absl::StatusOr<std::unique_ptr<Model>> Load(const std::string& dir, Backend& backend);

  // For benchmarks: a model of `config` with random weights (N(0, 0.02)
  // matrices in `matrix_dtype`, vectors (norms, biases) of ones), generated
  // in memory without a checkpoint. Its
  // fingerprint hashes the config and the seed. Backend errors.
  static absl::StatusOr<std::unique_ptr<Model>> CreateRandom(const ModelConfig& config, Backend& backend,
                                                             DType matrix_dtype, uint64_t seed = 1);

  const ModelConfig& config() const { return config_; }
  const Hash128& fingerprint() const { return fingerprint_; }
  const std::string& dir() const { return dir_; }
  Backend& backend() const { return backend_; }
  // Bytes of weights held on the backend.
  int64_t weight_bytes() const { return weight_bytes_; }
  // The backend and the dtypes it computes this model with, e.g.
  // "cpu (weights f32, KV f32)" or "cuda:0 (weights bf16, KV bf16)": recorded
  // in the entries and results it produces.
  std::string backend_description() const;

  // A new empty cache with room for `capacity` tokens (it grows on demand).
  absl::StatusOr<std::unique_ptr<KvCache>> NewCache(int64_t capacity) const;

  // Feeds `tokens` after whatever `cache` already holds (prefill when the
  // cache is empty, decode steps or query appends otherwise), appending their
  // K/V. Returns the logits of the last token, or of every token with
  // options.all_logits. Applies options.pattern to this call's queries and
  // fills options.observation / options.stats when asked. INVALID_ARGUMENT for
  // an empty input, a token id out of range, a cache made for another model
  // shape, a negative observation window, or an observation requested without
  // an output; backend errors otherwise.
  // On error the cache may hold a partial append and should be discarded.
  absl::StatusOr<Logits> Forward(std::span<const int32_t> tokens, KvCache& cache,
                                 const ForwardOptions& options = {}) const;

 private:
  struct LayerWeights {
    Tensor input_norm, post_norm;
    Tensor wq, wk, wv, wo, bq, bk, bv;
    Tensor w_gate, w_up, w_down;
  };
  // Makes the tensor `name` of `shape` on the backend.
  using WeightSource = std::function<absl::StatusOr<Tensor>(const std::string& name, const std::vector<int64_t>& shape)>;
  Model(Backend& backend) : backend_(backend) {}
  absl::Status LoadWeights(const WeightSource& load);

  Backend& backend_;
  std::string dir_;
  ModelConfig config_;
  Hash128 fingerprint_;
  int64_t weight_bytes_ = 0;
  std::vector<float> inv_freq_;
  Tensor embed_, final_norm_, lm_head_;
  std::vector<LayerWeights> layers_;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_MODEL_H_
