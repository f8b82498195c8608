#include "services/introspection/service.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "grpcpp/server_builder.h"

#include "lib/base/platform.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/rpc/handler.h"

namespace berth::services::introspection {
namespace {

bool LooksLikeUuid(const std::string& s) {
  if (s.size() != 36)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-'))
      return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i])))
      return false;
  }
  return true;
}

std::optional<std::string> Field(const api::Plugin& p, std::span<const std::string> path) {
  if (path.size() != 1)
    return std::nullopt;
  if (path[0] == "type" && !p.type().empty())
    return p.type();
  if (path[0] == "id" && !p.id().empty())
    return p.id();
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateUuid(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::string u;
    std::getline(in, u);
    if (!LooksLikeUuid(u))
      return Internal(fmt::format("server uuid file {:?} is corrupt", path));
    return u;
  }
  std::ifstream rnd("/proc/sys/kernel/random/uuid");
  std::string u;
  std::getline(rnd, u);
  if (!LooksLikeUuid(u))
    return Internal("cannot read a random uuid from the kernel");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << u << "\n";
    out.flush();
    if (!out)
      return ErrnoError(errno, fmt::format("write {:?}", tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("rename {:?}", tmp));
  return u;
}

api::Plugin PluginToProto(const plugin::LoadResult& r) {
  api::Plugin p;
  p.set_type(std::string(plugin::TypeUri(r.registration->type)));
  p.set_id(r.registration->id);
  for (plugin::Type dep : r.registration->deps) p.add_requires_(std::string(plugin::TypeUri(dep)));
  p.mutable_exports()->insert(r.exports.begin(), r.exports.end());
  for (const std::string& c : r.capabilities) p.add_capabilities(c);
  if (r.registration->host_platform) {
    constexpr HostPlatformNames host = HostPlatformOf();
    ::containerd::types::Platform* platform = p.add_platforms();
    platform->set_os(std::string(host.os));
    platform->set_architecture(std::string(host.architecture));
    platform->set_variant(std::string(host.variant));
  }
  if (!r.status.ok()) {
    p.mutable_init_err()->set_code(static_cast<int>(r.status.code()));
    std::string msg(r.status.message());
    if (absl::IsUnimplemented(r.status))
      msg = "skip plugin: " + msg;
    p.mutable_init_err()->set_message(msg);
  }
  return p;
}

void IntrospectionService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status IntrospectionService::Plugins(grpc::ServerContext*, const api::PluginsRequest* req,
                                           api::PluginsResponse* resp) {
  return rpc::HandleUnscoped("introspection.Plugins", [&]() -> absl::Status {
    std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::ParseAll(exprs));
    for (const plugin::LoadResult& r : registry_.results()) {
      api::Plugin p = PluginToProto(r);
      filters::FuncAdaptor adaptor(
          [&](std::span<const std::string> path) { return Field(p, path); });
      if (filter.Match(adaptor))
        *resp->add_plugins() = std::move(p);
    }
    return absl::OkStatus();
  });
}

grpc::Status IntrospectionService::Server(grpc::ServerContext*, const google::protobuf::Empty*,
                                          api::ServerResponse* resp) {
  resp->set_uuid(uuid_);
  return grpc::Status::OK;
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "introspection",
      .deps = {},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(std::string uuid, LoadOrCreateUuid(ic.root() / "uuid"));
        return std::make_unique<IntrospectionService>(ic.registry(), std::move(uuid));
      },
  });
}

}  // namespace berth::services::introspection
