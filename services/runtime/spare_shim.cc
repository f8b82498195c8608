#include "services/runtime/spare_shim.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/base/run_program.h"

namespace berth::runtime {
namespace {

constexpr auto kSpareStartTimeout = std::chrono::seconds(30);
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(5);

// Waits up to `timeout` for one message on `fd`; "" when the peer closed it or time ran out.
std::string ReceiveAnswer(int fd, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0)
      return "";
    pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return "";
    char buf[4096];
    ssize_t r = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return r > 0 ? std::string(buf, static_cast<size_t>(r)) : "";
  }
}

// The pidfd of the spare behind `channel`, or an invalid fd if it is gone: its end of the
// channel being open proves that `pid` is still that spare.
UniqueFd SparePidfd(int channel, pid_t pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  pollfd p = {channel, POLLIN, 0};
  if (!pidfd.valid() || (::poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0))
    return UniqueFd();  // gone already; the pid may be another process's by now
  return pidfd;
}

}  // namespace

SpareShims::SpareShims(Config config) : config_(std::move(config)) {
  refill_ = std::thread([this] { RefillLoop(); });
}

SpareShims::~SpareShims() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  refill_.join();
}

std::vector<pid_t> SpareShims::ReadyPids() {
  absl::MutexLock lock(&mu_);
  std::vector<pid_t> pids;
  for (const Spare& s : ready_) pids.push_back(s.pid);
  return pids;
}

bool SpareShims::HasReady() {
  absl::MutexLock lock(&mu_);
  return !ready_.empty();
}

void SpareShims::PostponeRefill() {
  absl::MutexLock lock(&mu_);
  last_handover_ = absl::Now();
}

void SpareShims::RefillLoop() {
  absl::MutexLock lock(&mu_);
  auto needed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || static_cast<int>(ready_.size()) < config_.count;
  };
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  for (;;) {
    mu_.Await(absl::Condition(&needed));
    // kRefillDelay after the last hand-over, or after a later PostponeRefill.
    while (!stopping_ && absl::Now() < last_handover_ + kRefillDelay)
      mu_.AwaitWithDeadline(absl::Condition(&stopped), last_handover_ + kRefillDelay);
    if (stopping_)
      return;
    mu_.Unlock();
    absl::StatusOr<Spare> spare = StartOne();
    mu_.Lock();
    if (spare.ok()) {
      ready_.push_back(std::move(*spare));
      continue;
    }
    spdlog::warn("start spare shim failed, retrying in {}: {}",
                 absl::FormatDuration(kRetryAfterFailure), spare.status().ToString());
    mu_.AwaitWithTimeout(absl::Condition(&stopped), kRetryAfterFailure);
  }
}

absl::StatusOr<SpareShims::Spare> SpareShims::StartOne() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    return ErrnoError(errno, "spare shim: socketpair");
  Spare spare;
  spare.channel.reset(pair[0]);
  UniqueFd theirs(pair[1]);
  absl::StatusOr<CommandOutput> out =
      RunProgram({config_.shim_binary, "start", "--spare", "--address", config_.daemon_address},
                 kSpareStartTimeout, theirs.get());
  if (!out.ok())
    return out.status();
  if (out->exit_code != 0 || std::sscanf(out->out.c_str(), "spare %d", &spare.pid) != 1) {
    std::string why = out->err.empty() ? out->out : out->err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Unavailable(fmt::format("spare shim (exit {}): {}", out->exit_code, why));
  }
  return spare;
}

absl::StatusOr<SpareShims::Handover> SpareShims::Begin(const Bundle& bundle) {
  Spare spare;
  {
    absl::MutexLock lock(&mu_);
    if (ready_.empty())
      return Unavailable("no spare shim is ready");
    spare = std::move(ready_.front());
    ready_.pop_front();  // wakes the refill thread
    last_handover_ = absl::Now();
  }
  UniqueFd pidfd = SparePidfd(spare.channel.get(), spare.pid);
  if (!pidfd.valid())
    return Unavailable(fmt::format("spare shim {} for task {:?}: gone", spare.pid, bundle.id()));
  std::string msg = bundle.id() + '\0' + bundle.ns() + '\0' + bundle.path().string();
  if (::send(spare.channel.get(), msg.data(), msg.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(msg.size())) {
    return Unavailable(
        fmt::format("spare shim {}: send task: {}", spare.pid, std::strerror(errno)));
  }
  return Handover(std::move(spare), std::move(pidfd), bundle.id());
}

absl::StatusOr<ShimProcess> SpareShims::Handover::Finish(absl::Duration timeout) {
  if (!pidfd_.valid())
    return FailedPrecondition(fmt::format("spare shim for task {:?}: already finished", id_));
  std::string answer = ReceiveAnswer(spare_.channel.get(), timeout);
  if (answer.starts_with("unix://"))
    return ShimProcess{.pid = spare_.pid, .pidfd = std::move(pidfd_)};
  if (answer.empty())
    answer = "no answer";
  // The failed spare is killed by ~Handover.
  return Unavailable(fmt::format("spare shim {} for task {:?}: {}", spare_.pid, id_, answer));
}

SpareShims::Handover::~Handover() {
  if (!pidfd_.valid())
    return;
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  pollfd p = {pidfd_.get(), POLLIN, 0};  // readable once it has exited
  while (::poll(&p, 1, 1000) < 0 && errno == EINTR) {
  }
}

}  // namespace berth::runtime
