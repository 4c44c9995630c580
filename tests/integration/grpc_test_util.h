// Helpers for the integration tests that run kvlab servers on loopback.
#ifndef KVLAB_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_
#define KVLAB_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kvcache/kv_entry.h"
#include "tests/util/free_port.h"

namespace kvlab::testing {

inline int UnusedPort() { return FreeLoopbackPort(); }

// A sealed entry of `layers` layers of `layer_bytes` random bytes each (the
// payload is opaque to the store and the streams).
inline KvEntry SyntheticEntry(int64_t layers, int64_t layer_bytes, uint32_t seed = 1) {
  KvEntry e;
  e.header.set_format_version(kKvEntryFormatVersion);
  e.header.set_model_fingerprint(std::string(32, 'a'));
  e.header.set_method_spec("prefill=dense;kv=full;decode=none;prompt=none");
  e.header.set_codec("f32");
  e.header.set_num_layers(layers);
  e.header.set_num_kv_heads(1);
  e.header.set_head_dim(64);
  for (int i = 0; i < 16; ++i) e.header.add_tokens(static_cast<int32_t>(seed * 100 + i));
  e.header.set_next_position(16);
  for (int64_t l = 0; l < layers; ++l) e.header.add_kept(16);
  std::mt19937_64 rng(seed);
  for (int64_t l = 0; l < layers; ++l) {
    std::string bytes(static_cast<size_t>(layer_bytes), '\0');
    for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      const uint64_t r = rng();
      std::memcpy(bytes.data() + i, &r, 8);
    }
    e.layers.push_back(std::move(bytes));
  }
  SealEntry(e);
  return e;
}

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_INTEGRATION_GRPC_TEST_UTIL_H_
