#include "lib/oci/spec_json.h"

#include <fstream>
#include <sstream>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/oci/capabilities.h"
#include "lib/oci/parse_internal.h"

namespace berth::oci {
namespace internal {
namespace {

User ReadUser(const json& j, const std::string& path) {
  User u;
  Opt(j, "uid", path, u.uid);
  Opt(j, "gid", path, u.gid);
  Opt(j, "umask", path, u.umask);
  Opt(j, "additionalGids", path, u.additional_gids);
  Opt(j, "username", path, u.username);
  // As runc: (uid_t)-1 would make setresuid keep the shim's root, and the kernel's ids stop
  // at 2^31 - 1 in practice.
  constexpr uint64_t kMaxId = 2147483647;
  auto check = [&](uint64_t id, const std::string& where) {
    if (id > kMaxId)
      Fail(where, fmt::format("{} is out of range (0-{})", id, kMaxId));
  };
  check(u.uid, Join(path, "uid"));
  check(u.gid, Join(path, "gid"));
  for (size_t i = 0; i < u.additional_gids.size(); ++i)
    check(u.additional_gids[i], Index(Join(path, "additionalGids"), i));
  return u;
}

std::vector<std::string> ReadCapSet(const json& j, std::string_view key, const std::string& path) {
  std::vector<std::string> names;
  Opt(j, key, path, names);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!CapabilityFromName(names[i]))
      Fail(Index(Join(path, key), i), fmt::format("unknown capability {:?}", names[i]));
  }
  return names;
}

Capabilities ReadCapabilities(const json& j, const std::string& path) {
  return Capabilities{.bounding = ReadCapSet(j, "bounding", path),
                      .effective = ReadCapSet(j, "effective", path),
                      .inheritable = ReadCapSet(j, "inheritable", path),
                      .permitted = ReadCapSet(j, "permitted", path),
                      .ambient = ReadCapSet(j, "ambient", path)};
}

void ReadRlimits(const json& j, const std::string& path, std::vector<Rlimit>& out) {
  ForEach(j, "rlimits", path, [&](const json& e, const std::string& p) {
    Rlimit r;
    Req(e, "type", p, r.type);
    Req(e, "hard", p, r.hard);
    Req(e, "soft", p, r.soft);
    std::optional<int> res = RlimitFromName(r.type);
    if (!res)
      Fail(Join(p, "type"), fmt::format("unknown rlimit {:?}", r.type));
    if (r.soft > r.hard)
      Fail(Join(p, "soft"), fmt::format("{} is above the hard limit {}", r.soft, r.hard));
    r.resource = *res;
    out.push_back(std::move(r));
  });
}

Hook ReadHook(const json& e, const std::string& p) {
  Hook h;
  Req(e, "path", p, h.path);
  Opt(e, "args", p, h.args);
  Opt(e, "env", p, h.env);
  Opt(e, "timeout", p, h.timeout);
  if (h.timeout && *h.timeout <= 0)
    Fail(Join(p, "timeout"), "must be positive");
  return h;
}

Hooks ReadHooks(const json& j, const std::string& path) {
  Hooks h;
  auto read = [&](std::string_view key, std::vector<Hook>& out) {
    ForEach(j, key, path,
            [&](const json& e, const std::string& p) { out.push_back(ReadHook(e, p)); });
  };
  read("prestart", h.prestart);
  read("createRuntime", h.create_runtime);
  read("createContainer", h.create_container);
  read("startContainer", h.start_container);
  read("poststart", h.poststart);
  read("poststop", h.poststop);
  return h;
}

Spec ReadSpec(const json& j) {
  Expect(j.is_object(), j, "(top)", "object");
  Spec s;
  Opt(j, "ociVersion", "", s.oci_version);
  if (const json* p = Object(j, "process", ""))
    s.process = ReadProcess(*p, "process");
  const json* root = Object(j, "root", "");
  if (root == nullptr)
    Fail("root", "required");
  Req(*root, "path", "root", s.root.path);
  Opt(*root, "readonly", "root", s.root.readonly);
  Opt(j, "hostname", "", s.hostname);
  Opt(j, "domainname", "", s.domainname);
  ForEach(j, "mounts", "", [&](const json& e, const std::string& p) {
    Mount m;
    Req(e, "destination", p, m.destination);
    Opt(e, "type", p, m.type);
    Opt(e, "source", p, m.source);
    Opt(e, "options", p, m.options);
    if (m.destination.empty() || m.destination[0] != '/')
      Fail(Join(p, "destination"), fmt::format("{:?} is not an absolute path", m.destination));
    s.mounts.push_back(std::move(m));
  });
  if (const json* h = Object(j, "hooks", ""))
    s.hooks = ReadHooks(*h, "hooks");
  Opt(j, "annotations", "", s.annotations);
  if (const json* l = Object(j, "linux", ""))
    s.linux = ReadLinux(*l, "linux");
  return s;
}

json WriteHooks(const std::vector<Hook>& hooks) {
  json a = json::array();
  for (const Hook& h : hooks) {
    json o = {{"path", h.path}};
    if (!h.args.empty())
      o["args"] = h.args;
    if (!h.env.empty())
      o["env"] = h.env;
    if (h.timeout)
      o["timeout"] = *h.timeout;
    a.push_back(std::move(o));
  }
  return a;
}

json WriteSpecJson(const Spec& s) {
  json j = {{"ociVersion", s.oci_version},
            {"root", {{"path", s.root.path}, {"readonly", s.root.readonly}}}};
  if (s.process)
    j["process"] = WriteProcess(*s.process);
  if (!s.hostname.empty())
    j["hostname"] = s.hostname;
  if (!s.domainname.empty())
    j["domainname"] = s.domainname;
  json mounts = json::array();
  for (const Mount& m : s.mounts) {
    mounts.push_back({{"destination", m.destination},
                      {"type", m.type},
                      {"source", m.source},
                      {"options", m.options}});
  }
  j["mounts"] = std::move(mounts);
  if (!s.hooks.empty()) {
    j["hooks"] = {{"prestart", WriteHooks(s.hooks.prestart)},
                  {"createRuntime", WriteHooks(s.hooks.create_runtime)},
                  {"createContainer", WriteHooks(s.hooks.create_container)},
                  {"startContainer", WriteHooks(s.hooks.start_container)},
                  {"poststart", WriteHooks(s.hooks.poststart)},
                  {"poststop", WriteHooks(s.hooks.poststop)}};
  }
  if (!s.annotations.empty())
    j["annotations"] = s.annotations;
  j["linux"] = WriteLinux(s.linux);
  return j;
}

// execve takes C strings: a NUL inside an argument or a variable would cut it short without a
// word, so it is refused (runc too).
void CheckNoNul(const std::vector<std::string>& strings, const std::string& path) {
  for (size_t i = 0; i < strings.size(); ++i) {
    if (strings[i].find('\0') != std::string::npos)
      Fail(Index(path, i), "contains a NUL byte");
  }
}

}  // namespace

