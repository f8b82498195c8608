#pragma once

// The OCI platform this binary runs on, in Go's names (GOOS/GOARCH and the variant), as
// containerd reports it: linux/amd64 on x86-64, linux/arm64 on aarch64, linux/arm/v7, ...; and
// the host's memory.

#include <cstdint>
#include <string_view>

namespace berth {

struct HostPlatformNames {
  std::string_view os;
  std::string_view architecture;
  std::string_view variant;  // empty unless the architecture has one
};

constexpr HostPlatformNames HostPlatformOf() {
#if defined(__x86_64__)
  return {"linux", "amd64", ""};
#elif defined(__aarch64__)
  return {"linux", "arm64", ""};
#elif defined(__arm__)
  return {"linux", "arm", "v7"};
#elif defined(__i386__)
  return {"linux", "386", ""};
#else
  return {"linux", "unknown", ""};
#endif
}

// The host's memory in bytes (MemTotal of /proc/meminfo); 0 when it cannot be read.
uint64_t HostMemoryBytes();

}  // namespace berth
