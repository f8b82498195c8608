#pragma once

// The snapshotter conformance suite (containerd's SnapshotterSuite): every backend runs the
// same TEST_P cases. A backend instantiates it with
//   INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterSuite,
//                            ::testing::Values(Backend{"overlayfs", &NewOverlay}), BackendName);
// The suite needs root (mounts); each test owns a TempDir that is unmounted and removed even
// when the test fails.

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "snapshotter/snapshotter.h"
#include "tests/testing/temp_dir.h"

namespace berth::snapshot::testsuite {

struct Backend {
  std::string name;  // "overlayfs", "native"
  std::function<absl::StatusOr<std::unique_ptr<Snapshotter>>(const std::filesystem::path&)> open;
};

// gtest prints a Backend by its name.
void PrintTo(const Backend& b, std::ostream* os);

std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

class SnapshotterSuite : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Closes and opens the snapshotter on the same root.
  void Reopen();

  // Mounts `mounts` on a temporary directory, runs fn there, unmounts.
  absl::Status WithMounts(const std::vector<mount::Mount>& mounts,
                          absl::FunctionRef<void(const std::filesystem::path&)> fn);

  // Prepare(key, parent), fn on the mounted tree, Commit(name, key).
  void Layer(const std::string& name, const std::string& parent,
             absl::FunctionRef<void(const std::filesystem::path&)> fn);

  bool overlay() const { return GetParam().name == "overlayfs"; }

  std::filesystem::path root() const { return tmp_->path() / "root"; }

  std::unique_ptr<berth::testing::TempDir> tmp_;
  std::unique_ptr<Snapshotter> sn_;
};

}  // namespace berth::snapshot::testsuite
