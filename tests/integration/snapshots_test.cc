// Snapshots, diff and unpacking through containerd's own client: `ctr images pull` from
// Debian's docker-registry on 127.0.0.1, `ctr images import` with unpack, `ctr snapshots`
// ls/tree/info/usage/mounts/rm, the layered image's whiteouts seen through a real mount, and
// garbage collection of snapshots with and without a lease.

#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"
#include "tests/testing/registry.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class SnapshotsTest : public testing::DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    images_ = (dir().path() / "images").string();
    testing::CommandResult r = testing::MakeTestImages(images_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(StartDaemon());
  }

  // Starts a private registry with busybox and layered pushed to it.
  void StartRegistry() {
    if (!testing::HaveRegistryTools())
      GTEST_SKIP() << "docker-registry or skopeo is not installed";
    fs::create_directories(dir().path() / "registry");
    std::string err = registry_.Start(dir().path() / "registry");
    ASSERT_EQ(err, "");
    ASSERT_EQ(registry_.Push(images_ + "/oci/busybox", "busybox:latest"), "");
    ASSERT_EQ(registry_.Push(images_ + "/oci/layered", "layered:latest"), "");
  }

  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }

  // key → parent of every snapshot, from `ctr snapshots ls`.
  std::map<std::string, std::string> Snapshots() {
    std::map<std::string, std::string> out;
    std::istringstream in(C({"snapshots", "ls"}).out);
    std::string line;
    std::getline(in, line);  // header: KEY PARENT KIND
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string key, parent, kind;
      f >> key >> parent >> kind;
      if (kind.empty()) {  // no parent: the second column is the kind
        kind = parent;
        parent = "";
      }
      out[key] = parent;
    }
    return out;
  }

  // The committed snapshot that no other has as its parent (the image's top layer).
  std::string Top() {
    auto all = Snapshots();
    std::set<std::string> parents;
    for (const auto& [k, p] : all) parents.insert(p);
    for (const auto& [k, p] : all) {
      if (!parents.contains(k))
        return k;
    }
    return "";
  }

  size_t Blobs() {
    std::error_code ec;
    auto d = fs::path(root()) / "io.containerd.content.v1.content/blobs/sha256";
    return std::distance(fs::directory_iterator(d, ec), fs::directory_iterator());
  }

  size_t SnapshotDirs() {
    std::error_code ec;
    auto d = fs::path(root()) / "io.containerd.snapshotter.v1.overlayfs/snapshots";
    return std::distance(fs::directory_iterator(d, ec), fs::directory_iterator());
  }

  // A removed snapshot's directory is deleted by the snapshotter's own thread after the
  // removal (renamed to rm-<id> first): up to 5 s for the count to drop to `want`.
  size_t SnapshotDirsOnceRemoved(size_t want) {
    size_t n = SnapshotDirs();
    for (int i = 0; i < 100 && n > want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      n = SnapshotDirs();
    }
    return n;
  }

  std::string images_;
  testing::LocalRegistry registry_;
};

