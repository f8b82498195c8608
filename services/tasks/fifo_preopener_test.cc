#include "services/tasks/fifo_preopener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "lib/base/unique_fd.h"
#include "tests/testing/temp_dir.h"

namespace berth::services::tasks {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

bool WaitFor(const std::function<bool()>& done) {
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       std::chrono::steady_clock::now() < end;) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A set of fifos as containerd's cio makes one: DIR/ID-stdin, -stdout, -stderr (DIR's name
// decimal digits).
std::vector<std::string> MakeSet(const fs::path& dir, const std::string& id) {
  if (!fs::exists(dir)) {
    EXPECT_EQ(::mkdir(dir.c_str(), 0700), 0) << dir;
  }
  std::vector<std::string> paths;
  for (const char* stream : {"-stdin", "-stdout", "-stderr"}) {
    paths.push_back((dir / (id + stream)).string());
    EXPECT_EQ(::mkfifo(paths.back().c_str(), 0700), 0) << paths.back();
  }
  return paths;
}

// A fifo has a reader when a writer may open it without blocking: the test itself holds none,
// so a reader here is the preopener's.
bool HasReader(const std::string& fifo) {
  UniqueFd w(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  return w.valid();
}

TEST(FifoPreopenerTest, OpensTheFifosOfANewSetUnderALearntRootUntilReleased) {
  TempDir root("fifos");
  FifoPreopener fifos;
  std::vector<std::string> unheld = MakeSet(root / "100", "c");
  fifos.Release(unheld);  // learns the root
  std::vector<std::string> set = MakeSet(root / "1234", "c");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 3; })) << fifos.held();
  for (const std::string& p : set) EXPECT_TRUE(HasReader(p)) << p;
  EXPECT_FALSE(HasReader(unheld[1])) << "a set made before its root was learnt";

  // What the client does: its blocking opens return at once.
  UniqueFd client_out(::open(set[1].c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd client_in(::open(set[0].c_str(), O_WRONLY | O_CLOEXEC));
  EXPECT_TRUE(client_out.valid() && client_in.valid());

  fifos.Release(set);
  EXPECT_EQ(fifos.held(), 0u);
  client_out.reset();
  for (const std::string& p : set) EXPECT_FALSE(HasReader(p)) << p;
}

TEST(FifoPreopenerTest, TheClientReadsWhatTheShimWritesAfterTheHandOver) {
  TempDir root("fifos");
  FifoPreopener fifos;
  fifos.Release({(root / "0/t-stdout").string()});
  std::vector<std::string> set = MakeSet(root / "1", "t");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 3; }));
  UniqueFd client(::open(set[1].c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(client.valid());
  UniqueFd shim(::open(set[1].c_str(), O_RDWR | O_CLOEXEC));  // as berth-shim opens stdout
  ASSERT_TRUE(shim.valid());
  fifos.Release(set);

  // The shim's end keeps the client's reader from EOF until the shim is done.
  struct pollfd pfd = {client.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 50), 0) << "revents " << pfd.revents;
  ASSERT_EQ(::write(shim.get(), "hello", 5), 5);
  shim.reset();
  char buf[16];
  ASSERT_EQ(::read(client.get(), buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(::read(client.get(), buf, sizeof(buf)), 0);  // EOF
}

TEST(FifoPreopenerTest, OpensOnlyFifosOfItsUserInSetsNamedAsCioNamesThem) {
  TempDir root("fifos");
  TempDir shared("fifos-shared");
  ASSERT_EQ(::chmod(shared.path().c_str(), 0777), 0);
  FifoPreopener fifos;
  fifos.Release({(root / "0/x-stdout").string(), (shared / "0/x-stdout").string()});

  std::vector<std::string> in_shared = MakeSet(shared / "900", "x");
  fs::path odd = root / "700";
  ASSERT_EQ(::mkdir(odd.c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo((odd / "x-stdlog").c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo((odd / "target").c_str(), 0700), 0);
  fs::create_symlink(odd / "target", odd / "y-stdout");
  { UniqueFd f(::open((odd / "z-stdout").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
  fs::path open_dir = root / "800";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(::mkfifo((open_dir / "w-stdout").c_str(), 0700), 0);
  std::vector<std::string> not_cio = MakeSet(root / "fifos-x", "n");
  // Events come in order: once this set is held, all of the above have been seen.
  std::vector<std::string> control = MakeSet(root / "999", "c");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() >= 3; }));

  EXPECT_EQ(fifos.held(), 3u);
  for (const std::string& p : in_shared) EXPECT_FALSE(HasReader(p)) << p;
  EXPECT_FALSE(HasReader(odd / "x-stdlog"));
  EXPECT_FALSE(HasReader(odd / "target")) << "through the symlink y-stdout";
  EXPECT_FALSE(HasReader(open_dir / "w-stdout"));
  for (const std::string& p : not_cio) EXPECT_FALSE(HasReader(p)) << p;
}

// The create that names a set may be answered before the preopener has seen the set made:
// opened then, its fifos would be held with nobody left to release them.
TEST(FifoPreopenerTest, FifosReleasedBeforeTheyAreSeenAreNotOpened) {
  TempDir root("fifos");
  FifoPreopener fifos;
  fifos.Release({(root / "0/x-stdout").string()});
  std::vector<std::string> late = {(root / "400/l-stdin").string(),
                                   (root / "400/l-stdout").string(),
                                   (root / "400/l-stderr").string()};
  fifos.Release(late);
  MakeSet(root / "400", "l");
  MakeSet(root / "999", "c");  // seen after "400"
  ASSERT_TRUE(WaitFor([&] { return fifos.held() >= 3; }));
  EXPECT_EQ(fifos.held(), 3u);
  for (const std::string& p : late) EXPECT_FALSE(HasReader(p)) << p;
}

TEST(FifoPreopenerTest, OpensOnlyTheFifosOfAwaitedIdsAskingOncePerSet) {
  TempDir root("fifos");
  std::map<std::string, int> asked;  // written on the preopener's thread, read after held()
  FifoPreopener fifos(FifoPreopener::Options{.awaited = [&](const std::string& id) {
    ++asked[id];
    return id == "mine" || id == "mine-too";
  }});
  fifos.Release({(root / "0/x-stdout").string()});
  std::vector<std::string> theirs = MakeSet(root / "1", "theirs");
  std::vector<std::string> mine = MakeSet(root / "2", "mine");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() >= 3; }));
  EXPECT_EQ(fifos.held(), 3u);
  for (const std::string& p : theirs) EXPECT_FALSE(HasReader(p)) << p;
  for (const std::string& p : mine) EXPECT_TRUE(HasReader(p)) << p;
  std::vector<std::string> too = MakeSet(root / "3", "mine-too");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 6; }));
  EXPECT_EQ(asked, (std::map<std::string, int>{{"mine", 1}, {"mine-too", 1}, {"theirs", 1}}));
}

