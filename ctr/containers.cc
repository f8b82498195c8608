#include "ctr/containers.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>
#include <tuple>

#include "fmt/format.h"

#include "ctr/container_meta.h"
#include "ctr/network.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

constexpr const char* kAdjectives[] = {
    "admiring", "brave",   "calm",       "clever",   "dazzling", "eager",   "elated",   "festive",
    "focused",  "gallant", "gentle",     "happy",    "jolly",    "keen",    "kind",     "lucid",
    "modest",   "nifty",   "optimistic", "peaceful", "quirky",   "relaxed", "serene",   "sharp",
    "stoic",    "sweet",   "tender",     "trusting", "upbeat",   "vibrant", "wizardly", "zealous"};
constexpr const char* kNames[] = {
    "babbage", "bohr",   "curie",    "darwin",   "dijkstra", "einstein", "euler",    "fermat",
    "feynman", "gauss",  "hopper",   "hypatia",  "kepler",   "knuth",    "lamport",  "lovelace",
    "meitner", "newton", "noether",  "pascal",   "ritchie",  "shannon",  "thompson", "turing",
    "wozniak", "yalow",  "torvalds", "goldberg", "hamilton", "liskov",   "mccarthy", "perlman"};

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}() ^
                             (static_cast<uint64_t>(std::random_device{}()) << 32));
  return rng;
}

}  // namespace

TaskInfo TaskInfoFromProcess(const ::containerd::v1::types::Process& p) {
  TaskInfo t;
  t.exists = true;
  t.pid = p.pid();
  t.exit_status = p.exit_status();
  t.exited_at = p.exited_at().seconds();
  switch (p.status()) {
    case ::containerd::v1::types::CREATED:
      t.status = "created";
      break;
    case ::containerd::v1::types::RUNNING:
      t.status = "running";
      break;
    case ::containerd::v1::types::STOPPED:
      t.status = "stopped";
      break;
    case ::containerd::v1::types::PAUSED:
      t.status = "paused";
      break;
    case ::containerd::v1::types::PAUSING:
      t.status = "pausing";
      break;
    default:
      t.status = "unknown";
  }
  return t;
}

std::string NewContainerId() {
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", Rng()(), Rng()(), Rng()(), Rng()());
}

std::string NewContainerName() {
  std::uniform_int_distribution<size_t> a(0, std::size(kAdjectives) - 1);
  std::uniform_int_distribution<size_t> n(0, std::size(kNames) - 1);
  return fmt::format("{}_{}", kAdjectives[a(Rng())], kNames[n(Rng())]);
}

std::string ContainerName(const ContainerRecord& c) {
  auto it = c.labels().find(kNameLabel);
  return it == c.labels().end() || it->second.empty() ? c.id() : it->second;
}

