#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/attention_pattern.h"
#include "engine/observation.h"
#include "kvcache/observation_needs.h"
#include "kvcache/cache_io.h"
#include "kvcache/codec.h"
#include "kvcache/entry_key.h"
#include "kvcache/method_spec.h"
#include "services/common/content.h"
#include "services/common/request_context.h"
#include "services/prefill/prefiller.h"

namespace kvlab {
namespace {

// Per-layer observation messages; attention masses are split into pieces of
// at most 1 Mi floats so every message stays under the 4 MiB chunk size.
std::vector<v1::LayerObservation> ToProto(const Observation& obs) {
  constexpr size_t kMaxFloats = 1 << 20;
  std::vector<v1::LayerObservation> out;
  for (size_t l = 0; l < obs.layers.size(); ++l) {
    const LayerObservation& layer = obs.layers[l];
    v1::LayerObservation msg;
    msg.set_layer(static_cast<int32_t>(l));
    msg.set_window_queries(layer.window_queries.data(), layer.window_queries.size() * sizeof(float));
    const auto& mass = layer.attention_mass;
    for (size_t off = 0; off < mass.size() || (off == 0 && mass.empty()); off += kMaxFloats) {
      if (mass.empty()) {
        out.push_back(msg);
        break;
      }
      const size_t count = std::min(kMaxFloats, mass.size() - off);
      msg.set_mass_offset(static_cast<int64_t>(off));
      msg.set_attention_mass(mass.data() + off, count * sizeof(float));
      out.push_back(msg);
      msg.clear_window_queries();  // sent once per layer
    }
  }
  return out;
}

class LocalPrefiller : public Prefiller {
 public:
  LocalPrefiller(const Model* model, const Tokenizer* tokenizer, Compressor* compressor, KvStore* store,
                 const PrefillOptions& options)
      : model_(*model), tokenizer_(tokenizer), compressor_(*compressor), store_(*store), options_(options),
        fingerprint_(model->fingerprint().ToHex()) {}

  absl::StatusOr<v1::PrefillResponse> Prefill(const v1::PrefillRequest& request) override {
    Stopwatch total;
    v1::PrefillResponse response;
    v1::Timings* t = response.mutable_timings();
    if (!request.model().fingerprint().empty() && request.model().fingerprint() != fingerprint_) {
      return absl::FailedPreconditionError(absl::StrCat("request is for model ", request.model().fingerprint(),
                                                        " but this server serves ", fingerprint_));
    }
    KVLAB_ASSIGN_OR_RETURN(MethodSpec spec, ParseMethodSpec(request.method_spec()));
    const std::string method = spec.Canonical();

    Stopwatch step;
    KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                           ResolveContent(request.context(), tokenizer_, model_.config().vocab_size, "context"));
    t->set_tokenize_ms(step.ElapsedMs());
    const int64_t n = static_cast<int64_t>(tokens.size());
    if (n > options_.max_context_tokens) {
      return absl::ResourceExhaustedError(absl::StrCat("context of ", n, " tokens exceeds this server's limit of ",
                                                       options_.max_context_tokens, " tokens (--max_context_tokens)"));
    }
    v1::Usage* usage = response.mutable_usage();
    usage->set_context_tokens(n);

    if (!request.no_reuse()) {
      step.Reset();
      v1::LookupRequest lookup;
      lookup.set_request_id(request.request_id());
      lookup.set_model_fingerprint(fingerprint_);
      lookup.set_method_spec(method);
      lookup.mutable_tokens()->mutable_ids()->Assign(tokens.begin(), tokens.end());
      KVLAB_ASSIGN_OR_RETURN(v1::LookupResponse found, store_.Lookup(lookup));
      t->set_lookup_ms(step.ElapsedMs());
      if (found.found() && found.matched_tokens() == n) {
        KVLAB_ASSIGN_OR_RETURN(v1::EntryInfo info, store_.Stat(found.handle().id()));
        *response.mutable_handle() = found.handle();
        response.set_cache_hit(true);
        usage->set_entry_bytes(info.bytes());
        t->set_total_ms(total.ElapsedMs());
        return response;
      }
    }

    step.Reset();
    KVLAB_ASSIGN_OR_RETURN(PrefillPattern pattern, ParsePrefillPattern(spec.prefill));
    const ObservationNeeds needs = NeedsFor(spec);
    Observation observation;
    ForwardStats stats;
    ForwardOptions forward;
    forward.pattern = pattern.kind == PrefillPattern::Kind::kDense ? nullptr : &pattern;
    forward.observe.window = needs.window;
    forward.observe.attention_mass = needs.attention_mass;
    if (!forward.observe.empty()) forward.observation = &observation;
    forward.stats = &stats;
    KVLAB_ASSIGN_OR_RETURN(auto cache, model_.NewCache(n));
    KVLAB_RETURN_IF_ERROR(model_.Forward(tokens, *cache, forward).status());
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> f32, MakeCodec("f32"));
    KVLAB_ASSIGN_OR_RETURN(KvEntry full, ExportCache(*cache, model_, method, *f32));
    cache.reset();
    t->set_prefill_ms(step.ElapsedMs());
    response.set_attention_density(stats.density());

    step.Reset();
    CompressInput input{std::move(full), ToProto(observation)};
    KVLAB_ASSIGN_OR_RETURN(KvEntry entry, compressor_.Compress(std::move(input), method));
    t->set_compress_ms(step.ElapsedMs());
    usage->set_entry_bytes(entry.payload_bytes());
    usage->set_full_f16_bytes(FullF16Bytes(entry.header));
    int64_t kept = 0;
    for (int64_t k : entry.header.kept()) kept += k;
    usage->set_kept_tokens(kept);
    usage->set_total_tokens(n * entry.header.num_layers() * entry.header.num_kv_heads());

    step.Reset();
    v1::PutOptions put;
    put.set_request_id(request.request_id());
    KVLAB_ASSIGN_OR_RETURN(v1::PutResponse stored, store_.Put(std::move(entry), put));
    t->set_store_ms(step.ElapsedMs());
    *response.mutable_handle() = stored.handle();
    t->set_total_ms(total.ElapsedMs());
    return response;
  }

 private:
  const Model& model_;
  const Tokenizer* tokenizer_;
  Compressor& compressor_;
  KvStore& store_;
  const PrefillOptions options_;
  const std::string fingerprint_;
};

}  // namespace

std::unique_ptr<Prefiller> NewLocalPrefiller(const Model* model, const Tokenizer* tokenizer,
                                             Compressor* compressor, KvStore* store,
                                             const PrefillOptions& options) {
  return std::make_unique<LocalPrefiller>(model, tokenizer, compressor, store, options);
}

}  // namespace kvlab
