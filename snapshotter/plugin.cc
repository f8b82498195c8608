// The snapshotter plugins of berthd: io.containerd.snapshotter.v1.overlayfs and .native.

#include "services/plugin/plugin.h"

#include <memory>
#include <utility>

#include "lib/base/status_macros.h"
#include "services/plugin/registry.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshot {
namespace {

// A plugin instance that is a Snapshotter: dynamic_cast<Snapshotter*> of the plugin works.
class SnapshotterPlugin : public plugin::Plugin, public Snapshotter {
 public:
  explicit SnapshotterPlugin(std::unique_ptr<Snapshotter> impl) : impl_(std::move(impl)) {}

  absl::StatusOr<Info> Stat(const std::string& key) override { return impl_->Stat(key); }

  absl::StatusOr<Info> Update(const Info& info, const std::vector<std::string>& paths) override {
    return impl_->Update(info, paths);
  }

  absl::StatusOr<Usage> GetUsage(const std::string& key) override { return impl_->GetUsage(key); }

  absl::StatusOr<std::vector<mount::Mount>> Mounts(const std::string& key) override {
    return impl_->Mounts(key);
  }

  absl::StatusOr<std::vector<mount::Mount>> Prepare(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) override {
    return impl_->Prepare(key, parent, labels, durability);
  }

  absl::StatusOr<std::vector<mount::Mount>> View(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) override {
    return impl_->View(key, parent, labels, durability);
  }

  absl::Status Commit(const std::string& name, const std::string& key,
                      const Labels& labels) override {
    return impl_->Commit(name, key, labels);
  }

  absl::Status Remove(const std::string& key) override { return impl_->Remove(key); }

  absl::Status Walk(absl::FunctionRef<absl::Status(const Info&)> fn) override {
    return impl_->Walk(fn);
  }

  absl::Status Cleanup() override { return impl_->Cleanup(); }

 private:
  std::unique_ptr<Snapshotter> impl_;
};

using Factory = absl::StatusOr<std::unique_ptr<Snapshotter>> (*)(const std::filesystem::path&);

plugin::Registration Make(const char* id, Factory factory) {
  return {
      .type = plugin::Type::kSnapshotter,
      .id = id,
      .deps = {},
      .init =
          [factory](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        ic.Export("root", ic.root().string());
        BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Snapshotter> s, factory(ic.root()));
        return std::make_unique<SnapshotterPlugin>(std::move(s));
      },
      .host_platform = true,
  };
}

}  // namespace

void RegisterPlugins(plugin::Registry& registry) {
  registry.Add(Make("overlayfs", &NewOverlay));
  registry.Add(Make("native", &NewNative));
}

}  // namespace berth::snapshot
