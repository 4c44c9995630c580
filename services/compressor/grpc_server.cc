#include "services/compressor/grpc_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/method_spec.h"
#include "services/common/server_call.h"

namespace kvlab {

CompressorGrpcService::CompressorGrpcService(Compressor* compressor, Authenticator auth,
                                             const CompressorServiceOptions& options)
    : compressor_(*compressor), auth_(std::move(auth)), options_(options) {}

grpc::Status CompressorGrpcService::Compress(grpc::ServerContext* context,
                                             grpc::ServerReaderWriter<v1::KvChunk, v1::CompressRequest>* stream) {
  v1::CompressRequest request;
  // The request id travels in `start`; read it before the call is named.
  const bool has_first = stream->Read(&request);
  ServerCall call(context, auth_, "compressor.Compress", has_first ? request.start().request_id() : "");
  return call.Run([&]() -> absl::Status {
    if (!has_first || !request.has_start()) {
      return absl::InvalidArgumentError("compress stream must begin with a start message");
    }
    const std::string method_spec = request.start().method_spec();
    KVLAB_RETURN_IF_ERROR(ParseMethodSpec(method_spec).status());
    CompressInput input;
    EntryAssembler assembler;
    while (stream->Read(&request)) {
      if (request.has_entry()) {
        if (!input.observations.empty()) {
          return absl::InvalidArgumentError("compress stream: entry chunks must come before observations");
        }
        const bool had_header = assembler.started();
        KVLAB_RETURN_IF_ERROR(assembler.Add(request.entry()));
        if (!had_header) {
          int64_t declared = 0;
          for (int64_t b : request.entry().header().layer_bytes()) declared += std::max<int64_t>(b, 0);
          if (declared > options_.max_entry_bytes) {
            return absl::ResourceExhaustedError(absl::StrCat("entry of ", declared,
                                                             " bytes exceeds this compressor's limit of ",
                                                             options_.max_entry_bytes, " bytes (--max_entry_mb)"));
          }
        }
      } else if (request.has_observation()) {
        input.observations.push_back(std::move(*request.mutable_observation()));
      } else {
        return absl::InvalidArgumentError("compress stream: a second start or an empty message arrived");
      }
    }
    KVLAB_ASSIGN_OR_RETURN(input.entry, assembler.Finish());
    KVLAB_ASSIGN_OR_RETURN(KvEntry compressed, compressor_.Compress(std::move(input), method_spec));
    const bool sent = ForEachChunk(
        compressed, [&](const v1::KvChunk& chunk) { return stream->Write(chunk); }, options_.max_chunk_bytes);
    if (!sent) return absl::CancelledError("compress: the client went away mid-stream");
    return absl::OkStatus();
  });
}

}  // namespace kvlab
