// bctr's image archives against a private berthd: load and images import of the fixture's
// docker-archive and OCI archive (seen by Debian's ctr), save → rmi → load and export →
// import round trips that keep the digests, and the failures: a missing image writes no file,
// a truncated, corrupt or tampered archive leaves no image, lease or blob behind.

#include <unistd.h>

#include <filesystem>
#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class BctrArchiveTest : public testing::DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    for (const char* tool : {"umoci", "skopeo", "jq"}) {
      if (!testing::HaveProgram(tool))
        GTEST_SKIP() << tool << " is not installed (tests/fixtures/make-images.sh needs it)";
    }
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
    images_ = (dir().path() / "images").string();
    testing::CommandResult r = testing::MakeTestImages(images_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(StartDaemon());
  }

  // bctr against our berthd; `shell_suffix` is appended to the command line as it is (for
  // redirections and pipes).
  testing::CommandResult Bctr(const std::vector<std::string>& args,
                              const std::string& shell_suffix = "") {
    std::string cmd = testing::BinPath("bctr") + " --address " + socket();
    for (const std::string& a : args) cmd += " '" + a + "'";
    return testing::RunCommand({"sh", "-c", cmd + shell_suffix});
  }

  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }

  void ExpectOneLineError(const testing::CommandResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_THAT(r.err, StartsWith("bctr: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(what));
  }

  // No image record, no lease, no blob, no snapshot.
  void ExpectStoreEmpty() {
    EXPECT_EQ(C({"images", "ls", "-q"}).out, "");
    EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");
    EXPECT_EQ(C({"content", "ls", "-q"}).out, "");
    EXPECT_EQ(C({"snapshots", "ls"}).out.find("sha256:"), std::string::npos);
  }

  std::string Digest(const std::string& name) {
    testing::CommandResult r = Bctr({"images", "inspect", name});
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded())
      return "";
    return j["target"]["digest"].get<std::string>();
  }

  // bctr images inspect without the record's times.
  nlohmann::json Inspect(const std::string& name) {
    nlohmann::json j = nlohmann::json::parse(Bctr({"images", "inspect", name}).out, nullptr, false);
    if (j.is_object()) {
      j.erase("createdAt");
      j.erase("updatedAt");
    }
    return j;
  }

  // The manifest digest make-images.sh reported for `image`.
  std::string FixtureDigest(const std::string& image) {
    std::smatch m;
    std::string txt = testing::ReadFile(images_ + "/IMAGES.txt");
    std::regex re(image + " manifest=(sha256:[0-9a-f]{64})");
    return std::regex_search(txt, m, re) ? m[1].str() : "";
  }

  std::string images_;
};

