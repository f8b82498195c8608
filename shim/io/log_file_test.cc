// The shim's container log files: the CRI record format, the line splitting (partial lines,
// long lines, both streams into one file) and ProcessIo writing real pipes into the file.

#include "shim/io/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "shim/io/process_io.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

// 2026-11-23T15:25:53.000000042Z
Clock::time_point FixedTime() {
  return Clock::time_point(std::chrono::seconds(1795447553)) + std::chrono::nanoseconds(42);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(LogUriTest, Parses) {
  struct Case {
    std::string uri;
    std::string path;
    bool cri;
  } cases[] = {
      {"file:///var/log/berth/default/web.log?format=cri", "/var/log/berth/default/web.log", true},
      {"file:///tmp/x.log", "/tmp/x.log", false},
      {"file:///tmp/x.log?format=raw", "/tmp/x.log", false},
      {"file://localhost/tmp/x.log", "/tmp/x.log", false},
      {"file:///tmp/a%20b.log?x=1&format=cri", "/tmp/a b.log", true},
  };

  for (const Case& c : cases) {
    absl::StatusOr<LogTarget> t = ParseLogUri(c.uri);
    ASSERT_THAT(t, IsOk()) << c.uri;
    EXPECT_EQ(t->path, c.path) << c.uri;
    EXPECT_EQ(t->cri, c.cri) << c.uri;
  }
}

TEST(LogUriTest, RejectsWhatItCannotWrite) {
  for (const char* uri : {"binary:///usr/bin/logger", "file://", "file:///", "file://host/x.log",
                          "file:///x.log?format=json", "file:///x%zz.log", "/tmp/x.log"}) {
    absl::StatusOr<LogTarget> t = ParseLogUri(uri);
    EXPECT_THAT(t, StatusIs(absl::StatusCode::kInvalidArgument)) << uri;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(uri));
  }
}

TEST(CriFormatTest, Record) {
  EXPECT_EQ(FormatCriTimestamp(FixedTime()), "2026-11-23T15:25:53.000000042Z");
  EXPECT_EQ(FormatCriRecord(FixedTime(), LogStream::kStdout, false, "hello world"),
            "2026-11-23T15:25:53.000000042Z stdout F hello world\n");
  EXPECT_EQ(FormatCriRecord(FixedTime(), LogStream::kStderr, true, ""),
            "2026-11-23T15:25:53.000000042Z stderr P \n");
  EXPECT_EQ(FormatCriTimestamp(Clock::time_point()), "1970-01-01T00:00:00.000000000Z");
}

class CriWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::shared_ptr<LogFile>> f = LogFile::Open(path());
    ASSERT_THAT(f, IsOk());
    file_ = *f;
  }

  std::string path() const { return (dir_ / "sub/dir/c.log").string(); }

  CriLineWriter Writer(LogStream s) {
    return CriLineWriter(file_, s, [] { return FixedTime(); });
  }

  std::vector<std::string> Records() { return Lines(testing::ReadFile(path())); }

  testing::TempDir dir_{"crilog"};
  std::shared_ptr<LogFile> file_;
};

