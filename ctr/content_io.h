#pragma once

// berthd's content store seen from bctr: blobs written through the resumable Content.Write
// stream (under the connection's lease), read back through Content.Read, and labelled with
// Content.Update.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "lib/registry/client.h"

namespace berth::ctr {

using Labels = std::map<std::string, std::string>;

// A registry::BlobSink over one Content.Write stream with ingest ref `ref`. An ingest left by
// an earlier, interrupted write with the same ref is resumed: Offset() reports its length.
// Data is sent in chunks of up to 1 MiB; Commit sends the expected size and digest, which
// berthd verifies over the whole blob, and `labels`.
class ContentSink : public registry::BlobSink {
 public:
  // nullptr when the store already has the blob (then the caller only needs to label it).
  static absl::StatusOr<std::unique_ptr<ContentSink>> Open(Connection& conn, const std::string& ref,
                                                           const registry::Descriptor& d,
                                                           Labels labels);
  ~ContentSink() override;

  int64_t Offset() const override { return offset_ + static_cast<int64_t>(buf_.size()); }

  absl::Status Write(std::string_view data) override;
  absl::Status Reset() override;
  absl::Status Commit(const std::string& digest, int64_t size) override;

 private:
  ContentSink(Connection& conn, std::string ref, registry::Descriptor d, Labels labels);
  // Sends one request and reads its response.
  absl::Status Exchange(content_api::WriteContentRequest& req);
  absl::Status Flush();
  absl::Status Finish();

  Connection& conn_;
  std::string ref_;
  registry::Descriptor desc_;
  Labels labels_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<
      grpc::ClientReaderWriter<content_api::WriteContentRequest, content_api::WriteContentResponse>>
      stream_;
  int64_t offset_ = 0;  // bytes berthd holds
  std::string buf_;     // bytes not yet sent
  bool finished_ = false;
};

// A registry::BlobSource reading a committed blob through Content.Read.
class ContentSource : public registry::BlobSource {
 public:
  ContentSource(Connection& conn, std::string digest);
  ~ContentSource() override;
  absl::StatusOr<std::string> Read(int64_t max) override;

 private:
  Connection& conn_;
  std::string digest_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<content_api::ReadContentResponse>> reader_;
  std::string pending_;
  bool done_ = false;
};

// Writes a small blob whole (AlreadyExists is success; then `labels` are set with Update).
absl::Status WriteBlob(Connection& conn, const std::string& ref, const registry::Descriptor& d,
                       const std::string& data, const Labels& labels);

// Reads a whole blob. NotFound names the digest.
absl::StatusOr<std::string> ReadBlob(Connection& conn, const std::string& digest);

// Sets `labels` on a blob (only those keys; others stay).
absl::Status SetLabels(Connection& conn, const std::string& digest, const Labels& labels);

// The blob's labels, or NotFound.
absl::StatusOr<Labels> BlobLabels(Connection& conn, const std::string& digest);

// containerd's ingest ref for a descriptor: "layer-<digest>", "manifest-<digest>",
// "index-<digest>", "config-<digest>" (so ctr and bctr resume each other's downloads).
std::string RefKey(const registry::Descriptor& d);

}  // namespace berth::ctr
