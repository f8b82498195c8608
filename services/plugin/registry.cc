#include "services/plugin/registry.h"

#include <cstdlib>
#include <map>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"

namespace berth::plugin {
namespace {

bool HasLoaded(const std::deque<LoadResult>& results, Type type) {
  for (const LoadResult& r : results) {
    if (r.registration->type == type && r.instance)
      return true;
  }
  return false;
}

}  // namespace

void Registry::Add(Registration r) {
  for (const Registration& e : registrations_) {
    if (e.type == r.type && e.id == r.id) {
      spdlog::critical("plugin registered twice uri={}", r.Uri());
      std::abort();  // a programming error in builtins.cc, never input
    }
  }
  registrations_.push_back(std::move(r));
}

// Kahn's algorithm over type dependencies; among ready plugins the earliest registered first.
absl::StatusOr<std::vector<const Registration*>> Registry::Order() const {
  std::vector<const Registration*> out;
  std::vector<bool> done(registrations_.size(), false);
  while (out.size() < registrations_.size()) {
    bool progressed = false;
    for (size_t i = 0; i < registrations_.size(); ++i) {
      if (done[i])
        continue;
      bool ready = true;
      for (Type dep : registrations_[i].deps) {
        for (size_t j = 0; j < registrations_.size() && ready; ++j) {
          if (j != i && !done[j] && registrations_[j].type == dep)
            ready = false;
        }
      }
      if (!ready)
        continue;
      done[i] = true;
      out.push_back(&registrations_[i]);
      progressed = true;
      break;  // restart so that earlier registrations keep precedence
    }
    if (!progressed)
      return Internal("plugin dependencies form a cycle");
  }
  return out;
}

absl::Status Registry::Load(const DaemonInfo& daemon, LoadOptions options) {
  std::set<std::string> known;
  for (const Registration& r : registrations_) known.insert(r.Uri());
  for (const std::string& uri : options.required) {
    if (!known.contains(uri)) {
      return InvalidArgument(fmt::format("required plugin {:?}: no such plugin", uri));
    }
  }
  for (const std::string& uri : options.plugins.Keys()) {
    if (!known.contains(uri)) {
      return InvalidArgument(
          fmt::format("{}: {}: no such plugin", options.plugins.file(), options.plugins.Path(uri)));
    }
  }
  absl::StatusOr<std::vector<const Registration*>> order = Order();
  if (!order.ok())
    return order.status();

  for (const Registration* reg : *order) {
    LoadResult& res = results_.emplace_back();
    res.registration = reg;
    const std::string uri = reg->Uri();
    const bool required = options.required.contains(uri) || reg->type == Type::kMetadata;
    if (options.disabled.contains(uri)) {
      res.status = Unimplemented("disabled by configuration");
      spdlog::info("plugin disabled uri={}", uri);
      continue;
    }
    for (Type dep : reg->deps) {
      if (!HasLoaded(results_, dep)) {
        res.status = Unimplemented(fmt::format("needs a plugin of type {}", TypeUri(dep)));
        break;
      }
    }
    if (res.status.ok()) {
      absl::StatusOr<config::Section> section = options.plugins.Table(uri);
      if (!section.ok())
        return section.status();
      InitContext ic(daemon, *this, res, *section);
      spdlog::debug("loading plugin uri={}", uri);
      absl::StatusOr<std::unique_ptr<Plugin>> p = reg->init(ic);
      if (p.ok()) {
        if (absl::Status s = ic.config().CheckAllRead(); !s.ok())
          return s;
        res.instance = *std::move(p);
        continue;
      }
      res.status = p.status();
    }
    if (absl::IsUnimplemented(res.status) && !required) {
      spdlog::info("plugin skipped uri={} reason={:?}", uri, std::string(res.status.message()));
    } else if (required) {
      return Annotate(res.status, fmt::format("load plugin {}", uri));
    } else {
      spdlog::warn("plugin failed to load uri={} error={:?}", uri,
                   std::string(res.status.message()));
    }
  }
  return absl::OkStatus();
}

void Registry::Shutdown() {
  for (auto it = results_.rbegin(); it != results_.rend(); ++it) it->instance.reset();
}

}  // namespace berth::plugin
