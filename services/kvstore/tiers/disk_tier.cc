#include "services/kvstore/tiers/disk_tier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "services/kvstore/tiers/manifest.h"
#include "services/kvstore/tiers/scoped_fd.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

constexpr char kMagic[] = "KVLABDF1";
constexpr size_t kPreamble = 16;  // magic + u64 manifest length
constexpr char kSuffix[] = ".kv";
constexpr size_t kSuffixSize = sizeof(kSuffix) - 1;

absl::Status ErrnoStatus(int err, std::string_view what, const std::string& path) {
  const std::string message =
      absl::StrCat("disk tier: ", absl::string_view(what.data(), what.size()), " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, std::min<size_t>(size, 1 << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "writing", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// OK with `size` bytes read, or DATA_LOSS when the file is shorter.
absl::Status ReadAll(int fd, char* data, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, data, std::min<size_t>(size, 1 << 30), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "reading", path);
    }
    if (n == 0) return absl::DataLossError(absl::StrCat("disk tier: ", path, " is truncated"));
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "opening directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsyncing directory", dir);
  return absl::OkStatus();
}

// Reads the preamble and manifest of an open entry file.
// `payload_offset` receives where the payload starts.
absl::StatusOr<Manifest> ReadManifest(int fd, const std::string& path, uint64_t* payload_offset,
                                      uint64_t* file_bytes = nullptr) {
  char preamble[kPreamble];
  KVLAB_RETURN_IF_ERROR(ReadAll(fd, preamble, kPreamble, 0, path));
  if (std::memcmp(preamble, kMagic, 8) != 0) return absl::DataLossError(absl::StrCat(path, ": bad magic"));
  uint64_t len;
  std::memcpy(&len, preamble + 8, sizeof(len));
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "inspecting", path);
  // The length field is checked against the file before anything is sized by it.
  if (len > (1ull << 32) || len > static_cast<uint64_t>(st.st_size) - kPreamble) {
    return absl::DataLossError(absl::StrCat(path, ": manifest length ", len, " does not fit the file's ", st.st_size,
                                            " bytes"));
  }
  std::string bytes(len, '\0');
  KVLAB_RETURN_IF_ERROR(ReadAll(fd, bytes.data(), len, kPreamble, path));
  *payload_offset = kPreamble + len;
  if (file_bytes != nullptr) *file_bytes = static_cast<uint64_t>(st.st_size);
  auto m = DecodeManifest(bytes);
  if (!m.ok()) return absl::DataLossError(absl::StrCat(path, ": ", m.status().message()));
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskTier>> DiskTier::Create(const DiskTierOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("disk tier needs a directory");
  if (options.chunk_bytes <= 0) return absl::InvalidArgumentError("disk tier chunk_bytes must be positive");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("disk tier: cannot create ", options.dir, ": ", ec.message()));
  for (const auto& e : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name[0] == '.' && name.ends_with(".tmp")) std::filesystem::remove(e.path(), ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("disk tier: cannot list ", options.dir, ": ", ec.message()));
  return std::unique_ptr<DiskTier>(new DiskTier(options));
}

std::string DiskTier::PathOf(const std::string& id) const { return absl::StrCat(options_.dir, "/", id, kSuffix); }

