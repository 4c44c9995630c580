#include "services/compressor/grpc_client.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/entry_stream.h"
#include "kvlab/v1/compressor.grpc.pb.h"
#include "services/common/request_context.h"

namespace kvlab {
namespace {

class CompressorClient : public Compressor {
 public:
  explicit CompressorClient(std::unique_ptr<ClientChannel> channel)
      : channel_(std::move(channel)), stub_(v1::CompressorService::NewStub(channel_->channel())) {}

  absl::StatusOr<KvEntry> Compress(CompressInput input, const std::string& method_spec) override {
    const std::string request_id = NewRequestId();
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, request_id));
    auto stream = stub_->Compress(&context);
    v1::CompressRequest request;
    request.mutable_start()->set_request_id(request_id);
    request.mutable_start()->set_method_spec(method_spec);
    bool sent = stream->Write(request);
    if (sent) {
      sent = ForEachChunk(
          input.entry,
          [&](const v1::KvChunk& chunk) {
            *request.mutable_entry() = chunk;
            return stream->Write(request);
          },
          channel_->options().max_chunk_bytes);
    }
    for (size_t i = 0; sent && i < input.observations.size(); ++i) {
      *request.mutable_observation() = std::move(input.observations[i]);
      sent = stream->Write(request);
    }
    if (sent) stream->WritesDone();
    request.Clear();
    input.entry.layers.clear();

    EntryAssembler assembler;
    absl::Status stream_error;
    v1::KvChunk chunk;
    while (stream->Read(&chunk)) {
      if (!stream_error.ok()) continue;
      stream_error = assembler.Add(chunk);
      if (!stream_error.ok()) context.TryCancel();
    }
    grpc::Status status = stream->Finish();
    const std::string peer = absl::StrCat(channel_->options().peer_name, " at ", channel_->options().address);
    if (!stream_error.ok()) {
      return absl::Status(stream_error.code(), absl::StrCat("compressed entry from ", peer, ": ", stream_error.message()));
    }
    if (!status.ok()) return channel_->Error(status);
    absl::StatusOr<KvEntry> entry = assembler.Finish();
    if (!entry.ok()) {
      return absl::Status(entry.status().code(), absl::StrCat("compressed entry received from ", peer,
                                                              " is not intact: ", entry.status().message()));
    }
    return std::move(*entry);
  }

 private:
  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::CompressorService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Compressor>> NewCompressorClient(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<Compressor>(new CompressorClient(std::move(channel)));
}

}  // namespace kvlab
