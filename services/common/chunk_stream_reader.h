// Receiving an entry stream (kvlab.v1.KvChunk messages) without the protobuf
// detour: a layer chunk's bytes are copied once, straight from gRPC's receive
// buffers into the entry being assembled (a parsed KvChunk would copy them
// into a temporary string first, and the assembler again into the entry).
#ifndef KVLAB_SERVICES_COMMON_CHUNK_STREAM_READER_H_
#define KVLAB_SERVICES_COMMON_CHUNK_STREAM_READER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "kvcache/entry_stream.h"

namespace kvlab {

// Feeds one serialized KvChunk, as received, to `assembler`. Header chunks go
// through the regular parser. INVALID_ARGUMENT for bytes that are not a
// KvChunk, for a layer chunk with fields after its data (kvlab writes them in
// field order), and whatever the assembler rejects.
absl::Status AddSerializedChunk(grpc::ByteBuffer* buffer, EntryAssembler* assembler);

// Starts the server-streaming call `method` (e.g. "/kvlab.v1.KvStoreService/Get")
// whose responses are KvChunk messages, returning them unparsed for
// AddSerializedChunk. Uses the same reader type as generated stubs.
std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> StartRawChunkStream(grpc::Channel* channel,
                                                                           const char* method,
                                                                           grpc::ClientContext* context,
                                                                           const google::protobuf::Message& request);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_CHUNK_STREAM_READER_H_
