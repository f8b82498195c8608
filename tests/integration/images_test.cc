// Images and leases through containerd's own client: ctr images import --no-unpack of a
// docker-archive and an OCI archive built by tests/fixtures/make-images.sh, images ls/rm,
// leases create/ls/rm, and the image events.

#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ImagesTest : public testing::DaemonFixture {
 protected:
  // Builds the fixture images once per test (under a second, no network).
  std::string Images() {
    std::string out = (dir().path() / "images").string();
    testing::CommandResult r = testing::MakeTestImages(out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }

  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }
};

TEST_F(ImagesTest, ImportDockerAndOciArchivesWithoutUnpack) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string images = Images();
  testing::CommandResult r = C({"images", "import", "--no-unpack", images + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"images", "import", "--no-unpack", "--base-name", "localhost/layered",
         images + "/layered.oci.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = C({"images", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("docker.io/library/busybox:latest"));
  EXPECT_THAT(r.out, HasSubstr("application/vnd.docker.distribution.manifest.v2+json"));
  EXPECT_THAT(r.out, HasSubstr("localhost/layered:latest"));
  EXPECT_THAT(r.out, HasSubstr("application/vnd.oci.image.manifest.v1+json"));
  EXPECT_THAT(r.out, HasSubstr("linux/amd64"));  // ctr read the config blob back from berthd

  r = C({"images", "ls", "-q", "name~=layered"});
  EXPECT_EQ(r.out, "localhost/layered:latest\n");
  // The manifests carry containerd's gc.ref labels, set by ctr through content Update.
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("containerd.io/gc.ref.content.l.0="));
  // The import ran under a lease, which ctr removes when it is done.
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");

  r = C({"images", "rm", "docker.io/library/busybox:latest"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(C({"images", "ls", "-q"}).out, Not(HasSubstr("busybox")));
  r = C({"images", "rm", "docker.io/library/nope:latest"});  // ctr warns, as with containerd
  EXPECT_THAT(r.err, HasSubstr("docker.io/library/nope:latest: image not found"));
}

// The same archive into a second namespace: its blobs are in the store already (ctr writes an
// archive's files without their digests), and they must become the second namespace's too,
// stay when the first namespace's image and content go, and run there.
TEST_F(ImagesTest, TheSameImageImportedIntoTwoNamespacesRunsInBoth) {
  BERTH_REQUIRE_CTR();
  BERTH_REQUIRE_ROOT();
  ASSERT_TRUE(StartDaemon());
  std::string images = Images();
  const std::string fifo = (dir().path() / "fifo").string();
  for (const char* ns : {"default", "second"}) {
    testing::CommandResult r = Ctr({"-n", ns, "images", "import", images + "/layered.docker.tar"});
    ASSERT_EQ(r.exit_code, 0) << ns << ": " << r.err;
  }
  const std::string image = "docker.io/library/layered:latest";
  CollectGarbage();  // what the imports wrote and the images do not use goes, in both
  EXPECT_EQ(Ctr({"-n", "second", "content", "ls", "-q"}).out,
            Ctr({"-n", "default", "content", "ls", "-q"}).out);
  testing::CommandResult r = C({"images", "rm", image});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CollectGarbage();
  r = Ctr({"-n", "second", "run", "--rm", "--fifo-dir", fifo, image, "t1", "cat", "/etc/layer2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "layer2\n");
  r = Ctr({"-n", "second", "images", "check"});
  EXPECT_THAT(r.out, HasSubstr("complete")) << r.out;
}

// ctr images mount names its lease and snapshot after the target path, slashes and spaces in.
TEST_F(ImagesTest, ImagesMountAndUnmountThroughCtr) {
  BERTH_REQUIRE_CTR();
  BERTH_REQUIRE_ROOT();
  ASSERT_TRUE(StartDaemon());
  std::string images = Images();
  testing::CommandResult r = C({"images", "import", images + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::filesystem::path target = dir().path() / "mount point";
  std::filesystem::create_directories(target);
  r = C({"images", "mount", "docker.io/library/busybox:latest", target.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(target / "bin/busybox"));
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, target.string() + "\n");
  r = C({"images", "unmount", "--rm", target.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(target / "bin/busybox"));
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");
  EXPECT_THAT(C({"snapshots", "ls"}).out, Not(HasSubstr("mount point")));
}

TEST_F(ImagesTest, ImportOfACorruptArchiveFailsCleanly) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string bad = (dir().path() / "bad.tar").string();
  testing::WriteFile(bad, "this is not a tar archive");
  testing::CommandResult r = C({"images", "import", "--no-unpack", bad});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(C({"images", "ls", "-q"}).out, "");
}

TEST_F(ImagesTest, LeasesCreateListRemove) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult r = C({"leases", "create", "--id", "my-lease", "--expires", "1h"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("my-lease"));
  r = C({"leases", "create"});  // ctr makes up an id such as "315932019-_bzt"
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"leases", "ls"});
  EXPECT_THAT(r.out, HasSubstr("my-lease"));
  EXPECT_THAT(r.out, HasSubstr("containerd.io/gc.expire="));
  EXPECT_EQ(C({"leases", "create", "--id", "my-lease"}).exit_code != 0, true);
  ASSERT_EQ(C({"leases", "rm", "my-lease"}).exit_code, 0);
  EXPECT_THAT(C({"leases", "ls", "-q"}).out, Not(HasSubstr("my-lease")));
  r = C({"leases", "rm", "my-lease"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("lease \"my-lease\": not found"));
}

TEST_F(ImagesTest, ImageEventsReachSubscribers) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string images = Images();
  std::string log = (dir().path() / "events.txt").string();
  std::thread sub([&] {
    testing::RunCommand({"sh", "-c", "timeout 4 ctr --address " + socket() + " events > " + log});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(C({"images", "import", "--no-unpack", images + "/busybox.docker.tar"}).exit_code, 0);
  ASSERT_EQ(C({"images", "rm", "docker.io/library/busybox:latest"}).exit_code, 0);
  sub.join();
  std::string got = testing::ReadFile(log);
  EXPECT_THAT(got, HasSubstr("/images/create {\"name\":\"docker.io/library/busybox:latest\""));
  EXPECT_THAT(got, HasSubstr("/images/delete {\"name\":\"docker.io/library/busybox:latest\"}"));
}

TEST_F(ImagesTest, GarbageCollectionAfterImageRemovalRespectsLeases) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string images = Images();
  auto blobs = [&] {
    std::error_code ec;
    auto dir = std::filesystem::path(root()) / "io.containerd.content.v1.content/blobs/sha256";
    return std::distance(std::filesystem::directory_iterator(dir, ec),
                         std::filesystem::directory_iterator());
  };
  ASSERT_EQ(C({"images", "import", "--no-unpack", images + "/busybox.docker.tar"}).exit_code, 0);
  const auto imported = blobs();
  ASSERT_GE(imported, 3);  // manifest, config, layer (docker-archive also keeps its index)

  // A lease that holds the manifest keeps it (and, through its gc.ref labels, the rest).
  std::string manifest = C({"images", "ls"}).out;
  size_t at = manifest.find("sha256:");
  ASSERT_NE(at, std::string::npos);
  manifest = manifest.substr(at, 71);
  ASSERT_EQ(C({"leases", "create", "--id", "keep"}).exit_code, 0);
  testing::CommandResult r =
      testing::RunCommand({"sh", "-c",
                           "ctr --address " + socket() + " -n default content label " + manifest +
                               " containerd.io/gc.root=test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(C({"images", "rm", "--sync", "docker.io/library/busybox:latest"}).exit_code, 0);
  EXPECT_GE(blobs(), 3) << "a gc.root manifest keeps its config and layers";
  ASSERT_EQ(C({"content", "label", manifest, "containerd.io/gc.root="}).exit_code, 0);
  ASSERT_EQ(C({"leases", "rm", "--sync", "keep"}).exit_code, 0);
  EXPECT_EQ(blobs(), 0) << "nothing refers to the image's blobs any more";
  EXPECT_EQ(C({"content", "ls", "-q"}).out, "");
}

}  // namespace
}  // namespace berth
