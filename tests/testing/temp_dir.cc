#include "tests/testing/temp_dir.h"

#include <stdlib.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"

namespace berth::testing {
namespace {

// Mount points at or below `root`, deepest first, from /proc/self/mountinfo.
std::vector<std::string> MountsBelow(const std::string& root) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, fsroot, mountpoint;
    fields >> id >> parent >> devno >> fsroot >> mountpoint;
    if (mountpoint == root || mountpoint.rfind(root + "/", 0) == 0)
      out.push_back(mountpoint);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): test setup
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/berth-" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  bool clean = true;
  for (const std::string& m : MountsBelow(path_.string())) {
    if (::umount2(m.c_str(), 0) != 0 && ::umount2(m.c_str(), MNT_DETACH) != 0)
      clean = false;
  }
  if (!clean || !MountsBelow(path_.string()).empty()) {
    ADD_FAILURE() << "mounts left below " << path_ << "; not removing it";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << "writing " << path;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace berth::testing
