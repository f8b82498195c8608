// Tasks across berthd's restarts and their shims' deaths: live restore after a SIGKILL, a dead
// shim cleaned up and reported, event replay after a restart, bundles marked deleted, the
// spare shims berthd keeps and the tasks it prepares with them (the fixture: tasks_fixture.h).

#include <regex>

#include "absl/cleanup/cleanup.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "tests/integration/tasks_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using testing::EventWatcher;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessAlive;
using testing::TasksTest;

TEST_F(TasksTest, AShimThatDiesIsCleanedUpAndReportedAsExited) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "doomed", {"sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(Run({"-d"}, "bystander", {"sleep", "1000"}).exit_code, 0);
  int pid = Tasks()["doomed"].first;
  int shim = ShimPid("doomed");
  ASSERT_GT(shim, 0);
  ASSERT_NE(testing::ReadFile("/proc/" + std::to_string(shim) + "/cmdline").find("berth-shim"),
            std::string::npos);
  EventWatcher events(socket(), dir().path() / "events.txt");
  ::kill(shim, SIGKILL);  // a shim we started (through berthd) and whose pid the bundle holds
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Tasks().count("doomed") == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << C({"tasks", "ls"}).out;
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(fs::exists(bundles() + "/doomed"));
  EXPECT_TRUE(events.WaitFor(ns_ + " /tasks/exit {\"container_id\":\"doomed\",\"id\":" +
                             "\"doomed\",\"pid\":" + std::to_string(pid) + ",\"exit_status\":137"))
      << events.Output();
  EXPECT_EQ(Tasks()["bystander"].second, "RUNNING");
  EXPECT_EQ(C({"containers", "rm", "doomed"}).exit_code, 0);
  RemoveAll();
  ExpectNothingLeft({"doomed", "bystander"});
}

// A shim replays only its last 1024 events to a new subscriber. After more than that, a
// restarted berthd must still find where it left off: nothing is published twice, and the
// next event is published once.
TEST_F(TasksTest, RestartAfterMoreEventsThanTheShimKeepsRepublishesNothing) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "busy", {"sleep", "1000"}).exit_code, 0);
  auto stub = ::containerd::services::tasks::v1::Tasks::NewStub(
      grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
  auto call = [&](bool pause) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", ns_);
    google::protobuf::Empty out;
    if (pause) {
      ::containerd::services::tasks::v1::PauseTaskRequest req;
      req.set_container_id("busy");
      return stub->Pause(&ctx, req, &out);
    }
    ::containerd::services::tasks::v1::ResumeTaskRequest req;
    req.set_container_id("busy");
    return stub->Resume(&ctx, req, &out);
  };
  for (int i = 0; i < 520; ++i) {  // 1040 events, plus /tasks/create and /tasks/start
    ASSERT_TRUE(call(true).ok()) << i;
    ASSERT_TRUE(call(false).ok()) << i;
  }
  auto seen = [&] {
    std::istringstream in(testing::ReadFile(bundles() + "/busy/events.seen"));
    int64_t count = 0;
    in >> count;
    return count;
  };
  for (int i = 0; i < 100 && seen() < 1042; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(seen(), 1042);

  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(StartDaemon());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(seen(), 1042);  // the replayed 1024 were all recognised as forwarded
  EventWatcher events(socket(), dir().path() / "events.txt");
  ASSERT_EQ(C({"tasks", "pause", "busy"}).exit_code, 0);
  EXPECT_TRUE(events.WaitFor(ns_ + " /tasks/paused {\"container_id\":\"busy\"}"))
      << events.Output();
  for (int i = 0; i < 100 && seen() < 1043; ++i)  // written just after the event is published
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(seen(), 1043);
  RemoveAll();
  ExpectNothingLeft({"busy"});
}

