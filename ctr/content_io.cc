#include "ctr/content_io.h"

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

constexpr size_t kChunk = 1 << 20;

}  // namespace

std::string RefKey(const registry::Descriptor& d) {
  const std::string& t = d.media_type;
  if (registry::IsIndex(t))
    return "index-" + d.digest;
  if (registry::IsManifest(t))
    return "manifest-" + d.digest;
  if (t == registry::media::kOciConfig || t == registry::media::kDockerConfig)
    return "config-" + d.digest;
  if (t.find("layer") != std::string::npos || t.find("rootfs") != std::string::npos)
    return "layer-" + d.digest;
  return "unknown-" + d.digest;
}

ContentSink::ContentSink(Connection& conn, std::string ref, registry::Descriptor d, Labels labels)
    : conn_(conn), ref_(std::move(ref)), desc_(std::move(d)), labels_(std::move(labels)) {}

ContentSink::~ContentSink() {
  if (stream_ && !finished_) {
    // Leave the ingest for a later resume: close our side and let berthd end the call.
    stream_->WritesDone();
    (void)stream_->Finish();
  }
}

absl::StatusOr<std::unique_ptr<ContentSink>> ContentSink::Open(Connection& conn,
                                                               const std::string& ref,
                                                               const registry::Descriptor& d,
                                                               Labels labels) {
  std::unique_ptr<ContentSink> s(new ContentSink(conn, ref, d, std::move(labels)));
  s->ctx_ = conn.Context();
  s->stream_ = conn.content().Write(s->ctx_.get());
  content_api::WriteContentRequest req;
  req.set_action(content_api::STAT);
  req.set_ref(ref);
  req.set_total(d.size);
  req.set_expected(d.digest);
  absl::Status st = s->Exchange(req);
  if (absl::IsAlreadyExists(st))
    return nullptr;
  BERTH_RETURN_IF_ERROR(st);
  return s;
}

absl::Status ContentSink::Exchange(content_api::WriteContentRequest& req) {
  content_api::WriteContentResponse resp;
  if (!stream_->Write(req) || !stream_->Read(&resp)) {
    finished_ = true;
    stream_->WritesDone();
    return Annotate(conn_.Check(stream_->Finish()), fmt::format("content {}", desc_.digest));
  }
  offset_ = resp.offset();
  return absl::OkStatus();
}

absl::Status ContentSink::Flush() {
  if (buf_.empty())
    return absl::OkStatus();
  content_api::WriteContentRequest req;
  req.set_action(content_api::WRITE);
  req.set_offset(offset_);
  req.set_data(std::move(buf_));
  buf_.clear();
  return Exchange(req);
}

absl::Status ContentSink::Write(std::string_view data) {
  buf_.append(data);
  if (buf_.size() >= kChunk)
    return Flush();
  return absl::OkStatus();
}

absl::Status ContentSink::Reset() {
  buf_.clear();
  offset_ = 0;  // the next write at offset 0 makes berthd truncate the ingest
  if (!finished_)
    return absl::OkStatus();
  // The stream ended (a failed commit): drop the ingest and start a new one.
  content_api::AbortRequest abort;
  abort.set_ref(ref_);
  google::protobuf::Empty empty;
  auto actx = conn_.Context();
  absl::Status st = conn_.Check(conn_.content().Abort(actx.get(), abort, &empty));
  if (!st.ok() && !absl::IsNotFound(st))
    return st;
  finished_ = false;
  ctx_ = conn_.Context();
  stream_ = conn_.content().Write(ctx_.get());
  content_api::WriteContentRequest req;
  req.set_action(content_api::STAT);
  req.set_ref(ref_);
  req.set_total(desc_.size);
  req.set_expected(desc_.digest);
  BERTH_RETURN_IF_ERROR(Exchange(req));
  if (offset_ != 0)
    return Internal(
        fmt::format("content {}: ingest {:?} not empty after abort", desc_.digest, ref_));
  return absl::OkStatus();
}

absl::Status ContentSink::Commit(const std::string& digest, int64_t size) {
  content_api::WriteContentRequest req;
  req.set_action(content_api::COMMIT);
  req.set_offset(offset_);
  req.set_data(std::move(buf_));
  buf_.clear();
  req.set_total(size);
  req.set_expected(digest);
  for (const auto& [k, v] : labels_) (*req.mutable_labels())[k] = v;
  absl::Status st = Exchange(req);
  if (absl::IsAlreadyExists(st))  // someone else committed it meanwhile
    return SetLabels(conn_, digest, labels_);
  BERTH_RETURN_IF_ERROR(st);
  return Finish();
}

absl::Status ContentSink::Finish() {
  finished_ = true;
  stream_->WritesDone();
  return conn_.Check(stream_->Finish());
}

ContentSource::ContentSource(Connection& conn, std::string digest)
    : conn_(conn), digest_(std::move(digest)) {}

ContentSource::~ContentSource() {
  if (reader_ && !done_) {
    ctx_->TryCancel();
    (void)reader_->Finish();
  }
}

absl::StatusOr<std::string> ContentSource::Read(int64_t max) {
  if (!reader_) {
    ctx_ = conn_.Context();
    content_api::ReadContentRequest req;
    req.set_digest(digest_);
    reader_ = conn_.content().Read(ctx_.get(), req);
  }
  while (pending_.empty() && !done_) {
    content_api::ReadContentResponse resp;
    if (!reader_->Read(&resp)) {
      done_ = true;
      BERTH_RETURN_IF_ERROR(conn_.Check(reader_->Finish()));
      break;
    }
    pending_ = std::move(*resp.mutable_data());
  }
  size_t n = std::min<size_t>(pending_.size(), static_cast<size_t>(max));
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

absl::Status WriteBlob(Connection& conn, const std::string& ref, const registry::Descriptor& d,
                       const std::string& data, const Labels& labels) {
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ContentSink> sink,
                         ContentSink::Open(conn, ref, d, labels));
  if (sink == nullptr)
    return labels.empty() ? absl::OkStatus() : SetLabels(conn, d.digest, labels);
  BERTH_RETURN_IF_ERROR(sink->Reset());
  BERTH_RETURN_IF_ERROR(sink->Write(data));
  return sink->Commit(d.digest, d.size);
}

absl::StatusOr<std::string> ReadBlob(Connection& conn, const std::string& digest) {
  ContentSource src(conn, digest);
  std::string out;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(std::string part, src.Read(1 << 20));
    if (part.empty())
      return out;
    out += part;
  }
}

absl::Status SetLabels(Connection& conn, const std::string& digest, const Labels& labels) {
  content_api::UpdateRequest req;
  req.mutable_info()->set_digest(digest);
  for (const auto& [k, v] : labels) {
    (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  content_api::UpdateResponse resp;
  auto ctx = conn.Context();
  return conn.Check(conn.content().Update(ctx.get(), req, &resp));
}

absl::StatusOr<Labels> BlobLabels(Connection& conn, const std::string& digest) {
  content_api::InfoRequest req;
  req.set_digest(digest);
  content_api::InfoResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.content().Info(ctx.get(), req, &resp)));
  return Labels(resp.info().labels().begin(), resp.info().labels().end());
}

}  // namespace berth::ctr
