#pragma once

// A small synchronous HTTP client over libcurl (OpenSSL), for the distribution API. Each call
// uses its own easy handle, so one Http may be used from several threads at once.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::registry {

struct HttpResponse {
  long status = 0;                                  // of the last response after redirects
  std::multimap<std::string, std::string> headers;  // names in lower case
  std::string body;                                 // unless streamed to the request's sink
  std::string url;                                  // the effective URL

  // The first value of header `name` (lower case), or "".
  std::string Header(const std::string& name) const;
};

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, PATCH, DELETE
  std::string url{};
  std::vector<std::string> headers{};  // "Name: value"
  std::string body{};                  // sent with PUT, POST and PATCH
  // When set, the body of a 2xx response is handed over chunk by chunk (with the response's
  // status and headers) instead of collected in HttpResponse::body. A non-OK status aborts
  // the transfer and is returned from Do.
  std::function<absl::Status(const HttpResponse& head, std::string_view chunk)> sink{};
  // Basic credentials for this request only ("user:password"); curl sends them up front.
  std::string userpwd{};
};

struct HttpOptions {
  std::string ca_file;  // PEM bundle trusted in place of the system's; "" = system store
  std::string user_agent = "berth";
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // abort when no byte moved for this long
};

class Http {
 public:
  explicit Http(HttpOptions o);

  // Performs one request, following redirects for GET and HEAD (curl drops the Authorization
  // header when a redirect leaves the host). Any HTTP status is a successful result. Errors:
  // Unavailable for connection failures, resets and time-outs (worth retrying), naming the
  // host and curl's reason; FailedPrecondition for TLS failures (an untrusted or bad
  // certificate), with a hint; whatever the sink returned.
  absl::StatusOr<HttpResponse> Do(const HttpRequest& req) const;

  const HttpOptions& options() const { return opts_; }

 private:
  HttpOptions opts_;
};

}  // namespace berth::registry
