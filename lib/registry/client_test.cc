// Client against a real registry (Debian's docker-registry on 127.0.0.1, plain HTTP): blob
// upload (monolithic and chunked), cross-repository mounts, manifests by tag and digest,
// resumed downloads (Range), retries after a broken transfer, and digest verification.

#include "lib/registry/client.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/registry/digest.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/registry.h"
#include "tests/testing/temp_dir.h"

namespace berth::registry {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

// Holds a blob in memory. `fail_at` makes the first write that would cross that many bytes
// fail with Unavailable, once, as a dropped connection would.
class MemorySink : public BlobSink {
 public:
  std::string data;
  int64_t fail_at = -1;
  int resets = 0;
  bool committed = false;

  int64_t Offset() const override { return static_cast<int64_t>(data.size()); }

  absl::Status Write(std::string_view d) override {
    if (fail_at >= 0 && static_cast<int64_t>(data.size() + d.size()) > fail_at) {
      fail_at = -1;
      return absl::UnavailableError("connection dropped (test)");
    }
    data.append(d);
    return absl::OkStatus();
  }

  absl::Status Reset() override {
    ++resets;
    data.clear();
    return absl::OkStatus();
  }

  absl::Status Commit(const std::string& digest, int64_t size) override {
    if (Sha256Digest(data) != digest || static_cast<int64_t>(data.size()) != size)
      return absl::DataLossError("commit: wrong data");
    committed = true;
    return absl::OkStatus();
  }
};

class StringSource : public BlobSource {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}

  absl::StatusOr<std::string> Read(int64_t max) override {
    std::string out = s_.substr(pos_, static_cast<size_t>(max));
    pos_ += out.size();
    return out;
  }

 private:
  std::string s_;
  size_t pos_ = 0;
};

struct Counter : TransferObserver {
  int retries = 0;
  int64_t started_at = -1;
  int64_t bytes = 0;

  void Started(const Descriptor&, int64_t offset) override { started_at = offset; }

  void Advanced(const Descriptor&, int64_t n) override { bytes += n; }

  void Retrying(const Descriptor&, const absl::Status&) override { ++retries; }
};

std::string Random(size_t n) {
  std::mt19937_64 rng(n);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

Descriptor Blob(const std::string& data) {
  return Descriptor{.media_type = "application/vnd.oci.image.layer.v1.tar",
                    .digest = Sha256Digest(data),
                    .size = static_cast<int64_t>(data.size())};
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveProgram("docker-registry"))
      GTEST_SKIP() << "docker-registry is not installed";
    ASSERT_EQ(registry_.Start(dir_.path()), "");
    ClientOptions o;
    o.plain_http = {registry_.host()};
    o.upload_chunk = 256 << 10;
    o.retry_delay = std::chrono::milliseconds(10);
    client_ = std::make_unique<Client>(o);
    repo_ = *ParseReference(registry_.host() + "/test/blobs");
  }

  testing::TempDir dir_{"registry"};
  testing::LocalRegistry registry_;
  std::unique_ptr<Client> client_;
  Reference repo_;
};