TEST_F(BctrArchiveTest, LoadsDockerAndOciArchivesThatCtrThenLists) {
  testing::CommandResult r = Bctr({"load", "-i", images_ + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: busybox:latest\n");
  r = Bctr({"images", "import", "--base-name", "localhost/layered", images_ + "/layered.oci.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported localhost/layered:latest " + FixtureDigest("layered")));

  r = C({"images", "ls", "-q"});
  EXPECT_EQ(r.out, "docker.io/library/busybox:latest\nlocalhost/layered:latest\n");
  // The OCI archive keeps the manifest made by umoci.
  EXPECT_EQ(Digest("localhost/layered:latest"), FixtureDigest("layered"));
  // Both unpacked: a committed snapshot per layer of layered at least.
  r = C({"snapshots", "ls"});
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n') - 1, 4) << r.out;
  // ctr runs the loaded image.
  fs::create_directories(dir().path() / "fifo");
  r = C({"run", "--rm", "--fifo-dir", (dir().path() / "fifo").string(),
         "docker.io/library/busybox:latest", "l1", "cat", "/etc/passwd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("root:x:0:0"));

  // --index-name names the archive's whole index too.
  r = Bctr({"images", "import", "--no-unpack", "--base-name", "localhost/layered", "--index-name",
            "localhost/whole:v1", images_ + "/layered.oci.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(C({"images", "ls", "-q"}).out, HasSubstr("localhost/whole:v1\n"));
  r = testing::RunCommand(
      {"sh", "-c", "tar xOf " + images_ + "/layered.oci.tar index.json | sha256sum"});
  std::string index_digest = "sha256:" + r.out.substr(0, 64);
  r = C({"images", "ls"});
  std::string line = r.out.substr(r.out.find("localhost/whole:v1"));
  line = line.substr(0, line.find('\n'));
  EXPECT_THAT(line, HasSubstr(" application/vnd.oci.image.index.v1+json "));
  EXPECT_THAT(line, HasSubstr(" " + index_digest + " "));

  // From stdin, gzip-compressed, under the default base name for a bare OCI ref name.
  r = Bctr({"images", "import", "-"}, " < /dev/null");
  ExpectOneLineError(r, "stdin");
  r = testing::RunCommand({"sh", "-c",
                           "gzip -c " + images_ + "/busybox.oci.tar | " + testing::BinPath("bctr") +
                               " --address " + socket() + " load"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Loaded image: import-"));
  EXPECT_EQ(Digest(r.out.substr(14, r.out.size() - 15)), FixtureDigest("busybox"));
}

TEST_F(BctrArchiveTest, SaveRmiLoadAndExportImportKeepDigests) {
  ASSERT_EQ(Bctr({"load", "-i", images_ + "/layered.docker.tar"}).exit_code, 0);
  const std::string name = "docker.io/library/layered:latest";
  const std::string digest = Digest(name);
  ASSERT_THAT(digest, StartsWith("sha256:"));
  nlohmann::json before = Inspect(name);

  const std::string saved = (dir().path() / "saved.tar").string();
  testing::CommandResult r = Bctr({"save", "-o", saved, "layered"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = testing::RunCommand({"tar", "tf", saved});
  EXPECT_THAT(r.out, HasSubstr("manifest.json\n"));
  EXPECT_THAT(r.out, HasSubstr("index.json\n"));
  EXPECT_THAT(r.out, HasSubstr("oci-layout\n"));
  EXPECT_THAT(r.out, HasSubstr("blobs/sha256/" + digest.substr(7) + "\n"));
  r = testing::RunCommand({"tar", "xOf", saved, "manifest.json"});
  nlohmann::json m = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(m.is_array()) << r.out;
  EXPECT_EQ(m[0]["RepoTags"], nlohmann::json::array({"layered:latest"}));
  EXPECT_EQ(m[0]["Layers"].size(), 4u);

  ASSERT_EQ(Bctr({"rmi", "--sync", name}).exit_code, 0);
  ExpectStoreEmpty();
  r = Bctr({"load"}, " < " + saved);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: layered:latest\n");
  EXPECT_EQ(Digest(name), digest);
  EXPECT_EQ(Inspect(name), before);

  // export → import, through stdout and a file.
  const std::string exported = (dir().path() / "exported.tar").string();
  r = Bctr({"images", "export", "-", "layered"}, " > " + exported);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Bctr({"rmi", "--sync", name}).exit_code, 0);
  ExpectStoreEmpty();
  r = Bctr({"images", "import", exported});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "unpacking " + name + " (" + digest + ")...\nimported " + name + " " + digest + "\n");
  EXPECT_EQ(Inspect(name), before);

  // containerd's ctr reads both archives and finds the same image.
  ASSERT_EQ(Bctr({"rmi", "--sync", name}).exit_code, 0);
  r = C({"images", "import", saved});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Digest(name), digest);
  ASSERT_EQ(Bctr({"rmi", "--sync", name}).exit_code, 0);
  r = C({"images", "import", exported});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Digest(name), digest);
}

TEST_F(BctrArchiveTest, ExportOfAMissingImageWritesNoFile) {
  ASSERT_EQ(Bctr({"load", "-i", images_ + "/busybox.docker.tar"}).exit_code, 0);
  fs::path out = dir().path() / "out";
  fs::create_directories(out);
  testing::CommandResult r = Bctr({"save", "-o", (out / "x.tar").string(), "busybox", "nope"});
  ExpectOneLineError(r, "docker.io/library/nope:latest");
  EXPECT_THAT(r.err, HasSubstr("not found"));
  r = Bctr({"images", "export", (out / "y.tar").string(), "nope:v1"});
  ExpectOneLineError(r, "not found");
  EXPECT_TRUE(fs::is_empty(out)) << "no partial or temporary file";
  r = Bctr({"images", "export", (out / "z.tar").string(), "busybox", "--platform", "linux/s390x"});
  ExpectOneLineError(r, "linux/s390x");
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(BctrArchiveTest, BrokenArchivesLeaveNothingBehind) {
  const fs::path d = dir().path();
  const std::string good = images_ + "/layered.oci.tar";
  // Truncated in the middle of a layer.
  auto size = fs::file_size(good);
  testing::RunCommand({"sh", "-c",
                       "head -c " + std::to_string(size / 2) + " " + good + " > " +
                           (d / "truncated.tar").string()});
  testing::CommandResult r = Bctr({"load", "-i", (d / "truncated.tar").string()});
  ExpectOneLineError(r, "truncated.tar");
  ExpectStoreEmpty();
  // Not a tar at all.
  testing::WriteFile(d / "garbage.tar", std::string(4096, 'x'));
  r = Bctr({"images", "import", (d / "garbage.tar").string()});
  ExpectOneLineError(r, "garbage.tar");
  ExpectStoreEmpty();
  // A tar that is no image archive.
  testing::RunCommand({"tar", "cf", (d / "plain.tar").string(), "-C", images_, "IMAGES.txt"});
  r = Bctr({"load", "-i", (d / "plain.tar").string()});
  ExpectOneLineError(r, "not an image archive");
  ExpectStoreEmpty();
  // A blob whose bytes do not match its name: one byte of the largest blob changed.
  fs::create_directories(d / "x");
  ASSERT_EQ(testing::RunCommand({"tar", "xf", good, "-C", (d / "x").string()}).exit_code, 0);
  r = testing::RunCommand(
      {"sh", "-c",
       "cd " + (d / "x/blobs/sha256").string() +
           " && f=$(ls -S | head -1) && printf 'Z' | dd of=$f bs=1 seek=100 conv=notrunc "
           "2>/dev/null && cd ../.. && tar cf " +
           (d / "tampered.tar").string() + " ."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"images", "import", "--base-name", "localhost/t", (d / "tampered.tar").string()});
  ExpectOneLineError(r, "not the one its name says");
  ExpectStoreEmpty();
  // A docker-archive whose manifest.json names a file it does not have.
  fs::create_directories(d / "y");
  ASSERT_EQ(
      testing::RunCommand({"tar", "xf", images_ + "/busybox.docker.tar", "-C", (d / "y").string()})
          .exit_code,
      0);
  r = testing::RunCommand({"sh", "-c",
                           "cd " + (d / "y").string() +
                               " && rm $(jq -r '.[0].Layers[0]' manifest.json) && tar cf " +
                               (d / "missing.tar").string() + " ."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"load", "-i", (d / "missing.tar").string()});
  ExpectOneLineError(r, "which is not in it");
  ExpectStoreEmpty();
  // And a good archive still loads afterwards.
  EXPECT_EQ(Bctr({"load", "-i", images_ + "/busybox.docker.tar"}).exit_code, 0);
}

}  // namespace
}  // namespace berth
