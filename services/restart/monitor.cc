#include "services/restart/monitor.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "containerd/events/container.pb.h"
#include "containerd/events/task.pb.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/db.h"
#include "services/metadata/plugin.h"
#include "services/restart/policy.h"

namespace berth::restart {
namespace {

using std::chrono::milliseconds;
namespace types = ::containerd::v1::types;

// A task that ran at least this long before it exited was not crash-looping.
constexpr auto kStableRun = std::chrono::seconds(10);

// The stdout/stderr URI of the restarted task: restart.loguri, else containerd's older
// restart.logpath as a file:// URI, else the log file the stopped task wrote to (`ctr run
// --log-uri file://...` without the label), else none. Fifos are never reused: their reader
// is gone.
std::string LogUri(const Labels& labels, const std::string& previous_stdout) {
  if (auto it = labels.find(kLogUriLabel); it != labels.end())
    return it->second;
  if (auto it = labels.find(kLogPathLabel); it != labels.end() && !it->second.empty())
    return "file://" + it->second;
  if (previous_stdout.starts_with("file://"))
    return previous_stdout;
  return "";
}

}  // namespace

milliseconds NextBackoff(milliseconds delay, milliseconds min_backoff, milliseconds max_backoff) {
  if (delay < min_backoff)
    return min_backoff;
  return std::min(delay * 2, max_backoff);
}

absl::StatusOr<milliseconds> ParseDuration(const std::string& s) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  std::string_view unit(end, s.data() + s.size() - end);
  if (ec == std::errc() && n >= 0 && end != s.data()) {
    if (unit == "ms")
      return milliseconds(n);
    if (unit == "s")
      return milliseconds(n * 1000);
    if (unit == "m")
      return milliseconds(n * 60000);
  }
  return InvalidArgument(fmt::format("duration {:?}: want a number with ms, s or m", s));
}

RestartMonitor::RestartMonitor(Config config, metadata::NamespaceStore& namespaces,
                               metadata::ContainerStore& containers,
                               snapshots::SnapshotStores* snapshots, runtime::TaskManager& tasks,
                               events::Exchange& exchange)
    : config_(config),
      namespaces_(namespaces),
      containers_(containers),
      snapshots_(snapshots),
      tasks_(tasks),
      exchange_(exchange) {
  absl::StatusOr<filters::Filter> f = filters::Filter::Parse(R"(topic=="/tasks/exit")");
  exits_ = exchange.Subscribe(f.ok() ? *f : filters::Filter(), [this] {
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_one();
  });
  thread_ = std::thread([this] { Loop(); });
}

RestartMonitor::~RestartMonitor() {
  exits_->Close();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void RestartMonitor::Loop() {
  ReconcileAll();
  Clock::time_point next_reconcile = Clock::now() + config_.interval;
  for (;;) {
    std::vector<Key> due;
    {
      std::unique_lock lock(mu_);
      Clock::time_point until = next_reconcile;
      for (const auto& [key, when] : due_) until = std::min(until, when);
      cv_.wait_until(lock, until, [&] { return stopping_ || wake_ || Clock::now() >= until; });
      if (stopping_)
        return;
      wake_ = false;
      Clock::time_point now = Clock::now();
      for (auto it = due_.begin(); it != due_.end();) {
        if (it->second <= now) {
          due.push_back(it->first);
          it = due_.erase(it);
        } else {
          ++it;
        }
      }
    }
    TakeEvents();
    for (const Key& key : due) CheckLogged(key, std::nullopt);
    if (Clock::now() >= next_reconcile) {
      ReconcileAll();
      next_reconcile = Clock::now() + config_.interval;
    }
  }
}

void RestartMonitor::TakeEvents() {
  events::Envelope e;
  while (exits_->Pop(&e)) {
    ::containerd::events::TaskExit exit;
    if (!exit.ParseFromString(e.event().value()) || exit.container_id().empty() ||
        exit.id() != exit.container_id())
      continue;  // an exec'd process, or not a TaskExit
    Key key{e.namespace_(), exit.container_id()};
    // The delay before the next restart: doubled while the task keeps exiting soon after the
    // monitor started it.
    Backoff& b = backoff_[key];
    Clock::time_point now = Clock::now();
    bool quick = b.started != Clock::time_point() && now - b.started < kStableRun;
    b.delay = quick ? NextBackoff(b.delay, config_.min_backoff, config_.max_backoff)
                    : config_.min_backoff;
    b.not_before = now + b.delay;
    CheckLogged(key, exit.exit_status());
  }
  if (absl::Status st = exits_->status(); !st.ok() && !absl::IsCancelled(st)) {
    spdlog::warn("restart monitor lost its event subscription error={}", st.ToString());
  }
}

void RestartMonitor::ReconcileAll() {
  absl::StatusOr<std::vector<metadata::Namespace>> nss = namespaces_.List();
  if (!nss.ok()) {
    spdlog::warn("restart monitor: list namespaces failed error={}", nss.status().ToString());
    return;
  }
  std::map<Key, Backoff> seen;
  for (const metadata::Namespace& ns : *nss) {
    absl::StatusOr<std::vector<metadata::Container>> cs = containers_.List(ns.name);
    if (!cs.ok()) {
      spdlog::warn("restart monitor: list containers failed namespace={} error={}", ns.name,
                   cs.status().ToString());
      continue;
    }
    for (const metadata::Container& c : *cs) {
      if (!Monitored(c.labels))
        continue;
      Key key{ns.name, c.id};
      seen[key] = backoff_[key];
      CheckLogged(key, std::nullopt);
    }
  }
  backoff_ = std::move(seen);  // forget containers that are gone or no longer monitored
}

void RestartMonitor::CheckLogged(const Key& key, std::optional<uint32_t> event_exit) {
  Backoff& b = backoff_[key];
  Clock::time_point now = Clock::now();
  if (now < b.not_before) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = due_.emplace(key, b.not_before);
    if (!inserted)
      it->second = std::min(it->second, b.not_before);
    return;
  }
  absl::StatusOr<bool> restarted = Check(key.first, key.second, event_exit);
  if (restarted.ok() && *restarted) {
    b.started = Clock::now();
    return;
  }
  if (!restarted.ok()) {
    spdlog::warn("restart failed namespace={} id={} error={}", key.first, key.second,
                 restarted.status().ToString());
    // Try again later, backing off like a task that exited at once.
    b.delay = NextBackoff(b.delay, config_.min_backoff, config_.max_backoff);
    b.not_before = Clock::now() + b.delay;
    std::lock_guard lock(mu_);
    due_[key] = b.not_before;
  }
}

