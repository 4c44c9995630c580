#include <list>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "common/status_macros.h"
#include "engine/generator.h"
#include "kvcache/cache_io.h"
#include "kvcache/codec.h"
#include "kvcache/entry_key.h"
#include "engine/kv_eviction.h"
#include "kvcache/kv_policy_spec.h"
#include "kvcache/method_spec.h"
#include "services/common/content.h"
#include "services/common/request_context.h"
#include "services/decode/decode_worker.h"

namespace kvlab {
namespace {

bool ValidSessionId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// A session's live state. `mu` serializes its turns.
struct Session {
  std::mutex mu;
  std::unique_ptr<KvCache> cache;
  int32_t turn = 0;  // last completed turn
  std::string method_spec;
  int64_t context_tokens = 0;
  // Size accounting of the entry the session started from (turn 1), kept
  // in the checkpoints' stats so a takeover reports the same figures.
  v1::Usage entry_usage;
};

// The entry accounting carried in a checkpoint's stats_json.
std::string UsageJson(const v1::Usage& u) {
  return nlohmann::json{{"entry_bytes", u.entry_bytes()},
                        {"full_f16_bytes", u.full_f16_bytes()},
                        {"kept_tokens", u.kept_tokens()},
                        {"total_tokens", u.total_tokens()},
                        {"prefill_backend", u.prefill_backend()}}
      .dump();
}

v1::Usage UsageFromJson(const std::string& text) {
  v1::Usage u;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return u;
  // Read without exceptions: a field of the wrong type counts as absent.
  auto count = [&](const char* key) -> int64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
  };
  u.set_entry_bytes(count("entry_bytes"));
  u.set_full_f16_bytes(count("full_f16_bytes"));
  u.set_kept_tokens(count("kept_tokens"));
  u.set_total_tokens(count("total_tokens"));
  if (auto it = j.find("prefill_backend"); it != j.end() && it->is_string()) u.set_prefill_backend(*it);
  return u;
}

// The decode-time eviction of a method (decode=streamingllm/h2o), installed
// on a generation's options; lives as long as the generation.
struct DecodeEviction {
  Observation step;
  std::unique_ptr<DecodeEvictor> evictor;

  // No-op for decode=none. INVALID_ARGUMENT for a malformed policy.
  absl::Status Install(const std::string& method_spec, int64_t context_tokens, GenerationOptions& gen) {
    KVLAB_ASSIGN_OR_RETURN(MethodSpec spec, ParseMethodSpec(method_spec));
    if (spec.decode == "none") return absl::OkStatus();
    KVLAB_ASSIGN_OR_RETURN(DecodePolicy policy, ParseDecodePolicy(spec.decode));
    KVLAB_ASSIGN_OR_RETURN(DecodeEvictionConfig config, ResolveDecodePolicy(policy, context_tokens));
    const bool h2o = policy.eviction.kind == EvictionKind::kH2O;
    evictor = std::make_unique<DecodeEvictor>(config, h2o ? &step : nullptr);
    gen.after_step = evictor->AsCallback();
    if (h2o) gen.step_observation = &step;
    return absl::OkStatus();
  }
};

class LocalDecodeWorker : public DecodeWorker {
 public:
  LocalDecodeWorker(const Model* model, const Tokenizer* tokenizer, KvStore* store, const DecodeOptions& options)
      : model_(*model), tokenizer_(tokenizer), store_(*store), options_(options) {
    eos_ = model_.config().eos_token_ids;
    if (tokenizer_ != nullptr) {
      for (int32_t id : tokenizer_->eos_ids()) eos_.push_back(id);
    }
  }

