// The collector over a real SQLite database and content store in a temp directory.

#include "services/gc/collector.h"

#include <filesystem>

#include "gtest/gtest.h"

#include "services/metadata/image_store.h"
#include "services/metadata/lease_store.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::gc {
namespace {

using ::berth::testing::IsOk;

class CollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *metadata::Db::Open(dir_ / "meta.db");
    local_ = *content::LocalStore::Open(dir_ / "content");
    store_ = std::make_unique<content::ContentStore>(*db_, *local_);
    collector_ = std::make_unique<Collector>(*db_, *store_, *local_, nullptr);
  }

  std::string Blob(const std::string& data, Labels labels = {}, const std::string& lease = "") {
    auto w = store_->OpenWriter("default", "ref-" + data, 0, "");
    EXPECT_THAT(w, IsOk());
    EXPECT_THAT((*w)->Write(0, data), IsOk());
    auto d = store_->Commit("default", **w, 0, "", labels, lease);
    EXPECT_THAT(d, IsOk());
    return *d;
  }

  bool OnDisk(const std::string& d) { return std::filesystem::exists(local_->BlobPath(d)); }

  testing::TempDir dir_{"gc"};
  std::unique_ptr<metadata::Db> db_;
  std::unique_ptr<content::LocalStore> local_;
  std::unique_ptr<content::ContentStore> store_;
  std::unique_ptr<Collector> collector_;
};

TEST_F(CollectorTest, KeepsWhatImagesAndLeasesReachRemovesTheRest) {
  std::string layer = Blob("layer");
  std::string config = Blob("config");
  std::string manifest = Blob("manifest", {{"containerd.io/gc.ref.content.l.0", layer},
                                           {"containerd.io/gc.ref.content.config", config}});
  std::string orphan = Blob("orphan");
  std::string pinned = Blob("pinned", {{"containerd.io/gc.root", "x"}});
  metadata::LeaseStore leases(*db_);
  ASSERT_THAT(leases.Create("default", {"held", {}}), IsOk());
  ASSERT_THAT(
      leases.Create("default", {"old", {{"containerd.io/gc.expire", "2001-01-01T00:00:00Z"}}}),
      IsOk());
  std::string leased = Blob("leased", {}, "held");
  std::string expired = Blob("expired", {}, "old");
  metadata::ImageStore images(*db_);
  metadata::Image img;
  img.name = "busybox";
  img.target = {"application/vnd.oci.image.manifest.v1+json", manifest, 8, {}};
  ASSERT_THAT(images.Create("default", img), IsOk());

  auto stats = collector_->Run();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->blobs, 2);   // orphan, expired
  EXPECT_EQ(stats->leases, 1);  // old
  for (const std::string& d : {layer, config, manifest, pinned, leased}) {
    EXPECT_TRUE(OnDisk(d)) << d;
    EXPECT_THAT(store_->Get("default", d), IsOk());
  }
  EXPECT_FALSE(OnDisk(orphan));
  EXPECT_FALSE(OnDisk(expired));

  // Without the image and the lease, everything but the pinned blob goes.
  ASSERT_THAT(images.Delete("default", "busybox"), IsOk());
  ASSERT_THAT(leases.Delete("default", "held"), IsOk());
  ASSERT_THAT(collector_->CollectNow(), IsOk());
  for (const std::string& d : {layer, config, manifest, leased}) EXPECT_FALSE(OnDisk(d)) << d;
  EXPECT_TRUE(OnDisk(pinned));
}

TEST_F(CollectorTest, SharedBlobStaysWhileAnyNamespaceRecordsIt) {
  std::string d = Blob("shared", {{"containerd.io/gc.root", "x"}});
  ASSERT_FALSE(store_->OpenWriter("other", "r", 0, d).ok());  // shares the blob into "other"
  ASSERT_THAT(store_->Update("other", {d, 0, 0, 0, {{"containerd.io/gc.root", "x"}}}, {}), IsOk());
  ASSERT_THAT(store_->Delete("default", d), IsOk());
  ASSERT_THAT(collector_->CollectNow(), IsOk());
  EXPECT_TRUE(OnDisk(d));
  ASSERT_THAT(store_->Delete("other", d), IsOk());
  ASSERT_THAT(collector_->CollectNow(), IsOk());
  EXPECT_FALSE(OnDisk(d));
}

TEST_F(CollectorTest, TriggerCollectsInTheBackground) {
  std::string d = Blob("soon-gone");
  ASSERT_THAT(store_->Delete("default", d), IsOk());
  collector_->Trigger();
  for (int i = 0; i < 200 && OnDisk(d); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(OnDisk(d));
}

// A delete with sync collects what the triggers before it asked for: no background collection
// follows, which would take what is made right after (a lease-less snapshot, say).
TEST_F(CollectorTest, CollectNowDropsThePendingBackgroundCollection) {
  std::string gone = Blob("gone-now");
  ASSERT_THAT(store_->Delete("default", gone), IsOk());
  collector_->Trigger();
  ASSERT_THAT(collector_->CollectNow(), IsOk());
  EXPECT_FALSE(OnDisk(gone));
  std::string unreferenced = Blob("made-after");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the debounce is 100 ms
  EXPECT_TRUE(OnDisk(unreferenced));
}

TEST_F(CollectorTest, RemovesIngestsNobodyWroteToSinceTheExpiry) {
  // A fresh ingest survives a collection: it can still be resumed.
  {
    auto w = store_->OpenWriter("default", "fresh", 0, "");
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, "partial"), IsOk());
  }
  ASSERT_THAT(collector_->CollectNow(), IsOk());
  ASSERT_THAT(store_->Status("default", "fresh"), IsOk());

  // With an expiry of zero, it is stale at once, unless a lease holds it.
  metadata::LeaseStore leases(*db_);
  ASSERT_THAT(leases.Create("default", {"pull", {}}), IsOk());
  {
    auto w = store_->OpenWriter("default", "held", 0, "");
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, "partial"), IsOk());
  }
  ASSERT_THAT(leases.AddResource("default", "pull", {"held", "ingests"}), IsOk());
  Collector now(*db_, *store_, *local_, nullptr, std::chrono::seconds(0));
  auto stats = now.Run();
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->ingests, 1);
  EXPECT_FALSE(store_->Status("default", "fresh").ok());
  EXPECT_THAT(store_->Status("default", "held"), IsOk());

  // An ingest with a writer attached is never removed.
  auto w = store_->OpenWriter("default", "busy", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT(now.CollectNow(), IsOk());
  EXPECT_THAT(store_->Status("default", "busy"), IsOk());
}

}  // namespace
}  // namespace berth::gc