absl::StatusOr<bool> RestartMonitor::Check(const std::string& ns, const std::string& id,
                                           std::optional<uint32_t> event_exit) {
  absl::StatusOr<metadata::Container> c = containers_.Get(ns, id);
  if (absl::IsNotFound(c.status()))
    return false;
  BERTH_RETURN_IF_ERROR(c.status());
  if (!Monitored(c->labels))
    return false;
  BERTH_ASSIGN_OR_RETURN(std::optional<Ended> ended, TaskEnded(ns, *c, event_exit));
  if (!ended)
    return false;
  if (AutoRemove(c->labels)) {
    BERTH_RETURN_IF_ERROR(Remove(ns, *c, ended->had_task));
    return false;
  }
  Decision d = Decide(c->labels, ended->exit_status);
  if (!d.restart) {
    spdlog::debug("not restarting namespace={} id={} why={}", ns, id, d.why);
    return false;
  }
  spdlog::info("restarting task namespace={} id={} why={} count={}", ns, id, d.why,
               RestartCount(c->labels) + 1);
  BERTH_RETURN_IF_ERROR(Restart(ns, *c, ended->had_task, ended->stdout_uri));
  return true;
}

absl::StatusOr<std::optional<RestartMonitor::Ended>> RestartMonitor::TaskEnded(
    const std::string& ns, const metadata::Container& c, std::optional<uint32_t> event_exit) {
  Ended ended;
  absl::StatusOr<std::shared_ptr<runtime::ShimTask>> task = tasks_.Get(ns, c.id);
  if (task.ok()) {
    absl::StatusOr<runtime::shimapi::StateResponse> st = (*task)->State("");
    if (!st.ok())
      return Annotate(st.status(), fmt::format("container {:?}: task state", c.id));
    if (st->status() != types::STOPPED)
      return std::nullopt;  // created, running, paused: nothing to do
    ended.had_task = true;
    ended.exit_status = st->exit_status();
    ended.stdout_uri = st->stdout();
  } else if (!absl::IsNotFound(task.status())) {
    return task.status();
  } else if (event_exit) {
    ended.exit_status = event_exit;  // the task is gone already (its shim was lost)
  } else {
    // No task at all. Leave a container alone while a client may be about to create its task.
    auto quiet = std::chrono::duration_cast<std::chrono::nanoseconds>(config_.interval).count();
    if (metadata::NowNanos() - c.updated_at < quiet)
      return std::nullopt;
  }
  return ended;
}