TEST_F(ClientTest, UploadsAndDownloadsBlobs) {
  const std::string small = Random(100 << 10);  // one PUT
  const std::string big = Random(1 << 20);      // four PATCH chunks of 256 KiB, then PUT
  for (const std::string* data : {&small, &big}) {
    Descriptor d = Blob(*data);
    EXPECT_EQ(*client_->BlobExists(repo_, d.digest), false);
    StringSource src(*data);
    Counter up;
    ASSERT_THAT(client_->PushBlob(repo_, d, src, "", &up), IsOk());
    EXPECT_EQ(up.bytes, d.size);
    EXPECT_EQ(*client_->BlobExists(repo_, d.digest), true);
    MemorySink sink;
    ASSERT_THAT(client_->FetchBlob(repo_, d, sink), IsOk());
    EXPECT_TRUE(sink.committed);
    EXPECT_EQ(sink.data, *data);
  }
  // Another repository of the same registry gets the blob by a mount, not an upload.
  Reference other = *ParseReference(registry_.host() + "/test/other");
  StringSource src(big);
  Counter up;
  ASSERT_THAT(client_->PushBlob(other, Blob(big), src, repo_.path, &up), IsOk());
  EXPECT_EQ(up.bytes, 0);
  EXPECT_EQ(*client_->BlobExists(other, Blob(big).digest), true);
  // A source that does not match its descriptor is refused before the upload completes.
  StringSource wrong(Random(1000));
  Descriptor claimed = Blob(Random(999));
  EXPECT_THAT(client_->PushBlob(repo_, claimed, wrong), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(ClientTest, ResumesPartialBlobsWithRange) {
  const std::string data = Random(600 << 10);
  Descriptor d = Blob(data);
  StringSource src(data);
  ASSERT_THAT(client_->PushBlob(repo_, d, src), IsOk());

  // An earlier attempt left the first 200 KiB: only the rest comes over the wire.
  MemorySink sink;
  sink.data = data.substr(0, 200 << 10);
  Counter c;
  ASSERT_THAT(client_->FetchBlob(repo_, d, sink, &c), IsOk());
  EXPECT_EQ(c.started_at, 200 << 10);
  EXPECT_EQ(c.bytes, (600 - 200) << 10);
  EXPECT_EQ(sink.resets, 0);
  EXPECT_EQ(sink.data, data);
  EXPECT_TRUE(sink.committed);

  // A transfer that breaks half-way is retried from where it stopped, and still verified.
  MemorySink flaky;
  flaky.fail_at = 300 << 10;
  Counter c2;
  ASSERT_THAT(client_->FetchBlob(repo_, d, flaky, &c2), IsOk());
  EXPECT_EQ(c2.retries, 1);
  EXPECT_EQ(c2.bytes, static_cast<int64_t>(data.size()));
  EXPECT_EQ(flaky.data, data);
}

TEST_F(ClientTest, VerifiesDigestsAndNamesMissingObjects) {
  const std::string data = Random(10 << 10);
  Descriptor d = Blob(data);
  StringSource src(data);
  ASSERT_THAT(client_->PushBlob(repo_, d, src), IsOk());
  // The registry serves the blob by its digest; a descriptor with another size is caught.
  Descriptor lying = d;
  lying.size = d.size - 1;
  MemorySink sink;
  absl::Status st = client_->FetchBlob(repo_, lying, sink);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_FALSE(sink.committed);

  Descriptor unknown = Blob("nothing here");
  MemorySink none;
  st = client_->FetchBlob(repo_, unknown, none);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(st.message()), HasSubstr(repo_.Name() + "@" + unknown.digest));

  absl::StatusOr<FetchedManifest> m = client_->GetManifest(*ParseReference(repo_.Name() + ":v1"));
  EXPECT_THAT(m, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(repo_.Name() + ":v1: not found"));
}

TEST_F(ClientTest, ManifestsByTagAndDigest) {
  const std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers",)"
                             R"("diff_ids":[]}})";
  Descriptor c = Blob(config);
  c.media_type = std::string(media::kOciConfig);
  StringSource src(config);
  ASSERT_THAT(client_->PushBlob(repo_, c, src), IsOk());
  const std::string manifest = R"({"schemaVersion":2,"mediaType":")" +
                               std::string(media::kOciManifest) + R"(","config":)" +
                               DescriptorJson(c) + R"(,"layers":[]})";
  Reference tagged = *ParseReference(repo_.Name() + ":v1");
  ASSERT_THAT(client_->PutManifest(tagged, media::kOciManifest, manifest), IsOk());
  absl::StatusOr<FetchedManifest> m = client_->GetManifest(tagged);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->body, manifest);
  EXPECT_EQ(m->desc.digest, Sha256Digest(manifest));
  EXPECT_EQ(m->desc.media_type, media::kOciManifest);
  absl::StatusOr<FetchedManifest> byd = client_->GetManifest(tagged, m->desc.digest);
  ASSERT_THAT(byd, IsOk());
  EXPECT_EQ(byd->body, manifest);
  absl::StatusOr<std::string> got = client_->GetBlob(repo_, c);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, config);
}

TEST(ClientErrorsTest, ConnectionRefusedNamesTheHost) {
  ClientOptions o;
  o.retries = 1;
  o.retry_delay = std::chrono::milliseconds(1);
  o.plain_http = {"127.0.0.1:1"};
  Client c(o);
  absl::StatusOr<FetchedManifest> m = c.GetManifest(*ParseReference("127.0.0.1:1/x:y"));
  EXPECT_THAT(m, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("127.0.0.1:1: cannot connect"));
}

}  // namespace
}  // namespace berth::registry
