#include "lib/ttrpc/server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "lib/ttrpc/unix_address.h"
#include "lib/ttrpc/wire.h"

namespace berth::ttrpc {

struct Server::Conn {
  explicit Conn(int socket) : fd(socket) {}

  // Writes one frame whole; false when the peer is gone.
  bool Write(uint32_t stream_id, FrameType type, uint8_t flags, std::string payload) {
    std::string out;
    AppendFrame(&out, Frame{stream_id, type, flags, std::move(payload)});
    absl::MutexLock lock(&write_mu);
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::send(fd.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  UniqueFd fd;
  FrameReader reader;
  absl::Mutex write_mu;
};

Server::Server() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Server::~Server() {
  Shutdown(absl::Seconds(2));
  absl::MutexLock lock(&mu_);
  closing_ = true;
  auto gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return workers_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&gone), absl::Seconds(2));
}

void Server::Prestart(int n) {
  {
    absl::MutexLock lock(&mu_);
    workers_ += n;
  }
  for (int i = 0; i < n; ++i) std::thread(&Server::Worker, this, /*prestarted=*/true).detach();
}

void Server::Worker(bool prestarted) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !calls_.empty() || closing_; };
  for (;;) {
    if (calls_.empty()) {
      if (closing_ || idle_ >= kMaxIdle)
        break;
      ++idle_;
      // A prestarted worker waits for its first call however long that takes (a spare shim
      // may wait minutes for its task); after a call, kIdleWait.
      if (prestarted)
        mu_.Await(absl::Condition(&ready));
      else
        mu_.AwaitWithTimeout(absl::Condition(&ready), kIdleWait);
      prestarted = false;
      --idle_;
      if (calls_.empty())
        break;  // idle for kIdleWait, or the server is going
    }
    std::function<void()> call = std::move(calls_.front());
    calls_.pop_front();
    mu_.Unlock();
    call();
    mu_.Lock();
  }
  --workers_;
}

void Server::RegisterUnary(const std::string& service, const std::string& method, UnaryHandler h) {
  methods_["/" + service + "/" + method].unary = std::move(h);
}

void Server::RegisterStream(const std::string& service, const std::string& method,
                            StreamHandler h) {
  methods_["/" + service + "/" + method].stream = std::move(h);
}

absl::Status Server::Listen(const std::string& path) {
  absl::StatusOr<UnixAddress> addr = MakeUnixAddress(path);
  if (!addr.ok())
    return addr.status();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return absl::InternalError(std::string("ttrpc: socket: ") + std::strerror(errno));
  ::unlink(path.c_str());
  if (::bind(fd.get(), addr->get(), sizeof(addr->addr)) != 0 || ::chmod(path.c_str(), 0600) != 0 ||
      ::listen(fd.get(), 64) != 0) {
    return absl::InternalError("ttrpc: listen on " + path + ": " + std::strerror(errno));
  }
  listen_fd_ = std::move(fd);
  return absl::OkStatus();
}

void Server::Stop() {
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void Server::Serve(absl::Duration drain) {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const auto& [fd, c] : conns_) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[0].revents != 0)
      break;
    if (fds[1].revents != 0)
      Accept();
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0)
        continue;
      auto it = conns_.find(fds[i].fd);
      if (it != conns_.end() && !ReadFrom(it->second)) {
        ::shutdown(it->first, SHUT_RDWR);  // running calls keep the Conn until they return
        conns_.erase(it);
      }
    }
  }
  listen_fd_.reset();
  absl::MutexLock lock(&mu_);
  auto idle = [this] { return unary_running_ == 0; };
  mu_.AwaitWithTimeout(absl::Condition(&idle), drain);
}

bool Server::WaitForCalls(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto none = [this] { return calls_running_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&none), timeout);
}

void Server::Shutdown(absl::Duration drain) {
  for (const auto& [fd, c] : conns_) ::shutdown(fd, SHUT_RDWR);
  conns_.clear();
  listen_fd_.reset();
  (void)WaitForCalls(drain);
}

void Server::Accept() {
  int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0)
    conns_[fd] = std::make_shared<Conn>(fd);
}

bool Server::ReadFrom(const std::shared_ptr<Conn>& c) {
  char buf[64 * 1024];
  ssize_t n = ::read(c->fd.get(), buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return true;
  if (n <= 0)
    return false;
  c->reader.Feed(buf, static_cast<size_t>(n));
  for (;;) {
    absl::StatusOr<std::optional<Frame>> f = c->reader.Next();
    if (!f.ok())
      return false;
    if (!f->has_value())
      return true;
    Frame& frame = **f;
    if (frame.type == FrameType::kRequest)
      Dispatch(c, frame.stream_id, std::move(frame.payload));
    // Data frames from a client (client streams) are not used by the shim API: dropped.
  }
}

void Server::Dispatch(const std::shared_ptr<Conn>& c, uint32_t stream_id, std::string payload) {
  absl::StatusOr<Request> req = DecodeRequest(payload);
  if (!req.ok()) {
    c->Write(stream_id, FrameType::kResponse, 0, EncodeResponse(req.status(), ""));
    return;
  }
  auto it = methods_.find("/" + req->service + "/" + req->method);
  if (it == methods_.end()) {
    absl::Status s = absl::UnimplementedError("ttrpc: method /" + req->service + "/" + req->method +
                                              " is not implemented");
    c->Write(stream_id, FrameType::kResponse, 0, EncodeResponse(s, ""));
    return;
  }
  const Method* m = &it->second;
  bool start_worker = false;
  {
    absl::MutexLock lock(&mu_);
    ++calls_running_;
    if (m->unary)
      ++unary_running_;
    calls_.push_back([this, c, stream_id, m, payload = std::move(req->payload)]() mutable {
      RunCall(c, stream_id, m, std::move(payload));
    });
    start_worker = idle_ < static_cast<int>(calls_.size());
    if (start_worker)
      ++workers_;
  }
  if (start_worker)
    std::thread(&Server::Worker, this, /*prestarted=*/false).detach();
}

void Server::RunCall(const std::shared_ptr<Conn>& c_ref, uint32_t stream_id, const Method* m,
                     std::string payload) {
  std::shared_ptr<Conn> c = c_ref;
  if (m->unary) {
    std::string out;
    absl::Status s = m->unary(payload, &out);
    c->Write(stream_id, FrameType::kResponse, 0, EncodeResponse(s, s.ok() ? out : ""));
  } else {
    Send send = [&c, stream_id](const std::string& msg) {
      return c->Write(stream_id, FrameType::kData, 0, msg);
    };
    absl::Status s = m->stream(payload, send);
    c->Write(stream_id, FrameType::kResponse, kFlagRemoteClosed, EncodeResponse(s, ""));
  }
  c.reset();
  absl::MutexLock lock(&mu_);
  --calls_running_;
  if (m->unary)
    --unary_running_;
}

}  // namespace berth::ttrpc
