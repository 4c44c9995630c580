#include "engine/fingerprint.h"

namespace kvlab {

Hash128 ComputeFingerprint(const Checkpoint& checkpoint) {
  Hasher h;
  h.AddString("kvlab-model-fingerprint-v1");
  h.AddString(checkpoint.config().Canonical());
  h.AddU64(checkpoint.tensors().size());
  for (const auto& [name, view] : checkpoint.tensors()) {
    h.AddString(name);
    h.AddString(DTypeName(view->dtype));
    h.AddU64(view->shape.size());
    for (int64_t d : view->shape) h.AddU64(static_cast<uint64_t>(d));
    h.AddBytes(view->data);
    checkpoint.Release(*view);
  }
  return h.Finish();
}

}  // namespace kvlab
