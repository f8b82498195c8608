#pragma once

// ShimTask is berthd's side of one running berth-shim: a ttrpc client (lib/ttrpc, one
// connection) on <bundle>/shim.sock, a pidfd on the shim process, and the shim's task event
// stream, forwarded to berthd's exchange with containerd's topics. The replies and events of
// every shim are read by lib/ttrpc's one epoll thread: no thread per shim. The calls map one to one
// to berth.shim.v1 and return the shim's errors (its messages name the task or process); a shim
// that does not answer gives Unavailable `task "<id>": shim: ...`. Thread-safe.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/message_lite.h"

#include "berth/shim/v1/shim.pb.h"
#include "lib/base/unique_fd.h"
#include "lib/mount/mount.h"
#include "lib/ttrpc/client.h"
#include "services/events/exchange.h"
#include "services/runtime/bundle.h"

namespace berth::runtime {

namespace shimapi = ::berth::shim::v1;

// The stdio of a process: fifo paths that the client created ("" for none) and whether it
// runs under a pty.
struct TaskIo {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

// A running berth-shim: its pid, and a pidfd that stays its own.
struct ShimProcess {
  pid_t pid = 0;
  UniqueFd pidfd;
};

class ShimTask {
 public:
  // Connects to the shim serving on bundle.socket() and asks for its pid (its Connect call),
  // unless `known` already tells it (an adopted spare). Unavailable when it does not answer
  // within `timeout`.
  static absl::StatusOr<std::unique_ptr<ShimTask>> Connect(
      Bundle bundle, std::string runtime, std::chrono::milliseconds timeout,
      std::optional<ShimProcess> known = std::nullopt);
  // Stops forwarding events (cancels the stream and joins the thread).
  ~ShimTask();

  // Starts forwarding the shim's events to `exchange`, skipping the ones the bundle records as
  // already forwarded (a shim replays its events to each new subscriber). Call once. `on_lost`
  // runs (on the ttrpc epoll thread) when the stream ends without StopEvents (the shim exited or
  // crashed); it must not block or destroy this ShimTask.
  void ForwardEvents(events::Exchange& exchange, std::function<void()> on_lost = nullptr);
  // Waits up to `timeout` for the event stream to end (it ends when the shim exits), then
  // stops forwarding.
  void StopEvents(std::chrono::milliseconds timeout);
  // Waits up to `timeout` for the shim process to exit; true when it has.
  bool WaitShimExit(std::chrono::milliseconds timeout);
  // SIGKILLs the shim process (through its pidfd, so never another process).
  void KillShim();

  const Bundle& bundle() const { return bundle_; }

  const std::string& runtime() const { return runtime_; }

  pid_t shim_pid() const { return shim_pid_; }

  // The init's pid as Create returned it (0 for a task reconnected after a restart).
  uint32_t created_pid() const { return created_pid_.load(); }

  // Has the shim mount `rootfs` on the bundle's rootfs (none: it is there already) and create
  // the init process; `options` (containerd.runc.v1.Options) may be null.
  absl::StatusOr<uint32_t> Create(const TaskIo& io, const google::protobuf::Any* options,
                                  std::span<const mount::Mount> rootfs);
  absl::StatusOr<shimapi::StateResponse> State(const std::string& exec_id);
  absl::StatusOr<uint32_t> Start(const std::string& exec_id);
  absl::StatusOr<shimapi::DeleteResponse> Delete(const std::string& exec_id);
  absl::Status Kill(const std::string& exec_id, uint32_t signal, bool all);
  absl::Status Exec(const std::string& exec_id, const TaskIo& io,
                    const google::protobuf::Any& spec);
  absl::Status ResizePty(const std::string& exec_id, uint32_t width, uint32_t height);
  absl::Status CloseIO(const std::string& exec_id, bool stdin_too);
  absl::Status Pause();
  absl::Status Resume();
  // The container's processes; `info` (containerd.runc.v1.ProcessDetails, when the shim
  // gives it) with containerd's type URL.
  absl::StatusOr<std::vector<::containerd::v1::types::ProcessInfo>> Pids();
  absl::Status Update(const google::protobuf::Any& resources,
                      const std::map<std::string, std::string>& annotations);
  // io.containerd.cgroups.v1.Metrics or .v2.Metrics, type URL as containerd's typeurl has it.
  absl::StatusOr<google::protobuf::Any> Stats();
  // Blocks until the process exits, or until `cancelled` returns true (polled every 200 ms):
  // then Cancelled.
  absl::StatusOr<shimapi::WaitResponse> Wait(const std::string& exec_id,
                                             absl::FunctionRef<bool()> cancelled);
  // Asks the shim to exit (now: even with a task left).
  absl::Status Shutdown(bool now);

 private:
  ShimTask(Bundle bundle, std::string runtime, std::unique_ptr<ttrpc::Client> client)
      : bundle_(std::move(bundle)), runtime_(std::move(runtime)), client_(std::move(client)) {}

  // One call of berth.shim.v1.Shim/<method>; `what` names it in errors ("close io").
  absl::Status Invoke(
      const char* method, std::string_view what, const google::protobuf::MessageLite& req,
      google::protobuf::MessageLite* resp, absl::Duration timeout,
      absl::FunctionRef<bool()> cancelled = [] { return false; });
  absl::Status Check(const absl::Status& s, std::string_view what) const;

  const Bundle bundle_;
  const std::string runtime_;
  std::unique_ptr<ttrpc::Client> client_;
  pid_t shim_pid_ = 0;
  std::atomic<uint32_t> created_pid_ = 0;
  UniqueFd shim_pidfd_;

  // The event stream, read on lib/ttrpc's epoll thread: no thread of its own per shim.
  class EventReader;
  std::shared_ptr<EventReader> events_;
};

// "type.googleapis.com/a.B" → "a.B": containerd's typeurl names types without a prefix.
std::string ContainerdTypeUrl(const std::string& type_url);
// "a.B" → "type.googleapis.com/a.B": protobuf's Any::UnpackTo needs a '/'.
std::string ProtobufTypeUrl(const std::string& type_url);

// A fingerprint of a shim event (topic, time, payload), stable across berthd restarts.
uint64_t EventFingerprint(const shimapi::Event& e);

}  // namespace berth::runtime
