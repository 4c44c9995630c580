// kvlab-store show ID: reads one entry and describes what it keeps.
#include <algorithm>
#include <cstdlib>
#include <span>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "engine/tokenizer/tokenizer.h"
#include "tools/kvlab_store_commands.h"
#include "tools/kvlab_store_format.h"

namespace kvlab::store_cli {
namespace {

// Kept positions of every (layer, head), parsed from the layers.
struct KeptPositions {
  bool parsed = false;                            // false: a layer is not a KvLayer
  std::vector<std::vector<int64_t>> counts;       // [layer][head] rows found in the layer
  std::vector<int64_t> histogram;                 // kept rows per bucket, all layers and heads
  std::vector<std::pair<int64_t, int64_t>> span;  // [begin, end) positions of each bucket
};

int64_t ContextLength(const v1::KvEntryHeader& h) {
  return std::max<int64_t>(h.tokens_size(), h.next_position());
}

KeptPositions ParsePositions(const KvEntry& entry, int64_t buckets) {
  KeptPositions kept;
  const int64_t n = ContextLength(entry.header);
  const int64_t b = std::max<int64_t>(1, std::min(buckets, n));
  for (int64_t i = 0; i < b; ++i) kept.span.emplace_back(i * n / b, (i + 1) * n / b);
  kept.histogram.assign(static_cast<size_t>(b), 0);
  for (const std::string& bytes : entry.layers) {
    v1::KvLayer layer;
    if (!layer.ParseFromString(bytes)) return kept;
    std::vector<int64_t> heads;
    for (const v1::KvHead& head : layer.heads()) {
      heads.push_back(head.positions_size());
      for (int32_t p : head.positions()) {
        if (p < 0 || p >= n) continue;
        ++kept.histogram[static_cast<size_t>(static_cast<int64_t>(p) * b / n)];
      }
    }
    kept.counts.push_back(std::move(heads));
  }
  kept.parsed = true;
  return kept;
}

// The header's kept count of (layer, head).
int64_t HeaderKept(const v1::KvEntryHeader& h, int64_t layer, int64_t head) {
  const int64_t i = layer * h.num_kv_heads() + head;
  return i < h.kept_size() ? h.kept(static_cast<int>(i)) : 0;
}

// True when the rows found in the layers are the header's kept counts.
bool CountsMatchHeader(const v1::KvEntryHeader& h, const KeptPositions& kept) {
  if (!kept.parsed || static_cast<int64_t>(kept.counts.size()) != h.num_layers()) return false;
  for (int64_t l = 0; l < h.num_layers(); ++l) {
    const auto& heads = kept.counts[static_cast<size_t>(l)];
    if (static_cast<int64_t>(heads.size()) != h.num_kv_heads()) return false;
    for (int64_t k = 0; k < h.num_kv_heads(); ++k) {
      if (heads[static_cast<size_t>(k)] != HeaderKept(h, l, k)) return false;
    }
  }
  return true;
}

// `text` cut to at most `max_chars` bytes on a UTF-8 boundary.
std::string Clip(const std::string& text, int64_t max_chars) {
  if (static_cast<int64_t>(text.size()) <= max_chars) return text;
  size_t cut = static_cast<size_t>(std::max<int64_t>(0, max_chars));
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), " [... ", text.size() - cut, " more bytes]");
}

// The context decoded with the tokenizer of `model_dir`; a note saying why
// not when there is no tokenizer or the ids do not decode.
struct Preview {
  bool decoded = false;
  std::string text;  // the (clipped) text, or the note
};

Preview ContextPreview(const v1::KvEntryHeader& h, const Context& context) {
  std::string dir = context.model_dir;
  if (dir.empty()) {
    if (const char* env = std::getenv("KVLAB_MODEL")) dir = env;
  }
  if (dir.empty()) {
    return {false, absl::StrCat("(the entry does not name its model: pass --model_dir to decode its ",
                                h.tokens_size(), " tokens)")};
  }
  auto tokenizer = Tokenizer::FromModelDir(dir);
  if (!tokenizer.ok()) return {false, absl::StrCat("(no tokenizer: ", tokenizer.status().message(), ")")};
  auto text = (*tokenizer)->Decode(std::span<const int32_t>(h.tokens().data(), h.tokens().size()));
  if (!text.ok()) {
    return {false, absl::StrCat("(the tokens do not decode with the tokenizer of ", dir, ": ",
                                text.status().message(), ")")};
  }
  return {true, Clip(*text, context.preview_chars)};
}

