#include "services/daemon/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/rpc/handler.h"
#include "services/daemon/builtins.h"

namespace berth::daemon {
namespace {

// At the stop, how long the server waits for replies to calls that have returned.
constexpr std::chrono::milliseconds kReplyGrace(100);

absl::Status MakeDir(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create directory {:?}", path));
  if (::chmod(path.c_str(), mode) != 0) {
    return ErrnoError(errno, fmt::format("chmod directory {:?}", path));
  }
  return absl::OkStatus();
}

// True when something accepts connections on the unix socket at `path`.
bool SocketIsLive(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

absl::Status PrepareSocketPath(const std::string& address) {
  if (address.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return InvalidArgument(fmt::format("socket path {:?}: longer than {} bytes", address,
                                       sizeof(sockaddr_un{}.sun_path) - 1));
  }
  BERTH_RETURN_IF_ERROR(MakeDir(std::filesystem::path(address).parent_path().string(), 0711));

  struct stat st {};

  if (::lstat(address.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return absl::OkStatus();
    return ErrnoError(errno, fmt::format("stat socket {:?}", address));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return FailedPrecondition(
        fmt::format("socket path {:?}: exists and is not a socket; not removing it", address));
  }
  if (SocketIsLive(address)) {
    return FailedPrecondition(fmt::format(
        "socket {:?}: another process is serving on it (is another berthd running?)", address));
  }
  spdlog::info("removing stale socket path={}", address);
  if (::unlink(address.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, fmt::format("remove stale socket {:?}", address));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Config config) {
  BERTH_RETURN_IF_ERROR(MakeDir(config.root, 0711));
  BERTH_RETURN_IF_ERROR(MakeDir(config.state, 0711));
  absl::StatusOr<FileLock> lock = FileLock::Acquire(config.root + "/berthd.lock");
  if (!lock.ok()) {
    return Annotate(lock.status(),
                    fmt::format("root {:?} is in use by another berthd", config.root));
  }
  std::unique_ptr<Server> s(new Server(std::move(config), *std::move(lock)));
  BERTH_RETURN_IF_ERROR(s->LoadPlugins());
  BERTH_RETURN_IF_ERROR(s->Serve());
  return s;
}

absl::Status Server::LoadPlugins() {
  RegisterBuiltins(registry_);
  plugin::LoadOptions opts{.disabled = config_.disabled_plugins,
                           .required = config_.required_plugins,
                           .plugins = config_.plugins};
  plugin::DaemonInfo info{.root = config_.root, .state = config_.state, .address = config_.address};
  return registry_.Load(info, std::move(opts));
}

std::vector<plugin::GrpcService*> Server::GrpcServices() const {
  std::vector<plugin::GrpcService*> services;
  for (const plugin::LoadResult& r : registry_.results()) {
    if (auto* svc = dynamic_cast<plugin::GrpcService*>(r.instance.get()))
      services.push_back(svc);
  }
  return services;
}

absl::Status Server::Serve() {
  BERTH_RETURN_IF_ERROR(PrepareSocketPath(config_.address));
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.max_recv_message_size));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.max_send_message_size));
  // Read the socket in large pieces: content writes arrive as 1 MiB messages, and gRPC's
  // default 8 KiB reads cost a syscall and a wake-up each.
  builder.AddChannelArgument("grpc.experimental.tcp_read_chunk_size", 1 << 20);
  builder.AddChannelArgument("grpc.experimental.tcp_min_read_chunk_size", 256 << 10);
  builder.AddChannelArgument("grpc.experimental.tcp_max_read_chunk_size", 4 << 20);
  for (plugin::GrpcService* svc : GrpcServices()) svc->Register(builder);
  builder.AddListeningPort("unix:" + config_.address, grpc::InsecureServerCredentials());
  // The socket must never be reachable with wider permissions than 0660, even for the moment
  // between bind and chmod: create it under a umask that allows no more.
  mode_t old_umask = ::umask(0117);
  rpc::AdmitCalls();
  grpc_ = builder.BuildAndStart();
  ::umask(old_umask);
  if (grpc_ == nullptr) {
    return Unavailable(fmt::format("cannot serve on socket {:?}", config_.address));
  }
  if (::chmod(config_.address.c_str(), 0660) != 0) {
    return ErrnoError(errno, fmt::format("chmod socket {:?}", config_.address));
  }

  struct stat st {};

  const auto uid = static_cast<uid_t>(config_.uid);
  const auto gid = static_cast<gid_t>(config_.gid);
  if (::stat(config_.address.c_str(), &st) != 0 ||
      ((st.st_uid != uid || st.st_gid != gid) && ::chown(config_.address.c_str(), uid, gid) != 0)) {
    return ErrnoError(errno,
                      fmt::format("set owner {}:{} of socket {:?}", uid, gid, config_.address));
  }
  spdlog::info("serving address={} root={} state={}", config_.address, config_.root, config_.state);
  return absl::OkStatus();
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_)
    return;
  stopped_ = true;
  if (grpc_) {
    // New calls are refused and streams end; the calls in progress get the grace. Then the
    // server stops at once, not waiting for clients to close their connections; a call whose
    // body has returned gets a moment to send its reply.
    rpc::StopAdmittingCalls();
    for (plugin::GrpcService* svc : GrpcServices()) svc->Stopping();
    auto deadline = std::chrono::system_clock::now() + grace;
    if (!rpc::WaitForCalls(absl::FromChrono(deadline)))
      spdlog::warn("calls still running after the stop's grace of {} ms: cancelled", grace.count());
    grpc_->Shutdown(std::min(deadline, std::chrono::system_clock::now() + kReplyGrace));
    grpc_->Wait();
    ::unlink(config_.address.c_str());
  }
  registry_.Shutdown();
}

Server::~Server() {
  Shutdown(std::chrono::milliseconds(0));
}

}  // namespace berth::daemon
