#include "services/common/content.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvlab {

absl::StatusOr<std::vector<int32_t>> ResolveContent(const v1::Content& content, const Tokenizer* tokenizer,
                                                    int64_t vocab_size, const char* what) {
  std::vector<int32_t> ids;
  if (content.has_tokens()) {
    ids.assign(content.tokens().ids().begin(), content.tokens().ids().end());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": token id ", ids[i], " at index ", i,
                                                       " is outside the vocabulary [0, ", vocab_size, ")"));
      }
    }
  } else if (content.kind_case() == v1::Content::kText) {
    if (tokenizer == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": text given but this server has no tokenizer"));
    }
    KVLAB_ASSIGN_OR_RETURN(ids, tokenizer->Encode(content.text(), /*add_special_tokens=*/false));
  }
  if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  return ids;
}

}  // namespace kvlab
