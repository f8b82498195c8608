// binary:// logging programs (containerd's shim logging interface): the URI's parsing, and a
// real program started by LogBinary::Start, with no root.

#include "shim/io/log_binary.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "shim/io/process_io.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseBinaryUriTest, PathAndQueryAsGoReadsThem) {
  absl::StatusOr<LogBinaryCommand> c = ParseBinaryUri("binary:///usr/bin/my%20logger?a=1&b=x+y&c");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->path, "/usr/bin/my logger");
  EXPECT_THAT(c->args, ElementsAre("a", "1", "b", "x y", "c", ""));
  c = ParseBinaryUri("binary://localhost/l?k=%2Fv");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->path, "/l");
  EXPECT_THAT(c->args, ElementsAre("k", "/v"));
  for (const char* bad : {"binary://", "binary:///", "binary://host/l", "binary:///l%zz",
                          "binary:///l?a=%z", "file:///l"}) {
    absl::StatusOr<LogBinaryCommand> b = ParseBinaryUri(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(b.status().message(), HasSubstr(bad)) << "the error names the URI";
  }
}

class LogBinaryTest : public ::testing::Test {
 protected:
  // A program in the temp dir; `body` is a shell script.
  std::string Program(const std::string& name, const std::string& body) {
    std::filesystem::path p = dir_ / name;
    berth::testing::WriteFile(p, "#!/bin/sh\n" + body);
    ::chmod(p.c_str(), 0755);
    return p.string();
  }

  // A logger that copies fds 3 and 4 into <out>.1 and <out>.2 and runs `extra` meanwhile.
  std::string CopyingProgram(const std::string& out, const std::string& extra = "") {
    return Program("logger", fmt::format("exec 5>&-\ncat <&3 > {0}.1 &\ncat <&4 > {0}.2 &\n{1}"
                                         "wait\n",
                                         out, extra));
  }

  static bool Alive(pid_t pid) {
    int st = 0;
    return ::waitpid(pid, &st, WNOHANG) == 0;  // our child: reaped here once it exits
  }

  berth::testing::TempDir dir_{"logbin"};
};

TEST_F(LogBinaryTest, TheProgramGetsBothStreamsItsArgumentsAndTheContainersNames) {
  std::string out = (dir_ / "out").string();
  std::string prog =
      CopyingProgram(out, fmt::format("env > {0}.env; echo \"$@\" > {0}.args\n", out));
  absl::StatusOr<std::unique_ptr<LogBinary>> lb =
      LogBinary::Start("binary://" + prog + "?level=debug", "ns1", "c1");
  ASSERT_THAT(lb, IsOk());
  pid_t pid = (*lb)->pid();
  UniqueFd o = (*lb)->TakeStdout();
  UniqueFd e = (*lb)->TakeStderr();
  ASSERT_EQ(::write(o.get(), "hello\n", 6), 6);
  ASSERT_EQ(::write(e.get(), "oops\n", 5), 5);
  o.reset();
  e.reset();
  lb->reset();  // the program ends at EOF: no signal needed
  EXPECT_EQ(ReadFile(out + ".1"), "hello\n");
  EXPECT_EQ(ReadFile(out + ".2"), "oops\n");
  EXPECT_EQ(ReadFile(out + ".args"), "level debug\n");
  std::string env = ReadFile(out + ".env");
  EXPECT_THAT(env, HasSubstr("CONTAINER_ID=c1\n"));
  EXPECT_THAT(env, HasSubstr("CONTAINER_NAMESPACE=ns1\n"));
  EXPECT_THAT(env, ::testing::Not(HasSubstr("HOME="))) << "only the two names, as containerd";
  EXPECT_FALSE(Alive(pid));
}

TEST_F(LogBinaryTest, AProgramThatIgnoresEofIsTerminated) {
  std::string prog = Program("stubborn", "exec 5>&-\nexec sleep 60\n");
  absl::StatusOr<std::unique_ptr<LogBinary>> lb = LogBinary::Start("binary://" + prog, "n", "c");
  ASSERT_THAT(lb, IsOk());
  pid_t pid = (*lb)->pid();
  auto t0 = std::chrono::steady_clock::now();
  lb->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_FALSE(Alive(pid));
}

TEST_F(LogBinaryTest, AProgramThatNeverGetsReadyFailsTheStartAndIsKilled) {
  std::string prog = Program("slow", "exec sleep 60\n");  // keeps fd 5 open, writes nothing
  absl::StatusOr<std::unique_ptr<LogBinary>> lb =
      LogBinary::Start("binary://" + prog, "n", "c", absl::Milliseconds(200));
  EXPECT_EQ(lb.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(lb.status().message(), HasSubstr(prog));
  EXPECT_THAT(lb.status().message(), HasSubstr("did not get ready"));
  // Nothing of ours is left running (the child is reaped here).
  for (int i = 0; i < 100 && ::waitpid(-1, nullptr, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

// ProcessIo with binary:// for both streams (as ctr --log-uri sends it): the process writes
// straight into the program's pipes; the program ends with the process's output.
TEST_F(LogBinaryTest, ProcessIoHandsTheProgramsPipesToTheProcess) {
  std::string out = (dir_ / "pio").string();
  std::string prog = CopyingProgram(out);
  IoConfig c;
  c.stdout_path = c.stderr_path = "binary://" + prog;
  c.ns = "n";
  c.container_id = "c";
  absl::StatusOr<std::unique_ptr<ProcessIo>> io = ProcessIo::Open(c);
  ASSERT_THAT(io, IsOk());
  linux::Stdio stdio = (*io)->stdio();
  ASSERT_GE(stdio.out, 0);
  ASSERT_GE(stdio.err, 0);
  ASSERT_EQ(::write(stdio.out, "out\n", 4), 4);  // what the process would write
  ASSERT_EQ(::write(stdio.err, "err\n", 4), 4);
  (*io)->Started();  // the shim's copies of the process's ends close
  io->reset();
  EXPECT_EQ(ReadFile(out + ".1"), "out\n");
  EXPECT_EQ(ReadFile(out + ".2"), "err\n");

  c.stderr_path = "binary://" + prog + "?other=1";
  io = ProcessIo::Open(c);
  EXPECT_EQ(io.status().code(), absl::StatusCode::kInvalidArgument) << "two programs";
}

TEST_F(LogBinaryTest, AMissingProgramIsAClearError) {
  absl::StatusOr<std::unique_ptr<LogBinary>> lb =
      LogBinary::Start("binary://" + (dir_ / "nope").string(), "n", "c");
  EXPECT_FALSE(lb.ok());
  EXPECT_THAT(lb.status().message(), HasSubstr("nope"));
}

}  // namespace
}  // namespace berth::shim