  absl::StatusOr<v1::AnswerResponse> Answer(const v1::AnswerRequest& request) override {
    Stopwatch total;
    KVLAB_ASSIGN_OR_RETURN(GenerationOptions gen, Generation(request.generation()));
    KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> query, Resolve(request.query(), "query"));
    if (request.handle().id().empty()) return absl::InvalidArgumentError("answer: the cache handle has no id");
    Stopwatch step;
    KVLAB_ASSIGN_OR_RETURN(std::shared_ptr<const KvEntry> entry, store_.Get(request.handle().id()));
    KVLAB_RETURN_IF_ERROR(CheckContentKey(request.handle().id(), entry->header));
    KVLAB_ASSIGN_OR_RETURN(auto cache,
                           ImportEntry(*entry, model_, static_cast<int64_t>(query.size()) + gen.max_new_tokens));
    const double fetch_ms = step.ElapsedMs();
    DecodeEviction eviction;
    KVLAB_RETURN_IF_ERROR(eviction.Install(entry->header.method_spec(), cache->next_position(), gen));
    KVLAB_ASSIGN_OR_RETURN(GenerationResult r, Generate(model_, *cache, query, tokenizer_, gen));

    v1::AnswerResponse response;
    response.set_text(r.text);
    response.mutable_tokens()->mutable_ids()->Assign(r.tokens.begin(), r.tokens.end());
    FillTimings(fetch_ms, r, total, response.mutable_timings());
    FillUsage(*entry, static_cast<int64_t>(query.size()), r, response.mutable_usage());
    response.mutable_usage()->set_decode_backend(model_.backend_description());
    response.mutable_entry_checksums()->Assign(entry->header.layer_checksums().begin(),
                                               entry->header.layer_checksums().end());
    return response;
  }