TEST(FifoPreopenerTest, RemovingTheSetClosesItsFifos) {
  TempDir root("fifos");
  FifoPreopener fifos;
  fifos.Release({(root / "0/r-stdin").string()});
  std::vector<std::string> set = MakeSet(root / "300", "r");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 3; }));
  fs::remove_all(root / "300");  // as cio's Close
  EXPECT_TRUE(WaitFor([&] { return fifos.held() == 0; })) << fifos.held();
}

TEST(FifoPreopenerTest, AnExecsFifosStayOpenUntilItsStart) {
  TempDir root("fifos");
  FifoPreopener fifos;
  std::vector<std::string> paths = {(root / "500/e1-stdin").string(),
                                    (root / "500/e1-stdout").string(), ""};
  fifos.Expect("ns/c/e1", paths);  // learns the root: the set is made after
  std::vector<std::string> set = MakeSet(root / "500", "e1");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 3; }));
  fifos.Release(std::vector<std::string>{});
  fifos.ReleaseExpected("ns/c/other");
  EXPECT_EQ(fifos.held(), 3u);
  fifos.ReleaseExpected("ns/c/e1");
  EXPECT_EQ(fifos.held(), 1u) << "e1-stderr was not named by the exec";
  EXPECT_FALSE(HasReader(set[0]));
  EXPECT_TRUE(HasReader(set[2]));
}

// ctr makes an exec's fifos, then calls tasks.Exec; the shim opens them at the exec's start.
TEST(FifoPreopenerTest, AnExecsNamedFifosAreOpenedAtItsExecWhateverTheirId) {
  TempDir root("fifos");
  FifoPreopener fifos(FifoPreopener::Options{.awaited = [](const std::string&) { return false; }});
  std::vector<std::string> set = MakeSet(root / "700", "exec-7");
  fifos.Expect("ns/c/exec-7", {set[0], set[1], ""});
  EXPECT_EQ(fifos.held(), 2u) << "at once, not by the watcher";
  EXPECT_TRUE(HasReader(set[0]));
  EXPECT_TRUE(HasReader(set[1]));
  EXPECT_FALSE(HasReader(set[2])) << "not named by the exec";
  fifos.ReleaseExpected("ns/c/exec-7");
  EXPECT_EQ(fifos.held(), 0u);
  EXPECT_FALSE(HasReader(set[0]));
}

TEST(FifoPreopenerTest, FifosThatNoTaskClaimsAreClosedAfterMaxHold) {
  TempDir root("fifos");
  FifoPreopener::Options options;
  options.max_hold = absl::Milliseconds(200);
  FifoPreopener fifos(options);
  fifos.Release({(root / "0/k-stdout").string()});
  MakeSet(root / "600", "k");
  ASSERT_TRUE(WaitFor([&] { return fifos.held() == 3; }));
  EXPECT_TRUE(WaitFor([&] { return fifos.held() == 0; })) << fifos.held();
}

}  // namespace
}  // namespace berth::services::tasks