absl::Status RestartMonitor::Restart(const std::string& ns, const metadata::Container& c,
                                     bool had_task, const std::string& previous_stdout) {
  if (had_task) {
    absl::StatusOr<runtime::shimapi::DeleteResponse> d = tasks_.Delete(ns, c.id);
    if (!d.ok() && !absl::IsNotFound(d.status()))
      return Annotate(d.status(), fmt::format("container {:?}: delete the stopped task", c.id));
  }
  // Counted before the attempt, so that on-failure:N also bounds failing restarts.
  metadata::Container counted = c;
  counted.labels[kCountLabel] = std::to_string(RestartCount(c.labels) + 1);
  BERTH_RETURN_IF_ERROR(
      containers_.Update(ns, counted, {std::string("labels.") + kCountLabel}).status());

  runtime::CreateTaskOptions opts;
  opts.ns = ns;
  opts.id = c.id;
  opts.runtime_name = c.runtime_name;
  if (!c.spec || c.spec->value.empty())
    return InvalidArgument(fmt::format("container {:?}: has no spec", c.id));
  opts.spec_json = c.spec->value;
  if (!c.snapshot_key.empty()) {
    if (snapshots_ == nullptr)
      return FailedPrecondition(
          fmt::format("container {:?}: no snapshotter is loaded for its rootfs", c.id));
    BERTH_ASSIGN_OR_RETURN(snapshots::SnapshotStore * store, snapshots_->Get(c.snapshotter));
    BERTH_ASSIGN_OR_RETURN(opts.rootfs, store->Mounts(ns, c.snapshot_key));
  }
  std::string log = LogUri(c.labels, previous_stdout);
  opts.io = {.stdin_path = "", .stdout_path = log, .stderr_path = log, .terminal = false};
  if (c.runtime_options) {
    google::protobuf::Any any;
    any.set_type_url(c.runtime_options->type_url);
    any.set_value(c.runtime_options->value);
    opts.options = any;
  }
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<runtime::ShimTask> task, tasks_.Create(std::move(opts)));
  if (absl::StatusOr<uint32_t> pid = task->Start(""); !pid.ok()) {
    (void)tasks_.Delete(ns, c.id);
    return Annotate(pid.status(), fmt::format("container {:?}: start", c.id));
  }
  return absl::OkStatus();
}

absl::Status RestartMonitor::Remove(const std::string& ns, const metadata::Container& c,
                                    bool had_task) {
  if (had_task) {
    absl::StatusOr<runtime::shimapi::DeleteResponse> d = tasks_.Delete(ns, c.id);
    if (!d.ok() && !absl::IsNotFound(d.status()))
      return Annotate(d.status(), fmt::format("container {:?}: delete the stopped task", c.id));
  }
  absl::StatusOr<metadata::Container> gone = containers_.Delete(ns, c.id);
  if (absl::IsNotFound(gone.status()))
    return absl::OkStatus();  // a client removed it meanwhile
  if (!gone.ok())
    return Annotate(gone.status(), fmt::format("container {:?}: delete", c.id));
  ::containerd::events::ContainerDelete ev;
  ev.set_id(c.id);
  (void)exchange_.Publish(ns, "/containers/delete", ev);
  if (!c.snapshot_key.empty() && snapshots_ != nullptr) {
    absl::StatusOr<snapshots::SnapshotStore*> store = snapshots_->Get(c.snapshotter);
    absl::Status s = store.ok() ? (*store)->Remove(ns, c.snapshot_key) : store.status();
    if (s.ok()) {
      // bctr's init layer below it, now that nothing is above it.
      absl::StatusOr<snapshot::Info> init = (*store)->Stat(ns, meta::InitLayerName(c.id));
      if (init.ok() && meta::IsInitLayerOf(init->labels, c.id))
        s = (*store)->Remove(ns, init->name);
    }
    if (!s.ok() && !absl::IsNotFound(s))
      spdlog::warn("auto-remove: remove snapshot namespace={} id={} error={}", ns, c.id,
                   s.ToString());  // the collector takes it later: nothing refers to it
  }
  meta::RemoveOwnedFiles(gone->labels, ns, c.id);
  // `run -d --rm`: its anonymous volumes go too, as with Docker's --rm.
  if (absl::Status s = meta::RemoveAnonymousVolumes(gone->labels, ns); !s.ok())
    spdlog::warn("auto-remove: namespace={} id={} error={}", ns, c.id, s.ToString());
  spdlog::info("removed exited container namespace={} id={} (auto-remove)", ns, c.id);
  return absl::OkStatus();
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kInternal,
      .id = "restart",
      .deps = {plugin::Type::kMetadata, plugin::Type::kEvent, plugin::Type::kRuntime,
               plugin::Type::kService},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        BERTH_ASSIGN_OR_RETURN(auto* tm,
                               ic.GetSingle<runtime::TaskManager>(plugin::Type::kRuntime));
        absl::StatusOr<snapshots::SnapshotStores*> snaps = snapshots::GetStores(ic);
        RestartMonitor::Config config;
        BERTH_ASSIGN_OR_RETURN(std::string interval, ic.config().String("interval", "10s"));
        BERTH_ASSIGN_OR_RETURN(config.interval, ParseDuration(interval));
        if (config.interval.count() == 0)
          return InvalidArgument("restart monitor: interval must be more than 0");
        ic.Export("interval", interval);
        return std::make_unique<RestartMonitor>(config, md->namespaces(), md->containers(),
                                                snaps.ok() ? *snaps : nullptr, *tm, *ex);
      },
  });
}

}  // namespace berth::restart
