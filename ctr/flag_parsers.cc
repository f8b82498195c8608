#include "ctr/flag_parsers.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "fmt/format.h"

#include "ctr/text.h"
#include "ctr/volumes.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/capabilities.h"

namespace berth::ctr {
namespace {

std::string CapName(const std::string& s) {
  std::string u = Upper(s);
  return u.starts_with("CAP_") || u == "ALL" ? u : "CAP_" + u;
}

}  // namespace

// Every capability this process may pass on (its bounding set): "all" for --privileged and
// --cap-add ALL, as a host root may lack some (CAP_SYS_RESOURCE in some sandboxes), and asking
// for one outside the bounding set makes capset fail.
std::vector<std::string> AllAvailableCapabilities() {
  uint64_t bounding = ~uint64_t{0};
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("CapBnd:"))
      bounding = std::stoull(line.substr(7), nullptr, 16);
  }
  std::vector<std::string> out;
  std::span<const std::string_view> names = oci::AllCapabilityNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].empty() && i < 64 && (bounding >> i & 1) != 0)
      out.emplace_back(names[i]);
  }
  return out;
}

absl::StatusOr<int64_t> ParseMemorySize(const std::string& s) {
  std::string v = Lower(s);
  if (v.size() > 1 && v.back() == 'b' && !std::isdigit(static_cast<unsigned char>(v[v.size() - 2])))
    v.pop_back();
  int64_t mult = 1;
  if (!v.empty() && !std::isdigit(static_cast<unsigned char>(v.back()))) {
    switch (v.back()) {
      case 'b':
        break;
      case 'k':
        mult = 1LL << 10;
        break;
      case 'm':
        mult = 1LL << 20;
        break;
      case 'g':
        mult = 1LL << 30;
        break;
      case 't':
        mult = 1LL << 40;
        break;
      default:
        return InvalidArgument(fmt::format("size {:?}: unknown unit (want b, k, m, g or t)", s));
    }
    v.pop_back();
  }
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || end == nullptr || *end != '\0' || !(n >= 0) || n * mult > 9.2e18)
    return InvalidArgument(fmt::format("size {:?}: not a size like 512m or 1g", s));
  return static_cast<int64_t>(n * static_cast<double>(mult));
}

absl::StatusOr<oci::Mount> ParseVolume(const std::string& s) {
  std::vector<std::string> parts = Split(s, ':');
  if (parts.size() == 1 && s.starts_with("/"))
    return VolumePlaceholder({.name = "", .destination = s});  // an anonymous volume
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return InvalidArgument(
        fmt::format("--volume {:?}: want HOST-PATH:CONTAINER-PATH[:OPTIONS], "
                    "VOLUME:CONTAINER-PATH[:OPTIONS] or CONTAINER-PATH",
                    s));
  const bool named = !parts[0].starts_with("/");
  if (named)
    BERTH_RETURN_IF_ERROR(Annotate(ValidateVolumeName(parts[0]), fmt::format("--volume {:?}", s)));
  if (!parts[1].starts_with("/"))
    return InvalidArgument(fmt::format("--volume {:?}: the container path must be absolute", s));
  VolumeMount v{.name = parts[0], .destination = parts[1]};
  if (parts.size() == 3) {
    for (const std::string& o : Split(parts[2], ',')) {
      if (o == "ro")
        v.read_only = true;
      else if (o == "nocopy" && named)
        v.nocopy = true;
      else if (o != "rw" && o != "z" && o != "Z")
        return InvalidArgument(fmt::format("--volume {:?}: unknown option {:?}", s, o));
    }
  }
  if (named)
    return VolumePlaceholder(v);
  oci::Mount m{v.destination, "bind", v.name, {"rbind", "rprivate"}};
  if (v.read_only)
    m.options.push_back("ro");
  return m;
}

