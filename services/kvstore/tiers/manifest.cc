#include "services/kvstore/tiers/manifest.h"

#include <xxhash.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kvlab {
namespace {

constexpr char kMagic[] = "KVLABMF1";
constexpr size_t kMagicSize = 8;

template <typename T>
void PutLe(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // x86-64 and aarch64 are little-endian
  out.append(buf, sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool Get(T& v) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, std::string_view& v) {
    if (bytes_.size() - pos_ < n) return false;
    v = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

absl::Status Malformed(std::string_view what) {
  return absl::DataLossError(absl::StrCat("entry manifest is corrupt: ", absl::string_view(what.data(), what.size())));
}

}  // namespace

int64_t Manifest::payload_bytes() const {
  int64_t n = 0;
  for (const ChunkInfo& c : chunks) n += static_cast<int64_t>(c.size);
  return n;
}

Manifest PlanManifest(const KvEntry& entry, uint64_t generation, int64_t chunk_bytes) {
  Manifest m;
  m.generation = generation;
  m.header = entry.header;
  const uint64_t limit = static_cast<uint64_t>(chunk_bytes > 0 ? chunk_bytes : 1);
  for (size_t l = 0; l < entry.layers.size(); ++l) {
    const std::string& layer = entry.layers[l];
    uint64_t offset = 0;
    do {
      ChunkInfo c;
      c.layer = static_cast<uint32_t>(l);
      c.offset = offset;
      c.size = std::min<uint64_t>(limit, layer.size() - offset);
      c.checksum = XXH3_64bits(layer.data() + offset, c.size);
      m.chunks.push_back(c);
      offset += c.size;
    } while (offset < layer.size());
  }
  return m;
}

std::string_view ChunkBytes(const KvEntry& entry, const ChunkInfo& chunk) {
  return std::string_view(entry.layers[chunk.layer]).substr(chunk.offset, chunk.size);
}

std::string EncodeManifest(const Manifest& manifest) {
  std::string out(kMagic, kMagicSize);
  PutLe<uint64_t>(out, manifest.generation);
  const std::string header = manifest.header.SerializeAsString();
  PutLe<uint32_t>(out, static_cast<uint32_t>(header.size()));
  out += header;
  PutLe<uint32_t>(out, static_cast<uint32_t>(manifest.chunks.size()));
  for (const ChunkInfo& c : manifest.chunks) {
    PutLe<uint32_t>(out, c.layer);
    PutLe<uint64_t>(out, c.size);
    PutLe<uint64_t>(out, c.checksum);
  }
  PutLe<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes) {
  if (bytes.size() < kMagicSize + sizeof(uint64_t) || bytes.substr(0, kMagicSize) != kMagic) {
    return Malformed("bad magic");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - sizeof(uint64_t));
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + body.size(), sizeof(stored));
  if (XXH3_64bits(body.data(), body.size()) != stored) return Malformed("checksum mismatch");

  Reader r(body);
  std::string_view skip;
  r.GetBytes(kMagicSize, skip);
  Manifest m;
  uint32_t header_len = 0;
  std::string_view header;
  if (!r.Get(m.generation) || !r.Get(header_len) || !r.GetBytes(header_len, header)) {
    return Malformed("truncated header");
  }
  if (!m.header.ParseFromArray(header.data(), static_cast<int>(header.size()))) {
    return Malformed("unparsable entry header");
  }
  uint32_t n = 0;
  if (!r.Get(n)) return Malformed("truncated chunk list");
  std::vector<uint64_t> layer_fill(m.header.layer_bytes_size(), 0);
  m.chunks.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    ChunkInfo c;
    if (!r.Get(c.layer) || !r.Get(c.size) || !r.Get(c.checksum)) return Malformed("truncated chunk list");
    if (c.layer >= layer_fill.size()) return Malformed("chunk names a layer the header does not have");
    c.offset = layer_fill[c.layer];
    layer_fill[c.layer] += c.size;
    m.chunks.push_back(c);
  }
  if (r.pos() != body.size()) return Malformed("trailing bytes");
  for (size_t l = 0; l < layer_fill.size(); ++l) {
    if (static_cast<int64_t>(layer_fill[l]) != m.header.layer_bytes(static_cast<int>(l))) {
      return Malformed(absl::StrCat("chunks of layer ", l, " do not add up to its size"));
    }
  }
  return m;
}

}  // namespace kvlab
