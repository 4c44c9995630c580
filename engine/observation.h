// What prefill hands the KV compressor (DESIGN.md §4): the window queries of
// every layer and, on request, the attention mass every key received.
#ifndef KVLAB_ENGINE_OBSERVATION_H_
#define KVLAB_ENGINE_OBSERVATION_H_

#include <cstdint>
#include <vector>

namespace kvlab {

// What a prefill should observe.
struct ObservationRequest {
  // Keep the post-RoPE query vectors of the last `window` fed tokens (fewer
  // when the call feeds fewer tokens); 0 keeps none.
  int64_t window = 0;
  // Accumulate, per query head, the attention probability mass each key
  // received from all fed queries (H2O). Costs a second pass over the
  // computed query-key pairs.
  bool attention_mass = false;

  bool empty() const { return window == 0 && !attention_mass; }
};

// One layer's observation.
struct LayerObservation {
  // [window, num_heads, head_dim], row-major; the last `window` fed tokens in
  // order, post-RoPE.
  std::vector<float> window_queries;
  // [num_heads, n_keys] when requested, else empty: mass[h, j] = sum over the
  // fed queries i of softmax probability p_h(i, j), over the pairs actually
  // computed (a sparse prefill pattern leaves the others at 0). Keys are KV
  // cache rows.
  std::vector<float> attention_mass;
};

// Observation of one Model::Forward call, all layers.
struct Observation {
  int64_t window = 0;        // rows of window_queries per layer
  int64_t n_keys = 0;        // cache rows (keys) after the call
  int64_t num_heads = 0;     // query heads
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  std::vector<LayerObservation> layers;

  // GQA helper: the attention mass of `layer` averaged over the query heads of
  // each KV group, [num_kv_heads, n_keys]. Empty when mass was not observed.
  // `layer` must be in range (checked).
  std::vector<float> KvHeadMass(int64_t layer) const;
  // GQA helper: window query vectors grouped per KV head,
  // [num_kv_heads, window, group, head_dim] (group = num_heads /
  // num_kv_heads), so a compressor can score per KV head. `layer` must be in
  // range (checked).
  std::vector<float> KvHeadWindowQueries(int64_t layer) const;
};

}  // namespace kvlab

#endif  // KVLAB_ENGINE_OBSERVATION_H_
