#pragma once

// A private temporary directory for one test. The destructor unmounts anything still mounted
// below it (deepest first, lazily when busy) and only then removes the tree, without ever
// crossing into a mount it could not unmount.

#include <filesystem>
#include <string>

namespace berth::testing {

class TempDir {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp) named berth-<prefix>-XXXXXX.
  explicit TempDir(const std::string& prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path`, creating parent directories; aborts the test on failure.
void WriteFile(const std::filesystem::path& path, const std::string& content);

// Reads a whole file ("" if missing).
std::string ReadFile(const std::filesystem::path& path);

}  // namespace berth::testing