absl::StatusOr<oci::Mount> ParseMountFlag(const std::string& s) {
  std::string type = "volume", src, dst;
  bool ro = false, nocopy = false;
  std::string size;
  for (const std::string& kv : Split(s, ',')) {
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "type")
      type = v;
    else if (k == "source" || k == "src")
      src = v;
    else if (k == "target" || k == "dst" || k == "destination")
      dst = v;
    else if (k == "readonly" || k == "ro")
      ro = v.empty() || v == "true" || v == "1";
    else if (k == "volume-nocopy")
      nocopy = v.empty() || v == "true" || v == "1";
    else if (k == "tmpfs-size")
      size = v;
    else
      return InvalidArgument(fmt::format("--mount {:?}: unknown key {:?}", s, k));
  }
  if (!dst.starts_with("/"))
    return InvalidArgument(fmt::format("--mount {:?}: target must be an absolute path", s));
  if (type == "bind") {
    if (!src.starts_with("/"))
      return InvalidArgument(fmt::format("--mount {:?}: source must be an absolute path", s));
    oci::Mount m{dst, "bind", src, {"rbind", "rprivate"}};
    if (ro)
      m.options.push_back("ro");
    return m;
  }
  if (type == "tmpfs") {
    oci::Mount m{dst, "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777"}};
    if (!size.empty()) {
      BERTH_ASSIGN_OR_RETURN(int64_t bytes, ParseMemorySize(size));
      m.options.push_back(fmt::format("size={}", bytes));
    }
    if (ro)
      m.options.push_back("ro");
    return m;
  }
  if (type == "volume") {
    if (!src.empty())
      BERTH_RETURN_IF_ERROR(Annotate(ValidateVolumeName(src), fmt::format("--mount {:?}", s)));
    return VolumePlaceholder({src, dst, ro, nocopy});
  }
  return InvalidArgument(
      fmt::format("--mount {:?}: type {:?} is not supported (bind, volume, tmpfs)", s, type));
}