Process ReadProcess(const json& j, const std::string& path) {
  Process p;
  Opt(j, "terminal", path, p.terminal);
  if (const json* c = Object(j, "consoleSize", path)) {
    p.console_size.emplace();
    Opt(*c, "height", Join(path, "consoleSize"), p.console_size->height);
    Opt(*c, "width", Join(path, "consoleSize"), p.console_size->width);
  }
  if (const json* u = Object(j, "user", path))
    p.user = ReadUser(*u, Join(path, "user"));
  Opt(j, "args", path, p.args);
  if (p.args.empty())
    Fail(Join(path, "args"), "must name the program to run");
  CheckNoNul(p.args, Join(path, "args"));
  Opt(j, "env", path, p.env);
  CheckNoNul(p.env, Join(path, "env"));
  Opt(j, "cwd", path, p.cwd);
  if (p.cwd.empty() || p.cwd[0] != '/')
    Fail(Join(path, "cwd"), fmt::format("{:?} is not an absolute path", p.cwd));
  if (const json* c = Object(j, "capabilities", path))
    p.capabilities = ReadCapabilities(*c, Join(path, "capabilities"));
  ReadRlimits(j, path, p.rlimits);
  Opt(j, "noNewPrivileges", path, p.no_new_privileges);
  Opt(j, "oomScoreAdj", path, p.oom_score_adj);
  Opt(j, "apparmorProfile", path, p.apparmor_profile);
  Opt(j, "selinuxLabel", path, p.selinux_label);
  return p;
}

