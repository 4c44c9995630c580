// kvlab-store: the store CLI's commands (issue 7, "Store CLI"). Each command
// runs against a kvstore server and writes its result to `out`: a
// human-readable table by default, one JSON document with --json.
#ifndef KVLAB_TOOLS_KVLAB_STORE_COMMANDS_H_
#define KVLAB_TOOLS_KVLAB_STORE_COMMANDS_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/kvstore/grpc_admin_client.h"
#include "services/kvstore/kv_store.h"

namespace kvlab::store_cli {

// ls filters and order (--model, --method, --tier, --sort).
struct ListFilter {
  // Entries whose model fingerprint starts with this; empty = any.
  std::string model;
  // Entries whose method spec holds every ';'-separated part of this
  // (e.g. "kv=full"); empty = any.
  std::string method;
  // Entries with a copy in this tier; empty = any.
  std::string tier;
  // "" (by id), "size" (largest first) or "age" (oldest first).
  std::string sort;
};

// What every command gets: the connections and the output options.
struct Context {
  std::unique_ptr<KvStore> store;               // data calls (Get, Put, Stat, List, Delete)
  std::unique_ptr<KvStoreAdminClient> admin;    // admin calls (Pin .. Verify)
  bool json = false;                            // one JSON document instead of tables
  ListFilter filter;                            // ls
  std::string model_dir;                        // show: tokenizer for the text preview
  int64_t preview_chars = 400;                  // show: longest text preview
  int64_t histogram_buckets = 20;               // show: buckets over the context
  int64_t now_unix_ms = 0;                      // for ages
};

// A command: `args` are its positional arguments (after the command name).
// Returns INVALID_ARGUMENT for bad arguments (a sentence saying what is
// expected) and the store's errors otherwise (NOT_FOUND for an unknown id,
// UNAVAILABLE for an unreachable store, UNAUTHENTICATED, DATA_LOSS).
using Command = absl::Status (*)(Context& context, const std::vector<std::string>& args, std::ostream& out);

// ls: the entries matching context.filter.
absl::Status List(Context& context, const std::vector<std::string>& args, std::ostream& out);
// stat ID: what the store knows of one entry.
absl::Status Stat(Context& context, const std::vector<std::string>& args, std::ostream& out);
// show ID: reads the entry; kept counts per layer and head, histogram of
// kept positions, bytes per tier, codec, checksum status, text preview.
absl::Status Show(Context& context, const std::vector<std::string>& args, std::ostream& out);
// tiers: usage vs capacity and counters per tier, quarantined entries.
absl::Status Tiers(Context& context, const std::vector<std::string>& args, std::ostream& out);
// pin ID / unpin ID.
absl::Status Pin(Context& context, const std::vector<std::string>& args, std::ostream& out);
absl::Status Unpin(Context& context, const std::vector<std::string>& args, std::ostream& out);
// rm ID: deletes the entry (FAILED_PRECONDITION when pinned or leased).
absl::Status Remove(Context& context, const std::vector<std::string>& args, std::ostream& out);
// verify ID: re-checks every copy's checksums on the server (DATA_LOSS).
absl::Status Verify(Context& context, const std::vector<std::string>& args, std::ostream& out);
// export ID FILE: writes the entry to FILE (entry_file.h format).
absl::Status Export(Context& context, const std::vector<std::string>& args, std::ostream& out);
// import FILE: stores the entry of FILE under the id it was exported from.
absl::Status Import(Context& context, const std::vector<std::string>& args, std::ostream& out);

}  // namespace kvlab::store_cli

#endif  // KVLAB_TOOLS_KVLAB_STORE_COMMANDS_H_