TEST_F(CriWriterTest, OpenCreatesTheDirectoryAndTheFileWithMode0640) {
  struct stat st {};

  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_THAT(LogFile::Open("/proc/berth-no-such/x.log"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CriWriterTest, FullLinesPartialLinesAndCarriageReturns) {
  const std::string ts = "2026-11-23T15:25:53.000000042Z";
  CriLineWriter w = Writer(LogStream::kStdout);
  ASSERT_THAT(w.Append("one\ntw"), IsOk());
  EXPECT_EQ(w.pending(), 2u);
  ASSERT_THAT(w.Append("o\r\n\nthree"), IsOk());
  ASSERT_THAT(w.Finish(), IsOk());
  EXPECT_THAT(Records(), ElementsAre(ts + " stdout F one", ts + " stdout F two", ts + " stdout F ",
                                     ts + " stdout P three"));
  ASSERT_THAT(w.Finish(), IsOk());  // nothing pending: nothing written
  EXPECT_EQ(Records().size(), 4u);
}

TEST_F(CriWriterTest, LongLinesAreCutAt16KiB) {
  CriLineWriter w = Writer(LogStream::kStderr);
  // A line of 40000 bytes in small pieces: parts of 16 KiB as soon as they are complete.
  std::string line(40000, 'x');
  for (size_t i = 0; i < line.size(); i += 1000)
    ASSERT_THAT(w.Append(std::string_view(line).substr(i, 1000)), IsOk());
  EXPECT_EQ(Records().size(), 2u);
  EXPECT_LE(w.pending(), kMaxCriLine);
  ASSERT_THAT(w.Append("\n"), IsOk());
  // Exactly 16 KiB is still one full line.
  ASSERT_THAT(w.Append(std::string(kMaxCriLine, 'y') + "\n"), IsOk());
  std::vector<std::string> r = Records();
  ASSERT_EQ(r.size(), 4u);
  const size_t prefix = std::string("2026-11-23T15:25:53.000000042Z stderr P ").size();
  EXPECT_EQ(r[0].substr(31, 9), "stderr P ");
  EXPECT_EQ(r[0].size() - prefix, kMaxCriLine);
  EXPECT_EQ(r[1].substr(31, 9), "stderr P ");
  EXPECT_EQ(r[1].size() - prefix, kMaxCriLine);
  EXPECT_EQ(r[2].substr(31, 9), "stderr F ");
  EXPECT_EQ(r[2].size() - prefix, 40000 - 2 * kMaxCriLine);
  EXPECT_EQ(r[3].substr(31, 9), "stderr F ");
  EXPECT_EQ(r[3].size() - prefix, kMaxCriLine);
}

TEST_F(CriWriterTest, TwoStreamsFromTwoThreadsNeverInterleaveInsideALine) {
  constexpr int kLines = 2000;
  auto writeLines = [&](LogStream s, char c) {
    CriLineWriter w(file_, s);
    std::string line(100, c);
    line += '\n';
    for (int i = 0; i < kLines; ++i) {
      // Each line in two pieces, so that a record is only written once its line ends.
      ASSERT_THAT(w.Append(std::string_view(line).substr(0, 37)), IsOk());
      ASSERT_THAT(w.Append(std::string_view(line).substr(37)), IsOk());
    }
  };
  std::thread a(writeLines, LogStream::kStdout, 'o');
  std::thread b(writeLines, LogStream::kStderr, 'e');
  a.join();
  b.join();
  std::regex re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout F o{100}|stderr F e{100})$)");
  std::vector<std::string> r = Records();
  ASSERT_EQ(r.size(), 2u * kLines);
  int out = 0;
  for (const std::string& line : r) {
    ASSERT_TRUE(std::regex_match(line, re)) << line;
    out += line.find(" stdout ") != std::string::npos;
  }
  EXPECT_EQ(out, kLines);
}

IoConfig Config(std::string in, std::string out, std::string err) {
  IoConfig c;
  c.stdin_path = std::move(in);
  c.stdout_path = std::move(out);
  c.stderr_path = std::move(err);
  return c;
}

