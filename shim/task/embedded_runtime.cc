// Runtime over shim/linux's Container: no fork/exec of a runtime binary.

#include <csignal>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "shim/linux/container.h"
#include "shim/task/runtime.h"

namespace berth::shim {
namespace {

class EmbeddedRuntime : public Runtime {
 public:
  EmbeddedRuntime(std::string id, std::string bundle, oci::Spec spec,
                  linux::PreparedNamespaces* prepared)
      : id_(std::move(id)),
        bundle_(std::move(bundle)),
        spec_(std::move(spec)),
        prepared_(prepared) {}

  absl::StatusOr<pid_t> Create(const linux::Stdio& stdio,
                               const std::function<absl::Status()>& rootfs_ready) override {
    BERTH_ASSIGN_OR_RETURN(container_, linux::Container::Begin({.id = id_,
                                                                .bundle = bundle_,
                                                                .stdio = stdio,
                                                                .prepared = prepared_,
                                                                .rootfs_ready = rootfs_ready},
                                                               spec_));
    return container_->pid();
  }

  absl::Status FinishCreate() override { return Get()->Finish(); }

  absl::Status Start() override { return Get()->Start(); }

  absl::StatusOr<pid_t> Exec(const std::string& exec_id, const oci::Process& process,
                             const std::string& /*process_json*/,
                             const linux::Stdio& stdio) override {
    BERTH_ASSIGN_OR_RETURN(linux::ChildProcess p, Get()->Exec(process, stdio));
    (void)exec_id;
    return p.Release();  // the reaper reaps it
  }

  absl::Status KillAll(int sig) override { return Get()->KillAll(sig); }

  absl::Status Pause() override { return Get()->cgroup().Freeze(); }

  absl::Status Resume() override { return Get()->cgroup().Thaw(); }

  absl::Status Update(const oci::Resources& resources, const std::string&) override {
    return Get()->cgroup().Apply(resources);
  }

  linux::Cgroup* cgroup() override { return container_ ? &container_->cgroup() : nullptr; }

  absl::Status Delete() override {
    if (!container_)
      return absl::OkStatus();
    absl::Status s = container_->Destroy();
    container_.reset();
    return s;
  }

 private:
  linux::Container* Get() { return container_.get(); }

  std::string id_;
  std::string bundle_;
  oci::Spec spec_;
  linux::PreparedNamespaces* prepared_;
  std::unique_ptr<linux::Container> container_;
};

}  // namespace

std::unique_ptr<Runtime> MakeEmbeddedRuntime(std::string id, std::string bundle, oci::Spec spec,
                                             linux::PreparedNamespaces* prepared) {
  return std::make_unique<EmbeddedRuntime>(std::move(id), std::move(bundle), std::move(spec),
                                           prepared);
}

}  // namespace berth::shim
