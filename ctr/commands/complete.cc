// bctr __complete WORD...: shell completion candidates, one per line (ctr/complete.h).
// Hidden from --help; deploy/bctr.bash calls it. Never prints errors: a shell is waiting.

#include "ctr/complete.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/container_meta.h"
#include "ctr/volumes.h"

namespace berth::ctr {
namespace {

// The value of a global flag among the words ("-n x", "--namespace=x"), or `fallback`.
std::string GlobalValue(const std::vector<std::string>& words, std::string_view shortf,
                        std::string_view longf, std::string fallback) {
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if ((w == shortf || w == longf) && i + 1 < words.size())
      return words[i + 1];
    std::string prefix = std::string(longf) + "=";
    if (w.starts_with(prefix))
      return w.substr(prefix.size());
  }
  return fallback;
}

std::vector<std::string> ListObjects(const std::string& address, const std::string& ns,
                                     ObjectKind kind) {
  std::vector<std::string> out;
  if (kind == ObjectKind::kVolume) {
    absl::StatusOr<VolumeStore> store = ConfiguredVolumeStore(ns);
    absl::StatusOr<std::vector<Volume>> all = store.ok() ? store->List() : store.status();
    for (const Volume& v : all.value_or(std::vector<Volume>{})) out.push_back(v.name);
    return out;
  }
  Connection conn(address, ns);
  auto ctx = conn.Context();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (kind == ObjectKind::kImage) {
    images_api::ListImagesRequest req;
    images_api::ListImagesResponse resp;
    if (!conn.images().List(ctx.get(), req, &resp).ok())
      return out;
    for (const auto& img : resp.images()) out.push_back(img.name());
    return out;
  }
  containers_api::ListContainersRequest req;
  containers_api::ListContainersResponse resp;
  if (!conn.containers().List(ctx.get(), req, &resp).ok())
    return out;
  for (const auto& c : resp.containers()) {
    auto name = c.labels().find(kNameLabel);
    out.push_back(name != c.labels().end() ? name->second : c.id());
  }
  return out;
}

}  // namespace

void AddComplete(CLI::App& parent, Cli& cli) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = parent.add_subcommand("__complete", "Shell completion candidates");
  cmd->group("");  // hidden
  cmd->prefix_command();
  cmd->callback([&cli, cmd, words] {
    *words = cmd->remaining();
    cli.action = [&cli, words]() -> absl::Status {
      CLI::App tree;
      Cli scratch;
      BuildApp(tree, scratch);
      std::string address = GlobalValue(*words, "-a", "--address", cli.address);
      std::string ns = GlobalValue(*words, "-n", "--namespace", cli.ns);
      ObjectLister lister = [&](ObjectKind kind) { return ListObjects(address, ns, kind); };
      for (const std::string& c : CompletionCandidates(tree, *words, lister))
        std::printf("%s\n", c.c_str());
      return absl::OkStatus();
    };
  });
}

}  // namespace berth::ctr
