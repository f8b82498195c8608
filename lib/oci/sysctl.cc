#include "lib/oci/sysctl.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::oci {

absl::Status ValidateSysctls(const Spec& spec) {
  static constexpr std::string_view kIpc[] = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  auto has = [&](const char* type) { return spec.linux.FindNamespace(type) != nullptr; };
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string_view k = key;
    const char* ns = nullptr;
    if (std::find(std::begin(kIpc), std::end(kIpc), k) != std::end(kIpc) ||
        k.starts_with("fs.mqueue."))
      ns = "ipc";
    else if (k.starts_with("net."))
      ns = "network";
    else if (k == "kernel.hostname" || k == "kernel.domainname")
      ns = "uts";
    if (ns == nullptr)
      return InvalidArgument(
          fmt::format("linux.sysctl: {:?} is not in a separate kernel namespace", key));
    if (!has(ns))
      return InvalidArgument(
          fmt::format("linux.sysctl: {:?} is not allowed in the host's {} namespace", key, ns));
  }
  return absl::OkStatus();
}

}  // namespace berth::oci
