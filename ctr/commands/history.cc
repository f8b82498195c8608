// bctr history IMAGE (also `images history`): the steps that made an image, newest first, from
// its config's history, each with the layer it added (its size as stored: compressed).

#include <memory>
#include <string>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "ctr/output.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct HistoryFlags {
  ListFlags list;
  bool no_trunc = false;
  std::string image;
};

std::string CreatedAgo(const std::string& rfc3339) {
  google::protobuf::Timestamp ts;
  if (rfc3339.empty() || !google::protobuf::util::TimeUtil::FromString(rfc3339, &ts))
    return "-";
  return Ago(ts);
}

absl::Status RunHistory(Cli& cli, const HistoryFlags& f) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(images_api::Image img, GetImageRecord(conn, f.image));
  BERTH_ASSIGN_OR_RETURN(ResolvedManifest m,
                         ResolveManifest(conn, FromProto(img.target()), registry::HostPlatform()));
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn, m.manifest.config.digest));
  nlohmann::json config = nlohmann::json::parse(body, nullptr, false);
  if (!config.is_object())
    return InvalidArgument(fmt::format("image {:?}: its config is not a JSON object", img.name()));
  const std::vector<registry::Descriptor>& layers = m.manifest.layers;

  // Oldest first, as the config lists them; a step that is not an empty layer takes the next
  // layer. An image without history shows one nameless step per layer.
  struct Step {
    std::string created, created_by, comment;
    int64_t size = 0;
  };

  std::vector<Step> steps;
  size_t next_layer = 0;
  const nlohmann::json& history = config.value("history", nlohmann::json::array());
  if (history.is_array() && !history.empty()) {
    for (const nlohmann::json& h : history) {
      if (!h.is_object())
        continue;
      Step s{h.value("created", ""), h.value("created_by", ""), h.value("comment", "")};
      if (!h.value("empty_layer", false) && next_layer < layers.size())
        s.size = layers[next_layer++].size;
      steps.push_back(std::move(s));
    }
  } else {
    for (const registry::Descriptor& l : layers)
      steps.push_back({config.value("created", ""), "", "", l.size});
  }

  Listing out(f.list, {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"},
              {"ID", "CreatedSince", "CreatedBy", "Size", "Comment"});
  const std::string id = m.manifest.config.digest;
  for (size_t i = steps.size(); i-- > 0;) {
    const Step& s = steps[i];
    std::string by = s.created_by;
    if (!f.no_trunc && by.size() > 45)
      by = by.substr(0, 44) + "…";
    std::string image = i + 1 == steps.size() ? (f.no_trunc ? id : id.substr(0, 19)) : "<missing>";
    out.Add({image, CreatedAgo(s.created), by, HumanSize(s.size), s.comment});
  }
  return out.Print();
}

}  // namespace

void AddHistory(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<HistoryFlags>();
  CLI::App* cmd = parent.add_subcommand("history", "Show the steps that made an image");
  f->list.Add(cmd, "Only the image id");
  cmd->add_flag("--no-trunc", f->no_trunc, "Do not shorten the id and the commands");
  cmd->add_option("image", f->image, "Image")->required();
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunHistory(cli, *f), "history"); }; });
}

}  // namespace berth::ctr
