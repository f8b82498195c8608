#pragma once

// A ttrpc server on a unix socket (berth-shim's side of the shim API). One thread, the one
// that calls Serve(), accepts connections and reads requests from all of them (poll); each
// call then runs on a thread of its own, so a blocking call (Wait, an event stream) never
// holds up another, and an idle connection costs no thread. Replies and stream messages are
// written whole under the connection's lock.
//
// Errors returned by a handler travel as google.rpc.Status (code and message unchanged); an
// unknown service or method is Unimplemented, naming it.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "lib/base/unique_fd.h"

namespace berth::ttrpc {

class Server {
 public:
  // Serializes the reply into `*response`.
  using UnaryHandler =
      std::function<absl::Status(const std::string& request, std::string* response)>;
  // Sends each message with `send` (false once the client is gone: stop then); the returned
  // status ends the stream.
  using Send = std::function<bool(const std::string& message)>;
  using StreamHandler = std::function<absl::Status(const std::string& request, const Send& send)>;

  Server();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Register before Serve.
  void RegisterUnary(const std::string& service, const std::string& method, UnaryHandler h);
  void RegisterStream(const std::string& service, const std::string& method, StreamHandler h);

  // Binds and listens on `path` (an old socket file there is replaced), mode 0600.
  absl::Status Listen(const std::string& path);

  // Serves until Stop(). Then it stops reading requests and lets the unary calls that are
  // running finish and send their replies (waiting up to `drain`) before it returns.
  void Serve(absl::Duration drain = absl::Seconds(2));
  // After Serve: waits up to `timeout` for the running calls, streams included, to return by
  // themselves (a stream that ends once its source is closed and drained); true if they all
  // did. Call it before Shutdown, which cuts the streams off.
  bool WaitForCalls(absl::Duration timeout);
  // After Serve: closes every connection (running streams see `send` fail) and waits up to
  // `drain` for the call threads to return. The destructor does it too (2 s); a call still
  // running after that must not outlive the process (the shim exits right after).
  void Shutdown(absl::Duration drain);

  // Thread-safe; also from a handler (its own reply is still sent) and async-signal-safe.
  void Stop();

  // Calls run on worker threads that the server keeps: a call goes to an idle worker, or to a
  // new one when none is idle; a worker that has finished waits up to kIdleWait for the next
  // call (at most kMaxIdle wait). Prestart starts `n` idle workers now, which wait for their
  // first call without a time limit (a spare shim does, so that its task's first calls start
  // no thread).
  static constexpr int kMaxIdle = 2;
  static constexpr absl::Duration kIdleWait = absl::Seconds(10);
  void Prestart(int n);

 private:
  struct Conn;

  struct Method {
    UnaryHandler unary;
    StreamHandler stream;
  };

  void Accept();
  // Reads what `c` has; false when the connection is finished (EOF, error, bad frame).
  bool ReadFrom(const std::shared_ptr<Conn>& c);
  void Dispatch(const std::shared_ptr<Conn>& c, uint32_t stream_id, std::string payload);
  void RunCall(const std::shared_ptr<Conn>& c, uint32_t stream_id, const Method* m,
               std::string payload);
  void Worker(bool prestarted);

  std::map<std::string, Method> methods_;  // "/service/method"
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;                            // eventfd: Stop()
  std::map<int, std::shared_ptr<Conn>> conns_;  // only the Serve thread touches it

  absl::Mutex mu_;
  int unary_running_ = 0;                    // GUARDED_BY(mu_)
  int calls_running_ = 0;                    // GUARDED_BY(mu_)
  std::deque<std::function<void()>> calls_;  // GUARDED_BY(mu_): waiting for a worker
  int idle_ = 0;                             // GUARDED_BY(mu_): workers waiting for a call
  int workers_ = 0;                          // GUARDED_BY(mu_)
  bool closing_ = false;                     // GUARDED_BY(mu_): idle workers leave
};

}  // namespace berth::ttrpc
