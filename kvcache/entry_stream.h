// Moving a KvEntry as a stream of kvlab.v1.KvChunk messages: the header
// first, then each layer in order in pieces of at most kMaxChunkBytes.
#ifndef KVLAB_KVCACHE_ENTRY_STREAM_H_
#define KVLAB_KVCACHE_ENTRY_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xxhash.h>

#include "absl/status/statusor.h"
#include "kvcache/kv_entry.h"

namespace kvlab {

inline constexpr int64_t kMaxChunkBytes = 4 << 20;  // 4 MiB

// One layer chunk of an entry stream: `size` bytes of layer `layer` from
// byte `offset` on.
struct LayerPiece {
  int32_t layer = 0;
  int64_t offset = 0;
  int64_t size = 0;
};

// The layer chunks of `entry` in stream order, each at most `max_chunk_bytes`
// (> 0) of layer data; an empty layer still has one (empty) chunk.
std::vector<LayerPiece> LayerPieces(const KvEntry& entry, int64_t max_chunk_bytes = kMaxChunkBytes);

// The serialized kvlab.v1.KvChunk for `piece` up to its data: these bytes
// followed by the piece's `size` layer bytes are exactly the message
// ForEachChunk emits for it. Lets a transport send layer data by reference.
std::string LayerChunkPrefix(const LayerPiece& piece);

// Calls `emit` for the header chunk and then every layer chunk (each at most
// `max_chunk_bytes` of layer data). Stops early and returns false when emit
// returns false (e.g. the peer went away); returns true otherwise.
bool ForEachChunk(const KvEntry& entry, const std::function<bool(const v1::KvChunk&)>& emit,
                  int64_t max_chunk_bytes = kMaxChunkBytes);

// Reassembles an entry from chunks received in order. Not thread-safe.
class EntryAssembler {
 public:
  // Consumes one chunk. INVALID_ARGUMENT for chunks out of order (layer data
  // before the header, a second header, a gap or overlap in a layer, a layer
  // larger than its header says, more layers than the header has); DATA_LOSS
  // when the chunk starts a layer after one that does not match its checksum
  // (each layer is checked as soon as the next one begins).
  absl::Status Add(const v1::KvChunk& chunk);
  // Accepts the next `size` bytes of `layer` starting at `offset` (the same
  // order checks as Add) and returns the layer's bytes, to which the caller
  // must append exactly `size` bytes before the next call. Lets a transport
  // copy chunk data straight from its receive buffers into the entry. The
  // same errors as Add.
  absl::StatusOr<std::string*> AcceptLayerBytes(int64_t layer, int64_t offset, int64_t size);
  // True once a header has been received.
  bool started() const { return entry_.has_value(); }
  // Returns the complete entry after verifying every layer against its
  // checksum: INVALID_ARGUMENT when the stream ended early, DATA_LOSS on a
  // checksum mismatch.
  absl::StatusOr<KvEntry> Finish();

 private:
  // Hashes the bytes appended to the current layer since the last call
  // (still in cache: the caller has just copied them).
  void HashNewBytes();
  // Compares the current layer's size and streamed hash with the header,
  // then starts a fresh hash for the next layer.
  absl::Status CheckCurrentLayer();

  struct HashStateDeleter {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
  };

  std::optional<KvEntry> entry_;
  int64_t layer_ = 0;   // the layer currently being filled
  int64_t hashed_ = 0;  // bytes of that layer in hash_
  std::unique_ptr<XXH3_state_t, HashStateDeleter> hash_;
};

}  // namespace kvlab

#endif  // KVLAB_KVCACHE_ENTRY_STREAM_H_
