#include "kvcache/entry_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "common/status_macros.h"

namespace kvlab {

std::vector<LayerPiece> LayerPieces(const KvEntry& entry, int64_t max_chunk_bytes) {
  std::vector<LayerPiece> pieces;
  for (size_t l = 0; l < entry.layers.size(); ++l) {
    const int64_t size = static_cast<int64_t>(entry.layers[l].size());
    int64_t offset = 0;
    do {
      const int64_t n = std::min<int64_t>(max_chunk_bytes, size - offset);
      pieces.push_back({static_cast<int32_t>(l), offset, n});
      offset += n;
    } while (offset < size);
  }
  return pieces;
}

namespace {

void AppendVarint(std::string& out, uint64_t value) {
  uint8_t bytes[10];  // a varint of 64 bits takes at most 10 bytes
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, bytes);
  out.append(reinterpret_cast<const char*>(bytes), static_cast<size_t>(end - bytes));
}

}  // namespace

std::string LayerChunkPrefix(const LayerPiece& piece) {
  using google::protobuf::internal::WireFormatLite;
  // KvLayerChunk's fields but the data, then the data field's tag and length.
  // The data field is written even when empty, as a message whose data was
  // set to an empty string is not: both parse to the same chunk.
  v1::KvLayerChunk fields;
  fields.set_layer(piece.layer);
  fields.set_offset(piece.offset);
  std::string inner = fields.SerializeAsString();
  AppendVarint(inner, WireFormatLite::MakeTag(v1::KvLayerChunk::kDataFieldNumber,
                                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  AppendVarint(inner, static_cast<uint64_t>(piece.size));
  // KvChunk.layer's tag and length around it.
  std::string out;
  AppendVarint(out, WireFormatLite::MakeTag(v1::KvChunk::kLayerFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  AppendVarint(out, inner.size() + static_cast<uint64_t>(piece.size));
  return out + inner;
}

bool ForEachChunk(const KvEntry& entry, const std::function<bool(const v1::KvChunk&)>& emit,
                  int64_t max_chunk_bytes) {
  v1::KvChunk chunk;
  *chunk.mutable_header() = entry.header;
  if (!emit(chunk)) return false;
  // One message reused for every chunk: its data buffer is allocated once.
  v1::KvChunk c;
  v1::KvLayerChunk* lc = c.mutable_layer();
  for (const LayerPiece& piece : LayerPieces(entry, max_chunk_bytes)) {
    lc->set_layer(piece.layer);
    lc->set_offset(piece.offset);
    lc->mutable_data()->assign(entry.layers[piece.layer].data() + piece.offset, piece.size);
    if (!emit(c)) return false;
  }
  return true;
}

namespace {

// Far above any real entry (a 405B model's bf16 KV at 128K tokens is ~60 GB).
constexpr int64_t kMaxStreamedEntryBytes = int64_t{1} << 40;
// The most a layer's buffer is sized ahead of its bytes.
constexpr int64_t kMaxLayerReserve = int64_t{256} << 20;

}  // namespace

absl::Status EntryAssembler::Add(const v1::KvChunk& chunk) {
  if (chunk.has_header()) {
    if (entry_) return absl::InvalidArgumentError("entry stream: a second header arrived");
    const v1::KvEntryHeader& h = chunk.header();
    if (h.num_layers() < 0 || h.num_layers() > 4096 || h.layer_bytes_size() != h.num_layers() ||
        h.layer_checksums_size() != h.num_layers()) {
      return absl::InvalidArgumentError("entry stream: header layer counts are inconsistent");
    }
    int64_t total = 0;
    for (int64_t b : h.layer_bytes()) {
      if (b < 0) return absl::InvalidArgumentError("entry stream: the header declares a negative layer size");
      if (b > kMaxStreamedEntryBytes - total) {
        return absl::InvalidArgumentError(absl::StrCat("entry stream: the header declares more than ",
                                                       kMaxStreamedEntryBytes, " bytes of layers"));
      }
      total += b;
    }
    entry_.emplace();
    entry_->header = h;
    entry_->layers.resize(h.num_layers());
    return absl::OkStatus();
  }
  if (!chunk.has_layer()) return absl::InvalidArgumentError("entry stream: empty chunk");
  const v1::KvLayerChunk& lc = chunk.layer();
  KVLAB_ASSIGN_OR_RETURN(std::string * dst,
                         AcceptLayerBytes(lc.layer(), lc.offset(), static_cast<int64_t>(lc.data().size())));
  dst->append(lc.data());
  return absl::OkStatus();
}

absl::StatusOr<std::string*> EntryAssembler::AcceptLayerBytes(int64_t layer, int64_t offset, int64_t size) {
  if (!entry_) return absl::InvalidArgumentError("entry stream: layer data arrived before the header");
  const int64_t layers = static_cast<int64_t>(entry_->layers.size());
  HashNewBytes();
  // Advance past layers that are complete, checking each one's hash.
  while (layer_ < layers && static_cast<int64_t>(entry_->layers[layer_].size()) == entry_->header.layer_bytes(layer_) &&
         layer > layer_) {
    KVLAB_RETURN_IF_ERROR(CheckCurrentLayer());
    ++layer_;
  }
  if (layer != layer_ || layer_ >= layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry stream: chunk of layer ", layer, " arrived while layer ", layer_, " was expected"));
  }
  const int64_t declared = entry_->header.layer_bytes(layer_);
  std::string& dst = entry_->layers[layer_];
  if (offset != static_cast<int64_t>(dst.size())) {
    return absl::InvalidArgumentError(absl::StrCat("entry stream: layer ", layer_, " chunk at offset ", offset,
                                                   " but ", dst.size(), " bytes were received"));
  }
  if (size < 0 || size > declared - offset) {
    return absl::InvalidArgumentError(absl::StrCat("entry stream: layer ", layer_, " exceeds its declared size"));
  }
  // Memory follows the bytes that arrive, not what the header promises.
  if (dst.empty()) dst.reserve(std::min<int64_t>(declared, kMaxLayerReserve));
  return &dst;
}

absl::StatusOr<KvEntry> EntryAssembler::Finish() {
  if (!entry_) return absl::InvalidArgumentError("entry stream: no header was received");
  for (int64_t l = 0; l < static_cast<int64_t>(entry_->layers.size()); ++l) {
    if (static_cast<int64_t>(entry_->layers[l].size()) != entry_->header.layer_bytes(l)) {
      return absl::InvalidArgumentError(absl::StrCat("entry stream ended early: layer ", l, " has ",
                                                     entry_->layers[l].size(), " of ",
                                                     entry_->header.layer_bytes(l), " bytes"));
    }
  }
  if (layer_ < static_cast<int64_t>(entry_->layers.size())) {
    KVLAB_RETURN_IF_ERROR(CheckCurrentLayer());
    ++layer_;
  }
  KVLAB_RETURN_IF_ERROR(VerifyEntry(*entry_, layer_));  // header; layers before layer_ are checked
  KvEntry out = std::move(*entry_);
  entry_.reset();
  layer_ = 0;
  return out;
}

void EntryAssembler::HashNewBytes() {
  if (!entry_ || layer_ >= static_cast<int64_t>(entry_->layers.size())) return;
  if (hash_ == nullptr) {
    hash_.reset(XXH3_createState());
    XXH3_64bits_reset(hash_.get());
  }
  const std::string& bytes = entry_->layers[layer_];
  XXH3_64bits_update(hash_.get(), bytes.data() + hashed_, bytes.size() - static_cast<size_t>(hashed_));
  hashed_ = static_cast<int64_t>(bytes.size());
}

absl::Status EntryAssembler::CheckCurrentLayer() {
  HashNewBytes();  // creates the state for an empty layer
  const v1::KvEntryHeader& h = entry_->header;  // counts checked on arrival
  const bool ok = static_cast<int64_t>(entry_->layers[layer_].size()) == h.layer_bytes(layer_) &&
                  XXH3_64bits_digest(hash_.get()) == h.layer_checksums(layer_);
  XXH3_64bits_reset(hash_.get());
  hashed_ = 0;
  if (!ok) return LayerChecksumMismatch(layer_);
  return absl::OkStatus();
}

}  // namespace kvlab