TEST_F(TasksTest, TasksSurviveABerthdKillAndAreRestored) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) {
    ids.push_back("live" + std::to_string(i));
    ASSERT_EQ(Run({"-d"}, ids.back(), {"sleep", "1000"}).exit_code, 0);
  }
  // Exits while berthd is down, its shim keeping the status.
  ASSERT_EQ(Run({"-d"}, "quits", {"sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 6"})
                .exit_code,
            0);
  // Its shim dies while berthd is down.
  ASSERT_EQ(Run({"-d"}, "orphan", {"sleep", "1000"}).exit_code, 0);
  auto before = Tasks();
  ASSERT_EQ(before.size(), 11u);
  int orphan_pid = before["orphan"].first;

  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  testing::WriteFile(Rootfs() + "/tmp/go", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(ProcessAlive(before["quits"].first));
  for (const std::string& id : ids) EXPECT_TRUE(ProcessAlive(before[id].first)) << id;
  int orphan_shim = ShimPid("orphan");
  ASSERT_GT(orphan_shim, 0);
  ASSERT_NE(
      testing::ReadFile("/proc/" + std::to_string(orphan_shim) + "/cmdline").find("berth-shim"),
      std::string::npos);
  ::kill(orphan_shim, SIGKILL);

  auto restart = std::chrono::steady_clock::now();
  ASSERT_TRUE(StartDaemon());
  auto restart_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - restart)
                        .count();
  std::printf("berthd restart with 10 live tasks and a dead shim: %lld ms\n",
              static_cast<long long>(restart_ms));
  EXPECT_LT(restart_ms, 5000);
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=10"));
  auto after = Tasks();
  for (const std::string& id : ids) {
    ASSERT_EQ(after.count(id), 1u) << id;
    EXPECT_EQ(after[id].second, "RUNNING") << id;
    EXPECT_EQ(after[id].first, before[id].first) << id;  // the same process
  }
  ASSERT_EQ(after.count("quits"), 1u);
  EXPECT_EQ(after["quits"].second, "STOPPED");
  testing::CommandResult r = C({"tasks", "delete", "quits"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("task quits exit with non-zero exit code 6"));  // kept by the shim
  // The orphan was cleaned up at start: its processes killed, its bundle gone.
  EXPECT_EQ(after.count("orphan"), 0u);
  EXPECT_FALSE(ProcessAlive(orphan_pid));
  EXPECT_FALSE(fs::exists(bundles() + "/orphan"));
  EXPECT_THAT(DaemonLog(),
              HasSubstr("shim of task is gone, cleaning up namespace=" + ns_ + " id=orphan"));

  // The restored tasks are fully usable.
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "after", "live0", "echo",
         "still-here"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "still-here\n");
  RemoveAll();
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  for (const std::string& id : ids) EXPECT_FALSE(ProcessAlive(before[id].first)) << id;
  ids.insert(ids.end(), {"quits", "orphan"});
  ExpectNothingLeft(ids);
}

