// Reading JSON documents from files with errors that name the file.
#ifndef KVLAB_COMMON_JSON_FILE_H_
#define KVLAB_COMMON_JSON_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace kvlab {

// Reads the whole file at `path`. NOT_FOUND when missing, INTERNAL on I/O
// errors; the message names the file.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Reads and parses a JSON file. NOT_FOUND when missing; INVALID_ARGUMENT with
// the file name and the parser's position when the JSON is malformed.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace kvlab

#endif  // KVLAB_COMMON_JSON_FILE_H_
