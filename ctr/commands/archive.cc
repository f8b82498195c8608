// bctr images import / images export (containerd's ctr), and save / load (Docker's names).

#include <memory>

#include "fmt/format.h"

#include "ctr/archive_io.h"
#include "ctr/commands/commands.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct ImportFlags {
  std::string file = "-";
  bool no_unpack = false;
  std::string index_name;
  std::string base_name;
  std::string snapshotter = "overlayfs";
  std::string platform;
};

absl::Status RunImport(Cli& cli, const ImportFlags& f, bool docker_style) {
  ImportOptions opts;
  opts.unpack = !f.no_unpack;
  opts.index_name = f.index_name;
  opts.base_name = f.base_name;
  opts.snapshotter = f.snapshotter;
  if (!f.platform.empty()) {
    BERTH_ASSIGN_OR_RETURN(opts.platform, registry::ParsePlatform(f.platform));
  }
  if (!docker_style)
    opts.say = [](const std::string& s) { std::printf("%s\n", s.c_str()); };
  Connection& conn = cli.conn();
  std::vector<ImportedImage> images;
  BERTH_RETURN_IF_ERROR(ReadInput(f.file, [&](archive::ReadFn in) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(images, ImportArchive(conn, in, f.file == "-" ? "stdin" : f.file, opts));
    return absl::OkStatus();
  }));
  for (const ImportedImage& img : images) {
    if (docker_style)
      std::printf("Loaded image: %s\n", FamiliarName(img.name).c_str());
    else
      std::printf("imported %s %s\n", img.name.c_str(), img.target.digest.c_str());
  }
  return absl::OkStatus();
}

struct ExportFlags {
  std::string file;
  std::vector<std::string> images;
  std::string platform;
};

absl::Status RunExport(Cli& cli, const ExportFlags& f, bool docker) {
  ExportOptions opts;
  opts.docker = docker;
  if (!f.platform.empty()) {
    BERTH_ASSIGN_OR_RETURN(opts.platform, registry::ParsePlatform(f.platform));
  }
  if (f.file == "-" && StdoutIsTty())
    return InvalidArgument("refusing to write an archive to a terminal (give a file, or redirect)");
  Connection& conn = cli.conn();
  return WriteOutput(
      f.file, [&](archive::WriteFn out) { return ExportArchive(conn, f.images, opts, out); });
}

void AddImportFlags(CLI::App* cmd, ImportFlags& f) {
  cmd->add_flag("--no-unpack", f.no_unpack, "Do not unpack the images into snapshots");
  cmd->add_option("--index-name", f.index_name, "Also name the archive's whole index");
  cmd->add_option("--base-name", f.base_name,
                  "Name prefix for images whose OCI ref name is only a tag (default "
                  "import-YYYY-MM-DD)");
  cmd->add_option("--snapshotter", f.snapshotter, "Snapshotter to unpack into")
      ->capture_default_str();
  cmd->add_option("--platform", f.platform, "Platform to unpack (os/arch[/variant])");
}

}  // namespace

void AddImagesImport(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "import", "Import images from an OCI or docker archive (tar, may be compressed)");
  cmd->add_option("file", f->file, "Archive, or - for stdin")->required();
  AddImportFlags(cmd, *f);
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] { return Annotate(RunImport(cli, *f, false), "images import"); };
  });
}

void AddLoad(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = parent.add_subcommand("load", "Load images from a docker or OCI archive");
  cmd->add_option("-i,--input", f->file, "Archive (default: stdin)");
  AddImportFlags(cmd, *f);
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunImport(cli, *f, true), "load"); }; });
}

void AddImagesExport(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* cmd = parent.add_subcommand("export", "Write images as an OCI archive");
  cmd->add_option("file", f->file, "Archive to write, or - for stdout")->required();
  cmd->add_option("images", f->images, "Images")->required();
  cmd->add_option("--platform", f->platform, "Only this platform's manifests (os/arch[/variant])");
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] { return Annotate(RunExport(cli, *f, false), "images export"); };
  });
}

void AddSave(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<ExportFlags>();
  f->file = "-";
  CLI::App* cmd = parent.add_subcommand(
      "save", "Write images as a docker archive (also readable as an OCI archive)");
  cmd->add_option("-o,--output", f->file, "Archive to write (default: stdout)");
  cmd->add_option("images", f->images, "Images")->required();
  cmd->add_option("--platform", f->platform, "Only this platform's manifests (os/arch[/variant])");
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunExport(cli, *f, true), "save"); }; });
}

}  // namespace berth::ctr
