// The snapshotter plugins load through berthd's plugin registry, and the overlayfs one is
// skipped where overlay cannot work. Root: the overlay probe mounts.

#include "services/plugin/plugin.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/mount/mount.h"
#include "services/plugin/registry.h"
#include "snapshotter/overlay/overlay.h"
#include "snapshotter/snapshotter.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::HasSubstr;

TEST(SnapshotterPlugins, LoadAsSnapshotters) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("snapplugin");
  plugin::Registry registry;
  RegisterPlugins(registry);
  plugin::DaemonInfo daemon{.root = tmp / "root", .state = tmp / "state", .address = ""};
  ASSERT_THAT(registry.Load(daemon, {}), IsOk());
  int loaded = 0;
  for (const plugin::LoadResult& r : registry.results()) {
    SCOPED_TRACE(r.registration->Uri());
    ASSERT_THAT(r.status, IsOk());
    auto* sn = dynamic_cast<Snapshotter*>(r.instance.get());
    ASSERT_NE(sn, nullptr);
    const fs::path root = tmp / "root" / r.registration->Uri();
    EXPECT_EQ(r.exports.at("root"), root.string());
    auto mounts = sn->Prepare("k", "", {});
    ASSERT_THAT(mounts, IsOk());
    EXPECT_THAT((*mounts)[0].source, HasSubstr(root.string()));
    EXPECT_TRUE(fs::exists(root / "metadata.db"));
    ++loaded;
  }
  EXPECT_EQ(loaded, 2);
  EXPECT_EQ(registry.results()[0].registration->Uri(), "io.containerd.snapshotter.v1.overlayfs");
  EXPECT_EQ(registry.results()[1].registration->Uri(), "io.containerd.snapshotter.v1.native");
}

// overlayfs cannot be the upper layer of another overlay: the plugin is skipped, native is not.
TEST(SnapshotterPlugins, OverlaySkippedWhereOverlayCannotWork) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("snapplugin");
  for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directories(tmp / d);
  mount::Mount ovl{
      .type = "overlay",
      .source = "overlay",
      .options = {"workdir=" + (tmp / "work").string(), "upperdir=" + (tmp / "upper").string(),
                  "lowerdir=" + (tmp / "lower").string()}};
  ASSERT_THAT(mount::MountAll({&ovl, 1}, tmp / "merged"), IsOk());
  const fs::path root = tmp / "merged/root";
  absl::Status probe = ProbeOverlay(root);
  EXPECT_THAT(probe, StatusIs(absl::StatusCode::kUnimplemented, "skip plugin: overlayfs"));
  EXPECT_THAT(std::string(probe.message()), HasSubstr(root.string()));
  EXPECT_THAT(NewOverlay(root), StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_TRUE(fs::is_empty(root)) << "the probe leaves nothing behind";
  EXPECT_THAT(NewNative(root / "native"), IsOk());
  ASSERT_THAT(mount::UnmountAll(tmp / "merged"), IsOk());
}

}  // namespace
}  // namespace berth::snapshot
