// Decode-time KV eviction (DESIGN §3, decode axis): StreamingLLM and H2O
// keep evicting while tokens are generated, so that every KV head of every
// layer holds at most its budget rows after each step (budget + 1 transiently,
// right after a token was appended).
#ifndef KVLAB_ENGINE_KV_EVICTION_H_
#define KVLAB_ENGINE_KV_EVICTION_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "engine/kv_cache.h"
#include "engine/observation.h"

namespace kvlab {

// Budgets in rows per KV head (already resolved from ratios).
struct DecodeEvictionConfig {
  enum class Kind { kStreamingLlm, kH2O };
  Kind kind = Kind::kStreamingLlm;
  int64_t n_sink = 0;    // streamingllm: oldest rows kept
  int64_t n_recent = 0;  // streamingllm: newest rows kept
  int64_t heavy = 0;     // h2o: rows kept by accumulated attention mass
  int64_t recent = 0;    // h2o: newest rows kept

  int64_t budget() const { return kind == Kind::kStreamingLlm ? n_sink + n_recent : heavy + recent; }
};

// Evicts rows of a live KvCache. Rows stay in position order (ascending), so
// the cache exports as a valid entry. Not thread-safe; one per cache.
//
// StreamingLLM: a head over budget keeps its first n_sink rows and its last
// n_recent rows.
//
// H2O: a head over budget keeps its newest `recent` rows and, among the older
// rows, the `heavy` ones with the largest accumulated attention mass. What is
// accumulated is exactly what AddMass receives (the caller passes the
// attention probabilities the newest queries put on each row, e.g. the mean
// over the KV group's query heads); rows never given mass count 0. Ties
// (including "no mass known") evict the newest candidate, i.e. the row that
// just left the recent window, so without mass information the heavy set the
// entry arrived with is kept and decoding degrades to a recent window.
// With `step_observation` (the Observation that Generate fills on every
// Forward when GenerationOptions::step_observation points at it), each
// EvictToBudget call first adds the attention mass of the queries fed by the
// last Forward (mean over each KV group's query heads) to every row: H2O's
// accumulated attention, counted from the first query fed after the entry
// was loaded (prefill's mass is not carried in the entry, so context rows
// start at 0 and compete on the mass decoding queries give them).
class DecodeEvictor {
 public:
  // `step_observation` (may be null, not owned) must outlive the evictor.
  explicit DecodeEvictor(DecodeEvictionConfig config, const Observation* step_observation = nullptr)
      : config_(config), step_observation_(step_observation) {}

  const DecodeEvictionConfig& config() const { return config_; }

  // Adds `mass` (one value per current row of (layer, head), in row order) to
  // the accumulated mass of those rows. INVALID_ARGUMENT when the size does
  // not match the number of rows the evictor last saw plus rows appended
  // since (the cache's current length must be passed as mass.size()).
  absl::Status AddMass(int64_t layer, int64_t head, std::span<const float> mass);

  // Adds the step observation's mass (H2O, when given), then evicts rows
  // from every (layer, head) that holds more than the budget, down to the
  // budget. Uses ReadHead/SetHead, i.e. O(budget) copies per evicting
  // head. Errors of the cache (layer/head range, allocation) are returned.
  absl::Status EvictToBudget(KvCache& cache);

  // A callback for GenerationOptions::after_step that calls EvictToBudget.
  // The evictor must outlive the callback.
  std::function<absl::Status(KvCache&)> AsCallback() {
    return [this](KvCache& cache) { return EvictToBudget(cache); };
  }

  // Rows evicted so far (over all layers and heads).
  int64_t evicted_rows() const { return evicted_rows_; }

 private:
  // Accumulated mass per (layer, head), aligned with the rows of the cache.
  std::vector<std::vector<float>>& Mass(int64_t layer);

  DecodeEvictionConfig config_;
  const Observation* step_observation_;
  std::vector<std::vector<std::vector<float>>> mass_;  // [layer][head][row]
  int64_t evicted_rows_ = 0;
};

// The rows (indices into the current rows of a head of `length` rows) that a
// decode policy keeps; `mass` (may be empty = all 0) holds one accumulated
// value per row. Exposed for tests. Result ascending; all rows when within
// budget.
std::vector<int64_t> DecodeKeptRows(const DecodeEvictionConfig& config, int64_t length,
                                    std::span<const float> mass);

}  // namespace kvlab

#endif  // KVLAB_ENGINE_KV_EVICTION_H_