void PrintText(const v1::EntryInfo& info, const KvEntry& entry, const KeptPositions& kept, const Preview& preview,
               const Context& context, std::ostream& out) {
  const v1::KvEntryHeader& h = entry.header;
  TextTable about({"FIELD", "VALUE"});
  about.AddRow({"id", info.handle().id()});
  about.AddRow({"model", h.model_fingerprint()});
  about.AddRow({"method", h.method_spec()});
  about.AddRow({"codec", h.codec()});
  about.AddRow({"tokens", absl::StrCat(h.tokens_size(), " (next position ", h.next_position(), ")")});
  about.AddRow({"shape", absl::StrCat(h.num_layers(), " layers x ", h.num_kv_heads(), " KV heads, head_dim ",
                                      h.head_dim())});
  const int64_t full = FullF16Bytes(h);
  about.AddRow({"bytes", absl::StrCat(FormatBytes(entry.payload_bytes()), " (", entry.payload_bytes(),
                                      full > 0 ? absl::StrFormat(" bytes, %.3f of f16 full KV)",
                                                                 static_cast<double>(entry.payload_bytes()) / full)
                                               : std::string(" bytes)"))});
  std::vector<std::string> per_tier;
  for (const std::string& t : info.tiers()) per_tier.push_back(absl::StrCat(t, " ", FormatBytes(info.bytes())));
  about.AddRow({"tiers", absl::StrJoin(per_tier, ", ")});
  about.AddRow({"pinned", info.pinned() ? "yes" : "no"});
  about.AddRow({"created", absl::StrCat(FormatTime(h.created_unix_ms()), " UTC")});
  about.AddRow({"checksums", absl::StrCat("ok (", entry.layers.size(), " layers, xxh3-64)")});
  if (kept.parsed) {
    about.AddRow({"positions", CountsMatchHeader(h, kept) ? "match the header's kept counts"
                                                          : "DIFFER from the header's kept counts"});
  }
  about.Print(out);

  out << "\nkept tokens per layer and KV head\n";
  std::vector<std::string> header{"LAYER", "KEPT"};
  for (int64_t k = 0; k < h.num_kv_heads(); ++k) header.push_back(absl::StrCat("H", k));
  TextTable table(header);
  for (int64_t l = 0; l < h.num_layers(); ++l) {
    std::vector<std::string> row{absl::StrCat(l)};
    int64_t total = 0;
    for (int64_t k = 0; k < h.num_kv_heads(); ++k) total += HeaderKept(h, l, k);
    row.push_back(absl::StrCat(total));
    for (int64_t k = 0; k < h.num_kv_heads(); ++k) row.push_back(absl::StrCat(HeaderKept(h, l, k)));
    table.AddRow(std::move(row));
  }
  table.Print(out);

  const int64_t rows_per_position = h.num_layers() * h.num_kv_heads();
  if (kept.parsed) {
    out << "\nkept positions over the context (share of layer x head rows kept)\n";
    TextTable histogram({"POSITIONS", "", "KEPT"});
    for (size_t i = 0; i < kept.histogram.size(); ++i) {
      const auto [begin, end] = kept.span[i];
      const int64_t slots = (end - begin) * rows_per_position;
      const double share = slots > 0 ? static_cast<double>(kept.histogram[i]) / static_cast<double>(slots) : 0;
      histogram.AddRow({absl::StrCat(begin, "-", end - 1), absl::StrCat("|", Bar(share, 40), "|"),
                        absl::StrFormat("%.1f%%", 100 * share)});
    }
    histogram.Print(out);
  } else {
    out << "\n(the layers are not KvLayer messages: no position histogram)\n";
  }
  out << "\ncontext" << (preview.decoded ? " (decoded)" : "") << ":\n" << preview.text << "\n";
}

nlohmann::json ShowJson(const v1::EntryInfo& info, const KvEntry& entry, const KeptPositions& kept,
                        const Preview& preview) {
  const v1::KvEntryHeader& h = entry.header;
  nlohmann::json j = EntryJson(info);
  j["num_layers"] = h.num_layers();
  j["num_kv_heads"] = h.num_kv_heads();
  j["head_dim"] = h.head_dim();
  j["next_position"] = h.next_position();
  j["payload_bytes"] = entry.payload_bytes();
  j["full_f16_bytes"] = FullF16Bytes(h);
  j["checksums"] = "ok";
  j["positions_match_header"] = CountsMatchHeader(h, kept);
  nlohmann::json per_layer = nlohmann::json::array();
  nlohmann::json per_head = nlohmann::json::array();
  for (int64_t l = 0; l < h.num_layers(); ++l) {
    nlohmann::json heads = nlohmann::json::array();
    int64_t total = 0;
    for (int64_t k = 0; k < h.num_kv_heads(); ++k) {
      heads.push_back(HeaderKept(h, l, k));
      total += HeaderKept(h, l, k);
    }
    per_layer.push_back(total);
    per_head.push_back(std::move(heads));
  }
  j["kept_per_layer"] = std::move(per_layer);
  j["kept_per_head"] = std::move(per_head);
  nlohmann::json bytes_per_tier = nlohmann::json::object();
  for (const std::string& t : info.tiers()) bytes_per_tier[t] = info.bytes();
  j["bytes_per_tier"] = std::move(bytes_per_tier);
  nlohmann::json histogram = nlohmann::json::array();
  if (kept.parsed) {
    for (size_t i = 0; i < kept.histogram.size(); ++i) {
      histogram.push_back({{"begin", kept.span[i].first}, {"end", kept.span[i].second}, {"kept_rows", kept.histogram[i]}});
    }
  }
  j["position_histogram"] = std::move(histogram);
  j["preview"] = preview.decoded ? nlohmann::json(preview.text) : nlohmann::json(nullptr);
  if (!preview.decoded) j["preview_note"] = preview.text;
  return j;
}

}  // namespace

absl::Status Show(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  if (args.size() != 1 || args[0].empty()) {
    return absl::InvalidArgumentError("show takes one entry id: kvlab-store show ID");
  }
  KVLAB_ASSIGN_OR_RETURN(v1::EntryInfo info, context.store->Stat(args[0]));
  // The client verifies every layer against its checksum (DATA_LOSS).
  KVLAB_ASSIGN_OR_RETURN(std::shared_ptr<const KvEntry> entry, context.store->Get(args[0]));
  KVLAB_RETURN_IF_ERROR(VerifyEntry(*entry));
  const KeptPositions kept = ParsePositions(*entry, context.histogram_buckets);
  const Preview preview = ContextPreview(entry->header, context);
  if (context.json) {
    out << ShowJson(info, *entry, kept, preview).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    PrintText(info, *entry, kept, preview, context, out);
  }
  return absl::OkStatus();
}

}  // namespace kvlab::store_cli
