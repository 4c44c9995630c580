// Resolving kvlab.v1.Content (text or token ids) to validated token ids.
#ifndef KVLAB_SERVICES_COMMON_CONTENT_H_
#define KVLAB_SERVICES_COMMON_CONTENT_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "kvlab/v1/common.pb.h"

namespace kvlab {

// Token ids of `content`: text is encoded without special tokens; ids are
// checked against [0, vocab_size). INVALID_ARGUMENT naming `what` when the
// content is empty, an id is out of range, or text arrives without a
// tokenizer.
absl::StatusOr<std::vector<int32_t>> ResolveContent(const v1::Content& content, const Tokenizer* tokenizer,
                                                    int64_t vocab_size, const char* what);

}  // namespace kvlab

#endif  // KVLAB_SERVICES_COMMON_CONTENT_H_
