#pragma once

// Content digests ("sha256:<64 lowercase hex>") and a streaming SHA-256 (OpenSSL, which uses
// the CPU's SHA extensions where present).

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace berth::content {

// InvalidArgument naming the digest unless it is "sha256:" + 64 lowercase hex digits.
absl::Status ValidateDigest(std::string_view digest);

// The hex part of a valid digest.
inline std::string_view DigestHex(std::string_view digest) {
  return digest.substr(7);
}

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t n);
  // "sha256:<hex>" of everything so far; the hasher stays usable.
  std::string Digest() const;

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };

  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

}  // namespace berth::content