// ProcessIo with a CRI log URI: the "process" (this test) writes into the pipes it was given.
TEST(ProcessIoLogTest, CriLogOfBothStreams) {
  testing::TempDir dir("procio");
  std::string log = (dir / "ns/c1.log").string();
  std::string uri = "file://" + log + "?format=cri";
  absl::StatusOr<std::unique_ptr<ProcessIo>> io = ProcessIo::Open(Config("", uri, uri));
  ASSERT_THAT(io, IsOk());
  int out = ::fcntl((*io)->stdio().out, F_DUPFD_CLOEXEC, 0);
  int err = ::fcntl((*io)->stdio().err, F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(out, 0);
  ASSERT_GE(err, 0);
  (*io)->Started();
  ASSERT_EQ(::write(out, "hello\nwor", 9), 9);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // records in this order
  ASSERT_EQ(::write(err, "oops\n", 5), 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(::write(out, "ld\nno newline", 13), 13);
  ::close(out);
  ::close(err);
  (*io)->WaitOutput();
  std::vector<std::string> r = Lines(testing::ReadFile(log));
  ASSERT_EQ(r.size(), 4u) << testing::ReadFile(log);
  EXPECT_THAT(r[0], HasSubstr(" stdout F hello"));
  EXPECT_THAT(r[1], HasSubstr(" stderr F oops"));
  EXPECT_THAT(r[2], HasSubstr(" stdout F world"));
  EXPECT_THAT(r[3], HasSubstr(" stdout P no newline"));
}

TEST(ProcessIoLogTest, RawLogIsHandedToTheProcess) {
  testing::TempDir dir("procio");
  std::string log = (dir / "a/b/raw.log").string();
  absl::StatusOr<std::unique_ptr<ProcessIo>> io =
      ProcessIo::Open(Config("", "file://" + log, "file://" + log));
  ASSERT_THAT(io, IsOk());
  ASSERT_EQ(::write((*io)->stdio().out, "out ", 4), 4);
  ASSERT_EQ(::write((*io)->stdio().err, "err\n", 4), 4);
  (*io)->Started();
  (*io)->WaitOutput();
  EXPECT_EQ(testing::ReadFile(log), "out err\n");
}

// Under a terminal the pty master is copied into the log, as stdout; the pty's "\r\n" ends a
// line like "\n".
TEST(ProcessIoLogTest, TerminalOutputGoesToTheLog) {
  testing::TempDir dir("procio");
  std::string log = (dir / "tty.log").string();
  IoConfig config = Config("", "file://" + log + "?format=cri", "");
  config.terminal = true;
  absl::StatusOr<std::unique_ptr<ProcessIo>> io = ProcessIo::Open(config);
  ASSERT_THAT(io, IsOk());
  int slave = ::fcntl((*io)->stdio().console, F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(slave, 0);
  (*io)->Started();
  ASSERT_EQ(::write(slave, "on a tty\n", 9), 9);
  ::close(slave);  // the master reads EIO: the end of the output
  (*io)->WaitOutput();
  std::vector<std::string> r = Lines(testing::ReadFile(log));
  ASSERT_EQ(r.size(), 1u) << testing::ReadFile(log);
  EXPECT_THAT(r[0], ::testing::EndsWith(" stdout F on a tty"));
}

// A fifo output (what ctr gives): WaitOutput returns as the copy reaches EOF, not at its 2 s
// limit, with everything in the fifo and the shim's end closed.
TEST(ProcessIoTest, WaitOutputEndsWithTheCopy) {
  testing::TempDir dir("procio");
  std::string fifo = (dir / "stdout").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  absl::StatusOr<std::unique_ptr<ProcessIo>> io = ProcessIo::Open(Config("", fifo, ""));
  ASSERT_THAT(io, IsOk());
  int out = ::fcntl((*io)->stdio().out, F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(out, 0);
  (*io)->Started();
  ASSERT_EQ(::write(out, "bye\n", 4), 4);
  std::thread exiting([out] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::close(out);
  });
  auto start = std::chrono::steady_clock::now();
  (*io)->WaitOutput();
  auto waited = std::chrono::steady_clock::now() - start;
  exiting.join();
  EXPECT_GE(waited, std::chrono::milliseconds(40));
  EXPECT_LT(waited, std::chrono::seconds(1));
  char buf[16];
  ASSERT_EQ(::read(reader, buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "bye\n");
  EXPECT_EQ(::read(reader, buf, sizeof(buf)), 0);  // no writer left: EOF
  ::close(reader);
}

TEST(ProcessIoLogTest, OtherSchemesAreRejected) {
  absl::StatusOr<std::unique_ptr<ProcessIo>> io =
      ProcessIo::Open(Config("", "syslog://localhost", ""));
  ASSERT_THAT(io, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(io.status().message()), HasSubstr("syslog://localhost"));
  io = ProcessIo::Open(Config("", "file://relative.log", ""));
  EXPECT_THAT(io, StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::shim
