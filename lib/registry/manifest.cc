#include "lib/registry/manifest.h"

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/platform.h"
#include "lib/base/status.h"
#include "lib/registry/reference.h"

namespace berth::registry {
namespace {

using nlohmann::json;

absl::StatusOr<json> ParseJson(std::string_view body, std::string_view what) {
  try {
    json j = json::parse(body);
    if (!j.is_object())
      return InvalidArgument(fmt::format("{}: not a JSON object", what));
    return j;
  } catch (const json::exception& e) {
    return InvalidArgument(fmt::format("{}: bad JSON: {}", what, e.what()));
  }
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, std::string_view what) {
  if (!j.is_object())
    return InvalidArgument(fmt::format("{}: a descriptor is not an object", what));
  Descriptor d;
  d.media_type = Str(j, "mediaType");
  d.digest = Str(j, "digest");
  if (absl::Status st = ValidateDigest(d.digest); !st.ok())
    return InvalidArgument(fmt::format("{}: {}", what, std::string(st.message())));
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return InvalidArgument(fmt::format("{}: descriptor {} has no valid size", what, d.digest));
  d.size = size->get<int64_t>();
  if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
    for (auto& [k, v] : a->items()) {
      if (v.is_string())
        d.annotations[k] = v.get<std::string>();
    }
  }
  if (auto u = j.find("urls"); u != j.end() && u->is_array()) {
    for (const json& v : *u) {
      if (v.is_string())
        d.urls.push_back(v.get<std::string>());
    }
  }
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    d.platform = Platform{Str(*p, "os"), Str(*p, "architecture"), Str(*p, "variant")};
  }
  return d;
}

std::string NormalizeArch(std::string_view a) {
  if (a == "x86_64" || a == "x86-64")
    return "amd64";
  if (a == "aarch64")
    return "arm64";
  return std::string(a);
}

}  // namespace

std::string ManifestAccept() {
  return fmt::format("{}, {}, {}, {}", media::kOciIndex, media::kOciManifest, media::kDockerList,
                     media::kDockerManifest);
}

bool IsIndex(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerList;
}

bool IsManifest(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}

std::string Platform::String() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty())
    s += "/" + variant;
  return s;
}

absl::StatusOr<Platform> ParsePlatform(std::string_view s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash == s.npos ? s.npos : slash - start));
    if (slash == s.npos)
      break;
    start = slash + 1;
  }
  for (const std::string& p : parts) {
    if (p.empty())
      return InvalidArgument(fmt::format("platform {:?}: want os/arch[/variant]", s));
  }
  if (parts.size() == 1)
    return Platform{"linux", NormalizeArch(parts[0]), ""};
  if (parts.size() > 3)
    return InvalidArgument(fmt::format("platform {:?}: want os/arch[/variant]", s));
  return Platform{parts[0], NormalizeArch(parts[1]), parts.size() == 3 ? parts[2] : ""};
}

Platform HostPlatform() {
  constexpr HostPlatformNames host = HostPlatformOf();
  return {std::string(host.os), std::string(host.architecture), std::string(host.variant)};
}

std::string SniffMediaType(std::string_view body) {
  absl::StatusOr<json> j = ParseJson(body, "manifest");
  if (!j.ok())
    return "";
  std::string t = Str(*j, "mediaType");
  if (!t.empty())
    return t;
  if (j->contains("manifests"))
    return std::string(media::kOciIndex);
  if (j->contains("layers"))
    return std::string(media::kOciManifest);
  return "";
}

absl::StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view what) {
  absl::StatusOr<json> j = ParseJson(body, what);
  if (!j.ok())
    return j.status();
  Manifest m;
  m.media_type = Str(*j, "mediaType");
  if (m.media_type.empty())
    m.media_type = std::string(media::kOciManifest);
  if (!IsManifest(m.media_type))
    return InvalidArgument(
        fmt::format("{}: media type {:?} is not an image manifest", what, m.media_type));
  auto config = j->find("config");
  if (config == j->end())
    return InvalidArgument(fmt::format("{}: manifest has no config", what));
  absl::StatusOr<Descriptor> c = ParseDescriptor(*config, what);
  if (!c.ok())
    return c.status();
  m.config = *std::move(c);
  auto layers = j->find("layers");
  if (layers == j->end() || !layers->is_array())
    return InvalidArgument(fmt::format("{}: manifest has no layers", what));
  for (const json& l : *layers) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(l, what);
    if (!d.ok())
      return d.status();
    m.layers.push_back(*std::move(d));
  }
  return m;
}

absl::StatusOr<Index> ParseIndex(std::string_view body, std::string_view what) {
  absl::StatusOr<json> j = ParseJson(body, what);
  if (!j.ok())
    return j.status();
  Index idx;
  idx.media_type = Str(*j, "mediaType");
  if (idx.media_type.empty())
    idx.media_type = std::string(media::kOciIndex);
  if (!IsIndex(idx.media_type))
    return InvalidArgument(
        fmt::format("{}: media type {:?} is not an index", what, idx.media_type));
  auto ms = j->find("manifests");
  if (ms == j->end() || !ms->is_array())
    return InvalidArgument(fmt::format("{}: index has no manifests", what));
  for (const json& e : *ms) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(e, what);
    if (!d.ok())
      return d.status();
    idx.manifests.push_back(*std::move(d));
  }
  return idx;
}

absl::StatusOr<Descriptor> ChoosePlatform(const Index& index, const Platform& want,
                                          std::string_view what) {
  auto variant = [](const Platform& p) {
    return p.architecture == "arm64" && p.variant == "v8" ? std::string() : p.variant;
  };
  const Descriptor* loose = nullptr;
  std::vector<std::string> have;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) {
      have.push_back("unknown");
      continue;
    }
    const Platform& p = *d.platform;
    have.push_back(p.String());
    if (p.os != want.os || NormalizeArch(p.architecture) != want.architecture)
      continue;
    if (variant(p) == variant(want))
      return d;
    if (want.variant.empty() && loose == nullptr)
      loose = &d;
  }
  if (loose != nullptr)
    return *loose;
  std::string list;
  for (const std::string& h : have) list += (list.empty() ? "" : ", ") + h;
  return absl::NotFoundError(fmt::format("{}: no manifest for platform {} (the index has: {})",
                                         what, want.String(), list.empty() ? "none" : list));
}

absl::StatusOr<std::vector<std::string>> ConfigDiffIds(std::string_view config,
                                                       std::string_view what) {
  absl::StatusOr<json> j = ParseJson(config, what);
  if (!j.ok())
    return j.status();
  auto rootfs = j->find("rootfs");
  if (rootfs == j->end() || !rootfs->is_object() || !(*rootfs)["diff_ids"].is_array())
    return InvalidArgument(fmt::format("{}: image config has no rootfs.diff_ids", what));
  std::vector<std::string> out;
  for (const json& d : (*rootfs)["diff_ids"]) {
    if (!d.is_string() || !ValidateDigest(d.get<std::string>()).ok())
      return InvalidArgument(fmt::format("{}: bad diff id in the image config", what));
    out.push_back(d.get<std::string>());
  }
  return out;
}

std::string DescriptorJson(const Descriptor& d) {
  json j = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty())
    j["annotations"] = d.annotations;
  if (d.platform) {
    j["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
    if (!d.platform->variant.empty())
      j["platform"]["variant"] = d.platform->variant;
  }
  return j.dump();
}

}  // namespace berth::registry
