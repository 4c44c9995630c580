// kvlab-compressor: applies KV policies to entries streamed to it.
//
//   kvlab-compressor [--listen=127.0.0.1:7102] [--max_entry_mb=4096] [common server flags]
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/large_buffer_heap.h"
#include "services/common/server_flags.h"
#include "services/compressor/grpc_server.h"

ABSL_FLAG(int64_t, max_entry_mb, 4096, "largest input entry accepted (MiB)");

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  kvlab::BlockTerminationSignals();
  absl::SetProgramUsageMessage("kvlab-compressor: compresses KV entries over gRPC (kvlab.v1.CompressorService)");
  absl::ParseCommandLine(argc, argv);
  auto options = kvlab::ServerSetupFromFlags("compressor", "127.0.0.1:7102");
  if (!options.ok()) {
    std::fprintf(stderr, "kvlab-compressor: %s\n", options.status().ToString().c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_entry_mb) <= 0) {
    std::fprintf(stderr, "kvlab-compressor: --max_entry_mb must be positive\n");
    return 2;
  }
  auto compressor = kvlab::NewLocalCompressor();
  kvlab::CompressorServiceOptions service_options;
  service_options.max_entry_bytes = absl::GetFlag(FLAGS_max_entry_mb) << 20;
  kvlab::CompressorGrpcService service(compressor.get(), kvlab::Authenticator(options->auth_token),
                                       service_options);
  return kvlab::ServeUntilSignal("compressor", *options, {&service});
}
