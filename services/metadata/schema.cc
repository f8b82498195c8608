// The metadata schema, as a list of forward migrations. Version N's SQL turns a version N-1
// database into version N; never edit a released step, add a new one.
//
// Every object table is keyed by namespace first. Labels are JSON objects; timestamps are
// nanoseconds since the Unix epoch. Tables for images, containers, leases, content and
// snapshots are part of version 1 so that namespaces can tell whether they are empty.

#include "services/metadata/db.h"

namespace berth::metadata {
namespace {

constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
CREATE TABLE namespaces (
  name TEXT PRIMARY KEY,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE images (
  namespace TEXT NOT NULL REFERENCES namespaces(name),
  name TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  target TEXT NOT NULL,            -- descriptor as JSON: mediaType, digest, size, annotations
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, name)
);
CREATE TABLE containers (
  namespace TEXT NOT NULL REFERENCES namespaces(name),
  id TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  image TEXT NOT NULL DEFAULT '',
  runtime_name TEXT NOT NULL DEFAULT '',
  runtime_options BLOB,            -- serialized google.protobuf.Any
  spec BLOB,                       -- serialized google.protobuf.Any
  snapshotter TEXT NOT NULL DEFAULT '',
  snapshot_key TEXT NOT NULL DEFAULT '',
  extensions BLOB,                 -- serialized map of Any
  sandbox TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE leases (
  namespace TEXT NOT NULL REFERENCES namespaces(name),
  id TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, id)
);
CREATE TABLE lease_resources (
  namespace TEXT NOT NULL,
  lease TEXT NOT NULL,
  type TEXT NOT NULL,              -- "content", "snapshots/<snapshotter>", "ingests"
  id TEXT NOT NULL,
  PRIMARY KEY (namespace, lease, type, id),
  FOREIGN KEY (namespace, lease) REFERENCES leases(namespace, id) ON DELETE CASCADE
);
CREATE TABLE content (
  namespace TEXT NOT NULL REFERENCES namespaces(name),
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, digest)
);
CREATE TABLE snapshots (
  namespace TEXT NOT NULL REFERENCES namespaces(name),
  snapshotter TEXT NOT NULL,
  key TEXT NOT NULL,
  backend_id TEXT NOT NULL,        -- the snapshotter's own key, shared across namespaces
  parent TEXT NOT NULL DEFAULT '',
  kind INTEGER NOT NULL,
  labels TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, snapshotter, key)
);
CREATE INDEX snapshots_backend ON snapshots (snapshotter, backend_id);
)sql",
};

}  // namespace

int CurrentSchemaVersion() {
  return static_cast<int>(std::size(kMigrations));
}

const char* MigrationTo(int version) {
  return kMigrations[version - 1];
}

}  // namespace berth::metadata
