#pragma once

// The address of a unix socket at any path length. sun_path holds 108 bytes; a longer path
// (deep state dirs with 64-character container ids) is reached through an O_PATH descriptor on
// its directory, as "/proc/self/fd/N/<name>", which bind and connect resolve like any path.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::ttrpc {

struct UnixAddress {
  sockaddr_un addr{};
  UniqueFd dir;  // the directory's descriptor, for long paths; keep it while using `addr`

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

inline absl::StatusOr<UnixAddress> MakeUnixAddress(const std::string& path) {
  UnixAddress a;
  a.addr.sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof(a.addr.sun_path)) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    a.dir = UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!a.dir.valid())
      return absl::InvalidArgumentError("ttrpc: socket directory " + dir + ": " +
                                        std::strerror(errno));
    target = "/proc/self/fd/" + std::to_string(a.dir.get()) + "/" + path.substr(slash + 1);
    if (target.size() >= sizeof(a.addr.sun_path))
      return absl::InvalidArgumentError("ttrpc: socket name in " + path + " is too long");
  }
  std::memcpy(a.addr.sun_path, target.c_str(), target.size() + 1);
  return a;
}

}  // namespace berth::ttrpc
