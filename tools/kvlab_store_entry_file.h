// The file format of `kvlab-store export` / `import`: one KV entry and the
// id it had in the store.
//
//   "KVLABEF1"                       8 bytes magic
//   u64 length, id                   the store id (little-endian lengths)
//   u64 length, KvEntryHeader        serialized header (checksums included)
//   per layer: u64 length, KvLayer   serialized layers, in order
//
// Writing the same entry twice gives the same bytes.
#ifndef KVLAB_TOOLS_KVLAB_STORE_ENTRY_FILE_H_
#define KVLAB_TOOLS_KVLAB_STORE_ENTRY_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"

namespace kvlab::store_cli {

struct EntryFile {
  std::string id;
  KvEntry entry;
};

// Writes `file` to `path` through a temporary file renamed into place (a
// reader never sees a half-written file). INTERNAL / PERMISSION_DENIED /
// NOT_FOUND naming the path on I/O errors.
absl::Status WriteEntryFile(const std::string& path, const EntryFile& file);

// Reads and verifies an entry file: NOT_FOUND when missing, INVALID_ARGUMENT
// when it is not an entry file or is truncated, DATA_LOSS when a layer fails
// its checksum.
absl::StatusOr<EntryFile> ReadEntryFile(const std::string& path);

}  // namespace kvlab::store_cli

#endif  // KVLAB_TOOLS_KVLAB_STORE_ENTRY_FILE_H_
