#include "lib/ttrpc/client.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/ttrpc/unix_address.h"
#include "lib/ttrpc/wire.h"

namespace berth::ttrpc {

// A call waiting for its reply, or an open stream.
struct Pending {
  // Unary: filled by the epoll thread, guarded by Conn::mu.
  bool done = false;
  absl::Status status;
  std::string reply;
  // Stream: callbacks run under cb_mu, so CloseStream can wait for a running one.
  bool stream = false;
  Client::OnMessage on_message;
  Client::OnDone on_done;
  absl::Mutex cb_mu;
  bool closed = false;  // GUARDED_BY(cb_mu)
};

struct Client::Conn {
  explicit Conn(int socket) : fd(socket) {}

  // Sends one frame whole; false when the connection is gone. The socket is non-blocking
  // (the epoll thread must never block on it), so a full buffer waits in poll here.
  bool Write(const std::string& bytes) {
    absl::MutexLock lock(&write_mu);
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p = {fd.get(), POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (n <= 0)
        return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // The connection ended: every pending call fails, every stream gets on_done.
  void Fail(const absl::Status& why);
  void Deliver(Frame f);
  void RunDone(const std::shared_ptr<Pending>& p, const absl::Status& s);

  UniqueFd fd;
  FrameReader reader;  // only the epoll thread touches it
  absl::Mutex write_mu;
  absl::Mutex mu;
  absl::CondVar cv;
  bool closed = false;                                   // GUARDED_BY(mu)
  uint32_t next_id = 1;                                  // GUARDED_BY(mu): odd ids, as ttrpc
  std::map<uint32_t, std::shared_ptr<Pending>> pending;  // GUARDED_BY(mu)
};

namespace {

// The one epoll thread that reads every Client's connection.
class Loop {
 public:
  static Loop& Get() {
    static Loop* loop = new Loop();  // never destroyed: its thread runs for the process's life
    return *loop;
  }

  void Add(const std::shared_ptr<Client::Conn>& c) {
    {
      absl::MutexLock lock(&mu_);
      conns_[c->fd.get()] = c;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = c->fd.get();
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev);
  }

  // Stops watching `c`; its fd closes when the last reference (maybe the loop's) goes.
  void Remove(const std::shared_ptr<Client::Conn>& c) {
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, c->fd.get(), nullptr);
    absl::MutexLock lock(&mu_);
    auto it = conns_.find(c->fd.get());
    if (it != conns_.end() && it->second == c)
      conns_.erase(it);
  }

 private:
  Loop() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    std::thread([this] { Run(); }).detach();
  }

  void Run() {
    epoll_event events[64];
    for (;;) {
      int n = ::epoll_wait(epfd_.get(), events, 64, -1);
      for (int i = 0; i < n; ++i) {
        std::shared_ptr<Client::Conn> c;
        {
          absl::MutexLock lock(&mu_);
          auto it = conns_.find(events[i].data.fd);
          if (it != conns_.end())
            c = it->second;
        }
        if (c != nullptr && !ReadFrom(*c)) {
          Remove(c);
          c->Fail(absl::UnavailableError("connection closed"));
        }
      }
    }
  }

  // Reads what is there; false when the connection is finished.
  static bool ReadFrom(Client::Conn& c) {
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(c.fd.get(), buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return true;
      if (n <= 0)
        return false;
      c.reader.Feed(buf, static_cast<size_t>(n));
      for (;;) {
        absl::StatusOr<std::optional<Frame>> f = c.reader.Next();
        if (!f.ok())
          return false;
        if (!f->has_value())
          break;
        c.Deliver(std::move(**f));
      }
    }
  }

  UniqueFd epfd_;
  absl::Mutex mu_;
  std::map<int, std::shared_ptr<Client::Conn>> conns_;  // GUARDED_BY(mu_)
};

}  // namespace

void Client::Conn::RunDone(const std::shared_ptr<Pending>& p, const absl::Status& s) {
  absl::MutexLock lock(&p->cb_mu);
  if (p->closed)
    return;
  p->closed = true;
  if (p->on_done)
    p->on_done(s);
}

void Client::Conn::Deliver(Frame f) {
  std::shared_ptr<Pending> p;
  {
    absl::MutexLock lock(&mu);
    auto it = pending.find(f.stream_id);
    if (it == pending.end())
      return;  // a call that timed out or a closed stream
    p = it->second;
    if (f.type == FrameType::kResponse)
      pending.erase(it);
    if (!p->stream && f.type == FrameType::kResponse) {
      p->status = DecodeResponse(f.payload, &p->reply);
      p->done = true;
      cv.SignalAll();
      return;
    }
  }
  if (!p->stream)
    return;
  if (f.type == FrameType::kData) {
    absl::MutexLock lock(&p->cb_mu);
    if (!p->closed && p->on_message)
      p->on_message(std::move(f.payload));
  } else if (f.type == FrameType::kResponse) {
    std::string ignored;
    RunDone(p, DecodeResponse(f.payload, &ignored));
  }
}

void Client::Conn::Fail(const absl::Status& why) {
  std::map<uint32_t, std::shared_ptr<Pending>> left;
  {
    absl::MutexLock lock(&mu);
    closed = true;
    left.swap(pending);
    for (auto& [id, p] : left) {
      if (!p->stream) {
        p->status = why;
        p->done = true;
      }
    }
    cv.SignalAll();
  }
  for (auto& [id, p] : left) {
    if (p->stream)
      RunDone(p, why);
  }
}

absl::StatusOr<std::unique_ptr<Client>> Client::Dial(const std::string& path,
                                                     absl::Duration timeout) {
  absl::StatusOr<UnixAddress> addr = MakeUnixAddress(path);
  if (!addr.ok())
    return addr.status();
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid())
      return absl::UnavailableError(std::string("ttrpc: socket: ") + std::strerror(errno));
    if (::connect(fd.get(), addr->get(), sizeof(addr->addr)) == 0) {
      auto conn = std::make_shared<Conn>(fd.release());
      Loop::Get().Add(conn);
      return std::unique_ptr<Client>(new Client(std::move(conn)));
    }
    int err = errno;
    bool retry = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!retry || absl::Now() >= deadline)
      return absl::UnavailableError("connect to " + path + ": " + std::strerror(err));
    absl::SleepFor(absl::Milliseconds(5));
  }
}

