#include "services/common/chunk_stream_reader.h"

#include <algorithm>
#include <climits>

#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/rpc_method.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/proto_buffer_reader.h"

namespace kvlab {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

constexpr uint32_t kChunkLayerTag =
    WireFormatLite::MakeTag(v1::KvChunk::kLayerFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
constexpr uint32_t kLayerTag =
    WireFormatLite::MakeTag(v1::KvLayerChunk::kLayerFieldNumber, WireFormatLite::WIRETYPE_VARINT);
constexpr uint32_t kOffsetTag =
    WireFormatLite::MakeTag(v1::KvLayerChunk::kOffsetFieldNumber, WireFormatLite::WIRETYPE_VARINT);
constexpr uint32_t kDataTag =
    WireFormatLite::MakeTag(v1::KvLayerChunk::kDataFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);

absl::Status Malformed() { return absl::InvalidArgumentError("entry stream: a chunk is not a valid KvChunk"); }

absl::Status OutOfOrder() {
  return absl::InvalidArgumentError("entry stream: a layer chunk has fields after its data");
}

// Appends the next `size` bytes of `in` to `dst`, piece by piece from the
// stream's own buffers.
absl::Status AppendRaw(CodedInputStream* in, uint32_t size, std::string* dst) {
  while (size > 0) {
    const void* data = nullptr;
    int available = 0;
    if (!in->GetDirectBufferPointer(&data, &available) || available <= 0) return Malformed();
    const uint32_t n = std::min<uint32_t>(size, static_cast<uint32_t>(available));
    dst->append(static_cast<const char*>(data), n);
    in->Skip(static_cast<int>(n));
    size -= n;
  }
  return absl::OkStatus();
}

absl::Status ParseAndAdd(grpc::ByteBuffer* buffer, EntryAssembler* assembler) {
  grpc::ProtoBufferReader stream(buffer);
  v1::KvChunk chunk;
  if (!stream.status().ok() || !chunk.ParseFromZeroCopyStream(&stream)) return Malformed();
  return assembler->Add(chunk);
}

}  // namespace

absl::Status AddSerializedChunk(grpc::ByteBuffer* buffer, EntryAssembler* assembler) {
  grpc::ProtoBufferReader stream(buffer);
  if (!stream.status().ok()) return Malformed();
  CodedInputStream in(&stream);
  in.SetTotalBytesLimit(INT_MAX);
  if (in.ReadTag() != kChunkLayerTag) return ParseAndAdd(buffer, assembler);
  uint32_t length = 0;
  if (!in.ReadVarint32(&length)) return Malformed();
  const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
  uint64_t layer = 0, offset = 0;
  bool have_data = false;
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (tag == kLayerTag || tag == kOffsetTag) {
      // kvlab writes data last; a field after it would move bytes already placed.
      if (have_data) return OutOfOrder();
      if (!in.ReadVarint64(tag == kLayerTag ? &layer : &offset)) return Malformed();
    } else if (tag == kDataTag) {
      if (have_data) return OutOfOrder();
      uint32_t size = 0;
      if (!in.ReadVarint32(&size) || size > static_cast<uint32_t>(INT_MAX)) return Malformed();
      KVLAB_ASSIGN_OR_RETURN(std::string * dst, assembler->AcceptLayerBytes(static_cast<int32_t>(layer),
                                                                            static_cast<int64_t>(offset), size));
      KVLAB_RETURN_IF_ERROR(AppendRaw(&in, size, dst));
      have_data = true;
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return Malformed();
    }
  }
  if (!in.ConsumedEntireMessage()) return Malformed();
  in.PopLimit(limit);
  if (in.ReadTag() != 0) return OutOfOrder();
  if (!have_data) {
    return assembler->AcceptLayerBytes(static_cast<int32_t>(layer), static_cast<int64_t>(offset), 0).status();
  }
  return absl::OkStatus();
}

std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> StartRawChunkStream(grpc::Channel* channel,
                                                                           const char* method,
                                                                           grpc::ClientContext* context,
                                                                           const google::protobuf::Message& request) {
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::SERVER_STREAMING);
  return std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>>(
      grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(channel, rpc, context, request));
}

}  // namespace kvlab
