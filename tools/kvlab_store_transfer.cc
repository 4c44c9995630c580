// kvlab-store export / import: an entry to and from a file
// (kvlab_store_entry_file.h), through the store's Get and Put.
#include <span>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/entry_key.h"
#include "tools/kvlab_store_commands.h"
#include "tools/kvlab_store_entry_file.h"
#include "tools/kvlab_store_format.h"

namespace kvlab::store_cli {

absl::Status Export(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  if (args.size() != 2 || args[0].empty() || args[1].empty()) {
    return absl::InvalidArgumentError("export takes an entry id and a file: kvlab-store export ID FILE");
  }
  KVLAB_ASSIGN_OR_RETURN(std::shared_ptr<const KvEntry> entry, context.store->Get(args[0]));
  KVLAB_RETURN_IF_ERROR(WriteEntryFile(args[1], EntryFile{args[0], *entry}));
  if (context.json) {
    out << nlohmann::json{{"id", args[0]}, {"file", args[1]}, {"bytes", entry->payload_bytes()}}.dump() << "\n";
  } else {
    out << "exported " << args[0] << " (" << FormatBytes(entry->payload_bytes()) << ") to " << args[1] << "\n";
  }
  return absl::OkStatus();
}

absl::Status Import(Context& context, const std::vector<std::string>& args, std::ostream& out) {
  if (args.size() != 1 || args[0].empty()) {
    return absl::InvalidArgumentError("import takes a file: kvlab-store import FILE");
  }
  KVLAB_ASSIGN_OR_RETURN(EntryFile file, ReadEntryFile(args[0]));
  const v1::KvEntryHeader& h = file.entry.header;
  const std::string content_key =
      EntryKey(h.model_fingerprint(), h.method_spec(), std::span<const int32_t>(h.tokens().data(), h.tokens().size()));
  v1::PutOptions options;
  // Named entries (session checkpoints) keep their name; content-keyed ones
  // get their key back from the store.
  if (file.id != content_key) options.set_name(file.id);
  KVLAB_ASSIGN_OR_RETURN(v1::PutResponse put, context.store->Put(std::move(file.entry), options));
  if (context.json) {
    out << nlohmann::json{{"id", put.handle().id()}, {"file", args[0]}, {"bytes", put.bytes()}}.dump() << "\n";
  } else {
    out << "imported " << put.handle().id() << " (" << FormatBytes(put.bytes()) << ") from " << args[0] << "\n";
  }
  return absl::OkStatus();
}

}  // namespace kvlab::store_cli