absl::Status DiskTier::Put(const std::string& id, std::shared_ptr<const KvEntry> entry) {
  const uint64_t generation = ++generation_;
  const Manifest manifest = PlanManifest(*entry, generation, options_.chunk_bytes);
  const std::string encoded = EncodeManifest(manifest);
  const std::string tmp = absl::StrCat(options_.dir, "/.", id, ".", ::getpid(), "-", generation, ".tmp");
  const std::string path = PathOf(id);
  absl::Status s = [&]() -> absl::Status {
    ScopedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoStatus(errno, "creating", tmp);
    char preamble[kPreamble];
    std::memcpy(preamble, kMagic, 8);
    const uint64_t len = encoded.size();
    std::memcpy(preamble + 8, &len, sizeof(len));
    KVLAB_RETURN_IF_ERROR(WriteAll(fd.get(), preamble, kPreamble, tmp));
    KVLAB_RETURN_IF_ERROR(WriteAll(fd.get(), encoded.data(), encoded.size(), tmp));
    for (const ChunkInfo& c : manifest.chunks) {
      const std::string_view bytes = ChunkBytes(*entry, c);
      KVLAB_RETURN_IF_ERROR(WriteAll(fd.get(), bytes.data(), bytes.size(), tmp));
    }
    if (options_.fsync && ::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsyncing", tmp);
    if (fd.Close() != 0) return ErrnoStatus(errno, "closing", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "renaming", tmp);
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (options_.fsync) return FsyncDir(options_.dir);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const KvEntry>> DiskTier::Get(const std::string& id) {
  const std::string path = PathOf(id);
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("disk tier has no entry '", id, "'"));
    return ErrnoStatus(errno, "opening", path);
  }
  uint64_t offset = 0, file_bytes = 0;
  auto manifest = ReadManifest(fd.get(), path, &offset, &file_bytes);
  if (!manifest.ok()) return manifest.status();
  // Allocate only what the file holds: the declared layer sizes must add up
  // to the chunks, and the chunks to the bytes after the manifest.
  uint64_t chunk_bytes = 0, layer_bytes = 0;
  for (const ChunkInfo& c : manifest->chunks) chunk_bytes += c.size;
  for (int64_t b : manifest->header.layer_bytes()) layer_bytes += static_cast<uint64_t>(b);
  if (chunk_bytes != layer_bytes || offset + chunk_bytes != file_bytes) {
    return absl::DataLossError(absl::StrCat("disk entry '", id, "': the manifest declares ", layer_bytes,
                                            " bytes of layers in ", chunk_bytes, " bytes of chunks, the file holds ",
                                            file_bytes - offset));
  }
  auto entry = std::make_shared<KvEntry>();
  entry->layers.resize(manifest->header.layer_bytes_size());
  for (size_t l = 0; l < entry->layers.size(); ++l) {
    entry->layers[l].resize(static_cast<size_t>(manifest->header.layer_bytes(static_cast<int>(l))));
  }
  for (size_t i = 0; i < manifest->chunks.size(); ++i) {
    const ChunkInfo& c = manifest->chunks[i];
    char* dst = entry->layers[c.layer].data() + c.offset;
    KVLAB_RETURN_IF_ERROR(ReadAll(fd.get(), dst, c.size, offset, path));
    if (XXH3_64bits(dst, c.size) != c.checksum) {
      return absl::DataLossError(
          absl::StrCat("disk entry '", id, "': chunk ", i, " (layer ", c.layer, ") does not match its checksum"));
    }
    offset += c.size;
  }
  entry->header = std::move(manifest->header);
  return std::shared_ptr<const KvEntry>(std::move(entry));
}

absl::Status DiskTier::Delete(const std::string& id) {
  const std::string path = PathOf(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "removing", path);
  return absl::OkStatus();
}

absl::Status DiskTier::Quarantine(const std::string& id) {
  const std::string path = PathOf(id);
  const std::string to = absl::StrCat(path, ".quarantined");
  if (::rename(path.c_str(), to.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "quarantining", path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TierListing>> DiskTier::List() {
  std::vector<TierListing> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(options_.dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= kSuffixSize || name[0] == '.' || !name.ends_with(kSuffix)) continue;
    const std::string path = e.path().string();
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;  // removed since listed
    uint64_t offset = 0;
    auto manifest = ReadManifest(fd.get(), path, &offset);
    if (!manifest.ok()) {
      spdlog::warn("disk tier: skipping {}: {}", path, std::string(manifest.status().message()));
      continue;
    }
    const int64_t bytes = manifest->payload_bytes();
    out.push_back(TierListing{name.substr(0, name.size() - kSuffixSize), std::move(manifest->header), bytes});
  }
  if (ec) return absl::InternalError(absl::StrCat("disk tier: cannot list ", options_.dir, ": ", ec.message()));
  return out;
}

}  // namespace kvlab