absl::Status ValidateContainerName(const std::string& name) {
  auto ok = [](char ch, bool first) {
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    return alnum || (!first && (ch == '_' || ch == '.' || ch == '-'));
  };
  bool valid = !name.empty() && name.size() <= 128;
  for (size_t i = 0; valid && i < name.size(); ++i) valid = ok(name[i], i == 0);
  if (!valid) {
    return InvalidArgument(fmt::format(
        "container name {:?}: invalid (want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128)", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ContainerRecord>> ListContainers(Connection& conn) {
  containers_api::ListContainersRequest req;
  containers_api::ListContainersResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.containers().List(ctx.get(), req, &resp)));
  return std::vector<ContainerRecord>(resp.containers().begin(), resp.containers().end());
}

absl::StatusOr<ContainerRecord> FindContainer(Connection& conn, const std::string& ref) {
  if (ref.empty())
    return InvalidArgument("container name or id must not be empty");
  containers_api::GetContainerRequest get;
  get.set_id(ref);
  containers_api::GetContainerResponse got;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.containers().Get(ctx.get(), get, &got));
  if (st.ok())
    return got.container();
  if (!absl::IsNotFound(st) && !absl::IsInvalidArgument(st))
    return st;
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  std::vector<const ContainerRecord*> prefixed;
  for (const ContainerRecord& c : all) {
    auto it = c.labels().find(kNameLabel);
    if (it != c.labels().end() && it->second == ref)
      return c;
    if (c.id().starts_with(ref))
      prefixed.push_back(&c);
  }
  if (prefixed.size() == 1)
    return *prefixed.front();
  if (prefixed.size() > 1) {
    return InvalidArgument(
        fmt::format("container {:?}: the id prefix matches {} containers", ref, prefixed.size()));
  }
  return NotFoundError("container", ref);
}

absl::Status CheckNameFree(Connection& conn, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  for (const ContainerRecord& c : all) {
    auto it = c.labels().find(kNameLabel);
    if (it != c.labels().end() && it->second == name) {
      return absl::AlreadyExistsError(fmt::format(
          "container name {:?}: already in use by container {}", name, c.id().substr(0, 12)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskInfo> GetTaskInfo(Connection& conn, const std::string& id) {
  tasks_api::GetRequest req;
  req.set_container_id(id);
  tasks_api::GetResponse resp;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.tasks().Get(ctx.get(), req, &resp));
  if (absl::IsNotFound(st))
    return TaskInfo{};
  BERTH_RETURN_IF_ERROR(st);
  return TaskInfoFromProcess(resp.process());
}

std::string StatusWord(const TaskInfo& t) {
  if (t.status == "stopped")
    return "exited";
  if (!t.exists)
    return "created";
  return t.status;
}

absl::StatusOr<uint32_t> DeleteTask(Connection& conn, const std::string& id) {
  tasks_api::DeleteTaskRequest req;
  req.set_container_id(id);
  tasks_api::DeleteResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().Delete(ctx.get(), req, &resp)));
  return resp.exit_status();
}

absl::Status KillTask(Connection& conn, const std::string& id, int signal, bool all) {
  tasks_api::KillRequest req;
  req.set_container_id(id);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  auto ctx = conn.Context();
  return conn.Check(conn.tasks().Kill(ctx.get(), req, &resp));
}

absl::StatusOr<uint32_t> WaitTask(Connection& conn, const std::string& id, int64_t timeout_ms) {
  tasks_api::WaitRequest req;
  req.set_container_id(id);
  tasks_api::WaitResponse resp;
  auto ctx = conn.Context();
  if (timeout_ms >= 0)
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  grpc::Status gs = conn.tasks().Wait(ctx.get(), req, &resp);
  if (gs.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(
        fmt::format("container {:?}: did not exit within {} ms", id, timeout_ms));
  }
  BERTH_RETURN_IF_ERROR(conn.Check(gs));
  return resp.exit_status();
}

absl::Status StopContainer(Connection& conn, const ContainerRecord& c, std::optional<int> timeout) {
  int stop_signal = SIGTERM;
  if (auto it = c.labels().find(kStopSignalLabel); it != c.labels().end()) {
    BERTH_ASSIGN_OR_RETURN(stop_signal, ParseSignal(it->second));
  }
  if (!timeout) {
    timeout = 10;
    if (auto it = c.labels().find(kStopTimeoutLabel); it != c.labels().end())
      timeout = std::atoi(it->second.c_str());
  }
  if (c.labels().contains(kRestartPolicyLabel))
    BERTH_RETURN_IF_ERROR(SetContainerLabel(conn, c.id(), kRestartStatusLabel, "stopped"));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  if (!t.exists || t.status == "stopped")
    return absl::OkStatus();
  if (t.status == "paused")
    BERTH_RETURN_IF_ERROR(KillTask(conn, c.id(), SIGKILL, true));
  else
    BERTH_RETURN_IF_ERROR(KillTask(conn, c.id(), stop_signal));
  absl::StatusOr<uint32_t> code = WaitTask(conn, c.id(), int64_t{*timeout} * 1000);
  if (absl::IsDeadlineExceeded(code.status())) {
    BERTH_RETURN_IF_ERROR(KillTask(conn, c.id(), SIGKILL, true));
    code = WaitTask(conn, c.id(), 30000);
  }
  return code.status();
}

absl::Status RemoveContainer(Connection& conn, const ContainerRecord& c) {
  containers_api::DeleteContainerRequest del;
  del.set_id(c.id());
  google::protobuf::Empty empty;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.containers().Delete(ctx.get(), del, &empty));
  if (!st.ok() && !absl::IsNotFound(st))
    return st;
  if (!c.snapshot_key().empty() && c.snapshot_key() == c.id()) {
    snapshots_api::RemoveSnapshotRequest rm;
    rm.set_snapshotter(c.snapshotter());
    rm.set_key(c.snapshot_key());
    auto sctx = conn.Context();
    st = conn.Check(conn.snapshots().Remove(sctx.get(), rm, &empty));
    if (!st.ok() && !absl::IsNotFound(st))
      return Annotate(st, fmt::format("container {:?}: remove snapshot", c.id()));
    // Its init layer, when bctr made one (containers made by other clients, or by older bctrs,
    // have none).
    snapshots_api::StatSnapshotRequest stat;
    stat.set_snapshotter(c.snapshotter());
    stat.set_key(InitLayerName(c.id()));
    snapshots_api::StatSnapshotResponse info;
    auto ictx = conn.Context();
    if (conn.snapshots().Stat(ictx.get(), stat, &info).ok() &&
        meta::IsInitLayerOf({info.info().labels().begin(), info.info().labels().end()}, c.id())) {
      rm.set_key(stat.key());
      auto rctx = conn.Context();
      st = conn.Check(conn.snapshots().Remove(rctx.get(), rm, &empty));
      if (!st.ok() && !absl::IsNotFound(st))
        return Annotate(st, fmt::format("container {:?}: remove its init layer", c.id()));
    }
  }
  return absl::OkStatus();
}

absl::Status RemoveExitedContainer(Connection& conn, const ContainerRecord& c,
                                   const TaskInfo& task) {
  if (task.exists) {
    absl::Status st = DeleteTask(conn, c.id()).status();
    if (!st.ok() && !absl::IsNotFound(st))
      return st;
  }
  return RemoveContainer(conn, c);
}

absl::Status SetContainerLabel(Connection& conn, const std::string& id, const std::string& key,
                               const std::string& value) {
  return SetContainerLabels(conn, id, {{key, value}});
}

absl::Status SetContainerLabels(Connection& conn, const std::string& id,
                                const std::map<std::string, std::string>& labels) {
  containers_api::UpdateContainerRequest req;
  req.mutable_container()->set_id(id);
  for (const auto& [key, value] : labels) {
    if (!value.empty())
      (*req.mutable_container()->mutable_labels())[key] = value;
    req.mutable_update_mask()->add_paths("labels." + key);
  }
  containers_api::UpdateContainerResponse resp;
  auto ctx = conn.Context();
  return conn.Check(conn.containers().Update(ctx.get(), req, &resp));
}

TaskInfo ContainerState(const ContainerRecord& c, const TaskInfo& task) {
  if (task.exists)
    return task;
  auto code = c.labels().find(kExitStatusLabel);
  if (code == c.labels().end())
    return task;
  TaskInfo t;
  t.status = "stopped";
  t.exit_status = static_cast<uint32_t>(std::strtoul(code->second.c_str(), nullptr, 10));
  if (auto at = c.labels().find(kFinishedAtLabel); at != c.labels().end())
    t.exited_at = std::strtoll(at->second.c_str(), nullptr, 10);
  return t;
}

absl::StatusOr<std::vector<::containerd::types::Mount>> ContainerRootfsMounts(
    Connection& conn, const ContainerRecord& c) {
  if (c.snapshot_key().empty())
    return std::vector<::containerd::types::Mount>{};
  snapshots_api::MountsRequest req;
  req.set_snapshotter(c.snapshotter());
  req.set_key(c.snapshot_key());
  snapshots_api::MountsResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(
      Annotate(conn.Check(conn.snapshots().Mounts(ctx.get(), req, &resp)),
               fmt::format("container {:?}: snapshot {:?}", c.id(), c.snapshot_key())));
  return std::vector<::containerd::types::Mount>(resp.mounts().begin(), resp.mounts().end());
}

// "TERM", "SIGTERM", "sigterm", "15" → 15; "SIGRTMIN+3" (systemd's stop signal) → 37.
absl::StatusOr<int> ParseSignal(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
    int n = std::stoi(s.substr(0, 3));
    if (n > 0 && n < NSIG)
      return n;
  }
  std::string name;
  for (char ch : s) name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (name.starts_with("SIG"))
    name = name.substr(3);
  for (auto [base, sign, at] : {std::tuple{"RTMIN", 1, SIGRTMIN}, {"RTMAX", -1, SIGRTMAX}}) {
    if (!name.starts_with(base))
      continue;
    std::string off = name.substr(std::strlen(base));
    if (off.empty())
      return at;
    char* end = nullptr;
    long n = std::strtol(off.c_str() + 1, &end, 10);
    if (off[0] == (sign > 0 ? '+' : '-') && *end == '\0' && off.size() > 1 && n >= 0 &&
        n <= SIGRTMAX - SIGRTMIN)
      return at + sign * static_cast<int>(n);
  }
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = ::sigabbrev_np(n);
    if (abbrev != nullptr && name == abbrev)
      return n;
  }
  return InvalidArgument(fmt::format("signal {:?}: unknown", s));
}

}  // namespace berth::ctr
