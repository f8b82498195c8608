#pragma once

// Container log files written by the shim itself, so that a process's output is kept (and the
// process never blocks on it) whether or not berthd or a client is there.
//
// A stdout/stderr path of the form "file:///abs/path[?format=cri|raw]" names a log file:
//  - raw (the default, what containerd's shim does for `ctr run --log-uri file:///path`): the
//    bytes as the process wrote them;
//  - cri: each line as a record of the CRI log format that Kubernetes reads:
//      "<RFC3339Nano UTC timestamp> <stdout|stderr> <F|P> <text>\n"
//    F for a full line, P for a part: a line longer than kMaxCriLine is cut into parts of that
//    size, and the last bytes before EOF without a newline are a part too. A "\r" before the
//    newline is dropped (as Go's bufio.ReadLine in containerd's CRI logger does). Timestamps
//    always carry nine fraction digits (RFC3339Nano parsers accept that; it also sorts).
// stdout and stderr of one process share one LogFile: every write of records happens under its
// lock with one write(2), so the two streams never interleave inside a line.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "lib/base/unique_fd.h"

namespace berth::shim {

// The longest text of one CRI record (containerd's default max_container_log_line_size).
inline constexpr size_t kMaxCriLine = 16 * 1024;

enum class LogStream { kStdout, kStderr };

// "stdout" or "stderr".
std::string_view LogStreamName(LogStream s);

struct LogTarget {
  std::string path;  // absolute, percent-decoded
  bool cri = false;
};

// Parses "file:///abs/path[?format=cri|raw]". InvalidArgument naming the URI for another
// scheme, a host other than "" or "localhost", a relative or empty path, a bad %-escape or an
// unknown format. Other query keys are ignored.
absl::StatusOr<LogTarget> ParseLogUri(std::string_view uri);

// "2026-11-23T15:25:53.000123456Z".
std::string FormatCriTimestamp(std::chrono::system_clock::time_point t);

// One record: "<timestamp> <stream> <F|P> <text>\n".
std::string FormatCriRecord(std::chrono::system_clock::time_point t, LogStream stream, bool partial,
                            std::string_view text);

// An open log file. Thread-safe.
class LogFile {
 public:
  // Creates the missing parent directories (0755) and opens `path` with
  // O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640. Errors name the path.
  static absl::StatusOr<std::shared_ptr<LogFile>> Open(const std::string& path);

  const std::string& path() const { return path_; }

  int fd() const { return fd_.get(); }

  // Appends `data` in one write(2) (continued after a short write) under the lock.
  absl::Status Write(std::string_view data);

 private:
  LogFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  const std::string path_;
  const UniqueFd fd_;
  absl::Mutex mu_;  // serializes writes
};

// Turns the bytes of one stream into CRI records on a LogFile. Not thread-safe: one per stream,
// used by the thread that reads that stream.
class CriLineWriter {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  CriLineWriter(std::shared_ptr<LogFile> file, LogStream stream, Clock clock = nullptr);

  // Writes a record for every complete line in pending + `bytes` (all of them with one write),
  // and parts of kMaxCriLine while more than that is pending without a newline.
  absl::Status Append(std::string_view bytes);
  // End of the stream: the pending bytes (if any) as a partial record.
  absl::Status Finish();

  size_t pending() const { return pending_.size(); }

 private:
  void AddRecord(std::string& out, std::string_view text, bool partial);

  std::shared_ptr<LogFile> file_;
  LogStream stream_;
  Clock clock_;
  std::chrono::system_clock::time_point now_;
  std::string pending_;  // bytes of a line not ended yet (< kMaxCriLine after Append)
};

}  // namespace berth::shim
