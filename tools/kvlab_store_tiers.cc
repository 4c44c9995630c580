// kvlab-store tiers: usage vs capacity and counters of every tier.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "tools/kvlab_store_commands.h"
#include "tools/kvlab_store_format.h"

namespace kvlab::store_cli {

absl::Status Tiers(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  if (!args.empty()) return absl::InvalidArgumentError("tiers takes no arguments");
  KVLAB_ASSIGN_OR_RETURN(v1::TiersResponse tiers, context.admin->Tiers());
  if (context.json) {
    nlohmann::json doc{{"tiers", nlohmann::json::array()}, {"quarantined", nlohmann::json::array()}};
    for (const v1::TierInfo& t : tiers.tiers()) {
      doc["tiers"].push_back({{"name", t.name()},
                              {"capacity_bytes", t.capacity_bytes()},
                              {"used_bytes", t.used_bytes()},
                              {"entries", t.entries()},
                              {"hits", t.hits()},
                              {"misses", t.misses()},
                              {"evictions", t.evictions()},
                              {"demotions", t.demotions()},
                              {"promotions", t.promotions()},
                              {"corruptions", t.corruptions()}});
    }
    for (const v1::QuarantinedEntryInfo& q : tiers.quarantined()) {
      doc["quarantined"].push_back(
          {{"id", q.id()}, {"tier", q.tier()}, {"reason", q.reason()}, {"unix_ms", q.unix_ms()}});
    }
    out << doc.dump() << "\n";
    return absl::OkStatus();
  }
  TextTable table({"TIER", "USED", "CAPACITY", "USE", "", "ENTRIES", "HITS", "MISSES", "EVICTED", "DEMOTED",
                   "PROMOTED", "CORRUPT"});
  for (const v1::TierInfo& t : tiers.tiers()) {
    const bool limited = t.capacity_bytes() > 0;
    const double use = limited ? static_cast<double>(t.used_bytes()) / static_cast<double>(t.capacity_bytes()) : 0;
    table.AddRow({t.name(), FormatBytes(t.used_bytes()), limited ? FormatBytes(t.capacity_bytes()) : "unlimited",
                  limited ? absl::StrFormat("%.1f%%", 100 * use) : "-",
                  limited ? absl::StrCat("[", Bar(use, 20), "]") : "", absl::StrCat(t.entries()),
                  absl::StrCat(t.hits()), absl::StrCat(t.misses()), absl::StrCat(t.evictions()),
                  absl::StrCat(t.demotions()), absl::StrCat(t.promotions()), absl::StrCat(t.corruptions())});
  }
  table.Print(out);
  if (tiers.quarantined_size() > 0) {
    out << "\nquarantined (checksum failures, never served):\n";
    TextTable q({"ID", "TIER", "WHEN", "REASON"});
    for (const v1::QuarantinedEntryInfo& e : tiers.quarantined()) {
      q.AddRow({e.id(), e.tier(), FormatTime(e.unix_ms()), e.reason()});
    }
    q.Print(out);
  }
  return absl::OkStatus();
}

}  // namespace kvlab::store_cli
