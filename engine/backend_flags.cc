#include "engine/backend_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, backend, "cpu", "compute backend: cpu, cuda, cuda:N, or auto (CUDA when a device is visible)");
ABSL_FLAG(std::string, kv_dtype, "", "KV cache element type: f32, f16 or bf16 (default: f32 on cpu, bf16 on cuda)");
ABSL_FLAG(std::string, weights_dtype, "",
          "weight matrix element type (default: f32 on cpu, the checkpoint's dtype on cuda)");

namespace kvlab {

absl::StatusOr<std::unique_ptr<Backend>> BackendFromFlags() {
  auto backend = NewBackend(absl::GetFlag(FLAGS_backend), absl::GetFlag(FLAGS_kv_dtype),
                            absl::GetFlag(FLAGS_weights_dtype));
  if (!backend.ok()) {
    return absl::Status(backend.status().code(),
                        absl::StrCat("--backend/--kv_dtype/--weights_dtype: ", backend.status().message()));
  }
  return backend;
}

std::vector<std::string> BackendFlagArgs() {
  return {absl::StrCat("--backend=", absl::GetFlag(FLAGS_backend)),
          absl::StrCat("--kv_dtype=", absl::GetFlag(FLAGS_kv_dtype)),
          absl::StrCat("--weights_dtype=", absl::GetFlag(FLAGS_weights_dtype))};
}

}  // namespace kvlab
