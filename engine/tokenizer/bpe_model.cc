#include "engine/tokenizer/bpe_model.h"

#include <queue>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/tokenizer/unicode_util.h"

namespace kvlab::tokenizer_internal {
namespace {

constexpr size_t kMaxCachedPieceBytes = 64;
constexpr size_t kMaxCacheEntries = 1 << 17;

absl::Status Invalid(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", what));
}

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t new_id;
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& model, bool byte_level,
                                                             const std::string& file) {
  if (!model.is_object()) return Invalid(file, "\"model\" is missing or not an object");
  const std::string type = model.value("type", "BPE");
  if (type != "BPE") {
    return Invalid(file, absl::StrCat("unsupported model type \"", type, "\" (only BPE is supported)"));
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) return Invalid(file, "BPE model has no \"vocab\" object");
  if (!model.contains("merges") || !model["merges"].is_array()) return Invalid(file, "BPE model has no \"merges\" array");
  for (const char* unsupported : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(unsupported) && model[unsupported].is_string() && !model[unsupported].get<std::string>().empty()) {
      return Invalid(file, absl::StrCat("unsupported BPE option \"", unsupported, "\""));
    }
  }
  if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0) {
    return Invalid(file, "BPE dropout is not supported");
  }

  std::unique_ptr<BpeModel> m(new BpeModel());
  m->byte_level_ = byte_level;
  m->byte_fallback_ = model.value("byte_fallback", false);
  m->fuse_unk_ = model.value("fuse_unk", false);
  m->ignore_merges_ = model.value("ignore_merges", false);

  int32_t max_id = -1;
  for (const auto& [token, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return Invalid(file, absl::StrCat("vocab entry \"", token, "\" has no valid id"));
    }
    max_id = std::max(max_id, id.get<int32_t>());
  }
  m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  m->token_to_id_.reserve(model["vocab"].size());
  const ByteLevelMap& blm = ByteLevelMap::Get();
  std::string raw;
  for (const auto& [token, id_json] : model["vocab"].items()) {
    const int32_t id = id_json.get<int32_t>();
    m->id_to_token_[id] = token;
    m->token_to_id_[token] = id;
    if (byte_level) {
      raw.clear();
      if (blm.Decode(token, raw)) m->bytes_to_id_[raw] = id;
    }
  }
  for (int b = 0; b < 256; ++b) {
    m->byte_ids_[b] = -1;
    m->fallback_ids_[b] = -1;
    if (auto it = m->token_to_id_.find(blm.Encode(static_cast<uint8_t>(b))); byte_level && it != m->token_to_id_.end()) {
      m->byte_ids_[b] = it->second;
    }
    if (auto it = m->token_to_id_.find(absl::StrFormat("<0x%02X>", b)); it != m->token_to_id_.end()) {
      m->fallback_ids_[b] = it->second;
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto it = m->token_to_id_.find(model["unk_token"].get<std::string>());
    if (it == m->token_to_id_.end()) return Invalid(file, "BPE unk_token is not in the vocabulary");
    m->unk_id_ = it->second;
  }

  const auto& merges = model["merges"];
  m->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& entry = merges[rank];
    std::string left, right;
    if (entry.is_string()) {  // "a b"
      const std::string& s = entry.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return Invalid(file, absl::StrCat("merge #", rank, " \"", s, "\" is not two space-separated tokens"));
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
      left = entry[0];
      right = entry[1];
    } else {
      return Invalid(file, absl::StrCat("merge #", rank, " is neither \"a b\" nor [\"a\", \"b\"]"));
    }
    auto l = m->token_to_id_.find(left);
    auto r = m->token_to_id_.find(right);
    auto n = m->token_to_id_.find(left + right);
    if (l == m->token_to_id_.end() || r == m->token_to_id_.end() || n == m->token_to_id_.end()) {
      return Invalid(file, absl::StrCat("merge #", rank, " (\"", left, "\", \"", right, "\") uses tokens not in the vocabulary"));
    }
    m->merges_.insert_or_assign(PairKey(l->second, r->second), std::make_pair(static_cast<int32_t>(rank), n->second));
  }
  return m;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = token_to_id_.find(absl::string_view(token.data(), token.size()));
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> BpeModel::PieceToId(std::string_view piece) const {
  const auto& map = byte_level_ ? bytes_to_id_ : token_to_id_;
  auto it = map.find(absl::string_view(piece.data(), piece.size()));
  if (it == map.end()) return std::nullopt;
  return it->second;
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto id = PieceToId(piece)) {
      out.push_back(*id);
      return;
    }
  }
  if (piece.size() > kMaxCachedPieceBytes) {
    EncodeUncached(piece, out);
    return;
  }
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(absl::string_view(piece.data(), piece.size()));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  EncodeUncached(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  absl::MutexLock lock(&cache_mu_);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_.try_emplace(std::string(piece), std::move(ids));
}

void BpeModel::EncodeUncached(std::string_view piece, std::vector<int32_t>& out) const {
  // Initial symbols.
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto push = [&symbols](int32_t id) {
    const auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, -1, true});
    if (n > 0) symbols[n - 1].next = n;
  };
  if (byte_level_) {
    for (unsigned char b : piece) {
      if (byte_ids_[b] >= 0) push(byte_ids_[b]);
      else if (unk_id_) push(*unk_id_);
    }
  } else {
    size_t pos = 0;
    bool last_was_unk = false;
    while (pos < piece.size()) {
      const size_t start = pos;
      pos += std::min(Utf8SeqLen(static_cast<uint8_t>(piece[pos])), piece.size() - pos);
      const std::string_view ch = piece.substr(start, pos - start);
      if (auto it = token_to_id_.find(absl::string_view(ch.data(), ch.size())); it != token_to_id_.end()) {
        push(it->second);
        last_was_unk = false;
        continue;
      }
      bool all_bytes = byte_fallback_;
      for (size_t i = start; all_bytes && i < pos; ++i) all_bytes = fallback_ids_[static_cast<uint8_t>(piece[i])] >= 0;
      if (all_bytes) {
        for (size_t i = start; i < pos; ++i) push(fallback_ids_[static_cast<uint8_t>(piece[i])]);
        last_was_unk = false;
      } else if (unk_id_) {
        if (!(fuse_unk_ && last_was_unk)) push(*unk_id_);
        last_was_unk = true;
      }
    }
  }
  if (symbols.empty()) return;

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
    if (it != merges_.end()) queue.push({it->second.first, left, it->second.second});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.second != c.new_id) continue;
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace kvlab::tokenizer_internal
