#include "lib/registry/reference.h"

#include <cctype>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::registry {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr std::string_view kDockerHub = "docker.io";

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsHex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// One path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back()))
    return false;
  for (size_t i = 0; i < c.size();) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes))
      return false;
    i = j;
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128)
    return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0]))
    return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-')
      return false;
  }
  return true;
}

bool ValidPort(std::string_view port) {
  return !port.empty() && port.size() <= 5 &&
         port.find_first_not_of("0123456789") == std::string_view::npos;
}

// host[:port]: labels of alphanumerics and dashes joined by dots, or a bracketed IPv6
// address, then an optional numeric port.
bool ValidDomain(std::string_view d) {
  if (d.empty())
    return false;
  if (d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1)
      return false;
    std::string_view host = d.substr(1, close - 1);
    std::string_view rest = d.substr(close + 1);
    if (host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return false;
    return rest.empty() || (rest.front() == ':' && ValidPort(rest.substr(1)));
  }
  std::string_view host = d;
  if (size_t colon = d.find(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    if (!ValidPort(d.substr(colon + 1)))
      return false;
  }
  if (host.empty() || host.front() == '.' || host.back() == '.' || host.front() == '-' ||
      host.find("..") != std::string_view::npos)
    return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
      return false;
  }
  return true;
}

absl::Status Bad(std::string_view ref, std::string_view why) {
  return InvalidArgument(fmt::format("invalid reference {:?}: {}", ref, why));
}

// Splits "name[:tag][@digest]" off the right-hand side.
absl::Status SplitTagDigest(std::string_view s, std::string_view& name, Reference& r) {
  name = s;
  if (size_t at = name.find('@'); at != std::string_view::npos) {
    r.digest = std::string(name.substr(at + 1));
    name = name.substr(0, at);
    if (absl::Status st = ValidateDigest(r.digest); !st.ok())
      return Bad(s, std::string(st.message()));
  }
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!ValidTag(r.tag))
      return Bad(s, fmt::format("tag {:?} must be 1-128 of [A-Za-z0-9_.-], not starting with "
                                "'.' or '-'",
                                r.tag));
  }
  return absl::OkStatus();
}

}  // namespace

std::string Reference::String() const {
  std::string s = Name();
  if (!tag.empty())
    s += ":" + tag;
  if (!digest.empty())
    s += "@" + digest;
  return s;
}

std::string Reference::RegistryHost() const {
  return domain == kDockerHub ? "registry-1.docker.io" : domain;
}

absl::Status ValidateDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return InvalidArgument(fmt::format("digest {:?}: want algorithm:hex", digest));
  std::string_view algo = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  if (algo == "sha256") {
    if (hex.size() != 64 || !IsHex(hex))
      return InvalidArgument(
          fmt::format("digest {:?}: sha256 needs 64 lower-case hex digits", digest));
    return absl::OkStatus();
  }
  if (algo == "sha512" && (hex.size() != 128 || !IsHex(hex)))
    return InvalidArgument(
        fmt::format("digest {:?}: sha512 needs 128 lower-case hex digits", digest));
  for (char c : algo) {
    if (!IsLowerAlnum(c) && c != '+' && c != '.' && c != '_' && c != '-')
      return InvalidArgument(fmt::format("digest {:?}: bad algorithm", digest));
  }
  if (hex.size() < 32 || !IsHex(hex))
    return InvalidArgument(fmt::format("digest {:?}: bad hex", digest));
  return absl::OkStatus();
}

absl::StatusOr<Reference> ParseReference(std::string_view s) {
  if (s.empty())
    return Bad(s, "empty");
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c)))
      return Bad(s, "contains whitespace or control characters");
  }
  if (s.find("://") != std::string_view::npos)
    return Bad(s, "a reference has no scheme (drop \"http://\" or \"https://\")");
  Reference r;
  std::string_view name;
  if (absl::Status st = SplitTagDigest(s, name, r); !st.ok())
    return st;
  std::string_view path = name;
  if (size_t slash = name.find('/'); slash != std::string_view::npos) {
    std::string_view first = name.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
        first.front() == '[') {
      r.domain = std::string(first);
      path = name.substr(slash + 1);
    }
  }
  if (r.domain.empty())
    r.domain = std::string(kDockerHub);
  else if (!ValidDomain(r.domain))
    return Bad(s, fmt::format("registry host {:?} is not host[:port]", r.domain));
  if (r.domain == "index.docker.io")
    r.domain = std::string(kDockerHub);
  if (path.empty())
    return Bad(s, "no repository name");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    std::string_view comp = path.substr(start, end == std::string_view::npos ? end : end - start);
    if (!ValidComponent(comp)) {
      bool upper = false;
      for (char c : comp) upper |= std::isupper(static_cast<unsigned char>(c)) != 0;
      return Bad(s, upper ? "repository name must be lower-case"
                          : fmt::format("repository component {:?} must be lower-case letters "
                                        "and digits, joined by '.', '_', \"__\" or '-'",
                                        comp));
    }
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  r.path = std::string(path);
  if (r.domain == kDockerHub && r.path.find('/') == std::string::npos)
    r.path = "library/" + r.path;
  if (r.Name().size() > kMaxNameLength)
    return Bad(s, fmt::format("name longer than {} characters", kMaxNameLength));
  if (r.tag.empty() && r.digest.empty())
    r.tag = "latest";
  return r;
}

absl::StatusOr<std::string> NormalizeHost(std::string_view host) {
  std::string_view h = host;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (h.substr(0, scheme.size()) == scheme)
      h.remove_prefix(scheme.size());
  }
  if (size_t slash = h.find('/'); slash != std::string_view::npos)
    h = h.substr(0, slash);
  if (h == "index.docker.io" || h == "registry-1.docker.io")
    h = kDockerHub;
  if (!ValidDomain(h))
    return InvalidArgument(fmt::format("registry host {:?} is not host[:port]", host));
  return std::string(h);
}

}  // namespace berth::registry
