// kvlab-store commands on entries: ls, stat, pin, unpin, rm, verify.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "tools/kvlab_store_commands.h"
#include "tools/kvlab_store_format.h"

namespace kvlab::store_cli {
namespace {

// INVALID_ARGUMENT unless `args` is exactly one entry id.
absl::StatusOr<std::string> OneId(const std::vector<std::string>& args, const char* command) {
  if (args.size() != 1 || args[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(command, " takes one entry id: kvlab-store ", command, " ID"));
  }
  return args[0];
}

// True when every ';'-separated part of `filter` is a part of `spec`.
bool MethodMatches(const std::string& spec, const std::string& filter) {
  if (filter.empty() || spec == filter) return true;
  std::set<std::string> parts;
  for (absl::string_view part : absl::StrSplit(absl::string_view(spec), ';')) parts.emplace(part);
  for (absl::string_view part : absl::StrSplit(absl::string_view(filter), ';', absl::SkipEmpty())) {
    if (!parts.contains(std::string(part))) return false;
  }
  return true;
}

bool Matches(const v1::EntryInfo& info, const ListFilter& filter) {
  if (!info.handle().model_fingerprint().starts_with(filter.model)) return false;
  if (!MethodMatches(info.handle().method_spec(), filter.method)) return false;
  if (!filter.tier.empty() && std::find(info.tiers().begin(), info.tiers().end(), filter.tier) == info.tiers().end() &&
      info.tier() != filter.tier) {
    return false;
  }
  return true;
}

// Writes {"id": id, "action": action} or "<action> <id>".
void Done(const Context& context, const std::string& id, const char* action, std::ostream& out) {
  if (context.json) {
    out << nlohmann::json{{"id", id}, {"action", action}}.dump() << "\n";
  } else {
    out << action << " " << id << "\n";
  }
}

}  // namespace

absl::Status List(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  if (!args.empty()) return absl::InvalidArgumentError("ls takes no arguments (filters are --model, --method, --tier)");
  const ListFilter& filter = context.filter;
  if (!filter.sort.empty() && filter.sort != "size" && filter.sort != "age") {
    return absl::InvalidArgumentError(absl::StrCat("--sort must be size or age, got '", filter.sort, "'"));
  }
  v1::ListRequest request;
  KVLAB_ASSIGN_OR_RETURN(v1::ListResponse listing, context.store->List(request));
  std::vector<v1::EntryInfo> entries;
  for (const v1::EntryInfo& info : listing.entries()) {
    if (Matches(info, filter)) entries.push_back(info);
  }
  if (filter.sort == "size") {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const v1::EntryInfo& a, const v1::EntryInfo& b) { return a.bytes() > b.bytes(); });
  } else if (filter.sort == "age") {
    std::stable_sort(entries.begin(), entries.end(), [](const v1::EntryInfo& a, const v1::EntryInfo& b) {
      return a.created_unix_ms() < b.created_unix_ms();
    });
  }
  if (context.json) {
    nlohmann::json doc{{"entries", nlohmann::json::array()}};
    for (const v1::EntryInfo& info : entries) doc["entries"].push_back(EntryJson(info));
    out << doc.dump() << "\n";
    return absl::OkStatus();
  }
  TextTable table({"ID", "MODEL", "METHOD", "CODEC", "TOKENS", "SIZE", "TIER", "PIN", "AGE", "USED"});
  int64_t total = 0;
  for (const v1::EntryInfo& info : entries) {
    total += info.bytes();
    table.AddRow({info.handle().id(), Prefix(info.handle().model_fingerprint(), 8), info.handle().method_spec(),
                  info.codec(), absl::StrCat(info.handle().n_tokens()), FormatBytes(info.bytes()),
                  absl::StrJoin(info.tiers(), "+"), info.pinned() ? "yes" : "",
                  FormatAge(info.created_unix_ms(), context.now_unix_ms),
                  FormatAge(info.last_access_unix_ms(), context.now_unix_ms)});
  }
  table.Print(out);
  out << entries.size() << (entries.size() == 1 ? " entry, " : " entries, ") << FormatBytes(total) << "\n";
  return absl::OkStatus();
}

absl::Status Stat(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  KVLAB_ASSIGN_OR_RETURN(std::string id, OneId(args, "stat"));
  KVLAB_ASSIGN_OR_RETURN(v1::EntryInfo info, context.store->Stat(id));
  if (context.json) {
    out << EntryJson(info).dump() << "\n";
    return absl::OkStatus();
  }
  TextTable table({"FIELD", "VALUE"});
  table.AddRow({"id", info.handle().id()});
  table.AddRow({"model", info.handle().model_fingerprint()});
  table.AddRow({"method", info.handle().method_spec()});
  table.AddRow({"codec", info.codec()});
  table.AddRow({"tokens", absl::StrCat(info.handle().n_tokens())});
  table.AddRow({"size", absl::StrCat(FormatBytes(info.bytes()), " (", info.bytes(), " bytes)")});
  table.AddRow({"tiers", absl::StrJoin(info.tiers(), ", ")});
  table.AddRow({"pinned", info.pinned() ? "yes" : "no"});
  table.AddRow({"created", absl::StrCat(FormatTime(info.created_unix_ms()), " UTC (",
                                        FormatAge(info.created_unix_ms(), context.now_unix_ms), " ago)")});
  table.AddRow({"last access", absl::StrCat(FormatTime(info.last_access_unix_ms()), " UTC (",
                                            FormatAge(info.last_access_unix_ms(), context.now_unix_ms), " ago)")});
  if (!info.session_id().empty()) {
    table.AddRow({"session", absl::StrCat(info.session_id(), " after turn ", info.session_turn())});
  }
  table.Print(out);
  return absl::OkStatus();
}

absl::Status Pin(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  KVLAB_ASSIGN_OR_RETURN(std::string id, OneId(args, "pin"));
  KVLAB_RETURN_IF_ERROR(context.admin->Pin(id));
  Done(context, id, "pinned", out);
  return absl::OkStatus();
}

absl::Status Unpin(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  KVLAB_ASSIGN_OR_RETURN(std::string id, OneId(args, "unpin"));
  KVLAB_RETURN_IF_ERROR(context.admin->Unpin(id));
  Done(context, id, "unpinned", out);
  return absl::OkStatus();
}

absl::Status Remove(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  KVLAB_ASSIGN_OR_RETURN(std::string id, OneId(args, "rm"));
  KVLAB_RETURN_IF_ERROR(context.store->Delete(id));
  Done(context, id, "removed", out);
  return absl::OkStatus();
}

absl::Status Verify(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  KVLAB_ASSIGN_OR_RETURN(std::string id, OneId(args, "verify"));
  KVLAB_RETURN_IF_ERROR(context.admin->Verify(id));
  Done(context, id, "verified", out);
  return absl::OkStatus();
}

}  // namespace kvlab::store_cli
