#include "services/kvstore/grpc_client.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kvcache/entry_stream.h"
#include "kvlab/v1/kvstore.grpc.pb.h"
#include "services/common/chunk_stream_reader.h"

namespace kvlab {
namespace {

class KvStoreClient : public KvStore {
 public:
  explicit KvStoreClient(std::unique_ptr<ClientChannel> channel)
      : channel_(std::move(channel)), stub_(v1::KvStoreService::NewStub(channel_->channel())) {}

  absl::StatusOr<v1::PutResponse> Put(KvEntry entry, const v1::PutOptions& options) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, options.request_id()));
    v1::PutResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> writer = stub_->Put(&context, &response);
    v1::PutRequest request;
    *request.mutable_options() = options;
    bool sent = writer->Write(request);
    if (sent) {
      sent = ForEachChunk(
          entry,
          [&](const v1::KvChunk& chunk) {
            *request.mutable_chunk() = chunk;
            return writer->Write(request);
          },
          channel_->options().max_chunk_bytes);
    }
    // When a write failed the server ended the call: Finish has its reason.
    if (sent) writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok()) return channel_->Error(status);
    if (!sent) return absl::InternalError(absl::StrCat(channel_->options().peer_name, " closed the put stream early"));
    return response;
  }

  absl::StatusOr<std::shared_ptr<const KvEntry>> Get(const std::string& id) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::GetRequest request;
    request.set_id(id);
    std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader =
        StartRawChunkStream(channel_->channel().get(), "/kvlab.v1.KvStoreService/Get", &context, request);
    EntryAssembler assembler;
    absl::Status stream_error;
    grpc::ByteBuffer chunk;
    while (reader->Read(&chunk)) {
      if (!stream_error.ok()) continue;  // drain after TryCancel
      stream_error = AddSerializedChunk(&chunk, &assembler);
      if (!stream_error.ok()) context.TryCancel();
    }
    grpc::Status status = reader->Finish();
    if (!stream_error.ok()) {
      return absl::Status(stream_error.code(), absl::StrCat("entry '", id, "' from ", channel_->options().peer_name,
                                                            " at ", channel_->options().address, ": ",
                                                            stream_error.message()));
    }
    if (!status.ok()) return channel_->Error(status);
    absl::StatusOr<KvEntry> entry = assembler.Finish();
    if (!entry.ok()) {
      return absl::Status(entry.status().code(),
                          absl::StrCat("entry '", id, "' received from ", channel_->options().peer_name, " at ",
                                       channel_->options().address, " is not intact: ", entry.status().message()));
    }
    return std::make_shared<const KvEntry>(std::move(*entry));
  }

  absl::StatusOr<v1::LookupResponse> Lookup(const v1::LookupRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context, request.request_id()));
    v1::LookupResponse response;
    grpc::Status status = stub_->Lookup(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::StatusOr<v1::EntryInfo> Stat(const std::string& id) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::StatRequest request;
    request.set_id(id);
    v1::EntryInfo response;
    grpc::Status status = stub_->Stat(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::ListResponse response;
    grpc::Status status = stub_->List(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return response;
  }

  absl::Status Delete(const std::string& id) override {
    grpc::ClientContext context;
    KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
    v1::DeleteRequest request;
    request.set_id(id);
    v1::DeleteResponse response;
    grpc::Status status = stub_->Delete(&context, request, &response);
    if (!status.ok()) return channel_->Error(status);
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<ClientChannel> channel_;
  std::unique_ptr<v1::KvStoreService::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> NewKvStoreClient(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<KvStore>(new KvStoreClient(std::move(channel)));
}

}  // namespace kvlab
