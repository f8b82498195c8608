#pragma once

// ImageStore: images by (namespace, name), each pointing at a target descriptor (an index or
// manifest in the content store). Thread-safe; each call is one transaction.
// Errors: InvalidArgument (empty name, bad target or labels, bad update path), NotFound,
// AlreadyExists (Create of a taken name).

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "services/metadata/db.h"

namespace berth::metadata {

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
};

struct Image {
  std::string name;
  Labels labels;
  Descriptor target;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

class ImageStore {
 public:
  explicit ImageStore(Db& db) : db_(db) {}

  absl::StatusOr<Image> Get(const std::string& ns, const std::string& name);
  absl::StatusOr<std::vector<Image>> List(const std::string& ns);  // by name
  absl::StatusOr<Image> Create(const std::string& ns, Image image);
  // Paths: "labels", "labels.<key>", "target", "annotations", "annotations.<key>" (the
  // target's); none replaces labels and target.
  absl::StatusOr<Image> Update(const std::string& ns, const Image& image,
                               const std::vector<std::string>& paths);
  absl::Status Delete(const std::string& ns, const std::string& name);

 private:
  Db& db_;
};

absl::Status ValidateDescriptor(const Descriptor& d, std::string_view object);

}  // namespace berth::metadata
