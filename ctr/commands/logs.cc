// bctr logs [-f] [--tail N|all] [-t] [--since DURATION|TIME] CONTAINER: the output of a
// detached container, from the log file the shim writes (the container's kLogUriLabel,
// ctr/container_meta.h). CRI records ("<time> <stdout|stderr> <F|P> <text>") are put back
// together into lines: stdout lines to stdout, stderr lines to stderr, each prefixed with its
// time under -t. A raw log file (file:// without ?format=cri) is copied as it is. -f follows
// the file (polling every 100 ms) until the task is no longer running, or Ctrl-C.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"

namespace berth::ctr {
namespace {

struct LogsFlags {
  std::string container;
  bool follow = false;
  std::string tail = "all";
  bool timestamps = false;
  std::string since;
};

// A whole line of output, put back together from its records.
struct LogLine {
  int64_t time = 0;  // ns since the epoch, of the line's first record
  std::string time_text;
  bool is_stderr = false;
  std::string text;
};

// "2026-11-23T15:25:53.123Z" (any number of fraction digits, Z or ±hh:mm) → ns since the
// epoch; nullopt when it is not such a time.
std::optional<int64_t> ParseRfc3339(std::string_view s) {
  struct tm tm {};

  int n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
      n != 19)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t secs = ::timegm(&tm);
  constexpr int64_t kMaxSecs = INT64_MAX / 1000000000 - 1;  // nanoseconds fit until 2262
  secs = std::clamp<int64_t>(secs, -kMaxSecs, kMaxSecs);
  std::string_view rest = s.substr(19);
  int64_t frac = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t digits = 1;
    int64_t scale = 100000000;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      frac += (rest[digits] - '0') * scale;
      scale /= 10;
      ++digits;
    }
    rest.remove_prefix(digits);
  }
  if (rest == "Z")
    return secs * 1000000000 + frac;
  int oh = 0, om = 0;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
      std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) == 2) {
    int64_t off = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
    return (secs - off) * 1000000000 + frac;
  }
  return std::nullopt;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --since: a duration back from now ("90s", "10m", "1h30m"), an RFC 3339 time or Unix seconds.
absl::StatusOr<int64_t> ParseSince(const std::string& s) {
  if (std::optional<int64_t> t = ParseRfc3339(s))
    return *t;
  int64_t total = 0;
  std::string_view rest = s;
  bool any = false, unit_seen = false;
  while (!rest.empty()) {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || n < 0)
      break;
    rest.remove_prefix(end - rest.data());
    any = true;
    int64_t unit = 0;
    if (rest.starts_with("ms")) {
      unit = 1000000;
      rest.remove_prefix(2);
    } else if (!rest.empty() && (rest[0] == 's' || rest[0] == 'm' || rest[0] == 'h')) {
      unit = rest[0] == 's' ? 1000000000LL : rest[0] == 'm' ? 60000000000LL : 3600000000000LL;
      rest.remove_prefix(1);
    } else if (rest.empty() && !unit_seen) {
      return n * 1000000000;  // Unix seconds
    } else {
      break;
    }
    unit_seen = true;
    total += n * unit;
  }
  if (!any || !rest.empty()) {
    return InvalidArgument(fmt::format(
        "--since {:?}: want a duration (10m, 1h30m), an RFC 3339 time or Unix seconds", s));
  }
  return NowNanos() - total;
}

// Puts CRI records back together into lines, per stream.
class CriAssembler {
 public:
  // One record (without its newline); a line that is not a record is skipped.
  void Add(std::string_view rec, std::vector<LogLine>& out) {
    size_t a = rec.find(' ');
    size_t b = a == std::string_view::npos ? a : rec.find(' ', a + 1);
    if (b == std::string_view::npos || b + 2 > rec.size())
      return;
    std::string_view ts = rec.substr(0, a), stream = rec.substr(a + 1, b - a - 1);
    char tag = rec[b + 1];
    std::string_view text = b + 3 <= rec.size() ? rec.substr(b + 3) : std::string_view();
    std::optional<int64_t> t = ParseRfc3339(ts);
    if (!t || (stream != "stdout" && stream != "stderr") || (tag != 'F' && tag != 'P'))
      return;
    LogLine& cur = stream == "stderr" ? err_ : out_;
    if (cur.text.empty() && cur.time == 0) {
      cur.time = *t;
      cur.time_text = std::string(ts);
      cur.is_stderr = stream == "stderr";
    }
    cur.text.append(text);
    if (tag == 'F') {
      out.push_back(std::move(cur));
      cur = LogLine();
    }
  }

  // The partial lines still open (at the end of the file).
  void Flush(std::vector<LogLine>& out) {
    for (LogLine* l : {&out_, &err_}) {
      if (l->time != 0) {
        out.push_back(std::move(*l));
        *l = LogLine();
      }
    }
  }

 private:
  LogLine out_, err_;
};

// The log file from the container's label: path and whether it holds CRI records.
struct LogSource {
  std::string path;
  bool cri = false;
};

absl::StatusOr<LogSource> SourceFromUri(const std::string& id, const std::string& uri) {
  constexpr std::string_view kScheme = "file://";
  if (!uri.starts_with(kScheme))
    return FailedPrecondition(
        fmt::format("container {:?}: log {:?} is not a file:// URI", id, uri));
  LogSource src;
  std::string_view rest = std::string_view(uri).substr(kScheme.size());
  size_t q = rest.find('?');
  src.path = std::string(rest.substr(0, q));
  src.cri = q != std::string_view::npos &&
            rest.substr(q + 1).find("format=cri") != std::string_view::npos;
  return src;
}

