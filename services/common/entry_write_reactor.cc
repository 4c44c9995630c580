#include "services/common/entry_write_reactor.h"

#include <string>
#include <utility>
#include <vector>

#include "kvcache/entry_stream.h"

namespace kvlab {
namespace {

using EntryRef = std::shared_ptr<const KvEntry>;

void ReleaseEntry(void* ref) { delete static_cast<EntryRef*>(ref); }

class EntryWriteReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  EntryWriteReactor(std::unique_ptr<ServerCall> call, absl::StatusOr<EntryRef> entry, int64_t max_chunk_bytes)
      : call_(std::move(call)) {
    if (!entry.ok()) {
      End(entry.status());
      return;
    }
    entry_ = *std::move(entry);
    pieces_ = LayerPieces(*entry_, max_chunk_bytes);
    v1::KvChunk header;
    *header.mutable_header() = entry_->header;
    grpc::Slice slice(header.SerializeAsString());
    buffer_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&buffer_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(absl::CancelledError("get: the client went away mid-stream"));
      return;
    }
    if (next_ == pieces_.size()) {
      End(absl::OkStatus());
      return;
    }
    const LayerPiece& piece = pieces_[next_++];
    grpc::Slice slices[2] = {grpc::Slice(LayerChunkPrefix(piece)), grpc::Slice()};
    size_t count = 1;
    if (piece.size > 0) {
      // The slice holds its own reference to the entry: the transport may
      // keep it after this write completes.
      char* data = const_cast<char*>(entry_->layers[piece.layer].data()) + piece.offset;
      slices[count++] = grpc::Slice(data, static_cast<size_t>(piece.size), &ReleaseEntry, new EntryRef(entry_));
    }
    buffer_ = grpc::ByteBuffer(slices, count);
    StartWrite(&buffer_);
  }

  void OnDone() override { delete this; }

 private:
  void End(const absl::Status& status) { Finish(call_->Finish(status)); }

  std::unique_ptr<ServerCall> call_;
  EntryRef entry_;
  std::vector<LayerPiece> pieces_;
  size_t next_ = 0;
  grpc::ByteBuffer buffer_;  // the message being written
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* NewEntryWriteReactor(std::unique_ptr<ServerCall> call,
                                                                  absl::StatusOr<EntryRef> entry,
                                                                  int64_t max_chunk_bytes) {
  return new EntryWriteReactor(std::move(call), std::move(entry), max_chunk_bytes);
}

}  // namespace kvlab
