// Content.Write: the bidirectional ingest stream (stat, write at offset, commit), one response
// per request, as containerd's clients expect.

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/handler.h"
#include "services/content/service.h"

namespace berth::content {
namespace {

using google::protobuf::util::TimeUtil;

void FillStatus(const Writer& w, api::WriteContentResponse& resp) {
  const IngestStatus& s = w.status();
  resp.set_offset(s.offset);
  resp.set_total(s.total);
  *resp.mutable_started_at() = TimeUtil::NanosecondsToTimestamp(s.started_at);
  *resp.mutable_updated_at() =
      TimeUtil::NanosecondsToTimestamp(s.updated_at > 0 ? s.updated_at : s.started_at);
}

// Applies one WRITE or COMMIT request's data to the writer.
absl::Status WriteData(Writer& w, const api::WriteContentRequest& req) {
  w.SetExpected(req.total(), req.expected());
  if (req.offset() == 0 && w.offset() > 0 && !req.data().empty()) {
    BERTH_RETURN_IF_ERROR(w.Truncate());  // the client starts over
  }
  if (req.data().empty())
    return absl::OkStatus();
  return w.Write(req.offset() > 0 ? req.offset() : w.offset(), req.data());
}

}  // namespace

grpc::Status ContentService::Write(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<api::WriteContentResponse, api::WriteContentRequest>* stream) {
  return rpc::Handle(*ctx, "content.Write", [&](const std::string& ns) -> absl::Status {
    api::WriteContentRequest req;
    if (!stream->Read(&req))
      return absl::OkStatus();  // the client sent nothing
    if (req.ref().empty())
      return InvalidArgument("content write: first request must have a ref");
    const std::string ref = req.ref();
    BERTH_ASSIGN_OR_RETURN(
        std::unique_ptr<Writer> w,
        store_.OpenWriter(ns, ref, req.total(), req.expected(), rpc::LeaseOf(*ctx)));
    do {
      if (!req.ref().empty() && req.ref() != ref) {
        return InvalidArgument(
            fmt::format("content write: ref changed from {:?} to {:?}", ref, req.ref()));
      }
      api::WriteContentResponse resp;
      resp.set_action(req.action());
      switch (req.action()) {
        case api::STAT:
          break;
        case api::WRITE:
          BERTH_RETURN_IF_ERROR(WriteData(*w, req));
          break;
        case api::COMMIT: {
          BERTH_RETURN_IF_ERROR(WriteData(*w, req));
          Labels labels(req.labels().begin(), req.labels().end());
          BERTH_ASSIGN_OR_RETURN(
              std::string digest,
              store_.Commit(ns, *w, req.total(), req.expected(), labels, rpc::LeaseOf(*ctx)));
          resp.set_digest(digest);
          break;
        }
        default:
          return InvalidArgument(
              fmt::format("content write: unknown action {}", static_cast<int>(req.action())));
      }
      FillStatus(*w, resp);
      if (resp.digest().empty())
        resp.set_digest(w->status().expected);
      if (!stream->Write(resp))
        return absl::CancelledError("client went away");
      if (req.action() == api::COMMIT)
        return absl::OkStatus();
    } while (stream->Read(&req));
    return absl::OkStatus();  // the client closed the stream; the ingest stays resumable
  });
}

}  // namespace berth::content
