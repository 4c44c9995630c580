#include "services/kvstore/grpc_admin_client.h"

#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<std::unique_ptr<KvStoreAdminClient>> KvStoreAdminClient::Create(const ClientOptions& options) {
  KVLAB_ASSIGN_OR_RETURN(std::unique_ptr<ClientChannel> channel, ClientChannel::Create(options));
  return std::unique_ptr<KvStoreAdminClient>(new KvStoreAdminClient(std::move(channel)));
}

KvStoreAdminClient::KvStoreAdminClient(std::unique_ptr<ClientChannel> channel)
    : channel_(std::move(channel)), stub_(v1::KvStoreService::NewStub(channel_->channel())) {}

template <typename Request, typename Response, typename Rpc>
absl::StatusOr<Response> KvStoreAdminClient::Call(const Request& request, Rpc rpc) {
  grpc::ClientContext context;
  KVLAB_RETURN_IF_ERROR(channel_->Prepare(&context));
  Response response;
  grpc::Status status = ((*stub_).*rpc)(&context, request, &response);
  if (!status.ok()) return channel_->Error(status);
  return response;
}

absl::Status KvStoreAdminClient::Pin(const std::string& id) {
  v1::PinRequest request;
  request.set_id(id);
  return Call<v1::PinRequest, v1::PinResponse>(request, &v1::KvStoreService::StubInterface::Pin).status();
}

absl::Status KvStoreAdminClient::Unpin(const std::string& id) {
  v1::UnpinRequest request;
  request.set_id(id);
  return Call<v1::UnpinRequest, v1::UnpinResponse>(request, &v1::KvStoreService::StubInterface::Unpin).status();
}

absl::StatusOr<uint64_t> KvStoreAdminClient::Lease(const std::string& id, int64_t ttl_ms) {
  v1::LeaseRequest request;
  request.set_id(id);
  request.set_ttl_ms(ttl_ms);
  KVLAB_ASSIGN_OR_RETURN(v1::LeaseResponse response, (Call<v1::LeaseRequest, v1::LeaseResponse>(
                                                          request, &v1::KvStoreService::StubInterface::Lease)));
  return response.lease_id();
}

absl::Status KvStoreAdminClient::Release(uint64_t lease_id) {
  v1::ReleaseRequest request;
  request.set_lease_id(lease_id);
  return Call<v1::ReleaseRequest, v1::ReleaseResponse>(request, &v1::KvStoreService::StubInterface::Release)
      .status();
}

absl::StatusOr<v1::TiersResponse> KvStoreAdminClient::Tiers() {
  return Call<v1::TiersRequest, v1::TiersResponse>(v1::TiersRequest(), &v1::KvStoreService::StubInterface::Tiers);
}

absl::Status KvStoreAdminClient::Verify(const std::string& id) {
  v1::VerifyRequest request;
  request.set_id(id);
  return Call<v1::VerifyRequest, v1::VerifyResponse>(request, &v1::KvStoreService::StubInterface::Verify).status();
}

}  // namespace kvlab
