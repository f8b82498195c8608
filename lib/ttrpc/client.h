#pragma once

// A ttrpc client on one unix-socket connection (berthd's side of a shim). Calls from any
// thread share the connection, each on its own stream id. Replies are read by one process-
// wide epoll thread for every Client, so berthd pays no thread per shim, idle or streaming.
//
// Errors: a connection that cannot be made, is closed or breaks gives Unavailable; a call
// that gets no reply within its timeout gives DeadlineExceeded; otherwise the status the
// server sent (code and message unchanged). Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::ttrpc {

class Client {
 public:
  // Connects to `path`, retrying while the socket is missing or refuses, up to `timeout`.
  static absl::StatusOr<std::unique_ptr<Client>> Dial(const std::string& path,
                                                      absl::Duration timeout);
  // Ends every stream without its callbacks and fails running calls with Unavailable; no
  // callback runs after it returns.
  ~Client();

  // One request, one reply. `cancelled` is asked every 200 ms while waiting (true: Cancelled,
  // the server's reply is then dropped).
  absl::StatusOr<std::string> Call(
      const std::string& service, const std::string& method, const std::string& request,
      absl::Duration timeout, absl::FunctionRef<bool()> cancelled = [] { return false; });

  // A server stream: `on_message` for every message, then `on_done` once with the final
  // status (Unavailable when the connection ends first). Both run on the epoll thread and
  // must not block for long or destroy this Client. Returns the stream's id.
  using OnMessage = std::function<void(std::string message)>;
  using OnDone = std::function<void(absl::Status status)>;
  uint32_t OpenStream(const std::string& service, const std::string& method,
                      const std::string& request, OnMessage on_message, OnDone on_done);
  // Ends the stream locally. True: no callback of it runs after this returns. False: the
  // stream had already ended (its on_done has run or is running). Not from that stream's own
  // callbacks. The server sees the end when the connection closes.
  bool CloseStream(uint32_t id);

  // True once the connection has ended.
  bool Closed();

  struct Conn;  // shared with the epoll thread

 private:
  explicit Client(std::shared_ptr<Conn> conn) : conn_(std::move(conn)) {}

  std::shared_ptr<Conn> conn_;
};

}  // namespace berth::ttrpc