// True while the container's task runs (created, running, paused): -f keeps following.
bool TaskAlive(Connection& conn, const std::string& id) {
  tasks_api::GetRequest req;
  req.set_container_id(id);
  tasks_api::GetResponse resp;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.tasks().Get(ctx.get(), req, &resp));
  if (!st.ok())
    return false;
  return resp.process().status() != ::containerd::v1::types::STOPPED &&
         resp.process().status() != ::containerd::v1::types::UNKNOWN;
}

class LogPrinter {
 public:
  LogPrinter(const LogsFlags& f, int64_t since) : f_(f), since_(since) {}

  // Prints the lines, dropping those before --since; with `tail` >= 0 only the last `tail`.
  void Print(const std::vector<LogLine>& lines, int64_t tail) {
    size_t first = 0;
    std::vector<const LogLine*> kept;
    for (const LogLine& l : lines) {
      if (l.time >= since_)
        kept.push_back(&l);
    }
    if (tail >= 0 && kept.size() > static_cast<size_t>(tail))
      first = kept.size() - static_cast<size_t>(tail);
    for (size_t i = first; i < kept.size(); ++i) {
      const LogLine& l = *kept[i];
      std::FILE* to = l.is_stderr ? stderr : stdout;
      if (f_.timestamps)
        std::fprintf(to, "%s ", l.time_text.c_str());
      std::fwrite(l.text.data(), 1, l.text.size(), to);
      std::fputc('\n', to);
    }
    std::fflush(stdout);
    std::fflush(stderr);
  }

 private:
  const LogsFlags& f_;
  int64_t since_;
};

// Reads what was appended to `fd` since the last call; complete lines only (the rest waits).
class Tail {
 public:
  explicit Tail(int fd) : fd_(fd) {}

  std::vector<std::string> ReadLines() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      pending_.append(buf, static_cast<size_t>(n));
    }
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
      lines.emplace_back(pending_, start, nl - start);
    pending_.erase(0, start);
    return lines;
  }

 private:
  int fd_;
  std::string pending_;
};

absl::StatusOr<int64_t> ParseTail(const std::string& s) {
  if (s == "all" || s.empty())
    return -1;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0)
    return InvalidArgument(fmt::format("--tail {:?}: want a number or all", s));
  return n;
}

absl::Status CopyRaw(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? ErrnoError(errno, "read log") : absl::OkStatus();
    std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
  }
}

absl::Status RunLogs(Cli& cli, const LogsFlags& f) {
  BERTH_ASSIGN_OR_RETURN(int64_t tail, ParseTail(f.tail));
  int64_t since = 0;
  if (!f.since.empty()) {
    BERTH_ASSIGN_OR_RETURN(since, ParseSince(f.since));
  }
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(containers_api::Container c, FindContainer(conn, f.container));
  auto uri = c.labels().find(kLogUriLabel);
  if (uri == c.labels().end() || uri->second.empty()) {
    return FailedPrecondition(fmt::format(
        "container {:?}: has no log file (only detached containers, bctr run -d, keep one)",
        f.container));
  }
  BERTH_ASSIGN_OR_RETURN(LogSource src, SourceFromUri(f.container, uri->second));
  UniqueFd fd(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno != ENOENT)
    return ErrnoError(errno, fmt::format("container {:?}: open log {}", f.container, src.path));
  std::optional<Tail> reader;
  CriAssembler assembler;
  LogPrinter printer(f, since);
  auto drain = [&](bool first, bool last) -> absl::Status {
    if (!fd.valid())
      fd.reset(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC));  // made once the task starts
    if (!fd.valid())
      return absl::OkStatus();
    if (!reader)
      reader.emplace(fd.get());
    if (!src.cri) {
      BERTH_RETURN_IF_ERROR(CopyRaw(fd.get()));
      std::fflush(stdout);
      return absl::OkStatus();
    }
    std::vector<LogLine> lines;
    for (const std::string& rec : reader->ReadLines()) assembler.Add(rec, lines);
    if (last)
      assembler.Flush(lines);
    printer.Print(lines, first ? tail : -1);
    return absl::OkStatus();
  };
  BERTH_RETURN_IF_ERROR(drain(true, !f.follow));
  if (!f.follow)
    return absl::OkStatus();
  auto next_check = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BERTH_RETURN_IF_ERROR(drain(false, false));
    if (std::chrono::steady_clock::now() < next_check)
      continue;
    next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    if (!TaskAlive(conn, c.id())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the shim's last writes
      return drain(false, true);
    }
  }
}

}  // namespace

void AddLogs(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<LogsFlags>();
  CLI::App* cmd = parent.add_subcommand("logs", "Show the output of a detached container");
  cmd->add_option("container", f->container, "Container id, id prefix or name")->required();
  cmd->add_flag("-f,--follow", f->follow, "Keep printing new output until the task exits");
  cmd->add_option("-n,--tail", f->tail, "Only the last N lines (or all)")->default_val("all");
  cmd->add_flag("-t,--timestamps", f->timestamps, "Prefix each line with its time");
  cmd->add_option("--since", f->since,
                  "Only lines since a time (RFC 3339, Unix seconds) or a duration ago (10m)");
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunLogs(cli, *f), "logs"); }; });
}

}  // namespace berth::ctr
