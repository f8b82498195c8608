#pragma once

// Registry holds the registrations of berthd's plugins, loads them in dependency order and
// keeps the results for introspection. Not thread-safe while loading; after Load() returns,
// results() may be read from any thread.

#include <deque>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "lib/config/section.h"
#include "services/plugin/plugin.h"

namespace berth::plugin {

struct LoadOptions {
  std::set<std::string> disabled;  // plugin URIs (type.id) not to load
  std::set<std::string> required;  // plugin URIs whose failure stops the daemon
  // [plugins] of the config file: one sub-table per plugin URI. A table for a plugin that is
  // not registered is an error naming the file and key.
  config::Section plugins;
};

class Registry {
 public:
  // AlreadyExists-class programming error if the same type.id is added twice (aborts).
  void Add(Registration r);

  // Loads every registration, dependencies first (ties keep registration order). A plugin whose
  // init returns Unimplemented is recorded as skipped; any other error is logged as a warning
  // and recorded, unless the plugin is required or is the metadata store, in which case Load
  // returns that error. A dependency type with no loaded plugin skips the dependent plugin.
  // Unknown URIs in `required` or the config, and unknown keys in a plugin's table, are errors.
  absl::Status Load(const DaemonInfo& daemon, LoadOptions options);

  // Results in load order (skipped and failed ones included).
  const std::deque<LoadResult>& results() const { return results_; }

  // Destroys the plugin instances in reverse load order.
  void Shutdown();

  ~Registry() { Shutdown(); }

 private:
  friend class InitContext;
  absl::StatusOr<std::vector<const Registration*>> Order() const;

  std::deque<Registration> registrations_;  // stable addresses
  std::deque<LoadResult> results_;
};

}  // namespace berth::plugin
