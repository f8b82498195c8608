// bctr's container filesystem verbs against a private berthd, on containers made with Debian's
// ctr from the fixture's busybox image: diff and commit of a running container (the committed
// image runs with ctr and has the change), cp both ways (modes, owners, times, directories,
// tar streams) with a symlink in the container that must not lead to the host, and export.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/integration/detached_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class BctrCommitTest : public testing::DetachedFixture {
 protected:
  void SetUp() override {
    DetachedFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    for (const char* tool : {"umoci", "skopeo", "jq"}) {
      if (!testing::HaveProgram(tool))
        GTEST_SKIP() << tool << " is not installed (tests/fixtures/make-images.sh needs it)";
    }
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
    ASSERT_TRUE(StartDaemon());
    fs::create_directories(fifo_dir());
    ASSERT_TRUE(ImportBusybox());
  }

  std::string fifo_dir() const { return (dir().path() / "fifo").string(); }

  testing::CommandResult Bctr(const std::vector<std::string>& args,
                              const std::string& shell_suffix = "") {
    std::string cmd = testing::BinPath("bctr") + " --address " + socket() + " -n " + ns_;
    for (const std::string& a : args) cmd += " '" + a + "'";
    return testing::RunCommand({"sh", "-c", cmd + shell_suffix});
  }

  // Runs `cmd` in the running container `id`.
  testing::CommandResult Exec(const std::string& id, const std::string& cmd) {
    static int n = 0;
    return C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "x" + std::to_string(++n), id,
              "sh", "-c", cmd});
  }

  // Polls until `test` succeeds in the running container `id`.
  bool WaitFor(const std::string& id, const std::string& test) {
    return Eventually([&] { return Exec(id, test).exit_code == 0; });
  }
};

