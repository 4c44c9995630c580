#include "tools/kvlab_store_entry_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab::store_cli {
namespace {

constexpr char kMagic[] = "KVLABEF1";
constexpr size_t kMagicSize = 8;

void AppendPiece(std::string* out, const std::string& piece) {
  uint64_t n = piece.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out->append(len, 8);
  out->append(piece);
}

// Reads the next length-prefixed piece of `data` at `*pos`.
absl::StatusOr<std::string> NextPiece(const std::string& data, size_t* pos, const std::string& path,
                                      const char* what) {
  if (data.size() - *pos < 8) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated entry file (before the ", what, ")"));
  }
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(data[*pos + i])) << (8 * i);
  *pos += 8;
  if (n > data.size() - *pos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated entry file (in the ", what, ")"));
  }
  std::string piece = data.substr(*pos, n);
  *pos += n;
  return piece;
}

absl::Status IoError(const std::string& what, const std::string& path) {
  const int err = errno;
  const std::string message = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::Status WriteEntryFile(const std::string& path, const EntryFile& file) {
  std::string data(kMagic, kMagicSize);
  AppendPiece(&data, file.id);
  std::string header;
  if (!file.entry.header.SerializeToString(&header)) return absl::InternalError("cannot serialize the entry header");
  AppendPiece(&data, header);
  for (const std::string& layer : file.entry.layers) AppendPiece(&data, layer);

  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError("create", tmp);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    if (!out) {
      absl::Status s = IoError("write", tmp);
      std::remove(tmp.c_str());
      return s;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = IoError("rename a temporary file to", path);
    std::remove(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<EntryFile> ReadEntryFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("open", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string data = std::move(buffer).str();
  if (data.size() < kMagicSize || data.compare(0, kMagicSize, kMagic) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a kvlab entry file (written by kvlab-store export)"));
  }
  size_t pos = kMagicSize;
  EntryFile file;
  KVLAB_ASSIGN_OR_RETURN(file.id, NextPiece(data, &pos, path, "id"));
  KVLAB_ASSIGN_OR_RETURN(std::string header, NextPiece(data, &pos, path, "header"));
  if (!file.entry.header.ParseFromString(header)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the entry header does not parse"));
  }
  for (int64_t l = 0; l < file.entry.header.num_layers(); ++l) {
    KVLAB_ASSIGN_OR_RETURN(std::string layer, NextPiece(data, &pos, path, absl::StrCat("layer ", l).c_str()));
    file.entry.layers.push_back(std::move(layer));
  }
  if (pos != data.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", data.size() - pos, " unexpected bytes after the last layer"));
  }
  absl::Status verified = VerifyEntry(file.entry);
  if (!verified.ok()) return absl::Status(verified.code(), absl::StrCat(path, ": ", verified.message()));
  return file;
}

}  // namespace kvlab::store_cli
