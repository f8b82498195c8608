// Client's blob transfers: resumable, verified downloads (one or several in parallel) and
// uploads (mount, monolithic PUT or PATCH chunks).

#include <thread>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/client.h"
#include "lib/registry/digest.h"

namespace berth::registry {
namespace {

bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

void Backoff(std::chrono::milliseconds base, int attempt) {
  std::this_thread::sleep_for(base * (1 << std::min(attempt, 5)));
}

// One download of a blob: the offset reached so far and the hash of what this call saw.
struct Download {
  const Descriptor& d;
  BlobSink& sink;
  TransferObserver* observer;
  const std::atomic<bool>* cancel;
  int64_t offset = 0;
  bool whole = false;  // this call saw every byte from 0, so `hash` covers the blob
  Sha256 hash{};
  bool first = true;

  absl::Status Restart() {
    BERTH_RETURN_IF_ERROR(sink.Reset());
    offset = 0;
    whole = true;
    hash = Sha256();
    return absl::OkStatus();
  }

  absl::Status Take(const HttpResponse& head, std::string_view chunk) {
    if (cancel != nullptr && cancel->load())
      return absl::CancelledError("cancelled");
    if (first) {
      first = false;
      if (offset > 0 && head.status != 206)  // the server ignored Range: start over
        BERTH_RETURN_IF_ERROR(Restart());
    }
    if (offset + static_cast<int64_t>(chunk.size()) > d.size)
      return absl::DataLossError(
          fmt::format("blob {}: more than the {} bytes its descriptor says", d.digest, d.size));
    BERTH_RETURN_IF_ERROR(sink.Write(chunk));
    if (whole)
      hash.Update(chunk);
    offset += static_cast<int64_t>(chunk.size());
    if (observer != nullptr)
      observer->Advanced(d, static_cast<int64_t>(chunk.size()));
    return absl::OkStatus();
  }
};

std::string Absolute(const std::string& base, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://"))
    return location;
  return base + location;
}

std::string WithQuery(const std::string& url, const std::string& q) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + q;
}

}  // namespace

absl::Status Client::FetchBlob(const Reference& repo, const Descriptor& d, BlobSink& sink,
                               TransferObserver* observer, const std::atomic<bool>* cancel) {
  Target t{repo.domain, fmt::format("repository:{}:pull", repo.path), repo.Name() + "@" + d.digest};
  const std::string url = fmt::format("{}/blobs/{}", RepoUrl(repo), d.digest);
  Download dl{d, sink, observer, cancel};
  dl.offset = sink.Offset();
  dl.whole = dl.offset == 0;
  if (dl.offset > d.size)
    BERTH_RETURN_IF_ERROR(dl.Restart());
  if (observer != nullptr)
    observer->Started(d, dl.offset);
  // Moves the bytes from dl.offset to the end, retrying transient failures from where they
  // stopped.
  auto transfer = [&]() -> absl::Status {
    for (int attempt = 0; dl.offset < d.size || (d.size == 0 && attempt == 0); ++attempt) {
      HttpRequest req{.url = url};
      if (dl.offset > 0)
        req.headers.push_back(fmt::format("Range: bytes={}-", dl.offset));
      dl.first = true;
      req.sink = [&dl](const HttpResponse& head, std::string_view chunk) {
        return dl.Take(head, chunk);
      };
      absl::StatusOr<HttpResponse> resp = Send(std::move(req), t);
      absl::Status why;
      if (!resp.ok()) {
        why = resp.status();
      } else if (resp->status == 416) {
        BERTH_RETURN_IF_ERROR(dl.Restart());  // our partial blob is not a prefix of theirs
        why = absl::UnavailableError(fmt::format("{}: range not satisfiable", t.what));
      } else if (resp->status < 200 || resp->status >= 300) {
        why = StatusFromResponse(*resp, t.what);
      } else if (dl.offset < d.size) {
        why = absl::UnavailableError(
            fmt::format("{}: connection closed after {} of {} bytes", t.what, dl.offset, d.size));
      } else {
        return absl::OkStatus();
      }
      if (!Transient(why) || attempt >= opts_.retries)
        return why;
      if (observer != nullptr)
        observer->Retrying(d, why);
      Backoff(opts_.retry_delay, attempt);
    }
    return absl::OkStatus();
  };
  BERTH_RETURN_IF_ERROR(transfer());
  if (dl.whole && dl.hash.Digest() != d.digest) {
    BERTH_RETURN_IF_ERROR(sink.Reset());
    return absl::DataLossError(
        fmt::format("{}: digest mismatch: the registry sent {}", t.what, dl.hash.Digest()));
  }
  absl::Status committed = sink.Commit(d.digest, d.size);
  if (!committed.ok() && !dl.whole) {
    // The partial blob we resumed was not a prefix of this one (the sink's commit verified
    // the whole): start over from the first byte, once.
    if (observer != nullptr)
      observer->Retrying(d, committed);
    BERTH_RETURN_IF_ERROR(dl.Restart());
    if (observer != nullptr)
      observer->Started(d, 0);
    BERTH_RETURN_IF_ERROR(transfer());
    if (dl.hash.Digest() != d.digest) {
      BERTH_RETURN_IF_ERROR(sink.Reset());
      return absl::DataLossError(
          fmt::format("{}: digest mismatch: the registry sent {}", t.what, dl.hash.Digest()));
    }
    committed = sink.Commit(d.digest, d.size);
  }
  BERTH_RETURN_IF_ERROR(committed);
  if (observer != nullptr)
    observer->Finished(d, false);
  return absl::OkStatus();
}

