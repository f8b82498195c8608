#include "shim/io/log_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/stdio_uri.h"

namespace berth::shim {
std::string_view LogStreamName(LogStream s) {
  return s == LogStream::kStdout ? "stdout" : "stderr";
}

absl::StatusOr<LogTarget> ParseLogUri(std::string_view uri) {
  if (!HasScheme(uri, "file"))
    return InvalidArgument(fmt::format("log uri {:?}: only file:// log URIs are supported", uri));
  BERTH_ASSIGN_OR_RETURN(StdioUri u, ParseStdioUri(uri, "file"));
  LogTarget t{.path = std::move(u.path), .cri = false};
  for (const auto& [key, value] : u.query) {
    if (key != "format")
      continue;  // other keys are ignored
    if (value == "cri")
      t.cri = true;
    else if (value == "raw" || value.empty())
      t.cri = false;
    else
      return InvalidArgument(
          fmt::format("log uri {:?}: unknown format {:?} (want cri or raw)", uri, value));
  }
  return t;
}

std::string FormatCriTimestamp(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }

  struct tm tm {};

  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string FormatCriRecord(std::chrono::system_clock::time_point t, LogStream stream, bool partial,
                            std::string_view text) {
  return fmt::format("{} {} {} {}\n", FormatCriTimestamp(t), LogStreamName(stream),
                     partial ? 'P' : 'F', text);
}

absl::StatusOr<std::shared_ptr<LogFile>> LogFile::Open(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::path parent = p.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return ErrnoError(ec.value(),
                        fmt::format("log {}: create directory {}", path, parent.string()));
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("log {}: open", path));
  return std::shared_ptr<LogFile>(new LogFile(path, std::move(fd)));
}

absl::Status LogFile::Write(std::string_view data) {
  absl::MutexLock lock(&mu_);
  while (!data.empty()) {
    ssize_t w = ::write(fd_.get(), data.data(), data.size());
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return ErrnoError(errno, fmt::format("log {}: write", path_));
    if (w == 0)
      return Internal(fmt::format("log {}: write wrote nothing", path_));
    data.remove_prefix(static_cast<size_t>(w));
  }
  return absl::OkStatus();
}

CriLineWriter::CriLineWriter(std::shared_ptr<LogFile> file, LogStream stream, Clock clock)
    : file_(std::move(file)), stream_(stream), clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] { return std::chrono::system_clock::now(); };
}

void CriLineWriter::AddRecord(std::string& out, std::string_view text, bool partial) {
  if (out.empty())
    now_ = clock_();  // one time for the records of one read
  out += FormatCriRecord(now_, stream_, partial, text);
}

absl::Status CriLineWriter::Append(std::string_view bytes) {
  std::string out;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(bytes);
      break;
    }
    pending_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    std::string_view line = pending_;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    while (line.size() > kMaxCriLine) {
      AddRecord(out, line.substr(0, kMaxCriLine), true);
      line.remove_prefix(kMaxCriLine);
    }
    AddRecord(out, line, false);
    pending_.clear();
  }
  // A line that goes on and on: write it out in parts, keeping less than kMaxCriLine back.
  size_t cut = 0;
  while (pending_.size() - cut > kMaxCriLine) {
    AddRecord(out, std::string_view(pending_).substr(cut, kMaxCriLine), true);
    cut += kMaxCriLine;
  }
  pending_.erase(0, cut);
  if (out.empty())
    return absl::OkStatus();
  return file_->Write(out);
}

absl::Status CriLineWriter::Finish() {
  if (pending_.empty())
    return absl::OkStatus();
  std::string out;
  AddRecord(out, pending_, true);
  pending_.clear();
  return file_->Write(out);
}

}  // namespace berth::shim
