// Writing images as archives (ExportArchive) and the file plumbing both directions share.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/archive_io.h"
#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "lib/archive/tar.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/registry/reference.h"

namespace berth::ctr {
namespace {

using ojson = nlohmann::ordered_json;

struct ExportImage {
  std::string name;
  registry::Descriptor target;
  registry::Descriptor docker_manifest;  // the one manifest.json lists
  registry::Manifest manifest;
};

class Exporter {
 public:
  Exporter(Connection& conn, const ExportOptions& opts) : conn_(conn), opts_(opts) {}

  absl::Status Add(const std::string& name);
  absl::Status Write(archive::WriteFn out);

 private:
  absl::Status Need(const registry::Descriptor& d, const std::string& image);
  absl::Status AddManifest(const registry::Descriptor& d, const std::string& image,
                           registry::Manifest* out);
  bool Wanted(const registry::Descriptor& d) const;
  absl::Status WriteBlobs(archive::TarWriter& tar);
  std::string IndexJson() const;
  std::string DockerManifestJson() const;

  Connection& conn_;
  const ExportOptions& opts_;
  std::vector<ExportImage> images_;
  std::map<std::string, registry::Descriptor> blobs_;  // by digest, written in this order
};

std::string BlobPath(const std::string& digest) {
  size_t colon = digest.find(':');
  return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

absl::Status Exporter::Need(const registry::Descriptor& d, const std::string& image) {
  content_api::InfoRequest req;
  req.set_digest(d.digest);
  content_api::InfoResponse resp;
  auto ctx = conn_.Context();
  absl::Status st = conn_.Check(conn_.content().Info(ctx.get(), req, &resp));
  if (absl::IsNotFound(st))
    return absl::NotFoundError(
        fmt::format("image {:?}: blob {} is not in the content store", image, d.digest));
  BERTH_RETURN_IF_ERROR(st);
  registry::Descriptor stored = d;
  stored.size = resp.info().size();
  blobs_.emplace(d.digest, stored);
  return absl::OkStatus();
}

absl::Status Exporter::AddManifest(const registry::Descriptor& d, const std::string& image,
                                   registry::Manifest* out) {
  BERTH_RETURN_IF_ERROR(Need(d, image));
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn_, d.digest));
  BERTH_ASSIGN_OR_RETURN(*out, registry::ParseManifest(body, d.digest));
  BERTH_RETURN_IF_ERROR(Need(out->config, image));
  for (const registry::Descriptor& l : out->layers) BERTH_RETURN_IF_ERROR(Need(l, image));
  return absl::OkStatus();
}

bool Exporter::Wanted(const registry::Descriptor& d) const {
  if (!opts_.platform)
    return true;
  if (!d.platform)
    return false;
  const registry::Platform& want = *opts_.platform;
  return d.platform->os == want.os && d.platform->architecture == want.architecture &&
         (want.variant.empty() || d.platform->variant == want.variant);
}

absl::Status Exporter::Add(const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(images_api::Image rec, GetImageRecord(conn_, name));
  ExportImage img{rec.name(), FromProto(rec.target()), {}, {}};
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn_, img.target.digest));
  if (!registry::IsIndex(img.target.media_type)) {
    img.docker_manifest = img.target;
    BERTH_RETURN_IF_ERROR(AddManifest(img.target, img.name, &img.manifest));
    if (opts_.platform) {  // a single manifest: its config says which platform it is for
      BERTH_ASSIGN_OR_RETURN(std::string config, ReadBlob(conn_, img.manifest.config.digest));
      ojson c = ojson::parse(config, nullptr, false);
      if (!c.is_object())
        c = ojson::object();
      registry::Descriptor d;
      d.platform = registry::Platform{c.value("os", ""), c.value("architecture", ""),
                                      c.value("variant", "")};
      if (!Wanted(d))
        return absl::NotFoundError(fmt::format("image {:?}: no manifest for {} (it is for {})",
                                               img.name, opts_.platform->String(),
                                               d.platform->String()));
    }
    images_.push_back(std::move(img));
    return absl::OkStatus();
  }
  BERTH_RETURN_IF_ERROR(Need(img.target, img.name));
  BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, img.name));
  registry::Platform host = opts_.platform.value_or(registry::HostPlatform());
  absl::StatusOr<registry::Descriptor> chosen = registry::ChoosePlatform(idx, host, img.name);
  int added = 0;
  for (const registry::Descriptor& m : idx.manifests) {
    if (!Wanted(m))
      continue;
    registry::Manifest parsed;
    absl::Status st = AddManifest(m, img.name, &parsed);
    if (absl::IsNotFound(st) && !opts_.platform)
      continue;  // a platform that was never pulled
    BERTH_RETURN_IF_ERROR(st);
    ++added;
    if (chosen.ok() && chosen->digest == m.digest) {
      img.docker_manifest = m;
      img.manifest = parsed;
    }
  }
  if (added == 0)
    return absl::NotFoundError(fmt::format("image {:?}: no manifest for {} in the content store",
                                           img.name, host.String()));
  images_.push_back(std::move(img));
  return absl::OkStatus();
}

