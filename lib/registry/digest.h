#pragma once

// Streaming SHA-256 (OpenSSL EVP) for verifying blobs while they download.

#include <memory>
#include <string>
#include <string_view>

namespace berth::registry {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(std::string_view data);
  // "sha256:<hex>" of everything so far; the hasher stays usable.
  std::string Digest() const;

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

}  // namespace berth::registry
