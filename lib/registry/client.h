#pragma once

// The distribution API client: manifests and blobs from and to OCI/Docker registries.
//
// Transport: HTTPS with TLS verification (the system's CAs, or ClientOptions::ca_file), plain
// HTTP only for the hosts named in ClientOptions::plain_http. Authentication happens on
// demand: a 401 with a WWW-Authenticate challenge is answered with a bearer token fetched
// from the challenge's realm (with the stored basic credentials when there are any, else
// anonymously) or with basic credentials, and the request is sent again; tokens are cached
// per host and scope.
//
// Errors name the reference (or host) and the cause:
//   Unauthenticated   401: no or wrong credentials
//   PermissionDenied  403
//   NotFound          404 (unknown repository, manifest or blob)
//   Unavailable       connection refused, resets, 5xx, 429 (retried first)
//   FailedPrecondition TLS verification failed
//   DataLoss          a body whose digest or size is not what was asked for
// Thread-safety: all methods may be called from several threads at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "lib/registry/auth.h"
#include "lib/registry/http.h"
#include "lib/registry/manifest.h"
#include "lib/registry/reference.h"

namespace berth::registry {

struct ClientOptions {
  std::vector<std::string> plain_http;  // host[:port]s spoken to over plain HTTP
  std::string ca_file;                  // PEM CA bundle; "" = the system's
  std::optional<CredentialStore> credentials;
  std::optional<Credentials> credentials_override;  // used for every host instead of the store
  int retries = 3;                                  // further attempts after a transient error
  std::chrono::milliseconds retry_delay{250};       // doubled per attempt
  int64_t upload_chunk = 32 << 20;                  // blobs above this go up in PATCH chunks
  std::string user_agent = "berth";
};

// Where a downloaded blob goes. Offset() says how much an earlier attempt already holds, so
// the download resumes with a Range request; Reset() drops it (when the server ignores Range,
// or the resumed blob failed its verification) and must work even after a failed Commit.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual int64_t Offset() const = 0;
  virtual absl::Status Write(std::string_view data) = 0;
  virtual absl::Status Reset() = 0;
  // All `size` bytes are written and (where this call saw them all) verified to be `digest`.
  virtual absl::Status Commit(const std::string& digest, int64_t size) = 0;
};

// Where an uploaded blob comes from: Read returns the next bytes, at most `max`, "" at the end.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual absl::StatusOr<std::string> Read(int64_t max) = 0;
};

// Reports on blobs as they move; called from the transferring threads.
class TransferObserver {
 public:
  virtual ~TransferObserver() = default;

  virtual void Started(const Descriptor& /*d*/, int64_t /*offset*/) {}

  virtual void Advanced(const Descriptor& /*d*/, int64_t /*bytes*/) {}

  virtual void Finished(const Descriptor& /*d*/, bool /*already_there*/) {}

  virtual void Retrying(const Descriptor& /*d*/, const absl::Status& /*why*/) {}
};

struct FetchedManifest {
  Descriptor desc;  // media type from the response (or the body), digest of the body, size
  std::string body;
};

class Client {
 public:
  explicit Client(ClientOptions o);

  // GET /v2/<path>/manifests/<object> (object = tag or digest; ref.Object() when empty). The
  // body's digest is checked against a digest in the reference or the object.
  absl::StatusOr<FetchedManifest> GetManifest(const Reference& ref, std::string_view object = "");

  // A small blob (config, manifest) whole, verified.
  absl::StatusOr<std::string> GetBlob(const Reference& repo, const Descriptor& d);

  // Streams blob `d` into `sink`, resuming from sink.Offset() with a Range request, retrying
  // transient failures (each retry resumes where the last stopped), hashing as it goes, and
  // committing when all bytes are there. When the download started at offset 0 in this call
  // the SHA-256 is checked here (DataLoss on mismatch); when it resumed an earlier partial
  // blob, the sink's Commit must verify (berthd's content store does), and if that fails the
  // blob is reset and downloaded once more from the first byte.
  absl::Status FetchBlob(const Reference& repo, const Descriptor& d, BlobSink& sink,
                         TransferObserver* observer = nullptr,
                         const std::atomic<bool>* cancel = nullptr);

  // Fetches `blobs` with up to `parallel` downloads at a time. `open` gives each blob's sink,
  // or nullptr when it is already stored. The first error cancels the others and is returned.
  absl::Status FetchBlobs(
      const Reference& repo, const std::vector<Descriptor>& blobs, int parallel,
      const std::function<absl::StatusOr<std::unique_ptr<BlobSink>>(const Descriptor&)>& open,
      TransferObserver* observer = nullptr);

  // HEAD /v2/<path>/blobs/<digest>.
  absl::StatusOr<bool> BlobExists(const Reference& repo, const std::string& digest);

  // Uploads blob `d` unless the repository has it. With `mount_from` (a repository path on
  // the same registry) a cross-repository mount is tried first. Blobs up to
  // ClientOptions::upload_chunk go up in one PUT, bigger ones in PATCH chunks.
  absl::Status PushBlob(const Reference& repo, const Descriptor& d, BlobSource& src,
                        const std::string& mount_from = "", TransferObserver* observer = nullptr);

  // PUT /v2/<path>/manifests/<ref.Object()>.
  absl::Status PutManifest(const Reference& ref, std::string_view media_type,
                           std::string_view body);

  // GET /v2/ on `host` with `c`: OK when the registry accepts them (for `bctr login`).
  absl::Status CheckLogin(const std::string& host, const Credentials& c);

 private:
  // What one request is about.
  struct Target {
    std::string domain;                  // as in the reference: "docker.io", "127.0.0.1:5000"
    std::string scope;                   // "repository:library/busybox:pull", or "" for /v2/
    std::string what;                    // names the object in messages
    const Credentials* creds = nullptr;  // explicit (login); else the credential store
  };

  std::string BaseUrl(const std::string& domain) const;
  std::string RepoUrl(const Reference& repo) const;
  // Sends the request with cached authorization; answers one 401 challenge and sends again.
  absl::StatusOr<HttpResponse> Send(HttpRequest req, const Target& t);
  // Send, retrying transient failures (Unavailable, DeadlineExceeded, 5xx, 429).
  absl::StatusOr<HttpResponse> SendRetrying(const HttpRequest& req, const Target& t);
  absl::StatusOr<std::string> Authorize(const Target& t, const std::string& challenge_header);
  absl::StatusOr<std::optional<Credentials>> CredentialsFor(const Target& t);
  absl::Status Upload(const Reference& repo, const Descriptor& d, BlobSource& src,
                      std::string location, TransferObserver* observer);

  ClientOptions opts_;
  Http http_;
  absl::Mutex mu_;
  // "host scope" → Authorization header value
  absl::flat_hash_map<std::string, std::string> auth_ ABSL_GUARDED_BY(mu_);
};

// The registry's error for a non-2xx response, naming `what`: the code class from the HTTP
// status, the message from the body's {"errors":[{"message":…}]} when there is one.
absl::Status StatusFromResponse(const HttpResponse& r, std::string_view what);

}  // namespace berth::registry