std::string Exporter::IndexJson() const {
  ojson idx = {{"schemaVersion", 2},
               {"mediaType", registry::media::kOciIndex},
               {"manifests", ojson::array()}};
  for (const ExportImage& img : images_) {
    absl::StatusOr<registry::Reference> ref = registry::ParseReference(img.name);
    std::string ref_name = ref.ok() && !ref->tag.empty() ? ref->tag : img.name;
    idx["manifests"].push_back({{"mediaType", img.target.media_type},
                                {"digest", img.target.digest},
                                {"size", img.target.size},
                                {"annotations",
                                 {{"io.containerd.image.name", img.name},
                                  {"org.opencontainers.image.ref.name", ref_name}}}});
  }
  return idx.dump();
}

std::string Exporter::DockerManifestJson() const {
  ojson out = ojson::array();
  std::map<std::string, size_t> by_manifest;  // one entry per manifest, all its tags
  for (const ExportImage& img : images_) {
    if (img.docker_manifest.digest.empty())
      continue;
    auto [it, fresh] = by_manifest.emplace(img.docker_manifest.digest, out.size());
    if (fresh) {
      ojson layers = ojson::array();
      for (const registry::Descriptor& l : img.manifest.layers)
        layers.push_back(BlobPath(l.digest));
      out.push_back({{"Config", BlobPath(img.manifest.config.digest)},
                     {"RepoTags", ojson::array()},
                     {"Layers", layers}});
    }
    absl::StatusOr<registry::Reference> ref = registry::ParseReference(img.name);
    if (ref.ok() && !ref->tag.empty())
      out[it->second]["RepoTags"].push_back(FamiliarName(ref->String()));
  }
  return out.dump();
}

absl::Status Exporter::WriteBlobs(archive::TarWriter& tar) {
  std::string last_dir;
  for (const auto& [digest, d] : blobs_) {
    std::string path = BlobPath(digest);
    std::string dir = path.substr(0, path.rfind('/'));
    if (dir != last_dir) {
      BERTH_RETURN_IF_ERROR(tar.AddDirectory(dir));
      last_dir = dir;
    }
    BERTH_RETURN_IF_ERROR(tar.BeginFile(path, d.size));
    ContentSource src(conn_, digest);
    int64_t written = 0;
    while (true) {
      BERTH_ASSIGN_OR_RETURN(std::string part, src.Read(1 << 20));
      if (part.empty())
        break;
      if (written + static_cast<int64_t>(part.size()) > d.size)
        break;
      BERTH_RETURN_IF_ERROR(tar.WriteData(part));
      written += static_cast<int64_t>(part.size());
    }
    if (written != d.size)
      return absl::DataLossError(
          fmt::format("blob {}: the content store gave {} bytes, not {}", digest, written, d.size));
  }
  return absl::OkStatus();
}

absl::Status Exporter::Write(archive::WriteFn out) {
  archive::TarWriter tar(out);
  BERTH_RETURN_IF_ERROR(tar.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  BERTH_RETURN_IF_ERROR(tar.AddDirectory("blobs"));
  BERTH_RETURN_IF_ERROR(WriteBlobs(tar));
  BERTH_RETURN_IF_ERROR(tar.AddFile("index.json", IndexJson()));
  if (opts_.docker)
    BERTH_RETURN_IF_ERROR(tar.AddFile("manifest.json", DockerManifestJson()));
  return tar.Close();
}

absl::Status WriteAll(int fd, std::string_view bytes, std::string_view what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError(errno, fmt::format("write {}", what));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ExportArchive(Connection& conn, const std::vector<std::string>& names,
                           const ExportOptions& opts, archive::WriteFn out) {
  Exporter e(conn, opts);
  for (const std::string& n : names) BERTH_RETURN_IF_ERROR(e.Add(n));
  return e.Write(out);
}

absl::Status WriteOutput(const std::string& path,
                         absl::FunctionRef<absl::Status(archive::WriteFn out)> fn) {
  if (path == "-") {
    return fn([](std::string_view b) { return WriteAll(STDOUT_FILENO, b, "stdout"); });
  }
  std::string tmpl = path + ".tmp-XXXXXX";
  UniqueFd fd(::mkstemp(tmpl.data()));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("create {}", path));
  auto remove = absl::MakeCleanup([&] { ::unlink(tmpl.c_str()); });
  BERTH_RETURN_IF_ERROR(fn([&](std::string_view b) { return WriteAll(fd.get(), b, path); }));
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd.get(), 0666 & ~mask) != 0 || ::fsync(fd.get()) != 0)
    return ErrnoError(errno, fmt::format("write {}", path));
  if (::rename(tmpl.c_str(), path.c_str()) != 0)
    return ErrnoError(errno, fmt::format("rename {} to {}", tmpl, path));
  std::move(remove).Cancel();
  return absl::OkStatus();
}

absl::Status ReadInput(const std::string& path,
                       absl::FunctionRef<absl::Status(archive::ReadFn in)> fn) {
  UniqueFd owned;
  int fd = STDIN_FILENO;
  std::string what = path == "-" ? "stdin" : path;
  if (path != "-") {
    owned.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid())
      return ErrnoError(errno, fmt::format("open {}", path));
    fd = owned.get();
  }
  return fn([&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    while (true) {
      ssize_t n = ::read(fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return ErrnoError(errno, fmt::format("read {}", what));
      return static_cast<size_t>(n);
    }
  });
}

}  // namespace berth::ctr
