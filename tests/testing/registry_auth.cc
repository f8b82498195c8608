#include "tests/testing/registry_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"

#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace berth::testing {

std::string SecureRegistry::Start(const std::filesystem::path& dir, const std::string& user,
                                  const std::string& password) {
  ca_ = (dir / "ca.crt").string();
  std::string d = dir.string();
  WriteFile(dir / "san.cnf", "subjectAltName=IP:127.0.0.1\n");
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key",
            "-out", ca_, "-days", "1", "-subj", "/CN=berth test CA"},
           {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/server.key", "-out",
            d + "/server.csr", "-subj", "/CN=127.0.0.1"},
           {"openssl", "x509", "-req", "-in", d + "/server.csr", "-CA", ca_, "-CAkey",
            d + "/ca.key", "-CAcreateserial", "-out", d + "/server.crt", "-days", "1", "-extfile",
            d + "/san.cnf"},
           {"htpasswd", "-Bbc", d + "/htpasswd", user, password}}) {
    CommandResult r = RunCommand(argv);
    if (r.exit_code != 0)
      return argv[0] + " failed: " + r.err;
  }
  return registry_.Start(
      dir, {.auth = "  htpasswd:\n    realm: berth-test\n    path: " + d + "/htpasswd\n",
            .tls_certificate = d + "/server.crt",
            .tls_key = d + "/server.key"});
}

TokenServer::~TokenServer() {
  stop_ = true;
  if (fd_ >= 0)
    ::shutdown(fd_, SHUT_RDWR);
  if (thread_.joinable())
    thread_.join();
  if (fd_ >= 0)
    ::close(fd_);
}

int TokenServer::Start() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  thread_ = std::thread([this] { Serve(); });
  return ntohs(a.sin_port);
}

std::vector<std::string> TokenServer::queries() {
  std::lock_guard<std::mutex> l(mu_);
  return queries_;
}

void TokenServer::Serve() {
  while (!stop_) {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0)
      return;
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0)
        break;
      req.append(buf, static_cast<size_t>(n));
    }
    std::string line = req.substr(0, req.find("\r\n"));
    {
      std::lock_guard<std::mutex> l(mu_);
      size_t q = line.find('?');
      queries_.push_back(q == std::string::npos ? "" : line.substr(q + 1, line.rfind(' ') - q - 1));
    }
    bool ok = req.find("Authorization: Basic " + basic_ + "\r\n") != std::string::npos;
    std::string body = ok ? "{\"token\":\"" + token_ + "\",\"expires_in\":3600}"
                          : "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}";
    std::string resp = std::string(ok ? "HTTP/1.1 200 OK" : "HTTP/1.1 401 Unauthorized") +
                       "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)!::write(c, resp.data(), resp.size());
    ::close(c);
  }
}

std::string MakeRegistryToken(const std::filesystem::path& dir, const std::string& repo) {
  std::string d = dir.string();
  RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
              d + "/token.key", "-out", d + "/token.crt", "-days", "1", "-subj",
              "/CN=berth test token issuer"});
  RunCommand(
      {"openssl", "x509", "-in", d + "/token.crt", "-outform", "DER", "-out", d + "/token.der"});
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  nlohmann::json header = {
      {"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {absl::Base64Escape(ReadFile(dir / "token.der"))}}};
  nlohmann::json claims = {
      {"iss", "berth-test-issuer"},
      {"sub", "alice"},
      {"aud", "berth-test-registry"},
      {"exp", now + 3600},
      {"nbf", now - 60},
      {"iat", now - 60},
      {"jti", "berth-test"},
      {"access", {{{"type", "repository"}, {"name", repo}, {"actions", {"pull", "push"}}}}}};
  std::string input =
      absl::WebSafeBase64Escape(header.dump()) + "." + absl::WebSafeBase64Escape(claims.dump());
  WriteFile(dir / "jwt.in", input);
  RunCommand({"openssl", "dgst", "-sha256", "-sign", d + "/token.key", "-out", d + "/jwt.sig",
              d + "/jwt.in"});
  return input + "." + absl::WebSafeBase64Escape(ReadFile(dir / "jwt.sig"));
}

}  // namespace berth::testing
