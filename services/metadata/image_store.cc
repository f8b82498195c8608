#include "services/metadata/image_store.h"

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/namespace_store.h"

namespace berth::metadata {
namespace {

std::string EncodeTarget(const Descriptor& d) {
  return nlohmann::json{{"mediaType", d.media_type},
                        {"digest", d.digest},
                        {"size", d.size},
                        {"annotations", d.annotations}}
      .dump();
}

absl::StatusOr<Descriptor> DecodeTarget(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object())
    return Internal("metadata: stored image target is not a JSON object");
  Descriptor d;
  d.media_type = j.value("mediaType", "");
  d.digest = j.value("digest", "");
  d.size = j.value("size", int64_t{0});
  d.annotations = j.value("annotations", std::map<std::string, std::string>{});
  return d;
}

absl::StatusOr<Image> Load(Tx& tx, const std::string& ns, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT labels, target, created_at, updated_at FROM "
                                          "images WHERE namespace = ? AND name = ?"));
  q.Bind(1, ns).Bind(2, name);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return NotFoundError("image", name);
  BERTH_ASSIGN_OR_RETURN(Labels labels, DecodeLabels(q.Text(0)));
  BERTH_ASSIGN_OR_RETURN(Descriptor target, DecodeTarget(q.Text(1)));
  return Image{name, std::move(labels), std::move(target), q.Int(2), q.Int(3)};
}

absl::Status Validate(const Image& img) {
  if (img.name.empty())
    return InvalidArgument("image name must not be empty");
  std::string object = fmt::format("image {:?}", img.name);
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(img.labels), object));
  return ValidateDescriptor(img.target, object);
}

absl::Status ApplyImagePaths(const Image& in, const std::vector<std::string>& paths, Image& cur) {
  if (paths.empty()) {
    cur.labels = in.labels;
    cur.target = in.target;
    return absl::OkStatus();
  }
  std::string object = fmt::format("image {:?}", in.name);
  std::vector<std::string> label_paths, annotation_paths;
  for (const std::string& p : paths) {
    if (p == "target") {
      cur.target = in.target;
    } else if (p == "annotations" || p.rfind("annotations.", 0) == 0) {
      annotation_paths.push_back(p == "annotations" ? "labels" : "labels" + p.substr(11));
    } else {
      label_paths.push_back(p);
    }
  }
  if (!label_paths.empty()) {
    BERTH_RETURN_IF_ERROR(ApplyLabelPaths(in.labels, label_paths, object, cur.labels));
  }
  if (!annotation_paths.empty()) {
    BERTH_RETURN_IF_ERROR(
        ApplyLabelPaths(in.target.annotations, annotation_paths, object, cur.target.annotations));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDescriptor(const Descriptor& d, std::string_view object) {
  if (d.media_type.empty()) {
    return InvalidArgument(fmt::format("{}: target media type must be set", object));
  }
  if (d.digest.rfind("sha256:", 0) != 0 || d.digest.size() != 71) {
    return InvalidArgument(
        fmt::format("{}: target digest {:?} is not a sha256 digest", object, d.digest));
  }
  if (d.size <= 0) {
    return InvalidArgument(fmt::format("{}: target size must be greater than zero", object));
  }
  return absl::OkStatus();
}

absl::StatusOr<Image> ImageStore::Get(const std::string& ns, const std::string& name) {
  Image out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(out, Load(tx, ns, name));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Image>> ImageStore::List(const std::string& ns) {
  std::vector<Image> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT name, labels, target, created_at, updated_at "
                                            "FROM images WHERE namespace = ? ORDER BY name"));
    q.Bind(1, ns);
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Labels labels, DecodeLabels(r.Text(1)));
      BERTH_ASSIGN_OR_RETURN(Descriptor target, DecodeTarget(r.Text(2)));
      out.push_back({r.Text(0), std::move(labels), std::move(target), r.Int(3), r.Int(4)});
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<Image> ImageStore::Create(const std::string& ns, Image image) {
  BERTH_RETURN_IF_ERROR(Validate(image));
  image.created_at = image.updated_at = NowNanos();
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(EnsureNamespace(tx, ns));
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("INSERT OR IGNORE INTO images (namespace, name, "
                                            "labels, target, created_at, updated_at) "
                                            "VALUES (?, ?, ?, ?, ?, ?)"));
    q.Bind(1, ns).Bind(2, image.name).Bind(3, EncodeLabels(image.labels));
    q.Bind(4, EncodeTarget(image.target)).Bind(5, image.created_at).Bind(6, image.updated_at);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0)
      return AlreadyExistsError("image", image.name);
    return absl::OkStatus();
  }));
  return image;
}

absl::StatusOr<Image> ImageStore::Update(const std::string& ns, const Image& image,
                                         const std::vector<std::string>& paths) {
  if (image.name.empty())
    return InvalidArgument("image name must not be empty");
  Image cur;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(cur, Load(tx, ns, image.name));
    BERTH_RETURN_IF_ERROR(ApplyImagePaths(image, paths, cur));
    BERTH_RETURN_IF_ERROR(Validate(cur));
    cur.updated_at = NowNanos();
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("UPDATE images SET labels = ?, target = ?, "
                                            "updated_at = ? WHERE namespace = ? AND name = ?"));
    q.Bind(1, EncodeLabels(cur.labels)).Bind(2, EncodeTarget(cur.target)).Bind(3, cur.updated_at);
    q.Bind(4, ns).Bind(5, cur.name);
    return q.Run();
  }));
  return cur;
}

absl::Status ImageStore::Delete(const std::string& ns, const std::string& name) {
  return db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM images WHERE namespace = ? AND name = ?"));
    q.Bind(1, ns).Bind(2, name);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0)
      return NotFoundError("image", name);
    return absl::OkStatus();
  });
}

}  // namespace berth::metadata
