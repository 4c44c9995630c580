// The local service implementations wired together in one process:
// prefill -> compressor -> kvstore -> decode, in both shared-context modes.
#include "engine/backend.h"
#include "engine/generator.h"
#include "gtest/gtest.h"
#include "kvcache/cache_io.h"
#include "kvcache/entry_stream.h"
#include "services/compressor/compressor.h"
#include "services/decode/decode_worker.h"
#include "services/kvstore/kv_store.h"
#include "services/prefill/prefiller.h"
#include "tests/util/forwarding_store.h"
#include "tests/util/test_util.h"

namespace kvlab {
namespace {

class LocalServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewCpuBackend();
    model_ = std::move(*Model::Load(testing::FixtureDir("tiny-llama3"), *backend_));
    tokenizer_ = std::move(*Tokenizer::FromModelDir(testing::FixtureDir("tiny-llama3")));
    store_ = NewLocalKvStore();
    compressor_ = NewLocalCompressor();
    PrefillOptions popts;
    popts.max_context_tokens = 400;
    prefill_ = NewLocalPrefiller(model_.get(), tokenizer_.get(), compressor_.get(), store_.get(), popts);
    decode_ = NewLocalDecodeWorker(model_.get(), tokenizer_.get(), store_.get());
  }

  std::vector<int32_t> Ids(const std::string& text) { return *tokenizer_->Encode(text, false); }

  // Greedy tokens for `prompt` computed from scratch (no reuse).
  std::vector<int32_t> Recompute(const std::vector<int32_t>& prompt, int max_new) {
    auto cache = model_->NewCache(prompt.size());
    GenerationOptions opts;
    opts.max_new_tokens = max_new;
    opts.eos_ids = tokenizer_->eos_ids();
    auto r = Generate(*model_, **cache, prompt, tokenizer_.get(), opts);
    EXPECT_TRUE(r.ok());
    return r->tokens;
  }