  absl::StatusOr<v1::TurnResponse> Turn(const v1::TurnRequest& request) override {
    Stopwatch total;
    const std::string& sid = request.session_id();
    if (!ValidSessionId(sid)) {
      return absl::InvalidArgumentError("turn: session_id must be 1-128 letters, digits, '-' or '_'");
    }
    if (request.turn() < 1) return absl::InvalidArgumentError("turn: turn numbers start at 1");
    KVLAB_ASSIGN_OR_RETURN(GenerationOptions gen, Generation(request.generation()));
    std::shared_ptr<Session> session = SessionFor(sid);
    std::lock_guard<std::mutex> lock(session->mu);

    v1::TurnResponse response;
    std::vector<int32_t> prompt;
    std::shared_ptr<const KvEntry> source;
    Stopwatch step;
    if (request.turn() == 1) {
      if (request.start().id().empty()) return absl::InvalidArgumentError("turn 1 needs the start handle");
      KVLAB_ASSIGN_OR_RETURN(source, store_.Get(request.start().id()));
      KVLAB_RETURN_IF_ERROR(CheckContentKey(request.start().id(), source->header));
      KVLAB_ASSIGN_OR_RETURN(session->cache, ImportEntry(*source, model_, gen.max_new_tokens + 1));
      session->method_spec = source->header.method_spec();
      session->context_tokens = source->header.tokens_size();
      session->turn = 0;
      session->entry_usage.Clear();
      FillEntryUsage(*source, &session->entry_usage);
      // The entry holds context + query 1; re-feed its last token to obtain
      // the logits of the first generated token.
      prompt = {session->cache->tokens().back()};
      KVLAB_RETURN_IF_ERROR(session->cache->DropNewest(1));
    } else {
      if (session->cache == nullptr || session->turn != request.turn() - 1) {
        // Another worker ran the earlier turns (or this one forgot them):
        // continue from the checkpoint.
        auto checkpoint = store_.Get(SessionCheckpointId(sid));
        if (!checkpoint.ok()) {
          return absl::FailedPreconditionError(absl::StrCat("session '", sid, "' has no checkpoint to continue ",
                                                            "turn ", request.turn(), " from: ",
                                                            checkpoint.status().message()));
        }
        source = *checkpoint;
        if (source->header.session_id() != sid) {
          return absl::DataLossError(absl::StrCat("the checkpoint of session '", sid, "' belongs to session '",
                                                  source->header.session_id(), "'"));
        }
        if (source->header.session_turn() != request.turn() - 1) {
          return absl::FailedPreconditionError(absl::StrCat("session '", sid, "' is at turn ",
                                                            source->header.session_turn(), "; turn ",
                                                            request.turn(), " cannot follow it"));
        }
        KVLAB_ASSIGN_OR_RETURN(session->cache, ImportEntry(*source, model_, 0));
        session->method_spec = source->header.method_spec();
        session->turn = source->header.session_turn();
        session->entry_usage = UsageFromJson(source->header.stats_json());
        session->context_tokens = session->entry_usage.total_tokens() /
                                  std::max<int64_t>(1, source->header.num_layers() * source->header.num_kv_heads());
        response.set_resumed_from_checkpoint(true);
      }
      KVLAB_ASSIGN_OR_RETURN(prompt, Resolve(request.append(), "turn append"));
    }
    const double fetch_ms = step.ElapsedMs();
    KvCache& cache = *session->cache;
    DecodeEviction eviction;
    KVLAB_RETURN_IF_ERROR(eviction.Install(session->method_spec, cache.next_position(), gen));
    auto generated = Generate(model_, cache, prompt, tokenizer_, gen);
    if (!generated.ok()) {
      session->cache.reset();  // possibly half-appended: reload from the checkpoint next time
      return generated.status();
    }
    GenerationResult& r = *generated;
    const int64_t fed = static_cast<int64_t>(r.tokens.size()) - 1;  // generated tokens in the cache
    if (request.keep_generated()) {
      if (r.finish != GenerationResult::Finish::kEos) {
        const int32_t last[1] = {r.tokens.back()};
        KVLAB_RETURN_IF_ERROR(model_.Forward(last, cache).status());
      }
    } else {
      KVLAB_RETURN_IF_ERROR(cache.DropNewest(fed));
    }

    step.Reset();
    KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<Codec> f32, MakeCodec("f32"));
    KVLAB_ASSIGN_OR_RETURN(KvEntry checkpoint, ExportCache(cache, model_, session->method_spec, *f32));
    checkpoint.header.set_session_id(sid);
    checkpoint.header.set_session_turn(request.turn());
    checkpoint.header.set_stats_json(UsageJson(session->entry_usage));
    v1::PutOptions put;
    put.set_request_id(request.request_id());
    put.set_name(SessionCheckpointId(sid));
    KVLAB_ASSIGN_OR_RETURN(v1::PutResponse stored, store_.Put(std::move(checkpoint), put));
    session->turn = request.turn();

