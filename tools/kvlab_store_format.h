// kvlab-store: text tables and human-readable sizes, times and bars.
#ifndef KVLAB_TOOLS_KVLAB_STORE_FORMAT_H_
#define KVLAB_TOOLS_KVLAB_STORE_FORMAT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "kvlab/v1/kvstore.pb.h"
#include "nlohmann/json.hpp"

namespace kvlab::store_cli {

// A table of text cells printed with aligned columns: numeric-looking cells
// are right-aligned, others left-aligned. Not thread-safe.
class TextTable {
 public:
  // `header` fixes the number of columns.
  explicit TextTable(std::vector<std::string> header);
  // Adds a row; missing cells are empty, extra cells are dropped.
  void AddRow(std::vector<std::string> row);
  // Writes the header and rows, columns separated by two spaces, each line
  // without trailing spaces.
  void Print(std::ostream& out) const;
  size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// "512 B", "1.5 KiB", "3.0 MiB", "2.00 GiB".
std::string FormatBytes(int64_t bytes);
// Age of `unix_ms` at `now_unix_ms`: "12s", "5m", "3h", "2d"; "-" for 0.
std::string FormatAge(int64_t unix_ms, int64_t now_unix_ms);
// UTC "2024-05-01 12:00:03"; "-" for 0.
std::string FormatTime(int64_t unix_ms);
// A bar of `width` characters, `fraction` (clamped to [0, 1]) of them '#'.
std::string Bar(double fraction, int width);
// The first `n` characters of `s` ("" stays "").
std::string Prefix(const std::string& s, size_t n);

// EntryInfo as a JSON object (id, model_fingerprint, method_spec, n_tokens,
// codec, bytes, tier, tiers, pinned, created_unix_ms, last_access_unix_ms,
// session_id, session_turn).
nlohmann::json EntryJson(const v1::EntryInfo& info);

}  // namespace kvlab::store_cli

#endif  // KVLAB_TOOLS_KVLAB_STORE_FORMAT_H_