  v1::CacheHandle PrefillText(const std::string& text, v1::PrefillResponse* out = nullptr) {
    v1::PrefillRequest req;
    req.mutable_context()->set_text(text);
    auto r = prefill_->Prefill(req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (out) *out = *r;
    return r->handle();
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<KvStore> store_;
  std::unique_ptr<Compressor> compressor_;
  std::unique_ptr<Prefiller> prefill_;
  std::unique_ptr<DecodeWorker> decode_;
};

const char kContext[] =
    "<|begin_of_text|>Extract the value corresponding to the specified key in the JSON object below.\n"
    "{\"8a1f\": \"3c9e\", \"b7d2\": \"0f41\", \"c3a9\": \"77e1\"}";

TEST_F(LocalServicesTest, MultiRequestAnswersEqualRecomputationAndLeaveTheEntryUntouched) {
  v1::PrefillResponse first;
  v1::CacheHandle handle = PrefillText(kContext, &first);
  EXPECT_FALSE(first.cache_hit());
  EXPECT_EQ(handle.n_tokens(), static_cast<int64_t>(Ids(kContext).size()));
  EXPECT_EQ(handle.model_fingerprint(), model_->fingerprint().ToHex());
  auto before = store_->Get(handle.id());
  ASSERT_TRUE(before.ok());
  const KvEntry snapshot = **before;  // deep copy

  for (const char* query : {"\nKey: \"b7d2\"\nValue:", "\nKey: \"c3a9\"\nValue:"}) {
    v1::AnswerRequest req;
    *req.mutable_handle() = handle;
    req.mutable_query()->set_text(query);
    req.mutable_generation()->set_max_new_tokens(10);
    auto answer = decode_->Answer(req);
    ASSERT_TRUE(answer.ok()) << answer.status();
    std::vector<int32_t> prompt = Ids(kContext);
    for (int32_t id : Ids(query)) prompt.push_back(id);
    std::vector<int32_t> got(answer->tokens().ids().begin(), answer->tokens().ids().end());
    EXPECT_EQ(got, Recompute(prompt, 10));
    EXPECT_EQ(answer->usage().context_tokens(), handle.n_tokens());
    EXPECT_GT(answer->timings().ttft_ms(), 0);
  }
  auto after = store_->Get(handle.id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->header.SerializeAsString(), snapshot.header.SerializeAsString());
  EXPECT_EQ((*after)->layers, snapshot.layers);

  v1::PrefillResponse again;
  EXPECT_EQ(PrefillText(kContext, &again).id(), handle.id());
  EXPECT_TRUE(again.cache_hit());
}

TEST_F(LocalServicesTest, MultiTurnWithGoldAnswersEqualsRecomputationAndSurvivesTakeover) {
  const std::string q1 = "\nKey: \"b7d2\"\nValue:", gold1 = " \"0f41\"", q2 = "\nKey: \"8a1f\"\nValue:",
                    gold2 = " \"3c9e\"", q3 = "\nKey: \"c3a9\"\nValue:";
  v1::CacheHandle start = PrefillText(std::string(kContext) + q1);
  // Prefill tokenizes the text as a whole; the turns append token pieces.
  std::vector<int32_t> history = Ids(std::string(kContext) + q1);

  v1::TurnRequest t1;
  t1.set_session_id("s1");
  t1.set_turn(1);
  *t1.mutable_start() = start;
  t1.mutable_generation()->set_max_new_tokens(8);
  auto r1 = decode_->Turn(t1);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(std::vector<int32_t>(r1->tokens().ids().begin(), r1->tokens().ids().end()), Recompute(history, 8));
  EXPECT_FALSE(r1->resumed_from_checkpoint());

  v1::TurnRequest t2;
  t2.set_session_id("s1");
  t2.set_turn(2);
  t2.mutable_append()->set_text(gold1 + q2);
  t2.mutable_generation()->set_max_new_tokens(8);
  auto r2 = decode_->Turn(t2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  for (int32_t id : Ids(gold1 + q2)) history.push_back(id);
  EXPECT_EQ(std::vector<int32_t>(r2->tokens().ids().begin(), r2->tokens().ids().end()), Recompute(history, 8));

  // A different worker continues from the kvstore checkpoint.
  auto other = NewLocalDecodeWorker(model_.get(), tokenizer_.get(), store_.get());
  decode_.reset();
  v1::TurnRequest t3;
  t3.set_session_id("s1");
  t3.set_turn(3);
  t3.mutable_append()->set_text(gold2 + q3);
  t3.mutable_generation()->set_max_new_tokens(8);
  auto r3 = other->Turn(t3);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_TRUE(r3->resumed_from_checkpoint());
  for (int32_t id : Ids(gold2 + q3)) history.push_back(id);
  EXPECT_EQ(std::vector<int32_t>(r3->tokens().ids().begin(), r3->tokens().ids().end()), Recompute(history, 8));
  auto info = store_->Stat(SessionCheckpointId("s1"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->session_turn(), 3);
  EXPECT_EQ(info->handle().n_tokens(), static_cast<int64_t>(history.size()));

  // Out-of-order turns are refused.
  t3.set_turn(5);
  EXPECT_EQ(other->Turn(t3).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(other->CloseSession("s1").ok());
  EXPECT_EQ(store_->Stat(SessionCheckpointId("s1")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LocalServicesTest, RejectsBadRequests) {
  v1::PrefillRequest req;
  req.mutable_context()->set_text(std::string(2000, 'x'));
  auto big = prefill_->Prefill(req);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("--max_context_tokens"), std::string::npos);
  req.mutable_context()->set_text("hello");
  req.set_method_spec("prefill=dense;kv=snapkv{");
  EXPECT_EQ(prefill_->Prefill(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.set_method_spec("kv=full;colour=blue");
  EXPECT_EQ(prefill_->Prefill(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.set_method_spec("");
  req.mutable_context()->set_text("");
  EXPECT_EQ(prefill_->Prefill(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.mutable_context()->mutable_tokens()->add_ids(100000);
  EXPECT_EQ(prefill_->Prefill(req).status().code(), absl::StatusCode::kInvalidArgument);

  v1::AnswerRequest ans;
  ans.mutable_handle()->set_id("0123456789abcdef0123456789abcdef");
  ans.mutable_query()->set_text("q");
  ans.mutable_generation()->set_max_new_tokens(4);
  EXPECT_EQ(decode_->Answer(ans).status().code(), absl::StatusCode::kNotFound);
  ans.mutable_generation()->set_max_new_tokens(0);
  EXPECT_EQ(decode_->Answer(ans).status().code(), absl::StatusCode::kInvalidArgument);

  // After all that, a valid request still works.
  v1::CacheHandle h = PrefillText(kContext);
  *ans.mutable_handle() = h;
  ans.mutable_generation()->set_max_new_tokens(4);
  EXPECT_TRUE(decode_->Answer(ans).ok());
}

TEST_F(LocalServicesTest, EntryOfAnotherModelIsRefused) {
  v1::CacheHandle h = PrefillText(kContext);
  auto qwen_backend = NewCpuBackend();
  auto qwen = Model::Load(testing::FixtureDir("tiny-qwen2"), *qwen_backend);
  ASSERT_TRUE(qwen.ok());
  auto worker = NewLocalDecodeWorker(qwen->get(), nullptr, store_.get());
  v1::AnswerRequest ans;
  *ans.mutable_handle() = h;
  ans.mutable_query()->mutable_tokens()->add_ids(5);
  ans.mutable_generation()->set_max_new_tokens(2);
  auto r = worker->Answer(ans);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(model_->fingerprint().ToHex()), std::string::npos);
}

// A kvstore that answers Gets of one id with another id's entry (broken or
// hostile): decode checks that a content-addressed entry holds the context
// its id names and refuses it otherwise.
class SwappingStore : public testing::ForwardingStore {
 public:
  SwappingStore(KvStore& inner, std::string from, std::string to)
      : ForwardingStore(inner), from_(std::move(from)), to_(std::move(to)) {}
  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override {
    return inner_.Get(id == from_ ? to_ : id);
  }

 private:
  const std::string from_, to_;
};

TEST_F(LocalServicesTest, EntryHoldingAnotherContextIsRefused) {
  const v1::CacheHandle asked = PrefillText(kContext);
  const v1::CacheHandle other = PrefillText(std::string(kContext) + " {\"d4e5\": \"9a9a\"}");
  SwappingStore swapping(*store_, asked.id(), other.id());
  auto worker = NewLocalDecodeWorker(model_.get(), tokenizer_.get(), &swapping);
  v1::AnswerRequest ans;
  *ans.mutable_handle() = asked;
  ans.mutable_query()->set_text("\nKey: \"b7d2\"\nValue:");
  ans.mutable_generation()->set_max_new_tokens(2);
  auto r = worker->Answer(ans);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(asked.id()), std::string::npos) << r.status();
  v1::TurnRequest turn;
  turn.set_session_id("swapped");
  turn.set_turn(1);
  *turn.mutable_start() = asked;
  turn.mutable_generation()->set_max_new_tokens(2);
  EXPECT_EQ(worker->Turn(turn).status().code(), absl::StatusCode::kDataLoss);
  // The honest store still serves the asked-for entry.
  *ans.mutable_handle() = asked;
  EXPECT_TRUE(decode_->Answer(ans).ok());
}

TEST_F(LocalServicesTest, CorruptedEntriesAreDataLossNeverServed) {
  v1::CacheHandle h = PrefillText(kContext);
  KvEntry copy = **store_->Get(h.id());
  copy.layers[1][copy.layers[1].size() / 2] ^= 0x20;
  auto put = store_->Put(copy, v1::PutOptions());
  EXPECT_EQ(put.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ImportEntry(copy, *model_, 0).status().code(), absl::StatusCode::kDataLoss);

  // In transit: chunks reassemble only when intact.
  std::vector<v1::KvChunk> chunks;
  ForEachChunk(**store_->Get(h.id()), [&](const v1::KvChunk& c) { chunks.push_back(c); return true; }, 1000);
  ASSERT_GT(chunks.size(), 4u);
  EntryAssembler ok;
  for (const auto& c : chunks) ASSERT_TRUE(ok.Add(c).ok());
  EXPECT_TRUE(ok.Finish().ok());
  chunks[3].mutable_layer()->mutable_data()->at(0) ^= 1;
  EntryAssembler bad;
  absl::Status received;
  for (const auto& c : chunks) {
    received = bad.Add(c);  // a layer is checked once the next one starts
    if (!received.ok()) break;
  }
  if (received.ok()) received = bad.Finish().status();
  EXPECT_EQ(received.code(), absl::StatusCode::kDataLoss);
  EntryAssembler out_of_order;
  ASSERT_TRUE(out_of_order.Add(chunks[0]).ok());
  EXPECT_EQ(out_of_order.Add(chunks[2]).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvlab
