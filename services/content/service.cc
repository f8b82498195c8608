#include "services/content/service.h"

#include <malloc.h>
#include <unistd.h>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/server_builder.h"

#include "containerd/events/content.pb.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/rpc/handler.h"
#include "lib/rpc/status.h"

namespace berth::content {
namespace {

using google::protobuf::util::TimeUtil;
constexpr int64_t kReadChunk = 1 << 20;
constexpr int kListBatch = 100;

api::Info ToProto(const content::Info& in) {
  api::Info out;
  out.set_digest(in.digest);
  out.set_size(in.size);
  *out.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(in.created_at);
  *out.mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(in.updated_at);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  return out;
}

api::Status ToProto(const IngestStatus& in) {
  api::Status out;
  out.set_ref(in.ref);
  out.set_offset(in.offset);
  out.set_total(in.total);
  out.set_expected(in.expected);
  *out.mutable_started_at() = TimeUtil::NanosecondsToTimestamp(in.started_at);
  *out.mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(in.updated_at);
  return out;
}

absl::StatusOr<filters::Filter> ParseFilters(
    const google::protobuf::RepeatedPtrField<std::string>& f) {
  std::vector<std::string> exprs(f.begin(), f.end());
  return filters::Filter::ParseAll(exprs);
}

// Streams [offset, offset+size) of an open blob in chunks.
absl::Status StreamBlob(grpc::ServerContext& ctx, int fd, int64_t offset, int64_t end,
                        grpc::ServerWriter<api::ReadContentResponse>& writer) {
  api::ReadContentResponse resp;
  while (offset < end) {
    if (ctx.IsCancelled())
      return absl::CancelledError("read cancelled by the client");
    std::string* data = resp.mutable_data();
    data->resize(static_cast<size_t>(std::min(kReadChunk, end - offset)));
    ssize_t n = ::pread(fd, data->data(), data->size(), offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return ErrnoError(n < 0 ? errno : EIO, "read content");
    data->resize(static_cast<size_t>(n));
    resp.set_offset(offset);
    offset += n;
    // The last chunk goes out with the call's status, in one write (a small blob, as the
    // manifests and configs that ctr run reads, is then a single write).
    bool sent = offset < end ? writer.Write(resp)
                             : writer.Write(resp, grpc::WriteOptions().set_last_message());
    if (!sent)
      return absl::CancelledError("client went away");
  }
  return absl::OkStatus();
}

}  // namespace

void ContentService::Register(grpc::ServerBuilder& builder) {
  // A content write arrives as 1 MiB messages, read by gRPC into buffers of that size that are
  // freed once parsed. With glibc's defaults, until its dynamic thresholds have grown, every
  // such free trims the thread's heap with madvise(MADV_DONTNEED) and the next read faults the
  // pages back in; on the 2-core VM that cost ~3 s of CPU in the first 1 GiB ingest after
  // berthd started (perf: tlb_flush_mmu under madvise, 30% of samples). Fixed thresholds keep
  // freed buffers for reuse. (Process-wide; the content service is what moves bulk data.)
  ::mallopt(M_MMAP_THRESHOLD, 8 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
  builder.RegisterService(this);
}

grpc::Status ContentService::Info(grpc::ServerContext* ctx, const api::InfoRequest* req,
                                  api::InfoResponse* resp) {
  return rpc::Handle(*ctx, "content.Info", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(content::Info info, store_.Get(ns, req->digest()));
    *resp->mutable_info() = ToProto(info);
    return absl::OkStatus();
  });
}

grpc::Status ContentService::Update(grpc::ServerContext* ctx, const api::UpdateRequest* req,
                                    api::UpdateResponse* resp) {
  return rpc::Handle(*ctx, "content.Update", [&](const std::string& ns) -> absl::Status {
    content::Info in;
    in.digest = req->info().digest();
    in.labels.insert(req->info().labels().begin(), req->info().labels().end());
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(content::Info out, store_.Update(ns, in, paths));
    *resp->mutable_info() = ToProto(out);
    return absl::OkStatus();
  });
}

grpc::Status ContentService::List(grpc::ServerContext* ctx, const api::ListContentRequest* req,
                                  grpc::ServerWriter<api::ListContentResponse>* writer) {
  return rpc::Handle(*ctx, "content.List", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, ParseFilters(req->filters()));
    BERTH_ASSIGN_OR_RETURN(std::vector<content::Info> all, store_.List(ns));
    api::ListContentResponse batch;
    for (const content::Info& i : all) {
      std::map<std::string, std::string> fields = {{"digest", i.digest},
                                                   {"size", std::to_string(i.size)}};
      if (!filter.Match(filters::MapAdaptor(std::move(fields), i.labels))) {
        continue;
      }
      *batch.add_info() = ToProto(i);
      if (batch.info_size() == kListBatch) {
        if (!writer->Write(batch))
          return absl::CancelledError("client went away");
        batch.Clear();
      }
    }
    if (batch.info_size() > 0 && !writer->Write(batch)) {
      return absl::CancelledError("client went away");
    }
    return absl::OkStatus();
  });
}

grpc::Status ContentService::Delete(grpc::ServerContext* ctx, const api::DeleteContentRequest* req,
                                    google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "content.Delete", [&](const std::string& ns) -> absl::Status {
    BERTH_RETURN_IF_ERROR(store_.Delete(ns, req->digest()));
    gc_.Trigger();
    containerd::events::ContentDelete ev;
    ev.set_digest(req->digest());
    return events_.Publish(ns, "/content/delete", ev);
  });
}

grpc::Status ContentService::Read(grpc::ServerContext* ctx, const api::ReadContentRequest* req,
                                  grpc::ServerWriter<api::ReadContentResponse>* writer) {
  return rpc::Handle(*ctx, "content.Read", [&](const std::string& ns) -> absl::Status {
    content::Info info;
    BERTH_ASSIGN_OR_RETURN(UniqueFd fd, store_.Open(ns, req->digest(), &info));
    if (req->offset() < 0 || req->size() < 0 || req->offset() > info.size) {
      return absl::OutOfRangeError(
          fmt::format("content {:?}: cannot read {} bytes at offset {} "
                      "of {}",
                      info.digest, req->size(), req->offset(), info.size));
    }
    int64_t end = req->size() == 0 ? info.size : std::min(info.size, req->offset() + req->size());
    return StreamBlob(*ctx, fd.get(), req->offset(), end, *writer);
  });
}

grpc::Status ContentService::Status(grpc::ServerContext* ctx, const api::StatusRequest* req,
                                    api::StatusResponse* resp) {
  return rpc::Handle(*ctx, "content.Status", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(IngestStatus s, store_.Status(ns, req->ref()));
    *resp->mutable_status() = ToProto(s);
    return absl::OkStatus();
  });
}

grpc::Status ContentService::ListStatuses(grpc::ServerContext* ctx,
                                          const api::ListStatusesRequest* req,
                                          api::ListStatusesResponse* resp) {
  return rpc::Handle(*ctx, "content.ListStatuses", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, ParseFilters(req->filters()));
    for (const IngestStatus& s : store_.ListStatuses(ns)) {
      filters::FuncAdaptor a([&](std::span<const std::string> p) -> std::optional<std::string> {
        if (p.size() == 1 && p[0] == "ref")
          return s.ref;
        return std::nullopt;
      });
      if (filter.Match(a))
        *resp->add_statuses() = ToProto(s);
    }
    return absl::OkStatus();
  });
}

grpc::Status ContentService::Abort(grpc::ServerContext* ctx, const api::AbortRequest* req,
                                   google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "content.Abort",
                     [&](const std::string& ns) { return store_.Abort(ns, req->ref()); });
}

}  // namespace berth::content
