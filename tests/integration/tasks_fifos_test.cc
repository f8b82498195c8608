// ctr's stdio fifos and berthd's preopener (services/tasks/fifo_preopener.h): once a task has
// named fifos under a directory, berthd opens the fifos that later sets made there have for
// its containers as soon as they appear, lets go of them when the shim has its ends, and never
// cuts a client's input or output short (fixture: tasks_fixture.h).

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/tasks_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using testing::TasksTest;

// A writer may open a fifo without blocking only when it has a reader: here, berthd.
bool HasReader(const fs::path& fifo) {
  UniqueFd w(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  return w.valid();
}

// The fifos (named *-stdin, -stdout, -stderr) under `dir` that process `pid` has open.
std::vector<std::string> OpenFifos(pid_t pid, const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const fs::directory_entry& e :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = fs::read_symlink(e.path(), ec).string();
    if (target.starts_with(dir + "/") && !fs::is_directory(target, ec))
      out.push_back(target);
  }
  return out;
}

class TasksFifosTest : public TasksTest {
 protected:
  // `printf INPUT | ctr ARGS...`
  testing::CommandResult Piped(const std::string& input, const std::vector<std::string>& args) {
    std::string cmd = "printf '" + input + "' | ctr --address " + socket() + " -n " + ns_;
    for (const std::string& a : args) cmd += " '" + a + "'";
    return testing::RunCommand({"sh", "-c", cmd});
  }
};

TEST_F(TasksFifosTest, BerthdOpensALaterRunsFifosAheadAndLetsGoOfThem) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult r = Run({"--rm"}, "first", {"echo", "first"});
  ASSERT_EQ(r.exit_code, 0) << r.err;  // its fifos' directory is now watched

  // A set made as ctr makes one for a container that awaits its task: berthd opens its fifos
  // at once and closes them when the set goes. One named after no container of berthd's (a
  // containerd client's, in a shared fifo directory) is left alone.
  r = C({"containers", "create", "--rootfs", Rootfs(), "awaiting", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::path set = fs::path(fifo_dir()) / "4242";
  ASSERT_EQ(::mkdir(set.c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo((set / "elsewhere-stdout").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo((set / "awaiting-stdout").c_str(), 0600), 0);
  EXPECT_TRUE(Eventually([&] { return HasReader(set / "awaiting-stdout"); }));
  EXPECT_FALSE(HasReader(set / "elsewhere-stdout"));
  EXPECT_THAT(OpenFifos(daemon_pid(), fifo_dir()),
              ::testing::ElementsAre((set / "awaiting-stdout").string()));
  fs::remove_all(set);
  EXPECT_TRUE(Eventually([&] { return OpenFifos(daemon_pid(), fifo_dir()).empty(); }));
  EXPECT_EQ(C({"containers", "rm", "awaiting"}).exit_code, 0);

  // Input and output whole, through runs at once and execs, with berthd opening their fifos
  // ahead.
  std::string rootfs = Rootfs();
  std::vector<testing::CommandResult> runs(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runs.size(); ++i) {
    threads.emplace_back([&, i] {
      runs[i] = Piped("line one\\nline " + std::to_string(i) + "\\n",
                      {"run", "--rm", "--fifo-dir", fifo_dir(), "--rootfs", rootfs,
                       "cat" + std::to_string(i), "sh", "-c", "cat; echo to-stderr >&2"});
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].exit_code, 0) << runs[i].err;
    EXPECT_EQ(runs[i].out, "line one\nline " + std::to_string(i) + "\n");
    EXPECT_THAT(runs[i].err, ::testing::HasSubstr("to-stderr"));
  }
  r = Run({"-d"}, "box", {"sleep", "600"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("box", "RUNNING"));
  for (int i = 0; i < 3; ++i) {
    std::string id = "e" + std::to_string(i);
    r = Piped("to exec\\n", {"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", id, "box",
                             "sh", "-c", "cat; exit 4"});
    EXPECT_EQ(r.exit_code, 4) << r.err;
    EXPECT_EQ(r.out, "to exec\n");
  }
  // Nothing held once the tasks have their fifos (only the detached task's shim has them).
  EXPECT_THAT(OpenFifos(daemon_pid(), fifo_dir()), ::testing::IsEmpty());
  EXPECT_EQ(C({"tasks", "kill", "-s", "SIGKILL", "box"}).exit_code, 0);
  ASSERT_TRUE(WaitStatus("box", "STOPPED"));
  EXPECT_EQ(C({"tasks", "delete", "box"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "rm", "box"}).exit_code, 0);
  ExpectNothingLeft(
      {"first", "awaiting", "box", "cat0", "cat1", "cat2", "cat3", "cat4", "cat5", "cat6", "cat7"});
}

TEST_F(TasksFifosTest, PreopenFifosFalseLeavesThemAlone) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  fs::path cfg = dir().path() / "no-preopen.toml";
  testing::WriteFile(cfg, "[plugins.\"io.containerd.grpc.v1.tasks\"]\npreopen_fifos = false\n");
  ASSERT_TRUE(StartDaemon({"--config", cfg.string()}));
  testing::CommandResult r = Run({"--rm"}, "first", {"echo", "first"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "first\n");
  r = C({"containers", "create", "--rootfs", Rootfs(), "awaiting", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::path set = fs::path(fifo_dir()) / "4242";
  ASSERT_EQ(::mkdir(set.c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo((set / "awaiting-stdout").c_str(), 0600), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(HasReader(set / "awaiting-stdout"));
  EXPECT_EQ(C({"containers", "rm", "awaiting"}).exit_code, 0);
  ExpectNothingLeft({"first", "awaiting"});
}

}  // namespace
}  // namespace berth