Client::~Client() {
  std::vector<std::shared_ptr<Pending>> streams;
  {
    absl::MutexLock lock(&conn_->mu);
    for (auto& [id, p] : conn_->pending) {
      if (p->stream)
        streams.push_back(p);
    }
  }
  for (const auto& p : streams) {
    absl::MutexLock cb(&p->cb_mu);  // waits for a running callback
    p->closed = true;
  }
  Loop::Get().Remove(conn_);
  ::shutdown(conn_->fd.get(), SHUT_RDWR);
  conn_->Fail(absl::UnavailableError("connection closed by the client"));
}

bool Client::Closed() {
  absl::MutexLock lock(&conn_->mu);
  return conn_->closed;
}

absl::StatusOr<std::string> Client::Call(const std::string& service, const std::string& method,
                                         const std::string& request, absl::Duration timeout,
                                         absl::FunctionRef<bool()> cancelled) {
  auto p = std::make_shared<Pending>();
  uint32_t id = 0;
  {
    absl::MutexLock lock(&conn_->mu);
    if (conn_->closed)
      return absl::UnavailableError("connection closed");
    id = conn_->next_id;
    conn_->next_id += 2;
    conn_->pending[id] = p;
  }
  std::string bytes;
  AppendFrame(&bytes,
              Frame{id, FrameType::kRequest, 0,
                    EncodeRequest({.service = service,
                                   .method = method,
                                   .payload = request,
                                   .timeout_nano = timeout == absl::InfiniteDuration()
                                                       ? 0
                                                       : absl::ToInt64Nanoseconds(timeout)})});
  bool sent = conn_->Write(bytes);
  absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&conn_->mu);
  if (!sent && !p->done) {
    conn_->pending.erase(id);
    return absl::UnavailableError("connection closed");
  }
  while (!p->done) {
    absl::Time now = absl::Now();
    if (now >= deadline) {
      conn_->pending.erase(id);
      return absl::DeadlineExceededError("no reply to " + method + " within " +
                                         absl::FormatDuration(timeout));
    }
    conn_->cv.WaitWithDeadline(&conn_->mu, std::min(deadline, now + absl::Milliseconds(200)));
    if (!p->done && cancelled()) {
      conn_->pending.erase(id);
      return absl::CancelledError(method + ": cancelled");
    }
  }
  if (!p->status.ok())
    return p->status;
  return std::move(p->reply);
}

uint32_t Client::OpenStream(const std::string& service, const std::string& method,
                            const std::string& request, OnMessage on_message, OnDone on_done) {
  auto p = std::make_shared<Pending>();
  p->stream = true;
  p->on_message = std::move(on_message);
  p->on_done = std::move(on_done);
  uint32_t id = 0;
  bool closed = false;
  {
    absl::MutexLock lock(&conn_->mu);
    closed = conn_->closed;
    id = conn_->next_id;
    conn_->next_id += 2;
    if (!closed)
      conn_->pending[id] = p;
  }
  std::string bytes;
  AppendFrame(
      &bytes,
      Frame{id, FrameType::kRequest, kFlagRemoteClosed,
            EncodeRequest(
                {.service = service, .method = method, .payload = request, .timeout_nano = 0})});
  if (closed || !conn_->Write(bytes)) {
    {
      absl::MutexLock lock(&conn_->mu);
      conn_->pending.erase(id);
    }
    conn_->RunDone(p, absl::UnavailableError("connection closed"));
  }
  return id;
}

bool Client::CloseStream(uint32_t id) {
  std::shared_ptr<Pending> p;
  {
    absl::MutexLock lock(&conn_->mu);
    auto it = conn_->pending.find(id);
    if (it == conn_->pending.end())
      return false;
    p = it->second;
    conn_->pending.erase(it);
  }
  absl::MutexLock cb(&p->cb_mu);  // waits for a running callback of this stream
  bool was_open = !p->closed;
  p->closed = true;
  return was_open;
}

}  // namespace berth::ttrpc
