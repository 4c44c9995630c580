#include "tools/kvlab_store_format.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvlab::store_cli {
namespace {

// Numbers, sizes, percentages and ages right-align: a cell that starts with
// a digit (or '-' then a digit).
bool LooksNumeric(const std::string& cell) {
  if (cell.empty()) return false;
  const size_t i = cell[0] == '-' ? 1 : 0;
  return i < cell.size() && cell[i] >= '0' && cell[i] <= '9';
}

}  // namespace

TextTable::TextTable(std::vector<std::string> header) : header_(std::move(header)) {}

void TextTable::AddRow(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

void TextTable::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size(), 0);
  std::vector<bool> right(header_.size(), true);
  for (size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
      if (!row[c].empty() && !LooksNumeric(row[c])) right[c] = false;
    }
  }
  if (rows_.empty()) std::fill(right.begin(), right.end(), false);
  auto print = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) line += "  ";
      const std::string pad(width[c] - cells[c].size(), ' ');
      absl::StrAppend(&line, right[c] ? pad : "", cells[c], right[c] ? "" : pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  print(header_);
  for (const auto& row : rows_) print(row);
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat(unit >= 2 ? "%.2f %s" : "%.1f %s", value, units[unit]);
}

std::string FormatAge(int64_t unix_ms, int64_t now_unix_ms) {
  if (unix_ms <= 0) return "-";
  const int64_t s = std::max<int64_t>(0, (now_unix_ms - unix_ms) / 1000);
  if (s < 120) return absl::StrCat(s, "s");
  if (s < 120 * 60) return absl::StrCat(s / 60, "m");
  if (s < 48 * 3600) return absl::StrCat(s / 3600, "h");
  return absl::StrCat(s / 86400, "d");
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string Bar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(fraction * width));
  return absl::StrCat(std::string(static_cast<size_t>(filled), '#'), std::string(static_cast<size_t>(width - filled), ' '));
}

std::string Prefix(const std::string& s, size_t n) { return s.substr(0, std::min(n, s.size())); }

nlohmann::json EntryJson(const v1::EntryInfo& info) {
  nlohmann::json j;
  j["id"] = info.handle().id();
  j["model_fingerprint"] = info.handle().model_fingerprint();
  j["method_spec"] = info.handle().method_spec();
  j["n_tokens"] = info.handle().n_tokens();
  j["codec"] = info.codec();
  j["bytes"] = info.bytes();
  j["tier"] = info.tier();
  j["tiers"] = nlohmann::json::array();
  for (const std::string& t : info.tiers()) j["tiers"].push_back(t);
  j["pinned"] = info.pinned();
  j["created_unix_ms"] = info.created_unix_ms();
  j["last_access_unix_ms"] = info.last_access_unix_ms();
  j["session_id"] = info.session_id();
  j["session_turn"] = info.session_turn();
  return j;
}

}  // namespace kvlab::store_cli
