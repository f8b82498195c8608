#pragma once

// Registries that want credentials, for the tests of bctr's login, push and pull:
// SecureRegistry (docker-registry with TLS from a test CA and htpasswd basic auth) and, for
// docker-registry's `auth: token`, TokenServer and MakeRegistryToken (a bearer token server and
// the JWT it hands out). Certificates and keys are made with openssl in a directory the test
// owns.

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/registry.h"

namespace berth::testing {

// docker-registry with TLS (a server certificate for IP 127.0.0.1 from a fresh test CA) and
// htpasswd (bcrypt) basic auth for one user.
class SecureRegistry {
 public:
  // Makes the CA, the server certificate and the htpasswd file under `dir` and starts the
  // registry there: "" on success, else what failed.
  std::string Start(const std::filesystem::path& dir, const std::string& user,
                    const std::string& password);

  const std::string& host() const { return registry_.host(); }

  // The CA's certificate, for clients' --ca-file.
  const std::string& ca() const { return ca_; }

 private:
  LocalRegistry registry_;
  std::string ca_;
};

// A bearer token server for docker-registry's `auth: token`: answers GET /token with one
// pre-signed JWT when the request carries the expected basic credentials (`basic`, base64 of
// "user:password"), 401 otherwise. It records the query strings it saw (the scopes asked for).
class TokenServer {
 public:
  TokenServer(std::string token, std::string basic)
      : token_(std::move(token)), basic_(std::move(basic)) {}

  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  // Listens on 127.0.0.1; returns the port (-1 on failure).
  int Start();

  std::vector<std::string> queries();

 private:
  void Serve();

  std::string token_;
  std::string basic_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> queries_;
};

// A JWT for docker-registry's token auth (issuer "berth-test-issuer", audience
// "berth-test-registry", pull and push on `repo`), signed (RS256) with a fresh key whose
// self-signed certificate (written to `dir`/token.crt, the registry's rootcertbundle) rides in
// x5c.
std::string MakeRegistryToken(const std::filesystem::path& dir, const std::string& repo);

}  // namespace berth::testing
