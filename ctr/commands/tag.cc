// bctr tag SOURCE TARGET: a second name for an image.

#include <memory>

#include "ctr/commands/commands.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct TagFlags {
  std::string source;
  std::string target;
  bool force = false;
};

absl::Status RunTag(Cli& cli, const TagFlags& f) {
  BERTH_ASSIGN_OR_RETURN(registry::Reference src, ParseImageRef(f.source));
  BERTH_ASSIGN_OR_RETURN(registry::Reference dst, ParseImageRef(f.target));
  Connection& conn = cli.conn();
  images_api::GetImageRequest get;
  get.set_name(src.String());
  images_api::GetImageResponse got;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().Get(ctx.get(), get, &got)));
  images_api::Image img;
  img.set_name(dst.String());
  *img.mutable_target() = got.image().target();
  *img.mutable_labels() = got.image().labels();
  images_api::CreateImageRequest req;
  *req.mutable_image() = img;
  images_api::CreateImageResponse resp;
  auto cctx = conn.Context();
  absl::Status st = conn.Check(conn.images().Create(cctx.get(), req, &resp));
  if (absl::IsAlreadyExists(st)) {
    if (!f.force)
      return absl::Status(st.code(), std::string(st.message()) + " (use --force to replace it)");
    images_api::UpdateImageRequest up;
    *up.mutable_image() = img;
    images_api::UpdateImageResponse uresp;
    auto uctx = conn.Context();
    st = conn.Check(conn.images().Update(uctx.get(), up, &uresp));
  }
  BERTH_RETURN_IF_ERROR(st);
  std::printf("%s\n", dst.String().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddTag(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<TagFlags>();
  CLI::App* cmd = parent.add_subcommand("tag", "Give an image another name");
  cmd->add_option("image", f->source, "Existing image")->required();
  cmd->add_option("target", f->target, "New name")->required();
  cmd->add_flag("-f,--force", f->force, "Replace the target name if it exists");
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return Annotate(RunTag(cli, *f), "tag"); }; });
}

}  // namespace berth::ctr
