// RunProgram: output, exit codes, what the program inherits, stdin input and timeouts.

#include "lib/base/run_program.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/command.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RunProgramTest, CollectsOutputAndExitCode) {
  absl::StatusOr<CommandOutput> r =
      RunProgram({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(10));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  r = RunProgram({"/bin/sh", "-c", "kill -KILL $$"}, std::chrono::seconds(10));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
}

TEST(RunProgramTest, ChildGetsNoBlockedOrIgnoredSignalsAndNoStdin) {
  // berthd blocks SIGTERM and ignores SIGPIPE; a shim must not inherit either.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  auto old_pipe = signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<CommandOutput> r =
      RunProgram({"/bin/sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status; cat; echo end"},
                 std::chrono::seconds(10));
  signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->out, HasSubstr("SigBlk:\t0000000000000000"));
  size_t at = r->out.find("SigIgn:\t");
  ASSERT_NE(at, std::string::npos) << r->out;
  uint64_t ignored = std::stoull(r->out.substr(at + 8, 16), nullptr, 16);
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGPIPE - 1)), 0u) << r->out;
  EXPECT_THAT(r->out, HasSubstr("end\n"));  // stdin is /dev/null: cat returns at once
}

// A descriptor of the caller's without close-on-exec (gRPC's listening socket, between its
// creation and its fcntl) must not reach the program: a shim would keep it for its whole life.
TEST(RunProgramTest, ChildGetsNoOtherDescriptorOfTheCaller) {
  UniqueFd passed = testing::LeakableDescriptor(100);
  UniqueFd leaked = testing::LeakableDescriptor(200);
  ASSERT_GE(passed.get(), 100);
  ASSERT_GE(leaked.get(), 200);
  const std::string list = "for f in /proc/$$/fd/*; do echo ${f##*/}; done";
  absl::StatusOr<CommandOutput> r =
      RunProgram({"/bin/sh", "-c", list}, std::chrono::seconds(10), passed.get());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->out, HasSubstr("3\n")) << "the passed descriptor";
  EXPECT_THAT(r->out, ::testing::Not(HasSubstr(std::to_string(leaked.get()) + "\n"))) << r->out;
}

TEST(RunProgramTest, TimesOutAndKillsTheChild) {
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandOutput> r =
      RunProgram({"/bin/sleep", "30"}, std::chrono::milliseconds(200));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded, "/bin/sleep"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(RunProgram({"/nonexistent/prog"}, std::chrono::seconds(1)),
              StatusIs(absl::StatusCode::kNotFound, "/nonexistent/prog"));
}

// What a CNI plugin gets: its configuration on stdin (more than a pipe holds, so the writes and
// the reads interleave) and an environment of the caller's choosing.
TEST(RunProgramTest, WritesInputAndSetsTheEnvironment) {
  ProgramOptions o;
  o.input = std::string(1 << 20, 'x');
  o.env = std::vector<std::string>{"GREETING=hello"};
  absl::StatusOr<CommandOutput> r =
      RunProgram({"/bin/sh", "-c", "echo $GREETING $HOME; /usr/bin/wc -c"}, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->out, "hello\n1048576\n");
  EXPECT_EQ(r->exit_code, 0);
}

// A program that exits without reading its input: no SIGPIPE in the caller, its exit reported.
TEST(RunProgramTest, InputToAProgramThatDoesNotReadIt) {
  ProgramOptions o;
  o.input = std::string(1 << 20, 'x');
  absl::StatusOr<CommandOutput> r = RunProgram({"/bin/sh", "-c", "exit 4"}, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->exit_code, 4);
}

}  // namespace
}  // namespace berth