TEST_F(SnapshotsTest, PullFromLocalRegistryUnpacks) {
  StartRegistry();
  std::string ref = registry_.host() + "/busybox:latest";
  testing::CommandResult r = C({"images", "pull", "--plain-http", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  EXPECT_THAT(C({"images", "ls", "-q"}).out, HasSubstr(ref));
  CollectGarbage();  // the view "v1" below has no lease

  auto snaps = Snapshots();
  ASSERT_EQ(snaps.size(), 1u) << C({"snapshots", "ls"}).out;
  const std::string key = snaps.begin()->first;
  EXPECT_EQ(key.rfind("sha256:", 0), 0u) << "unpacked layers are named by chain id";
  r = C({"snapshots", "info", key});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"Kind\": \"Committed\""));
  r = C({"snapshots", "usage", key});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(key));
  // The image's config blob carries the label that keeps the snapshot alive.
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("containerd.io/gc.ref.snapshot.overlayfs="));

  // busybox itself is in the unpacked layer, with its mode.
  r = C({"snapshots", "view", "v1", key});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"snapshots", "mounts", (dir().path() / "mnt").string(), "v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::create_directories(dir().path() / "mnt");
  ASSERT_EQ(testing::RunCommand({"sh", "-c", r.out}).exit_code, 0) << r.out;

  struct stat st {};

  EXPECT_EQ(::stat((dir().path() / "mnt/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR);
  EXPECT_TRUE(fs::is_symlink(dir().path() / "mnt/bin/sh"));
  ::umount2((dir().path() / "mnt").c_str(), MNT_DETACH);
  EXPECT_EQ(C({"snapshots", "rm", "v1"}).exit_code, 0);
}

TEST_F(SnapshotsTest, LayeredImageShowsItsWhiteoutsThroughTheMount) {
  StartRegistry();
  std::string ref = registry_.host() + "/layered:latest";
  testing::CommandResult r = C({"images", "pull", "--plain-http", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  CollectGarbage();  // the snapshot "work" below has no lease
  ASSERT_EQ(Snapshots().size(), 4u) << C({"snapshots", "ls"}).out;
  r = C({"snapshots", "tree"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(" \\_ ")) << "a chain of four layers: " << r.out;

  std::string top = Top();
  ASSERT_FALSE(top.empty());
  fs::path mnt = dir().path() / "rootfs";
  fs::create_directories(mnt);
  r = C({"snapshots", "prepare", "--target", mnt.string(), "work", top});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_THAT(r.out, HasSubstr("mount -t overlay"));
  ASSERT_EQ(testing::RunCommand({"sh", "-c", r.out}).exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(mnt / "bin/busybox"));
  EXPECT_EQ(testing::ReadFile(mnt / "etc/layer2"), "layer2\n");
  EXPECT_FALSE(fs::exists(mnt / "opt/data/blob")) << "the whiteout hides the lower file";
  EXPECT_TRUE(fs::is_directory(mnt / "opt/data"));
  std::vector<std::string> keep;
  for (const auto& e : fs::directory_iterator(mnt / "srv/keep"))
    keep.push_back(e.path().filename());
  EXPECT_EQ(keep, std::vector<std::string>{"new"}) << "the opaque dir hides a and b";

  // Changes in the active snapshot come back as a layer from the diff service: the added
  // file, and a whiteout for the removed one.
  testing::WriteFile(mnt / "etc/added", "added\n");
  fs::remove(mnt / "etc/layer2");
  ::umount2(mnt.c_str(), MNT_DETACH);
  fs::path layer = dir().path() / "diff.tar.gz";
  r = testing::RunCommand(
      {"sh", "-c",
       "ctr --address " + socket() + " -n default snapshots diff --keep work > " + layer.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  r = testing::RunCommand({"tar", "-tzf", layer.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("etc/added"));
  EXPECT_THAT(r.out, HasSubstr("etc/.wh.layer2"));
  EXPECT_THAT(r.out, Not(HasSubstr("bin/busybox"))) << "only the changes";
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("containerd.io/uncompressed=sha256:"));

  // A parent with children cannot go; the active snapshot can.
  r = C({"snapshots", "rm", top});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("child"));
  EXPECT_EQ(C({"snapshots", "rm", "work"}).exit_code, 0);
  EXPECT_EQ(Top(), top);
}

TEST_F(SnapshotsTest, ImportWithUnpackOfDockerAndOciArchives) {
  testing::CommandResult r = C({"images", "import", images_ + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  EXPECT_EQ(Snapshots().size(), 1u);
  r = C({"images", "import", "--base-name", "localhost/layered", images_ + "/layered.oci.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  // The busybox layer is the first layer of both: one chain of four in all.
  EXPECT_EQ(Snapshots().size(), 4u) << C({"snapshots", "ls"}).out;
}

TEST_F(SnapshotsTest, ImageRemovalCollectsSnapshotsUnlessLeased) {
  ASSERT_EQ(C({"images", "import", images_ + "/layered.oci.tar", "--base-name", "l"}).exit_code, 0);
  ASSERT_EQ(Snapshots().size(), 4u);
  const std::string top = Top();
  ASSERT_GE(SnapshotDirs(), 4u);

  // A lease holding the top snapshot keeps the whole chain through the image's removal.
  ASSERT_EQ(C({"leases", "create", "--id", "hold"}).exit_code, 0);
  auto channel = grpc::CreateChannel("unix://" + socket(), grpc::InsecureChannelCredentials());
  auto leases = containerd::services::leases::v1::Leases::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", "default");
    containerd::services::leases::v1::AddResourceRequest req;
    req.set_id("hold");
    req.mutable_resource()->set_type("snapshots/overlayfs");
    req.mutable_resource()->set_id(top);
    google::protobuf::Empty resp;
    grpc::Status s = leases->AddResource(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::string image = C({"images", "ls", "-q"}).out;
  image.pop_back();
  ASSERT_EQ(C({"images", "rm", "--sync", image}).exit_code, 0);
  EXPECT_EQ(Snapshots().size(), 4u) << "the lease keeps the chain";
  EXPECT_EQ(Blobs(), 0u) << "but not the blobs, which nothing holds";

  ASSERT_EQ(C({"leases", "rm", "--sync", "hold"}).exit_code, 0);
  EXPECT_EQ(Snapshots().size(), 0u);
  EXPECT_EQ(SnapshotDirsOnceRemoved(0), 0u) << "the backend snapshots are gone too";
}

}  // namespace
}  // namespace berth
