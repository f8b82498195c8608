#pragma once

// Image references as Docker and containerd spell them, normalized:
//
//   busybox                       → docker.io/library/busybox:latest
//   user/app:1.0                  → docker.io/user/app:1.0
//   127.0.0.1:5000/app@sha256:…   → 127.0.0.1:5000/app@sha256:…   (no tag added)
//   localhost/app:v1              → localhost/app:v1
//
// The first path component is a registry host when it contains '.' or ':' or is "localhost";
// otherwise the host is docker.io (and a single-component path gets "library/"). Repository
// components are lower-case alphanumerics joined by '.', '_', "__" or dashes; a tag is
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is sha256:<64 hex> (or another algorithm with
// hex of at least 32 characters). The whole name is at most 255 characters.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::registry {

struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000", "localhost"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest"; empty when only a digest was given
  std::string digest;  // "sha256:…" or empty

  // domain/path
  std::string Name() const { return domain + "/" + path; }

  // domain/path[:tag][@digest]
  std::string String() const;

  // What names the manifest in the distribution API: the digest when set, else the tag.
  const std::string& Object() const { return digest.empty() ? tag : digest; }

  // The host:port to connect to: registry-1.docker.io for docker.io, else the domain.
  std::string RegistryHost() const;

  bool operator==(const Reference&) const = default;
};

// Parses and normalizes `s`. InvalidArgument naming `s` and what is wrong with it.
absl::StatusOr<Reference> ParseReference(std::string_view s);

// Checks a digest string ("sha256:<64 lower-case hex>"). InvalidArgument naming it.
absl::Status ValidateDigest(std::string_view digest);

// Normalizes a registry host as the user types it for login/logout ("docker.io",
// "index.docker.io", "https://index.docker.io/v1/" → "docker.io"; "127.0.0.1:5000/" →
// "127.0.0.1:5000"). InvalidArgument for an empty or malformed host.
absl::StatusOr<std::string> NormalizeHost(std::string_view host);

}  // namespace berth::registry
