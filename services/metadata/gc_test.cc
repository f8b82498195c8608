#include "services/metadata/gc.h"

#include "gtest/gtest.h"

namespace berth::metadata {
namespace {

ResourceKey C(const std::string& d) {
  return {"default", "content", d};
}

// An image → index → manifest → config + 2 layers chain, as ctr import labels it; a lease
// holding a blob and a snapshot; a gc.root blob; garbage: an orphan blob, an old manifest,
// and everything in another namespace that nothing holds.
TEST(GcMarkTest, ExactlyTheReachableSetSurvives) {
  GcGraph g;
  ResourceKey image{"default", "images", "busybox:latest"};
  g.roots.push_back(image);
  g.AddRef(image, C("index"));
  g.AddLabelRefs(C("index"), {{"containerd.io/gc.ref.content.m.0", "manifest"}});
  g.AddLabelRefs(C("manifest"), {{"containerd.io/gc.ref.content.config", "config"},
                                 {"containerd.io/gc.ref.content.l.0", "layer0"},
                                 {"containerd.io/gc.ref.content.l.1", "layer1"},
                                 {"containerd.io/gc.ref.snapshot.overlayfs", "chain1"},
                                 {"unrelated.label", "orphan"}});
  ResourceKey lease{"default", "leases", "pull-1"};
  g.roots.push_back(lease);
  g.AddRef(lease, C("partial"));
  g.AddRef(lease, {"default", "snapshots/native", "active-1"});
  g.AddLabelRefs({"default", "snapshots/native", "active-1"},
                 {{"containerd.io/gc.ref.content", "snapcontent"}});
  g.AddLabelRefs(C("pinned"), {{"containerd.io/gc.root", "2024-01-01"}});
  g.AddLabelRefs(C("old-manifest"), {{"containerd.io/gc.ref.content.l.0", "layer0"}});
  g.AddLabelRefs({"other", "content", "x"}, {{"containerd.io/gc.ref.content", "y"}});

  std::set<ResourceKey> want = {image,
                                C("index"),
                                C("manifest"),
                                C("config"),
                                C("layer0"),
                                C("layer1"),
                                {"default", "snapshots/overlayfs", "chain1"},
                                lease,
                                C("partial"),
                                {"default", "snapshots/native", "active-1"},
                                C("snapcontent"),
                                C("pinned")};
  EXPECT_EQ(Mark(g), want);
}

TEST(GcMarkTest, ReferencesStayInTheirNamespace) {
  GcGraph g;
  ResourceKey image{"a", "images", "i"};
  g.roots.push_back(image);
  g.AddLabelRefs(image, {{"containerd.io/gc.ref.content", "d"}});
  std::set<ResourceKey> got = Mark(g);
  EXPECT_TRUE(got.contains({"a", "content", "d"}));
  EXPECT_FALSE(got.contains({"b", "content", "d"}));
}

TEST(GcMarkTest, CyclesTerminate) {
  GcGraph g;
  g.roots.push_back(C("a"));
  g.AddRef(C("a"), C("b"));
  g.AddRef(C("b"), C("a"));
  EXPECT_EQ(Mark(g).size(), 2u);
}

TEST(GcLeaseTest, Expiry) {
  const int64_t now = 1700000000;  // 2023-11-14T22:13:20Z
  EXPECT_TRUE(LeaseExpired({{kGcExpireLabel, "2023-11-14T22:13:19Z"}}, now));
  EXPECT_FALSE(LeaseExpired({{kGcExpireLabel, "2023-11-14T22:13:21Z"}}, now));
  EXPECT_FALSE(LeaseExpired({{kGcExpireLabel, "2023-11-14T22:13:21.5Z"}}, now));
  EXPECT_TRUE(LeaseExpired({{kGcExpireLabel, "2023-11-14T23:13:19+01:00"}}, now));
  EXPECT_FALSE(LeaseExpired({{kGcExpireLabel, "not a time"}}, now));
  EXPECT_FALSE(LeaseExpired({}, now));
}

}  // namespace
}  // namespace berth::metadata
