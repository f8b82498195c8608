#include "shim/linux/sync.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::shim::linux {
namespace {

// strlcat-like append into a fixed buffer; plain loops only (no libc allocation).
void Append(char* buf, size_t size, const char* s) {
  size_t n = 0;
  while (n < size - 1 && buf[n] != '\0') ++n;
  while (s != nullptr && *s != '\0' && n < size - 1) buf[n++] = *s++;
  buf[n] = '\0';
}

}  // namespace

absl::StatusOr<SyncPair> MakeSyncPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
    return ErrnoError(errno, "socketpair");
  return SyncPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool SendSync(int sock, SyncType type, int64_t value, int fd) {
  SyncMsg msg;
  msg.type = type;
  msg.value = value;
  struct iovec iov = {&msg, sizeof(msg)};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(msg));
}

bool ReadSync(int sock, SyncMsg* msg) {
  ssize_t n;
  do {
    n = ::read(sock, msg, sizeof(*msg));
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(*msg));
}

void ChildFail(int sock, int err, const char* step, const char* path) {
  SyncMsg msg;
  msg.type = SyncType::kError;
  msg.err = err;
  Append(msg.text, sizeof(msg.text), step);
  if (path != nullptr) {
    Append(msg.text, sizeof(msg.text), " ");
    Append(msg.text, sizeof(msg.text), path);
  }
  ssize_t n;
  do {
    n = ::send(sock, &msg, sizeof(msg), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  ::_exit(127);
}

absl::StatusOr<SyncMsg> ReceiveSync(int sock, std::string_view what, int timeout_ms, UniqueFd* fd) {
  struct pollfd pfd = {sock, POLLIN, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r < 0)
    return ErrnoError(errno, fmt::format("{}: poll sync socket", what));
  if (r == 0)
    return absl::DeadlineExceededError(fmt::format("{}: no answer from child", what));
  SyncMsg msg;
  struct iovec iov = {&msg, sizeof(msg)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return ErrnoError(errno, fmt::format("{}: read sync socket", what));
  if (n == 0) {
    msg.type = SyncType::kEof;
    return msg;
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd != nullptr) {
      int got;
      std::memcpy(&got, CMSG_DATA(c), sizeof(int));
      fd->reset(got);
    }
  }
  if (msg.type == SyncType::kError) {
    msg.text[sizeof(msg.text) - 1] = '\0';
    return ErrnoError(msg.err, fmt::format("{}: {}", what, msg.text));
  }
  return msg;
}

absl::Status SendToChild(int sock, SyncType type, std::string_view what) {
  if (!SendSync(sock, type))
    return ErrnoError(errno, fmt::format("{}: write sync socket", what));
  return absl::OkStatus();
}

}  // namespace berth::shim::linux