absl::Status Client::FetchBlobs(
    const Reference& repo, const std::vector<Descriptor>& blobs, int parallel,
    const std::function<absl::StatusOr<std::unique_ptr<BlobSink>>(const Descriptor&)>& open,
    TransferObserver* observer) {
  std::atomic<size_t> next{0};
  std::atomic<bool> cancel{false};
  absl::Mutex mu;
  absl::Status first;
  auto fail = [&](const absl::Status& s) {
    absl::MutexLock l(&mu);
    if (first.ok())
      first = s;
    cancel = true;
  };
  auto worker = [&] {
    for (size_t i = next++; i < blobs.size() && !cancel; i = next++) {
      absl::StatusOr<std::unique_ptr<BlobSink>> sink = open(blobs[i]);
      if (!sink.ok()) {
        fail(sink.status());
        return;
      }
      if (*sink == nullptr) {
        if (observer != nullptr)
          observer->Finished(blobs[i], true);
        continue;
      }
      if (absl::Status s = FetchBlob(repo, blobs[i], **sink, observer, &cancel); !s.ok()) {
        fail(s);
        return;
      }
    }
  };
  size_t n = std::min<size_t>(std::max(parallel, 1), blobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (std::thread& th : threads) th.join();
  return first;
}

absl::Status Client::PushBlob(const Reference& repo, const Descriptor& d, BlobSource& src,
                              const std::string& mount_from, TransferObserver* observer) {
  BERTH_ASSIGN_OR_RETURN(bool exists, BlobExists(repo, d.digest));
  if (exists) {
    if (observer != nullptr)
      observer->Finished(d, true);
    return absl::OkStatus();
  }
  Target t{repo.domain, fmt::format("repository:{}:pull,push", repo.path),
           repo.Name() + "@" + d.digest};
  std::string url = RepoUrl(repo) + "/blobs/uploads/";
  if (!mount_from.empty() && mount_from != repo.path) {
    url += fmt::format("?mount={}&from={}", d.digest, mount_from);
    t.scope += fmt::format(" repository:{}:pull", mount_from);
  }
  HttpRequest req{.method = "POST", .url = url};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, SendRetrying(req, t));
  if (resp.status == 201) {  // mounted from the other repository
    if (observer != nullptr)
      observer->Finished(d, true);
    return absl::OkStatus();
  }
  if (resp.status != 202 || resp.Header("location").empty())
    return resp.status == 202
               ? absl::UnknownError(fmt::format("{}: upload started without a Location", t.what))
               : StatusFromResponse(resp, t.what);
  return Upload(repo, d, src, Absolute(BaseUrl(repo.domain), resp.Header("location")), observer);
}

absl::Status Client::Upload(const Reference& repo, const Descriptor& d, BlobSource& src,
                            std::string location, TransferObserver* observer) {
  Target t{repo.domain, fmt::format("repository:{}:pull,push", repo.path),
           repo.Name() + "@" + d.digest};
  if (observer != nullptr)
    observer->Started(d, 0);
  Sha256 hash;
  int64_t offset = 0;
  // Reads up to one chunk from the source.
  auto read_chunk = [&]() -> absl::StatusOr<std::string> {
    std::string buf;
    while (static_cast<int64_t>(buf.size()) < opts_.upload_chunk) {
      BERTH_ASSIGN_OR_RETURN(std::string part,
                             src.Read(opts_.upload_chunk - static_cast<int64_t>(buf.size())));
      if (part.empty())
        break;
      buf += part;
    }
    hash.Update(buf);
    return buf;
  };
  std::string body;
  if (d.size <= opts_.upload_chunk) {
    BERTH_ASSIGN_OR_RETURN(body, read_chunk());
    offset = static_cast<int64_t>(body.size());
  } else {
    while (true) {
      BERTH_ASSIGN_OR_RETURN(std::string chunk, read_chunk());
      if (chunk.empty())
        break;
      const auto n = static_cast<int64_t>(chunk.size());
      HttpRequest patch{.method = "PATCH",
                        .url = location,
                        .headers = {"Content-Type: application/octet-stream",
                                    fmt::format("Content-Range: {}-{}", offset, offset + n - 1)},
                        .body = std::move(chunk)};
      BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Send(std::move(patch), t));
      if (resp.status != 202)
        return StatusFromResponse(resp, t.what);
      if (!resp.Header("location").empty())
        location = Absolute(BaseUrl(repo.domain), resp.Header("location"));
      offset += n;
      if (observer != nullptr)
        observer->Advanced(d, n);
    }
  }
  if (offset != d.size || hash.Digest() != d.digest)
    return absl::DataLossError(fmt::format("{}: the local blob has {} bytes and digest {}", t.what,
                                           offset, hash.Digest()));
  int64_t last = static_cast<int64_t>(body.size());
  HttpRequest put{.method = "PUT",
                  .url = WithQuery(location, "digest=" + d.digest),
                  .headers = {"Content-Type: application/octet-stream"},
                  .body = std::move(body)};
  BERTH_ASSIGN_OR_RETURN(HttpResponse resp, Send(std::move(put), t));
  if (resp.status != 201)
    return StatusFromResponse(resp, t.what);
  if (observer != nullptr) {
    if (last > 0)
      observer->Advanced(d, last);
    observer->Finished(d, false);
  }
  return absl::OkStatus();
}

}  // namespace berth::registry