json WriteProcess(const Process& p) {
  json user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (!p.user.additional_gids.empty())
    user["additionalGids"] = p.user.additional_gids;
  if (p.user.umask)
    user["umask"] = *p.user.umask;
  json j = {{"terminal", p.terminal}, {"user", user}, {"args", p.args},
            {"env", p.env},           {"cwd", p.cwd}, {"noNewPrivileges", p.no_new_privileges}};
  if (p.console_size)
    j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  if (p.capabilities) {
    const Capabilities& c = *p.capabilities;
    j["capabilities"] = {{"bounding", c.bounding},
                         {"effective", c.effective},
                         {"inheritable", c.inheritable},
                         {"permitted", c.permitted},
                         {"ambient", c.ambient}};
  }
  json rl = json::array();
  for (const Rlimit& r : p.rlimits)
    rl.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
  j["rlimits"] = std::move(rl);
  if (p.oom_score_adj)
    j["oomScoreAdj"] = *p.oom_score_adj;
  if (!p.apparmor_profile.empty())
    j["apparmorProfile"] = p.apparmor_profile;
  return j;
}

}  // namespace internal

namespace {

// Runs a section parser, turning JSON syntax errors and FieldErrors into InvalidArgument.
template <typename T, typename Fn>
absl::StatusOr<T> Guard(std::string_view origin, std::string_view text, Fn fn) {
  try {
    return fn(internal::json::parse(text));
  } catch (const internal::FieldError& e) {
    return InvalidArgument(fmt::format("{}: {}: {}", origin, e.path, e.message));
  } catch (const internal::json::exception& e) {
    return InvalidArgument(fmt::format("{}: {}", origin, e.what()));
  }
}

}  // namespace

absl::StatusOr<Spec> ParseSpec(std::string_view json, std::string_view origin) {
  return Guard<Spec>(origin, json, [](const internal::json& j) { return internal::ReadSpec(j); });
}

absl::StatusOr<Spec> LoadSpec(const std::filesystem::path& bundle) {
  std::filesystem::path file = bundle / "config.json";
  std::ifstream in(file);
  if (!in)
    return ErrnoError(errno, fmt::format("open {}", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseSpec(ss.str(), file.string());
}

absl::StatusOr<Process> ParseProcess(std::string_view json) {
  return Guard<Process>("process", json, [](const internal::json& j) {
    internal::Expect(j.is_object(), j, "(top)", "object");
    return internal::ReadProcess(j, "");
  });
}

absl::StatusOr<Resources> ParseResources(std::string_view json) {
  return Guard<Resources>("resources", json, [](const internal::json& j) {
    internal::Expect(j.is_object(), j, "(top)", "object");
    return internal::ReadResources(j, "");
  });
}

std::string SpecToJson(const Spec& spec, bool pretty) {
  return internal::WriteSpecJson(spec).dump(pretty ? 2 : -1);
}

std::string ProcessToJson(const Process& process) {
  return internal::WriteProcess(process).dump();
}

std::string ResourcesToJson(const Resources& resources) {
  return internal::WriteResources(resources).dump();
}

absl::Status WriteSpec(const std::filesystem::path& bundle, const Spec& spec) {
  std::filesystem::path file = bundle / "config.json";
  std::ofstream out(file, std::ios::trunc);
  out << SpecToJson(spec);
  out.close();
  if (!out)
    return Internal(fmt::format("write {}: failed", file.string()));
  return absl::OkStatus();
}

}  // namespace berth::oci
