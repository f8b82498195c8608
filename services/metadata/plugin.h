#pragma once

// The metadata plugin (io.containerd.metadata.v1.sqlite): owns the database at <root>/meta.db
// and the stores over it.

#include <memory>

#include "services/metadata/container_store.h"
#include "services/metadata/db.h"
#include "services/metadata/image_store.h"
#include "services/metadata/lease_store.h"
#include "services/metadata/namespace_store.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::metadata {

class MetadataPlugin : public plugin::Plugin {
 public:
  explicit MetadataPlugin(std::unique_ptr<Db> db)
      : db_(std::move(db)), namespaces_(*db_), images_(*db_), leases_(*db_), containers_(*db_) {}

  Db& db() { return *db_; }

  NamespaceStore& namespaces() { return namespaces_; }

  ImageStore& images() { return images_; }

  LeaseStore& leases() { return leases_; }

  ContainerStore& containers() { return containers_; }

 private:
  std::unique_ptr<Db> db_;
  NamespaceStore namespaces_;
  ImageStore images_;
  LeaseStore leases_;
  ContainerStore containers_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::metadata