    response.set_text(r.text);
    response.mutable_tokens()->mutable_ids()->Assign(r.tokens.begin(), r.tokens.end());
    *response.mutable_checkpoint() = stored.handle();
    FillTimings(fetch_ms, r, total, response.mutable_timings());
    response.mutable_timings()->set_store_ms(step.ElapsedMs());
    v1::Usage* usage = response.mutable_usage();
    *usage = session->entry_usage;
    usage->set_context_tokens(session->context_tokens);
    usage->set_query_tokens(static_cast<int64_t>(prompt.size()));
    usage->set_generated_tokens(static_cast<int64_t>(r.tokens.size()));
    usage->set_decode_backend(model_.backend_description());
    return response;
  }

  absl::Status CloseSession(const std::string& session_id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(session_id);
      if (it != sessions_.end()) {
        lru_.erase(it->second.lru);
        sessions_.erase(it);
      }
    }
    absl::Status s = store_.Delete(SessionCheckpointId(session_id));
    if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    return absl::OkStatus();
  }

 private:
  struct Slot {
    std::shared_ptr<Session> session;
    std::list<std::string>::iterator lru;
  };

  std::shared_ptr<Session> SessionFor(const std::string& sid) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(sid);
    if (it != sessions_.end()) {
      lru_.erase(it->second.lru);
      lru_.push_front(sid);
      it->second.lru = lru_.begin();
      return it->second.session;
    }
    lru_.push_front(sid);
    auto session = std::make_shared<Session>();
    sessions_[sid] = Slot{session, lru_.begin()};
    while (static_cast<int32_t>(sessions_.size()) > options_.max_sessions) {
      sessions_.erase(lru_.back());  // in-flight turns keep their shared_ptr
      lru_.pop_back();
    }
    return session;
  }

  absl::StatusOr<GenerationOptions> Generation(const v1::GenerationParams& p) const {
    if (p.max_new_tokens() < 1 || p.max_new_tokens() > options_.max_new_tokens) {
      return absl::InvalidArgumentError(absl::StrCat("max_new_tokens must be in [1, ", options_.max_new_tokens,
                                                     "] (--max_new_tokens), got ", p.max_new_tokens()));
    }
    if (!p.stop().empty() && tokenizer_ == nullptr) {
      return absl::InvalidArgumentError("stop strings need a tokenizer, and this worker has none");
    }
    GenerationOptions gen;
    gen.max_new_tokens = p.max_new_tokens();
    gen.eos_ids = eos_;
    gen.stop_strings.assign(p.stop().begin(), p.stop().end());
    return gen;
  }

  absl::StatusOr<std::vector<int32_t>> Resolve(const v1::Content& content, const char* what) const {
    KVLAB_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                           ResolveContent(content, tokenizer_, model_.config().vocab_size, what));
    if (static_cast<int64_t>(ids.size()) > options_.max_query_tokens) {
      return absl::InvalidArgumentError(absl::StrCat(what, " of ", ids.size(), " tokens exceeds the limit of ",
                                                     options_.max_query_tokens, " tokens (--max_query_tokens)"));
    }
    return ids;
  }

  static void FillTimings(double fetch_ms, const GenerationResult& r, const Stopwatch& total, v1::Timings* t) {
    t->set_fetch_ms(fetch_ms);
    t->set_ttft_ms(fetch_ms + r.prefill_seconds * 1000.0);
    t->set_decode_ms(r.decode_seconds * 1000.0);
    t->set_total_ms(total.ElapsedMs());
  }

  static void FillEntryUsage(const KvEntry& entry, v1::Usage* usage) {
    usage->set_prefill_backend(entry.header.backend());
    usage->set_entry_bytes(entry.payload_bytes());
    usage->set_full_f16_bytes(FullF16Bytes(entry.header));
    int64_t kept = 0;
    for (int64_t k : entry.header.kept()) kept += k;
    usage->set_kept_tokens(kept);
    usage->set_total_tokens(static_cast<int64_t>(entry.header.tokens_size()) * entry.header.num_layers() *
                            entry.header.num_kv_heads());
  }

  static void FillUsage(const KvEntry& entry, int64_t query_tokens, const GenerationResult& r, v1::Usage* usage) {
    usage->set_context_tokens(entry.header.tokens_size());
    usage->set_query_tokens(query_tokens);
    usage->set_generated_tokens(static_cast<int64_t>(r.tokens.size()));
    FillEntryUsage(entry, usage);
  }

  const Model& model_;
  const Tokenizer* tokenizer_;
  KvStore& store_;
  const DecodeOptions options_;
  std::vector<int32_t> eos_;
  std::mutex mu_;
  std::map<std::string, Slot> sessions_;
  std::list<std::string> lru_;
};

}  // namespace

std::string SessionCheckpointId(const std::string& session_id) { return "session-" + session_id; }

std::unique_ptr<DecodeWorker> NewLocalDecodeWorker(const Model* model, const Tokenizer* tokenizer, KvStore* store,
                                                   const DecodeOptions& options) {
  return std::make_unique<LocalDecodeWorker>(model, tokenizer, store, options);
}

}  // namespace kvlab
