// Runtime over an external OCI runtime binary (runc, crun) through its CLI. Not implemented
// yet: Create fails with Unimplemented naming the binary.

#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/task/runtime.h"

namespace berth::shim {
namespace {

class CliRuntime : public Runtime {
 public:
  explicit CliRuntime(std::string binary) : binary_(std::move(binary)) {}

  absl::StatusOr<pid_t> Create(const linux::Stdio&) override {
    return Unimplemented(
        fmt::format("runtime {:?}: external runtimes are not supported yet", binary_));
  }

  absl::Status Start() override { return Unimplemented("start"); }

  absl::StatusOr<pid_t> Exec(const std::string&, const oci::Process&, const std::string&,
                             const linux::Stdio&) override {
    return Unimplemented("exec");
  }

  absl::Status KillAll(int) override { return Unimplemented("kill"); }

  absl::Status Pause() override { return Unimplemented("pause"); }

  absl::Status Resume() override { return Unimplemented("resume"); }

  absl::Status Update(const oci::Resources&, const std::string&) override {
    return Unimplemented("update");
  }

  linux::Cgroup* cgroup() override { return nullptr; }

  absl::Status Delete() override { return absl::OkStatus(); }

 private:
  std::string binary_;
};

}  // namespace

std::unique_ptr<Runtime> MakeCliRuntime(std::string binary, std::string /*root*/,
                                        std::string /*id*/, std::string /*bundle*/,
                                        oci::Spec /*spec*/) {
  return std::make_unique<CliRuntime>(std::move(binary));
}

}  // namespace berth::shim