TEST_F(BctrCommitTest, DiffAndCommitARunningContainer) {
  testing::CommandResult r = C({"run", "-d", "--fifo-dir", fifo_dir(), kImage, "c1", "sh", "-c",
                                "echo hi > /hello; rm /etc/group; echo x >> /etc/passwd; "
                                "touch /ready; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor("c1", "test -f /ready"));

  r = Bctr({"diff", "c1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("A /hello\n"));
  EXPECT_THAT(r.out, HasSubstr("D /etc/group\n"));
  EXPECT_THAT(r.out, HasSubstr("C /etc\n"));
  EXPECT_THAT(r.out, HasSubstr("C /etc/passwd\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("/bin/busybox")));

  r = Bctr({"commit", "-m", "say hi", "-a", "tester", "-c", R"(CMD ["cat", "/hello"])", "-c",
            "ENV GREETING=hello", "c1", "localhost/committed:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string digest = r.out.substr(0, r.out.size() - 1);
  EXPECT_THAT(digest, StartsWith("sha256:"));
  EXPECT_EQ(Tasks()["c1"].second, "RUNNING") << "resumed after the commit";
  EXPECT_EQ(C({"images", "ls", "-q"}).out,
            "docker.io/library/busybox:latest\n"
            "localhost/committed:v1\n");
  r = Bctr({"images", "inspect", "localhost/committed:v1"});
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["target"]["digest"], digest);
  EXPECT_EQ(j["config"]["rootfs"]["diff_ids"].size(), 2u);
  EXPECT_EQ(j["manifest"]["layers"].size(), 2u);
  EXPECT_EQ(j["config"]["config"]["Cmd"], nlohmann::json::array({"cat", "/hello"}));
  EXPECT_EQ(j["config"]["author"], "tester");
  EXPECT_EQ(j["config"]["history"].back()["comment"], "say hi");
  // bctr history: the commit's step on top (the config's id, its layer's size, the message),
  // the base image's steps below it.
  r = Bctr({"history", "--format", "json", "localhost/committed:v1"});
  nlohmann::json h = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(h.is_array()) << r.out << r.err;
  ASSERT_EQ(h.size(), j["config"]["history"].size());
  const std::string config_id = j["manifest"]["config"]["digest"].get<std::string>().substr(0, 19);
  EXPECT_EQ(h[0]["image"], config_id);
  EXPECT_EQ(h[0]["created by"], "bctr commit");
  EXPECT_EQ(h[0]["comment"], "say hi");
  EXPECT_THAT(h[0]["created"].get<std::string>(),
              MatchesRegex("(Less than a second|[0-9]+ seconds?) ago"));
  EXPECT_NE(h[0]["size"], "0 B");
  EXPECT_EQ(h.back()["image"], "<missing>");
  r = Bctr({"images", "history", "-q", "localhost/committed:v1"});
  EXPECT_THAT(r.out, StartsWith(config_id + "\n<missing>\n"));
  r = Bctr({"history", "localhost/none:v1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "bctr: history: image \"localhost/none:v1\": not found\n");
  EXPECT_THAT(j["config"]["config"]["Env"].dump(), HasSubstr("GREETING=hello"));
  // Unpacked at commit: the new top snapshot is there before anything runs it.
  r = C({"snapshots", "ls"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;  // header, 2 layers, c1

  // ctr runs the new image: its CMD prints the committed file; the deletion holds.
  r = C({"run", "--rm", "--fifo-dir", fifo_dir(), "localhost/committed:v1", "c2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  r = C({"run", "--rm", "--fifo-dir", fifo_dir(), "localhost/committed:v1", "c3", "sh", "-c",
         "test -e /etc/group && echo group; tail -1 /etc/passwd"});
  EXPECT_EQ(r.out, "x\n");

  // A paused container stays paused; --pause=false on a running one works too.
  ASSERT_EQ(C({"tasks", "pause", "c1"}).exit_code, 0);
  r = Bctr({"commit", "c1", "localhost/committed:v2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Tasks()["c1"].second, "PAUSED");
  ASSERT_EQ(C({"tasks", "resume", "c1"}).exit_code, 0);
  r = Bctr({"commit", "--pause=false", "c1", "localhost/committed:v3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Errors: one line each, no image made.
  r = Bctr({"commit", "nope", "localhost/x:v1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("nope"));
  r = Bctr({"commit", "-c", "FROB x", "c1", "localhost/x:v1"});
  EXPECT_THAT(r.err, HasSubstr("unknown instruction"));
  EXPECT_THAT(C({"images", "ls", "-q"}).out, Not(HasSubstr("localhost/x")));
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");
}

TEST_F(BctrCommitTest, CpBothWaysKeepsModesAndStaysInsideTheContainer) {
  ASSERT_EQ(C({"containers", "create", kImage, "s1"}).exit_code, 0);  // no task: mounted by bctr
  const fs::path host = dir().path() / "host";
  fs::create_directories(host / "tree/sub");
  testing::WriteFile(host / "file", "file data\n");
  testing::WriteFile(host / "tree/sub/deep", "deep\n");
  ASSERT_EQ(::chmod((host / "file").c_str(), 0640), 0);
  ASSERT_EQ(::chmod((host / "tree/sub").c_str(), 0701), 0);
  ASSERT_EQ(::chown((host / "file").c_str(), 1234, 5678), 0);
  ASSERT_EQ(testing::RunCommand({"touch", "-d", "2001-02-03 04:05:06", (host / "file").string()})
                .exit_code,
            0);
  fs::create_symlink("/etc", host / "x");

  // Into the container: into a directory, under a new name, a tree, a symlink.
  EXPECT_EQ(Bctr({"cp", (host / "file").string(), "s1:/tmp"}).exit_code, 0);
  EXPECT_EQ(Bctr({"cp", (host / "file").string(), "s1:/root/renamed"}).exit_code, 0);
  EXPECT_EQ(Bctr({"cp", (host / "tree").string(), "s1:/var"}).exit_code, 0);
  testing::CommandResult r = Bctr({"cp", (host / "x").string(), "s1:/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // And back out.
  const fs::path back = dir().path() / "back";
  fs::create_directories(back);
  r = Bctr({"cp", "s1:/tmp/file", back.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(::stat((back / "file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  struct stat orig;
  ASSERT_EQ(::stat((host / "file").c_str(), &orig), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, orig.st_mtim.tv_sec);
  EXPECT_EQ(st.st_mtim.tv_nsec, orig.st_mtim.tv_nsec);
  EXPECT_EQ(testing::ReadFile(back / "file"), "file data\n");
  EXPECT_EQ(Bctr({"cp", "s1:/root/renamed", (back / "r").string()}).exit_code, 0);
  EXPECT_EQ(testing::ReadFile(back / "r"), "file data\n");
  r = Bctr({"cp", "s1:/var/tree", back.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(back / "tree/sub/deep"), "deep\n");
  ASSERT_EQ(::stat((back / "tree/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0701u);

  // /x is the container's symlink to /etc: paths through it stay in the container, both ways.
  r = Bctr({"cp", "s1:/x/passwd", (back / "passwd").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(back / "passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  const std::string marker = "berth-cp-test-" + std::to_string(::getpid());
  testing::WriteFile(host / marker, "inside\n");
  r = Bctr({"cp", (host / marker).string(), "s1:/x/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists("/etc/" + marker)) << "written on the host";
  ::unlink(("/etc/" + marker).c_str());
  r = Bctr({"cp", "s1:/etc/" + marker, "-"}, " | tar xOf - " + marker);
  EXPECT_EQ(r.out, "inside\n");
  // Relative climbs stay inside too.
  r = Bctr({"cp", "s1:/../../../../etc/passwd", (back / "p2").string()});
  EXPECT_EQ(testing::ReadFile(back / "p2"), testing::ReadFile(back / "passwd"));

  // Tar streams: out to stdout, in from stdin.
  r = Bctr({"cp", "s1:/var/tree", "-"}, " | tar tf -");
  EXPECT_EQ(r.out, "tree/\ntree/sub/\ntree/sub/deep\n");
  r = testing::RunCommand({"sh", "-c",
                           "tar cf - -C " + host.string() + " file | " + testing::BinPath("bctr") +
                               " --address " + socket() + " -n " + ns_ + " cp - s1:/root"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = Bctr({"cp", "s1:/root/file", "-"}, " | tar xOf -");
  EXPECT_EQ(r.out, "file data\n");

  // Errors: one line each.
  r = Bctr({"cp", "s1:/nope", back.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("no such file"));
  r = Bctr({"cp", (host / "file").string(), "s1:/nodir/a/b"});
  EXPECT_NE(r.exit_code, 0);
  r = Bctr({"cp", (host / "file").string(), back.string()});
  EXPECT_THAT(r.err, HasSubstr("CONTAINER:PATH"));
  r = Bctr({"cp", "nope:/etc/passwd", back.string()});
  EXPECT_THAT(r.err, HasSubstr("nope"));
}

TEST_F(BctrCommitTest, ExportWritesTheContainersFiles) {
  testing::CommandResult r = C({"run", "-d", "--fifo-dir", fifo_dir(), kImage, "e1", "sh", "-c",
                                "echo hi > /hello; touch /ready; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitFor("e1", "test -f /ready"));
  const std::string out = (dir().path() / "e1.tar").string();
  r = Bctr({"export", "-o", out, "e1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = testing::RunCommand({"tar", "tvf", out});
  EXPECT_THAT(r.out, HasSubstr(" hello\n"));
  EXPECT_THAT(r.out, HasSubstr(" bin/busybox\n"));
  EXPECT_THAT(r.out, HasSubstr(" etc/passwd\n"));
  EXPECT_THAT(r.out, HasSubstr(" bin/sh -> /bin/busybox\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("proc/self"))) << "mounts inside are not followed";
  r = testing::RunCommand({"tar", "xOf", out, "hello"});
  EXPECT_EQ(r.out, "hi\n");
  // cp into the running container lands in its live filesystem.
  testing::WriteFile(dir().path() / "note", "note\n");
  r = Bctr({"cp", (dir().path() / "note").string(), "e1:/tmp/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Exec("e1", "cat /tmp/note").out, "note\n");

  // A stopped container: from its snapshot, mounted by bctr; through stdout.
  ASSERT_EQ(C({"containers", "create", kImage, "e2"}).exit_code, 0);
  r = Bctr({"export", "e2"}, " | tar tf - | grep -c .");
  EXPECT_GT(std::stoi(r.out.empty() ? "0" : r.out), 250) << "busybox and its applets";
  r = Bctr({"export", "-o", (dir().path() / "none.tar").string(), "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(fs::exists(dir().path() / "none.tar"));
  EXPECT_THAT(testing::ReadFile("/proc/self/mountinfo"), Not(HasSubstr("bctr-rootfs")));
}

}  // namespace
}  // namespace berth