// berthd's stop waits for calls in progress, not for a foreground `ctr run` whose wait lasts as
// long as its task (containerd stops at once too): the wait ends with a clear error, the task
// runs on and is there after the restart.
TEST_F(TasksTest, AStopDoesNotWaitForAForegroundRunsTask) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string log = (dir().path() / "fg.log").string();
  pid_t ctr =
      testing::SpawnInBackground({"ctr", "--address", socket(), "-n", ns_, "run", "--fifo-dir",
                                  fifo_dir(), "--rootfs", Rootfs(), "fg", "sleep", "1000"},
                                 {.output = log, .truncate = true});
  ASSERT_GT(ctr, 0);
  bool reaped = false;
  absl::Cleanup stop_ctr = [&] {
    if (!reaped && ::kill(ctr, SIGKILL) == 0)
      ::waitpid(ctr, nullptr, 0);
  };
  ASSERT_TRUE(WaitStatus("fg", "RUNNING"));
  int pid = Tasks()["fg"].first;

  auto stop = std::chrono::steady_clock::now();
  EXPECT_EQ(StopDaemon(SIGTERM), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - stop, std::chrono::seconds(2))
      << "berthd's stop waited for the foreground run";
  int status = 0;
  ASSERT_TRUE(Eventually([&] { return reaped = ::waitpid(ctr, &status, WNOHANG) == ctr; },
                         std::chrono::seconds(10)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  EXPECT_THAT(testing::ReadFile(log), HasSubstr("berthd is stopping"));
  EXPECT_TRUE(ProcessAlive(pid));

  ASSERT_TRUE(StartDaemon());
  auto after = Tasks();
  EXPECT_EQ(after["fg"], std::make_pair(pid, std::string("RUNNING")));
  RemoveAll();
  ExpectNothingLeft({"fg"});
}

// A bundle marked deleted (berthd stopped between answering a delete and removing it) is
// removed at the next start without the task being reported again.
TEST_F(TasksTest, ABundleMarkedDeletedIsRemovedQuietlyOnRestart) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "live", {"sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  fs::create_directories(bundles() + "/ghost/rootfs");
  testing::WriteFile(bundles() + "/ghost/config.json", "{}");
  testing::WriteFile(bundles() + "/ghost/deleted", "");
  ASSERT_TRUE(StartDaemon());
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=1"));
  EXPECT_FALSE(fs::exists(bundles() + "/ghost"));
  EXPECT_THAT(DaemonLog(), Not(HasSubstr("id=ghost")));
  auto tasks = Tasks();
  EXPECT_EQ(tasks.count("ghost"), 0u);
  EXPECT_EQ(tasks["live"].second, "RUNNING");
  RemoveAll();
  ExpectNothingLeft({"live"});
}

TEST_F(TasksTest, ASpareShimTakesTheNextTaskAndNoSpareOutlivesBerthd) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  int spare = WaitForSpare();
  ASSERT_GT(spare, 0) << "berthd started no spare shim";
  ASSERT_EQ(Run({"-d"}, "first", {"sleep", "1000"}).exit_code, 0);
  EXPECT_EQ(ShimPid("first"), spare);
  // It now reads as a shim started for its task (ps, pgrep).
  EXPECT_THAT(testing::ReadFile("/proc/" + std::to_string(spare) + "/cmdline"),
              HasSubstr(std::string("--id") + '\0' + "first" + '\0' + "--namespace" + '\0' + ns_));
  int next = WaitForSpare(spare);
  ASSERT_GT(next, 0) << "no new spare after the first was taken";

  // berthd dies: its spare goes with it, the task's shim stays and is found again.
  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  for (int i = 0; i < 100 && ProcessAlive(next); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(ProcessAlive(next)) << "spare shim " << next << " outlived berthd";
  EXPECT_TRUE(ProcessAlive(spare));
  ASSERT_TRUE(StartDaemon());
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=1"));
  EXPECT_EQ(Tasks()["first"].second, "RUNNING");
  testing::CommandResult r =
      C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e1", "first", "echo", "ok"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  RemoveAll();
  ExpectNothingLeft({"first"});

  // A berthd that stops takes its spare along too.
  int spare_now = WaitForSpare();
  ASSERT_GT(spare_now, 0);
  ASSERT_EQ(StopDaemon(SIGTERM), 0);
  for (int i = 0; i < 100 && ProcessAlive(spare_now); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(ProcessAlive(spare_now));

  // spare_shims = 0: none, and tasks start their own shim.
  fs::path cfg = dir().path() / "no-spares.toml";
  testing::WriteFile(cfg, "[plugins.\"io.containerd.runtime.v2.task\"]\nspare_shims = 0\n");
  ASSERT_TRUE(StartDaemon({"--config", cfg.string()}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(SpareShims(), ::testing::IsEmpty());
  r = Run({"--rm"}, "own", {"echo", "own shim"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "own shim\n");
  EXPECT_THAT(SpareShims(), ::testing::IsEmpty());
  ExpectNothingLeft({"first", "own"});
}

// A created container's task is prepared ahead (its bundle, and a spare shim serving there);
// tasks.Create takes it. What was prepared goes when the container is deleted or changed,
// when no task comes within 10 s and when berthd restarts; a prepared shim that died is not
// used. None of it shows as a task, and each container's task still starts as usual after it.
TEST_F(TasksTest, ATaskIsPreparedWhenItsContainerIsCreated) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  const std::string image = "docker.io/library/busybox:latest";
  auto bundle = [&](const std::string& id) { return bundles() + "/" + id; };
  auto poll = [](const std::function<bool()>& done, std::chrono::milliseconds limit) {
    for (auto end = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < end;) {
      if (done())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  };
  // Creates the container once a spare is ready; the pid of the shim prepared for it.
  auto create_prepared = [&](const std::string& id, const std::vector<std::string>& args) {
    int spare = WaitForSpare();
    EXPECT_GT(spare, 0);
    std::vector<std::string> argv = {"containers", "create", image, id};
    argv.insert(argv.end(), args.begin(), args.end());
    testing::CommandResult r = C(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(WaitPrepared(id), spare) << "the spare did not take the task of " << id;
    EXPECT_THAT(C({"tasks", "ls", "-q"}).out, Not(HasSubstr(id)));
    return spare;
  };
  auto gone = [&](const std::string& id, int shim,
                  std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    return poll([&] { return !fs::exists(bundle(id)) && !ProcessAlive(shim); }, limit);
  };

  // Taken by the task's create: the same shim, no mark left.
  int shim = create_prepared("taken", {"sleep", "1000"});
  testing::CommandResult r = C({"tasks", "start", "-d", "--fifo-dir", fifo_dir(), "taken"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Tasks()["taken"].second, "RUNNING");
  EXPECT_EQ(ShimPid("taken"), shim);
  EXPECT_FALSE(fs::exists(bundle("taken") + "/prepared"));

  // Deleted before its task: discarded.
  shim = create_prepared("deleted", {"true"});
  ASSERT_EQ(C({"containers", "rm", "deleted"}).exit_code, 0);
  EXPECT_TRUE(gone("deleted", shim)) << "the prepared task of a deleted container is left";

  // Changed before its task (a new spec): discarded, and the task runs the new spec.
  shim = create_prepared("changed", {"echo", "old"});
  {
    auto stub = ::containerd::services::containers::v1::Containers::NewStub(
        grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext get_ctx;
    get_ctx.AddMetadata("containerd-namespace", ns_);
    ::containerd::services::containers::v1::GetContainerRequest get;
    get.set_id("changed");
    ::containerd::services::containers::v1::GetContainerResponse got;
    ASSERT_TRUE(stub->Get(&get_ctx, get, &got).ok());
    ::containerd::services::containers::v1::UpdateContainerRequest update;
    *update.mutable_container() = got.container();
    std::string spec = got.container().spec().value();
    size_t at = spec.find("\"old\"");
    ASSERT_NE(at, std::string::npos) << spec;
    spec.replace(at, 5, "\"new\"");
    update.mutable_container()->mutable_spec()->set_value(spec);
    update.mutable_update_mask()->add_paths("spec");
    grpc::ClientContext update_ctx;
    update_ctx.AddMetadata("containerd-namespace", ns_);
    ::containerd::services::containers::v1::UpdateContainerResponse updated;
    ASSERT_TRUE(stub->Update(&update_ctx, update, &updated).ok());
  }
  EXPECT_TRUE(gone("changed", shim)) << "the prepared task of a changed container is left";
  r = C({"tasks", "start", "--fifo-dir", fifo_dir(), "changed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "new\n");

  // A prepared shim that died is not used: the task gets another.
  shim = create_prepared("killed", {"echo", "still runs"});
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  ASSERT_TRUE(poll([&] { return !ProcessAlive(shim); }, std::chrono::seconds(5)));
  r = C({"tasks", "start", "--fifo-dir", fifo_dir(), "killed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "still runs\n");

  // Not taken within its lifetime (10 s): discarded; the task starts as usual later.
  shim = create_prepared("idle", {"echo", "late"});
  EXPECT_TRUE(fs::exists(bundle("idle")));
  EXPECT_TRUE(gone("idle", shim, std::chrono::seconds(15)))
      << "the prepared task of a container without a task outlived its lifetime";
  r = C({"tasks", "start", "--fifo-dir", fifo_dir(), "idle"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "late\n");

  // berthd killed with a task prepared: the restart removes it, reports no task, and the
  // running one is restored.
  shim = create_prepared("orphan", {"echo", "after restart"});
  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  EXPECT_TRUE(ProcessAlive(shim));
  ASSERT_TRUE(StartDaemon());
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=1"));
  EXPECT_THAT(DaemonLog(), HasSubstr("removing the bundle of a task prepared before the restart"));
  EXPECT_TRUE(gone("orphan", shim));
  auto tasks = Tasks();
  EXPECT_EQ(tasks.count("orphan"), 0u);
  EXPECT_EQ(tasks["taken"].second, "RUNNING");
  r = C({"tasks", "start", "--fifo-dir", fifo_dir(), "orphan"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "after restart\n");

  RemoveAll();
  ExpectNothingLeft({"taken", "deleted", "changed", "killed", "idle", "orphan"});
}

// A client that creates the task right after its container (an in-process one, as a CRI
// adapter would be) races the preparation that the container's creation starts: whichever
// comes first, the task's create succeeds, and nothing is left of the other.
TEST_F(TasksTest, ATaskCreatedRightAfterItsContainerNeverCollidesWithItsPreparation) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  namespace containers = ::containerd::services::containers::v1;
  namespace tasks = ::containerd::services::tasks::v1;
  testing::CommandResult r = C({"containers", "create", "--rootfs", Rootfs(), "template", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto channel = grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials());
  auto containers_api = containers::Containers::NewStub(channel);
  auto tasks_api = tasks::Tasks::NewStub(channel);
  auto context = [&](grpc::ClientContext& ctx) { ctx.AddMetadata("containerd-namespace", ns_); };
  containers::GetContainerResponse tmpl;
  {
    grpc::ClientContext ctx;
    context(ctx);
    containers::GetContainerRequest req;
    req.set_id("template");
    ASSERT_TRUE(containers_api->Get(&ctx, req, &tmpl).ok());
  }
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    ASSERT_GT(WaitForSpare(), 0);
    const std::string id = "race" + std::to_string(i);
    ids.push_back(id);
    containers::CreateContainerRequest create;
    *create.mutable_container() = tmpl.container();
    create.mutable_container()->set_id(id);
    containers::CreateContainerResponse created;
    grpc::ClientContext create_ctx;
    context(create_ctx);
    ASSERT_TRUE(containers_api->Create(&create_ctx, create, &created).ok()) << id;
    tasks::CreateTaskRequest task;
    task.set_container_id(id);
    tasks::CreateTaskResponse task_created;
    grpc::ClientContext task_ctx;
    context(task_ctx);
    grpc::Status s = tasks_api->Create(&task_ctx, task, &task_created);
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
    EXPECT_GT(task_created.pid(), 0u) << id;
    EXPECT_FALSE(fs::exists(bundles() + "/" + id + "/prepared")) << id;
  }
  EXPECT_EQ(testing::Lines(C({"tasks", "ls", "-q"}).out).size(), ids.size());
  RemoveAll();
  ids.push_back("template");
  ExpectNothingLeft(ids);
}

// As containerd's shims, berth's take one above berthd's OOM score (the kernel takes a shim
// before berthd), and so do the containers whose spec sets none.
TEST_F(TasksTest, ShimsAndTheirContainersAreOneAboveBerthdsOomScore) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  auto score = [](pid_t pid) {
    return std::stoi(testing::ReadFile("/proc/" + std::to_string(pid) + "/oom_score_adj"));
  };
  const int want = std::min(score(daemon_pid()) + 1, 1000);
  int spare = WaitForSpare();
  ASSERT_GT(spare, 0);
  EXPECT_EQ(score(spare), want);
  ASSERT_EQ(Run({"-d"}, "oom", {"sleep", "1000"}).exit_code, 0);
  EXPECT_EQ(score(ShimPid("oom")), want);
  EXPECT_EQ(score(Tasks()["oom"].first), want);
  RemoveAll();
  ExpectNothingLeft({"oom"});
}

// The spare that took the task (here when its container was created) mounts its rootfs. When
// the mount fails, the create fails naming it, the spare is killed and the bundle removed; the
// next task gets a new spare.
TEST_F(TasksTest, ASpareToldATaskWhoseRootfsDoesNotMountIsKilled) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  const std::string image = "docker.io/library/busybox:latest";
  int spare = WaitForSpare();
  ASSERT_GT(spare, 0);
  testing::CommandResult r = C({"containers", "create", image, "broken", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(WaitPrepared("broken"), spare);  // the task is prepared with the spare
  // The snapshot's upper directory goes: its overlay cannot be mounted.
  r = C({"snapshots", "mounts", "/mnt", "broken"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("upperdir=([^,\\s]+)"))) << r.out;
  fs::remove_all(m[1].str());

  r = C({"tasks", "start", "--fifo-dir", fifo_dir(), "broken"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("task \"broken\": mount rootfs"));
  EXPECT_FALSE(ProcessAlive(spare)) << "spare shim " << spare << " outlived its failed task";
  EXPECT_FALSE(fs::exists(bundles() + "/broken"));
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");

  int next = WaitForSpare(spare);
  ASSERT_GT(next, 0) << "no new spare after the failed task";
  r = C({"run", "--rm", "--fifo-dir", fifo_dir(), image, "works", "echo", "ok"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_EQ(C({"containers", "rm", "broken"}).exit_code, 0);
  ExpectNothingLeft({"broken", "works"});
}

}  // namespace
}  // namespace berth
