#include "snapshotter/testsuite/testsuite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"

#include "lib/mount/mount.h"
#include "lib/mount/options.h"
#include "snapshotter/local.h"
#include "tests/testing/matchers.h"

namespace berth::snapshot::testsuite {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using Code = absl::StatusCode;

void PrintTo(const Backend& b, std::ostream* os) {
  *os << b.name;
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

void SnapshotterSuite::SetUp() {
  BERTH_REQUIRE_ROOT();
  tmp_ = std::make_unique<TempDir>("snapshotter");
  auto s = GetParam().open(root());
  ASSERT_THAT(s, IsOk());
  sn_ = std::move(*s);
}

void SnapshotterSuite::TearDown() {
  sn_.reset();
  tmp_.reset();  // unmounts whatever a failed test left, then removes the tree
}

void SnapshotterSuite::Reopen() {
  sn_.reset();
  auto s = GetParam().open(root());
  ASSERT_THAT(s, IsOk());
  sn_ = std::move(*s);
}

absl::Status SnapshotterSuite::WithMounts(const std::vector<mount::Mount>& mounts,
                                          absl::FunctionRef<void(const fs::path&)> fn) {
  return mount::WithTempMount(mounts, tmp_->path() / "mnt", [&](const fs::path& dir) {
    fn(dir);
    return absl::OkStatus();
  });
}

void SnapshotterSuite::Layer(const std::string& name, const std::string& parent,
                             absl::FunctionRef<void(const fs::path&)> fn) {
  const std::string key = "prepare-" + name;
  auto mounts = sn_->Prepare(key, parent, {});
  ASSERT_THAT(mounts, IsOk());
  ASSERT_THAT(WithMounts(*mounts, fn), IsOk());
  ASSERT_THAT(sn_->Commit(name, key, {}), IsOk());
}

namespace {

Info Named(const std::string& name, Labels labels = {}) {
  Info i;
  i.name = name;
  i.labels = std::move(labels);
  return i;
}

int CreateErrno(const fs::path& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  ::close(fd);
  return 0;
}

struct stat Lstat(const fs::path& p) {
  struct stat st {};

  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

std::vector<fs::path> Entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  return out;
}

// Entries of the snapshots dir once the removed snapshots' directories (rm-<id>, deleted in the
// background) are gone; waits up to 5 s for them.
std::vector<fs::path> EntriesAfterRemovals(const fs::path& dir) {
  for (int i = 0; i < 250; ++i) {
    std::vector<fs::path> out = Entries(dir);
    if (std::none_of(out.begin(), out.end(),
                     [](const fs::path& p) { return p.string().starts_with("rm-"); }))
      return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Entries(dir);
}

std::map<std::string, Kind> WalkKinds(Snapshotter& sn) {
  std::map<std::string, Kind> out;
  EXPECT_THAT(sn.Walk([&](const Info& i) {
    out[i.name] = i.kind;
    return absl::OkStatus();
  }),
              IsOk());
  return out;
}

}  // namespace

// Files added, changed and deleted across layers are seen as expected through the mounts.
TEST_P(SnapshotterSuite, ChainShowsAddedChangedAndDeletedFiles) {
  Layer("l1", "", [](const fs::path& d) {
    WriteFile(d / "a", "a1");
    WriteFile(d / "b", "b1");
    WriteFile(d / "dir/c", "c1");
    WriteFile(d / "keep/k", "k1");
  });
  Layer("l2", "l1", [](const fs::path& d) {
    EXPECT_EQ(ReadFile(d / "a"), "a1");
    WriteFile(d / "a", "a2");
    fs::remove(d / "b");
    fs::remove_all(d / "dir");
    WriteFile(d / "dir/e", "e2");
    WriteFile(d / "d", "d2");
  });
  Layer("l3", "l2", [](const fs::path& d) { WriteFile(d / "f", "f3"); });

  auto check = [](const fs::path& d) {
    EXPECT_EQ(ReadFile(d / "a"), "a2");
    EXPECT_FALSE(fs::exists(d / "b"));
    EXPECT_FALSE(fs::exists(d / "dir/c"));
    EXPECT_EQ(ReadFile(d / "dir/e"), "e2");
    EXPECT_EQ(ReadFile(d / "d"), "d2");
    EXPECT_EQ(ReadFile(d / "keep/k"), "k1");
    EXPECT_EQ(ReadFile(d / "f"), "f3");
  };
  auto view = sn_->View("v3", "l3", {});
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(WithMounts(*view, check), IsOk());
  auto active = sn_->Prepare("a3", "l3", {});
  ASSERT_THAT(active, IsOk());
  EXPECT_THAT(WithMounts(*active, check), IsOk());
  // The lower layers themselves are unchanged.
  auto v1 = sn_->View("v1", "l1", {});
  ASSERT_THAT(v1, IsOk());
  EXPECT_THAT(WithMounts(*v1,
                         [](const fs::path& d) {
                           EXPECT_EQ(ReadFile(d / "a"), "a1");
                           EXPECT_EQ(ReadFile(d / "b"), "b1");
                           EXPECT_FALSE(fs::exists(d / "f"));
                         }),
              IsOk());
  // Mounts() returns the same as Prepare/View did.
  EXPECT_EQ(*sn_->Mounts("a3"), *active);
  EXPECT_EQ(*sn_->Mounts("v3"), *view);
}

TEST_P(SnapshotterSuite, ViewIsReadOnlyActiveIsWritable) {
  Layer("base", "", [](const fs::path& d) { WriteFile(d / "file", "x"); });
  for (const char* parent : {"", "base"}) {
    SCOPED_TRACE(fmt::format("parent {:?}", parent));
    const std::string key = std::string("view-") + parent;
    auto view = sn_->View(key, parent, {});
    ASSERT_THAT(view, IsOk());
    EXPECT_THAT(
        WithMounts(*view, [](const fs::path& d) { EXPECT_EQ(CreateErrno(d / "new"), EROFS); }),
        IsOk());
    EXPECT_THAT(sn_->Commit("c-" + key, key, {}), StatusIs(Code::kFailedPrecondition, key));
  }
  auto active = sn_->Prepare("active", "base", {});
  ASSERT_THAT(active, IsOk());
  EXPECT_THAT(WithMounts(*active, [](const fs::path& d) { EXPECT_EQ(CreateErrno(d / "new"), 0); }),
              IsOk());
}

TEST_P(SnapshotterSuite, StatReportsKindParentLabelsAndTimes) {
  const int64_t before = NowNanos();
  ASSERT_THAT(sn_->Prepare("default/1/sha256:abc", "", {{"l", "1"}}), IsOk());
  auto active = sn_->Stat("default/1/sha256:abc");
  ASSERT_THAT(active, IsOk());
  EXPECT_EQ(active->name, "default/1/sha256:abc");
  EXPECT_EQ(active->kind, Kind::kActive);
  EXPECT_EQ(active->parent, "");
  EXPECT_THAT(active->labels, ElementsAre(Pair("l", "1")));
  EXPECT_GE(active->created_at, before);
  EXPECT_EQ(active->created_at, active->updated_at);

  ASSERT_THAT(sn_->Commit("committed/../name", "default/1/sha256:abc", {{"c", "2"}}), IsOk());
  EXPECT_THAT(sn_->Stat("default/1/sha256:abc"), StatusIs(Code::kNotFound));
  auto committed = sn_->Stat("committed/../name");
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(committed->kind, Kind::kCommitted);
  EXPECT_THAT(committed->labels, ElementsAre(Pair("c", "2"))) << "labels are not inherited";
  EXPECT_GE(committed->created_at, active->created_at);

  ASSERT_THAT(sn_->View("view", "committed/../name", {}), IsOk());
  auto view = sn_->Stat("view");
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->kind, Kind::kView);
  EXPECT_EQ(view->parent, "committed/../name");
  EXPECT_FALSE(fs::exists(root() / "committed")) << "names are never paths";
}

TEST_P(SnapshotterSuite, UpdateChangesLabelsByPath) {
  ASSERT_THAT(sn_->Prepare("k", "", {{"a", "1"}, {"b", "2"}}), IsOk());
  const int64_t created = sn_->Stat("k")->created_at;
  Info in = Named("k", {{"a", "10"}, {"c", "3"}});
  auto out = sn_->Update(in, {"labels.a", "labels.b"});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(out->labels, ElementsAre(Pair("a", "10"))) << "b is absent in the input: removed";
  EXPECT_EQ(out->kind, Kind::kActive);
  EXPECT_GE(out->updated_at, created);
  EXPECT_EQ(out->created_at, created);
  out = sn_->Update(in, {"labels"});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(out->labels, ElementsAre(Pair("a", "10"), Pair("c", "3")));
  out = sn_->Update(Named("k", {{"z", "26"}}), {});
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(out->labels, ElementsAre(Pair("z", "26")));
  EXPECT_THAT(sn_->Stat("k")->labels, ElementsAre(Pair("z", "26")));
  EXPECT_THAT(sn_->Update(in, {"parent"}), StatusIs(Code::kInvalidArgument, "parent"));
  EXPECT_THAT(sn_->Update(Named("missing"), {}), StatusIs(Code::kNotFound, "missing"));
  EXPECT_THAT(sn_->Update(Named("k", {{"", "x"}}), {}), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->Stat("k")->labels, ElementsAre(Pair("z", "26")))
      << "a failed update changes nothing";
}

TEST_P(SnapshotterSuite, WalkListsEverySnapshotAndMayCallBack) {
  Layer("base", "", [](const fs::path& d) { WriteFile(d / "f", "x"); });
  ASSERT_THAT(sn_->Prepare("active", "base", {}), IsOk());
  ASSERT_THAT(sn_->View("view", "base", {}), IsOk());
  EXPECT_THAT(WalkKinds(*sn_),
              UnorderedElementsAre(Pair("base", Kind::kCommitted), Pair("active", Kind::kActive),
                                   Pair("view", Kind::kView)));
  int calls = 0;
  EXPECT_THAT(sn_->Walk([&](const Info& i) {
    ++calls;
    EXPECT_THAT(sn_->Stat(i.name), IsOk());  // no deadlock
    return absl::CancelledError("enough");
  }),
              StatusIs(Code::kCancelled));
  EXPECT_EQ(calls, 1);
}

TEST_P(SnapshotterSuite, UsageCountsTheSnapshotsOwnData) {
  Layer("base", "", [](const fs::path& d) { WriteFile(d / "small", "x"); });
  auto mounts = sn_->Prepare("active", "base", {});
  ASSERT_THAT(mounts, IsOk());
  auto empty = sn_->GetUsage("active");
  ASSERT_THAT(empty, IsOk());
  ASSERT_THAT(WithMounts(*mounts,
                         [](const fs::path& d) {
                           WriteFile(d / "big", std::string(1 << 20, 'b'));
                           WriteFile(d / "dir/two", "2");
                         }),
              IsOk());
  auto used = sn_->GetUsage("active");
  ASSERT_THAT(used, IsOk());
  EXPECT_GE(used->size - empty->size, 1 << 20);
  EXPECT_EQ(used->inodes - empty->inodes, 3);  // big, dir, dir/two
  ASSERT_THAT(sn_->Commit("top", "active", {}), IsOk());
  auto committed = sn_->GetUsage("top");
  ASSERT_THAT(committed, IsOk());
  EXPECT_EQ(committed->size, used->size);
  EXPECT_EQ(committed->inodes, used->inodes);
  auto base = sn_->GetUsage("base");
  ASSERT_THAT(base, IsOk());
  EXPECT_GE(base->inodes, 2);
  EXPECT_LT(base->size, 1 << 20);
  EXPECT_THAT(sn_->GetUsage("missing"), StatusIs(Code::kNotFound));
}

TEST_P(SnapshotterSuite, ErrorsFollowContainerd) {
  Layer("base", "", [](const fs::path&) {});
  ASSERT_THAT(sn_->Prepare("active", "base", {}), IsOk());
  ASSERT_THAT(sn_->View("view", "base", {}), IsOk());

  EXPECT_THAT(sn_->Prepare("", "", {}), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->View("", "", {}), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->Prepare("active", "", {}), StatusIs(Code::kAlreadyExists, "\"active\""));
  EXPECT_THAT(sn_->View("base", "", {}), StatusIs(Code::kAlreadyExists, "\"base\""));
  EXPECT_THAT(sn_->Prepare("x", "missing", {}), StatusIs(Code::kNotFound, "\"missing\""));
  EXPECT_THAT(sn_->Prepare("x", "active", {}), StatusIs(Code::kFailedPrecondition, "\"active\""));
  EXPECT_THAT(sn_->View("x", "view", {}), StatusIs(Code::kFailedPrecondition, "\"view\""));
  EXPECT_THAT(sn_->Prepare("x", "", {{"", "v"}}), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->Stat("x"), StatusIs(Code::kNotFound)) << "failed calls create nothing";

  EXPECT_THAT(sn_->Commit("base", "active", {}), StatusIs(Code::kAlreadyExists, "\"base\""));
  EXPECT_THAT(sn_->Commit("view", "active", {}), StatusIs(Code::kAlreadyExists, "\"view\""));
  EXPECT_THAT(sn_->Commit("n", "missing", {}), StatusIs(Code::kNotFound, "\"missing\""));
  EXPECT_THAT(sn_->Commit("n", "base", {}), StatusIs(Code::kFailedPrecondition, "\"base\""));
  EXPECT_THAT(sn_->Commit("n", "view", {}), StatusIs(Code::kFailedPrecondition, "\"view\""));
  EXPECT_THAT(sn_->Commit("", "active", {}), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->Stat("active")->kind, Kind::kActive) << "failed commits change nothing";

  EXPECT_THAT(sn_->Mounts("base"), StatusIs(Code::kFailedPrecondition, "\"base\""));
  EXPECT_THAT(sn_->Mounts("missing"), StatusIs(Code::kNotFound));
  EXPECT_THAT(sn_->Remove("missing"), StatusIs(Code::kNotFound, "\"missing\""));
  EXPECT_THAT(sn_->Remove(""), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(sn_->Stat(""), StatusIs(Code::kNotFound));
}

TEST_P(SnapshotterSuite, RemoveWithChildrenFailsLeafFirstWorks) {
  Layer("l1", "", [](const fs::path& d) { WriteFile(d / "1", "1"); });
  Layer("l2", "l1", [](const fs::path& d) { WriteFile(d / "2", "2"); });
  ASSERT_THAT(sn_->Prepare("active", "l2", {}), IsOk());
  ASSERT_THAT(sn_->View("view", "l1", {}), IsOk());
  EXPECT_THAT(sn_->Remove("l1"),
              StatusIs(Code::kFailedPrecondition, "snapshot \"l1\": has children"));
  EXPECT_THAT(sn_->Remove("l2"),
              StatusIs(Code::kFailedPrecondition, "snapshot \"l2\": has children"));
  for (const char* key : {"active", "l2", "view", "l1"}) {
    SCOPED_TRACE(key);
    EXPECT_THAT(sn_->Remove(key), IsOk());
    EXPECT_THAT(sn_->Stat(key), StatusIs(Code::kNotFound));
  }
  EXPECT_THAT(WalkKinds(*sn_), IsEmpty());
  EXPECT_THAT(EntriesAfterRemovals(root() / "snapshots"), IsEmpty()) << "every directory is gone";
  // A removed key can be used again.
  EXPECT_THAT(sn_->Prepare("l1", "", {}), IsOk());
}

TEST_P(SnapshotterSuite, ReopenKeepsEverything) {
  Layer("l1", "", [](const fs::path& d) { WriteFile(d / "bottom", "b"); });
  Layer("l2", "l1", [](const fs::path& d) { WriteFile(d / "top", "t"); });
  auto mounts = sn_->Prepare("active", "l2", {{"keep", "me"}});
  ASSERT_THAT(mounts, IsOk());
  ASSERT_THAT(WithMounts(*mounts, [](const fs::path& d) { WriteFile(d / "work", "w"); }), IsOk());
  ASSERT_THAT(sn_->View("view", "l2", {}), IsOk());
  const auto kinds = WalkKinds(*sn_);
  const Info before = *sn_->Stat("active");

  Reopen();
  EXPECT_EQ(WalkKinds(*sn_), kinds);
  auto after = sn_->Stat("active");
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->parent, "l2");
  EXPECT_EQ(after->labels, before.labels);
  EXPECT_EQ(after->created_at, before.created_at);
  auto again = sn_->Mounts("active");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *mounts);
  EXPECT_THAT(WithMounts(*again,
                         [](const fs::path& d) {
                           EXPECT_EQ(ReadFile(d / "bottom"), "b");
                           EXPECT_EQ(ReadFile(d / "top"), "t");
                           EXPECT_EQ(ReadFile(d / "work"), "w");
                         }),
              IsOk());
  ASSERT_THAT(sn_->Commit("l3", "active", {}), IsOk());
  // New ids after a reopen never collide with old ones.
  ASSERT_THAT(sn_->Prepare("next", "l3", {}), IsOk());
  EXPECT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_EQ(sn_->Stat("next")->parent, "l3");
}

TEST_P(SnapshotterSuite, CleanupRemovesOrphanDirectories) {
  Layer("l1", "", [](const fs::path& d) { WriteFile(d / "f", "kept"); });
  ASSERT_THAT(sn_->Prepare("active", "l1", {}), IsOk());
  const fs::path snaps = root() / "snapshots";
  const std::vector<fs::path> before = Entries(snaps);
  WriteFile(snaps / "999/fs/orphan", "x");
  WriteFile(snaps / "new-abc123/fs/half", "x");
  WriteFile(snaps / "rm-7/fs/deleted", "x");
  WriteFile(snaps / "junk", "x");
  ASSERT_THAT(sn_->Cleanup(), IsOk());
  auto after = Entries(snaps);
  std::sort(after.begin(), after.end());
  auto expected = before;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(after, expected);
  auto mounts = sn_->Mounts("active");
  ASSERT_THAT(mounts, IsOk());
  EXPECT_THAT(WithMounts(*mounts, [](const fs::path& d) { EXPECT_EQ(ReadFile(d / "f"), "kept"); }),
              IsOk());
  // A mount inside an orphan is never crossed: Cleanup fails and the mounted data survive.
  WriteFile(tmp_->path() / "precious/data", "keep");
  WriteFile(snaps / "998/fs/x", "x");
  mount::Mount bind{
      .type = "bind", .source = (tmp_->path() / "precious").string(), .options = {"rbind"}};
  ASSERT_THAT(mount::MountAll({&bind, 1}, snaps / "998/fs"), IsOk());
  EXPECT_THAT(sn_->Cleanup(), StatusIs(Code::kFailedPrecondition, "mount point"));
  ASSERT_THAT(mount::UnmountAll(snaps / "998/fs"), IsOk());
  EXPECT_EQ(ReadFile(tmp_->path() / "precious/data"), "keep");
  EXPECT_THAT(sn_->Cleanup(), IsOk());
  EXPECT_FALSE(fs::exists(snaps / "998"));
}

// The directory a crash leaves between the rename and the commit of a removal is put back on
// open; a directory a crash leaves under the next id does not leak into a new snapshot.
TEST_P(SnapshotterSuite, ReopenRepairsInterruptedCreateAndRemove) {
  auto mounts = sn_->Prepare("a", "", {});
  ASSERT_THAT(mounts, IsOk());
  ASSERT_THAT(WithMounts(*mounts, [](const fs::path& d) { WriteFile(d / "f", "data"); }), IsOk());
  const fs::path dir = fs::path((*mounts)[0].source).parent_path();  // <root>/snapshots/<id>
  const int64_t id = std::stoll(dir.filename().string());
  const fs::path snaps = root() / "snapshots";
  sn_.reset();
  fs::rename(dir, snaps / fmt::format("rm-{}", id));  // crash in the middle of Remove("a")
  WriteFile(snaps / std::to_string(id + 1) / "fs/stale", "x");  // crash in the middle of a Prepare
  Reopen();
  auto again = sn_->Mounts("a");
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(WithMounts(*again, [](const fs::path& d) { EXPECT_EQ(ReadFile(d / "f"), "data"); }),
              IsOk());
  auto next = sn_->Prepare("b", "", {});
  ASSERT_THAT(next, IsOk());
  EXPECT_THAT(WithMounts(*next, [](const fs::path& d) { EXPECT_FALSE(fs::exists(d / "stale")); }),
              IsOk());
  EXPECT_THAT(sn_->Remove("a"), IsOk());
  EXPECT_THAT(sn_->Remove("b"), IsOk());
  EXPECT_THAT(EntriesAfterRemovals(snaps), IsEmpty());
}

// A deferred creation syncs neither its directory nor its record: when a crash keeps the record
// and loses the directory, the snapshot gets a new one on open, as it was created.
TEST_P(SnapshotterSuite, ReopenRebuildsTheDirectoryOfALostDeferredCreation) {
  Layer("l1", "", [](const fs::path& d) { WriteFile(d / "f", "base"); });
  const fs::path snaps = root() / "snapshots";
  const std::vector<fs::path> before = Entries(snaps);
  ASSERT_THAT(sn_->Prepare("a", "", {}, Durability::kDeferred), IsOk());
  ASSERT_THAT(sn_->View("v", "l1", {}, Durability::kDeferred), IsOk());
  std::vector<fs::path> lost = Entries(snaps);
  std::erase_if(lost,
                [&](const fs::path& p) { return std::count(before.begin(), before.end(), p); });
  ASSERT_EQ(lost.size(), 2u);
  sn_.reset();
  for (const fs::path& p : lost) fs::remove_all(snaps / p);
  Reopen();
  for (const fs::path& p : lost) EXPECT_TRUE(fs::is_directory(snaps / p / "fs")) << p;
  auto active = sn_->Mounts("a");
  ASSERT_THAT(active, IsOk());
  EXPECT_THAT(WithMounts(*active,
                         [](const fs::path& d) {
                           EXPECT_THAT(Entries(d), IsEmpty());
                           WriteFile(d / "new", "n");
                         }),
              IsOk());
  auto view = sn_->Mounts("v");
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(WithMounts(*view, [](const fs::path& d) { EXPECT_EQ(ReadFile(d / "f"), "base"); }),
              IsOk());
  // The committed layer's directory was synced by its Commit and is not touched.
  EXPECT_THAT(sn_->Commit("l2", "a", {}), IsOk());
}

// 128 layers: the overlay's lowerdir chain does not fit into one mount(2) page.
TEST_P(SnapshotterSuite, ChainOf128LayersMounts) {
  constexpr int kLayers = 128;
  std::string parent;
  for (int i = 0; i < kLayers; ++i) {
    const std::string name = fmt::format("sha256:{:064x}", i);
    Layer(name, parent, [&](const fs::path& d) {
      WriteFile(d / fmt::format("layer-{}", i), std::to_string(i));
      WriteFile(d / "top", std::to_string(i));
    });
    if (HasFatalFailure())
      return;
    parent = name;
  }
  auto mounts = sn_->Prepare("container", parent, {});
  ASSERT_THAT(mounts, IsOk());
  if (overlay()) {
    ASSERT_EQ(mounts->size(), 1u);
    EXPECT_GT(mount::ParseOptions((*mounts)[0].options).Data().size(), 4096u);
  }
  EXPECT_THAT(WithMounts(*mounts,
                         [&](const fs::path& d) {
                           EXPECT_EQ(ReadFile(d / "layer-0"), "0");
                           EXPECT_EQ(ReadFile(d / "layer-64"), "64");
                           EXPECT_EQ(ReadFile(d / fmt::format("layer-{}", kLayers - 1)),
                                     std::to_string(kLayers - 1));
                           EXPECT_EQ(ReadFile(d / "top"), std::to_string(kLayers - 1));
                         }),
              IsOk());
  auto view = sn_->View("view", parent, {});
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(
      WithMounts(*view, [&](const fs::path& d) { EXPECT_EQ(ReadFile(d / "layer-0"), "0"); }),
      IsOk());
}

TEST_P(SnapshotterSuite, MountsHaveContainerdsShape) {
  Layer("l1", "", [](const fs::path&) {});
  Layer("l2", "l1", [](const fs::path&) {});
  auto a0 = sn_->Prepare("a0", "", {});
  auto v0 = sn_->View("v0", "", {});
  auto a1 = sn_->Prepare("a1", "l1", {});
  auto v1 = sn_->View("v1", "l1", {});
  auto a2 = sn_->Prepare("a2", "l2", {});
  auto v2 = sn_->View("v2", "l2", {});
  for (auto* m : {&a0, &v0, &a1, &v1, &a2, &v2}) {
    ASSERT_THAT(*m, IsOk());
    ASSERT_EQ((*m)->size(), 1u);
  }
  const mount::Mount& ma0 = (*a0)[0];
  EXPECT_EQ(ma0.type, "bind");
  EXPECT_THAT(ma0.options, ElementsAre("rw", "rbind"));
  EXPECT_THAT(ma0.source, StartsWith((root() / "snapshots").string()));
  EXPECT_EQ((*v0)[0].type, "bind");
  EXPECT_THAT((*v0)[0].options, ElementsAre("ro", "rbind"));
  EXPECT_EQ((*v1)[0].type, "bind");
  EXPECT_THAT((*v1)[0].options, ElementsAre("ro", "rbind"));
  if (!overlay()) {
    for (auto* m : {&a1, &a2}) {
      EXPECT_EQ((**m)[0].type, "bind");
      EXPECT_THAT((**m)[0].options, ElementsAre("rw", "rbind"));
    }
    EXPECT_THAT((*v2)[0].options, ElementsAre("ro", "rbind"));
    return;
  }
  const mount::Mount& ma2 = (*a2)[0];
  EXPECT_EQ(ma2.type, "overlay");
  const std::vector<std::string>& o = ma2.options;
  auto l1_fs = (*v1)[0].source;  // the view of l1 binds l1's fs
  ASSERT_GE(o.size(), 3u);
  EXPECT_THAT(o[o.size() - 3], StartsWith("workdir="));
  EXPECT_THAT(o[o.size() - 2], StartsWith("upperdir="));
  EXPECT_THAT(o.back(), StartsWith("lowerdir="));
  EXPECT_THAT(o.back(), HasSubstr(":" + l1_fs)) << "newest first: l2 then l1";
  if (fs::exists("/sys/module/overlay/parameters/index")) {
    EXPECT_EQ(o.front(), "index=off");
  }
  const mount::Mount& mv2 = (*v2)[0];
  EXPECT_EQ(mv2.type, "overlay");
  EXPECT_EQ(mount::OptionValue(mv2.options, "upperdir"), "");
  EXPECT_EQ(mount::OptionValue(mv2.options, "workdir"), "");
  EXPECT_EQ(mount::OptionValue(mv2.options, "lowerdir"), mount::OptionValue(o, "lowerdir"));
  EXPECT_EQ((*a1)[0].type, "overlay");
  EXPECT_EQ(mount::OptionValue((*a1)[0].options, "lowerdir"), l1_fs);
}

// overlayfs: a 0/0 character device written straight into the upper dir (as the diff
// service's Apply does) hides the lower file.
TEST_P(SnapshotterSuite, OverlayWhiteoutHidesLowerFile) {
  if (!overlay())
    GTEST_SKIP() << "overlay whiteouts only";
  Layer("l1", "", [](const fs::path& d) {
    WriteFile(d / "gone", "x");
    WriteFile(d / "kept", "k");
  });
  auto mounts = sn_->Prepare("active", "l1", {});
  ASSERT_THAT(mounts, IsOk());
  const std::string upper = mount::OptionValue((*mounts)[0].options, "upperdir");
  ASSERT_FALSE(upper.empty());
  ASSERT_EQ(::mknod((fs::path(upper) / "gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  ASSERT_THAT(sn_->Commit("l2", "active", {}), IsOk());
  auto view = sn_->View("view", "l2", {});
  ASSERT_THAT(view, IsOk());
  EXPECT_THAT(WithMounts(*view,
                         [](const fs::path& d) {
                           EXPECT_FALSE(fs::exists(d / "gone"));
                           EXPECT_EQ(ReadFile(d / "kept"), "k");
                         }),
              IsOk());
}

// Owners, modes, xattrs, hardlinks, symlinks, devices and times pass from layer to layer.
TEST_P(SnapshotterSuite, ChildrenKeepFileMetadata) {
  Layer("l1", "", [](const fs::path& d) {
    WriteFile(d / "suid", "s");
    ASSERT_EQ(::chown((d / "suid").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::chmod((d / "suid").c_str(), 04755), 0);
    ASSERT_EQ(::setxattr((d / "suid").c_str(), "trusted.berth", "t", 1, 0), 0);
    ASSERT_EQ(::setxattr((d / "suid").c_str(), "user.berth", "u", 1, 0), 0);
    fs::create_hard_link(d / "suid", d / "hard");
    fs::create_symlink("suid", d / "sym");
    ASSERT_EQ(::mknod((d / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
    fs::create_directories(d / "sticky");
    ASSERT_EQ(::chmod((d / "sticky").c_str(), 01777), 0);
    struct timespec times[2] = {{1111, 0}, {2222, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (d / "suid").c_str(), times, 0), 0);
  });
  auto mounts = sn_->Prepare("child", "l1", {});
  ASSERT_THAT(mounts, IsOk());
  EXPECT_THAT(WithMounts(*mounts,
                         [](const fs::path& d) {
                           struct stat st = Lstat(d / "suid");
                           EXPECT_EQ(st.st_uid, 1234u);
                           EXPECT_EQ(st.st_gid, 5678u);
                           EXPECT_EQ(st.st_mode & 07777, 04755u);
                           EXPECT_EQ(st.st_mtim.tv_sec, 2222);
                           EXPECT_EQ(st.st_nlink, 2u);
                           EXPECT_EQ(Lstat(d / "hard").st_ino, st.st_ino);
                           char buf[8] = {};
                           EXPECT_EQ(::getxattr((d / "suid").c_str(), "trusted.berth", buf, 8), 1);
                           EXPECT_EQ(buf[0], 't');
                           EXPECT_EQ(::getxattr((d / "suid").c_str(), "user.berth", buf, 8), 1);
                           EXPECT_EQ(buf[0], 'u');
                           EXPECT_EQ(fs::read_symlink(d / "sym"), "suid");
                           struct stat dev = Lstat(d / "null");
                           EXPECT_TRUE(S_ISCHR(dev.st_mode));
                           EXPECT_EQ(dev.st_rdev, makedev(1, 3));
                           EXPECT_TRUE(S_ISFIFO(Lstat(d / "fifo").st_mode));
                           EXPECT_EQ(Lstat(d / "sticky").st_mode & 07777, 01777u);
                         }),
              IsOk());
}

TEST_P(SnapshotterSuite, ConcurrentCallsAreSafe) {
  Layer("base", "", [](const fs::path& d) { WriteFile(d / "f", "x"); });
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string key = fmt::format("t{}-{}", t, i);
        if (!sn_->Prepare(key, "base", {}).ok() || !sn_->Stat(key).ok() ||
            !sn_->Commit(key + "-c", key, {}).ok() || !sn_->Remove(key + "-c").ok())
          failures++;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_THAT(WalkKinds(*sn_), ElementsAre(Pair("base", Kind::kCommitted)));
  EXPECT_EQ(EntriesAfterRemovals(root() / "snapshots").size(), 1u);
}

}  // namespace berth::snapshot::testsuite
