// Where the tokenizer tests find the reference data fetched by
// tools/reference/tokenizer/fetch.sh (a ctest fixture).
#ifndef KVLAB_TESTS_UTIL_TOKENIZER_REFERENCE_H_
#define KVLAB_TESTS_UTIL_TOKENIZER_REFERENCE_H_

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace kvlab::testing {

// The reference data directory; fails the calling test when it is missing.
inline std::string TokenizerReferenceDir() {
  const char* cache = std::getenv("KVLAB_TEST_CACHE");
  if (cache == nullptr) {
    ADD_FAILURE() << "KVLAB_TEST_CACHE is not set; run the tests through ctest (fixture "
                     "tokenizer_reference_fetch) or run tools/reference/tokenizer/fetch.sh DIR and "
                     "set KVLAB_TEST_CACHE=DIR";
    return "";
  }
  const std::filesystem::path dir = std::filesystem::path(cache) / "tokenizer_reference";
  if (!std::filesystem::exists(dir / "STAMP")) {
    ADD_FAILURE() << "tokenizer reference data missing in " << dir
                  << "; run tools/reference/tokenizer/fetch.sh " << cache;
    return "";
  }
  return dir.string();
}

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_UTIL_TOKENIZER_REFERENCE_H_