absl::StatusOr<oci::Mount> ParseTmpfsFlag(const std::string& s) {
  const size_t colon = s.find(':');
  const std::string dst = s.substr(0, colon);
  if (!dst.starts_with("/"))
    return InvalidArgument(fmt::format("--tmpfs {:?}: the container path must be absolute", s));
  // Each option either sets one of the flag pairs or one key; a later one wins, as in mount(8).
  std::vector<std::pair<std::string, std::string>> opts = {
      {"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}, {"mode", "mode=1777"}};
  auto set = [&](const std::string& key, const std::string& option) {
    auto it = std::find_if(opts.begin(), opts.end(), [&](const auto& o) { return o.first == key; });
    if (it == opts.end())
      opts.emplace_back(key, option);
    else
      it->second = option;
  };
  if (colon != std::string::npos) {
    for (const std::string& o : Split(s.substr(colon + 1), ',')) {
      const size_t eq = o.find('=');
      const std::string key = o.substr(0, eq);
      if (eq == std::string::npos) {
        if (o == "ro" || o == "rw") {
          set("rw", o);
          continue;
        }
        const std::string base = o.starts_with("no") ? o.substr(2) : o;
        if (base == "exec" || base == "suid" || base == "dev") {
          set(base, o);
          continue;
        }
      } else if ((key == "size" || key == "mode" || key == "uid" || key == "gid" ||
                  key == "nr_inodes") &&
                 eq + 1 < o.size()) {
        set(key, o);
        continue;
      }
      return InvalidArgument(fmt::format(
          "--tmpfs {:?}: unknown option {:?} (ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, "
          "uid=, gid=, nr_inodes=)",
          s, o));
    }
  }
  oci::Mount m{dst, "tmpfs", "tmpfs", {}};
  for (auto& [key, option] : opts)
    if (option != "rw" && option != "exec" && option != "suid" && option != "dev")
      m.options.push_back(option);
  return m;
}

absl::StatusOr<oci::Rlimit> ParseUlimit(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0)
    return InvalidArgument(fmt::format("--ulimit {:?}: want NAME=SOFT[:HARD]", s));
  oci::Rlimit r;
  r.type = "RLIMIT_" + Upper(s.substr(0, eq));
  std::optional<int> resource = oci::RlimitFromName(r.type);
  if (!resource)
    return InvalidArgument(fmt::format("--ulimit {:?}: unknown limit {:?}", s, s.substr(0, eq)));
  r.resource = *resource;
  auto value = [&](std::string_view v) -> absl::StatusOr<uint64_t> {
    if (v == "-1" || v == "unlimited")
      return RLIM_INFINITY;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      return InvalidArgument(fmt::format("--ulimit {:?}: {:?} is not a number", s, v));
    return n;
  };
  const std::string_view values = std::string_view(s).substr(eq + 1);
  const size_t colon = values.find(':');
  BERTH_ASSIGN_OR_RETURN(r.soft, value(values.substr(0, colon)));
  r.hard = r.soft;
  if (colon != std::string_view::npos) {
    BERTH_ASSIGN_OR_RETURN(r.hard, value(values.substr(colon + 1)));
  }
  if (r.soft > r.hard)
    return InvalidArgument(fmt::format("--ulimit {:?}: the soft limit exceeds the hard one", s));
  return r;
}

absl::StatusOr<DeviceFlag> ParseDeviceFlag(const std::string& s) {
  std::vector<std::string> parts = Split(s, ':');
  if (parts.size() > 3 || parts[0].empty())
    return InvalidArgument(fmt::format("--device {:?}: want HOST[:CONTAINER[:PERMISSIONS]]", s));
  // HOST:PERMISSIONS, as Docker reads it, when the second part is no path.
  if (parts.size() == 2 && !parts[1].starts_with("/"))
    parts = {parts[0], parts[0], parts[1]};
  const std::string& host = parts[0];
  const std::string ctr = parts.size() > 1 && !parts[1].empty() ? parts[1] : host;
  const std::string access = parts.size() > 2 ? parts[2] : "rwm";
  if (!host.starts_with("/") || !ctr.starts_with("/"))
    return InvalidArgument(fmt::format("--device {:?}: paths must be absolute", s));
  if (access.empty() || access.find_first_not_of("rwm") != std::string::npos)
    return InvalidArgument(
        fmt::format("--device {:?}: permissions {:?} are not a subset of rwm", s, access));
  struct stat st;
  if (::stat(host.c_str(), &st) != 0)
    return ErrnoError(errno, fmt::format("--device {:?}: {}", s, host));
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return InvalidArgument(
        fmt::format("--device {:?}: {} is not a character or block device", s, host));
  DeviceFlag out;
  out.device.type = S_ISCHR(st.st_mode) ? "c" : "b";
  out.device.path = ctr;
  out.device.major = major(st.st_rdev);
  out.device.minor = minor(st.st_rdev);
  out.device.file_mode = st.st_mode & 07777;
  out.device.uid = 0;
  out.device.gid = 0;
  out.rule.allow = true;
  out.rule.type = out.device.type;
  out.rule.major = out.device.major;
  out.rule.minor = out.device.minor;
  out.rule.access = access;
  return out;
}

absl::StatusOr<std::vector<std::string>> ApplyCapabilities(std::vector<std::string> base,
                                                           const std::vector<std::string>& add,
                                                           const std::vector<std::string>& drop) {
  std::set<std::string> added;
  for (const std::string& a : add) {
    std::string c = CapName(a);
    if (c == "ALL") {
      for (const std::string& n : AllAvailableCapabilities()) added.insert(n);
      continue;
    }
    if (!oci::CapabilityFromName(c))
      return InvalidArgument(fmt::format("--cap-add {:?}: unknown capability", a));
    added.insert(c);
  }
  for (const std::string& c : added) {
    if (std::find(base.begin(), base.end(), c) == base.end())
      base.push_back(c);
  }
  for (const std::string& d : drop) {
    std::string c = CapName(d);
    if (c == "ALL") {
      std::erase_if(base, [&](const std::string& b) { return !added.contains(b); });
      continue;
    }
    if (!oci::CapabilityFromName(c))
      return InvalidArgument(fmt::format("--cap-drop {:?}: unknown capability", d));
    std::erase(base, c);
  }
  return base;
}

std::optional<std::string> ExpandEnv(const std::string& e) {
  if (e.find('=') != std::string::npos)
    return e;
  const char* v = std::getenv(e.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (v == nullptr)
    return std::nullopt;
  return e + "=" + v;
}

void SetEnv(std::vector<std::string>& list, const std::string& env) {
  std::string key = env.substr(0, env.find('=') + 1);
  for (std::string& e : list) {
    if (e.starts_with(key)) {
      e = env;
      return;
    }
  }
  list.push_back(env);
}

absl::StatusOr<std::vector<std::string>> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(fmt::format("--env-file {:?}: cannot read", path));
  std::vector<std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#')
      continue;
    line = line.substr(start);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line[0] == '=')
      return InvalidArgument(fmt::format("--env-file {:?}: line {}: no variable name", path, n));
    if (std::optional<std::string> v = ExpandEnv(line))
      out.push_back(*v);
  }
  return out;
}

absl::StatusOr<std::string> ParseRestartPolicy(const std::string& s) {
  if (s.empty() || s == "no")
    return std::string();
  if (s == "always" || s == "unless-stopped")
    return std::string("always");
  if (s == "on-failure")
    return s;
  if (s.starts_with("on-failure:")) {
    std::optional<uint32_t> n = ParseUint32(s.substr(11));
    if (n && *n > 0)
      return s;
  }
  return InvalidArgument(
      fmt::format("--restart {:?}: want no, always, unless-stopped or on-failure[:N]", s));
}

}  // namespace berth::ctr
