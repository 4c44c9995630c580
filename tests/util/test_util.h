// Helpers shared by kvlab's tests.
#ifndef KVLAB_TESTS_UTIL_TEST_UTIL_H_
#define KVLAB_TESTS_UTIL_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace kvlab::testing {

// The repository root (from the environment set by kvlab_add_test, else the
// compile-time path).
inline std::string SourceDir() {
  if (const char* env = std::getenv("KVLAB_SOURCE_DIR")) return env;
#ifdef KVLAB_SOURCE_DIR
  return KVLAB_SOURCE_DIR;
#else
  return ".";
#endif
}

inline std::string FixtureDir(const std::string& name) {
  return SourceDir() + "/models/fixtures/" + name;
}

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvlab-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Copies every regular file of `from` into `to` (created if needed).
inline void CopyDir(const std::string& from, const std::string& to) {
  std::filesystem::create_directories(to);
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    if (e.is_regular_file()) {
      std::filesystem::copy_file(e.path(), to + "/" + e.path().filename().string(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
}

}  // namespace kvlab::testing

#endif  // KVLAB_TESTS_UTIL_TEST_UTIL_H_
