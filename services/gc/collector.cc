#include "services/gc/collector.h"

#include <chrono>
#include <ctime>

#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

#include "lib/base/status_macros.h"
#include "services/content/service.h"
#include "services/metadata/gc.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/plugin.h"

namespace berth::gc {
namespace {

using metadata::GcGraph;
using metadata::ResourceKey;
using metadata::Stmt;
using metadata::Tx;

constexpr auto kDebounce = std::chrono::milliseconds(100);

// Runs `sql` and calls fn(stmt) for each row.
template <typename Fn>
absl::Status ForEach(Tx& tx, const char* sql, Fn fn) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query(sql));
  return metadata::ForEachRow(q, fn);
}

// Reads every object and reference into a graph; `expired` gets the leases past their time.
absl::Status BuildGraph(Tx& tx, GcGraph& g, std::vector<ResourceKey>& expired) {
  const int64_t now = std::time(nullptr);
  BERTH_RETURN_IF_ERROR(ForEach(
      tx, "SELECT namespace, name, labels, target FROM images", [&](Stmt& q) -> absl::Status {
        ResourceKey k{q.Text(0), "images", q.Text(1)};
        g.roots.push_back(k);
        BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(2)));
        g.AddLabelRefs(k, labels);
        nlohmann::json target = nlohmann::json::parse(q.Text(3), nullptr, false);
        if (target.is_object() && target.value("digest", "") != "") {
          g.AddRef(k, {k.ns, "content", target.value("digest", "")});
        }
        return absl::OkStatus();
      }));
  BERTH_RETURN_IF_ERROR(
      ForEach(tx, "SELECT namespace, id, labels, snapshotter, snapshot_key FROM containers",
              [&](Stmt& q) -> absl::Status {
                ResourceKey k{q.Text(0), "containers", q.Text(1)};
                g.roots.push_back(k);
                BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(2)));
                g.AddLabelRefs(k, labels);
                if (!q.Text(4).empty())
                  g.AddRef(k, {k.ns, "snapshots/" + q.Text(3), q.Text(4)});
                return absl::OkStatus();
              }));
  BERTH_RETURN_IF_ERROR(
      ForEach(tx, "SELECT namespace, id, labels FROM leases", [&](Stmt& q) -> absl::Status {
        ResourceKey k{q.Text(0), "leases", q.Text(1)};
        BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(2)));
        if (metadata::LeaseExpired(labels, now)) {
          expired.push_back(k);
        } else {
          g.roots.push_back(k);
        }
        return absl::OkStatus();
      }));
  BERTH_RETURN_IF_ERROR(ForEach(
      tx, "SELECT namespace, lease, type, id FROM lease_resources", [&](Stmt& q) -> absl::Status {
        g.AddRef({q.Text(0), "leases", q.Text(1)}, {q.Text(0), q.Text(2), q.Text(3)});
        return absl::OkStatus();
      }));
  BERTH_RETURN_IF_ERROR(
      ForEach(tx, "SELECT namespace, digest, labels FROM content", [&](Stmt& q) -> absl::Status {
        BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(2)));
        g.AddLabelRefs({q.Text(0), "content", q.Text(1)}, labels);
        return absl::OkStatus();
      }));
  return ForEach(tx, "SELECT namespace, snapshotter, key, parent, labels FROM snapshots",
                 [&](Stmt& q) -> absl::Status {
                   ResourceKey k{q.Text(0), "snapshots/" + q.Text(1), q.Text(2)};
                   BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(4)));
                   g.AddLabelRefs(k, labels);
                   if (!q.Text(3).empty())
                     g.AddRef(k, {k.ns, k.type, q.Text(3)});
                   return absl::OkStatus();
                 });
}

// Deletes expired leases and unmarked content records, in the caller's transaction.
absl::Status Sweep(Tx& tx, const std::set<ResourceKey>& live,
                   const std::vector<ResourceKey>& expired, CollectStats& stats) {
  for (const ResourceKey& l : expired) {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM leases WHERE namespace = ? AND id = ?"));
    q.Bind(1, l.ns).Bind(2, l.id);
    BERTH_RETURN_IF_ERROR(q.Run());
    ++stats.leases;
  }
  std::vector<ResourceKey> dead;
  BERTH_RETURN_IF_ERROR(ForEach(tx, "SELECT namespace, digest FROM content", [&](Stmt& q) {
    ResourceKey k{q.Text(0), "content", q.Text(1)};
    if (!live.contains(k))
      dead.push_back(std::move(k));
    return absl::OkStatus();
  }));
  for (const ResourceKey& k : dead) {
    BERTH_ASSIGN_OR_RETURN(Stmt q,
                           tx.Query("DELETE FROM content WHERE namespace = ? AND digest = ?"));
    q.Bind(1, k.ns).Bind(2, k.id);
    BERTH_RETURN_IF_ERROR(q.Run());
    ++stats.content_records;
  }
  // A snapshot's parent is live whenever the snapshot is, so whole chains go at once and no
  // record is left with a missing parent.
  dead.clear();
  BERTH_RETURN_IF_ERROR(
      ForEach(tx, "SELECT namespace, snapshotter, key FROM snapshots", [&](Stmt& q) {
        ResourceKey k{q.Text(0), "snapshots/" + q.Text(1), q.Text(2)};
        if (!live.contains(k))
          dead.push_back(std::move(k));
        return absl::OkStatus();
      }));
  for (const ResourceKey& k : dead) {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM snapshots WHERE namespace = ? AND "
                                            "snapshotter = ? AND key = ?"));
    q.Bind(1, k.ns).Bind(2, k.type.substr(sizeof("snapshots/") - 1)).Bind(3, k.id);
    BERTH_RETURN_IF_ERROR(q.Run());
    ++stats.snapshot_records;
  }
  return absl::OkStatus();
}

}  // namespace

Collector::Collector(metadata::Db& db, content::ContentStore& content, content::LocalStore& local,
                     snapshots::SnapshotStores* snapshots, std::chrono::seconds ingest_expiry)
    : db_(db),
      content_(content),
      local_(local),
      snapshots_(snapshots),
      ingest_expiry_(ingest_expiry),
      thread_([this] { Loop(); }) {}

Collector::~Collector() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Collector::Trigger() {
  {
    std::lock_guard l(mu_);
    pending_ = true;
  }
  cv_.notify_all();
}

void Collector::Loop() {
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return pending_ || stopping_; });
    if (stopping_)
      return;
    cv_.wait_for(l, kDebounce, [&] { return stopping_; });  // let triggers gather
    if (stopping_)
      return;
    if (!pending_)
      continue;  // a CollectNow meanwhile did it
    pending_ = false;
    l.unlock();
    absl::StatusOr<CollectStats> s = Run();
    if (!s.ok())
      spdlog::warn("garbage collection failed error={}", s.status().ToString());
    l.lock();
  }
}

absl::Status Collector::CollectNow() {
  {
    std::lock_guard l(mu_);
    pending_ = false;
  }
  return Run().status();
}

absl::StatusOr<CollectStats> Collector::Run() {
  std::lock_guard one(collect_mu_);
  return Collect();
}

absl::StatusOr<CollectStats> Collector::Collect() {
  auto start = std::chrono::steady_clock::now();
  CollectStats stats;
  // The commit lock keeps a blob from being committed between the sweep of records and the
  // sweep of blobs (it would have no record yet and be removed).
  absl::MutexLock commits(&content_.commit_lock());
  std::set<ResourceKey> live;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    GcGraph g;
    std::vector<ResourceKey> expired;
    BERTH_RETURN_IF_ERROR(BuildGraph(tx, g, expired));
    live = metadata::Mark(g);
    return Sweep(tx, live, expired, stats);
  }));
  std::set<std::string> recorded;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) {
    return ForEach(tx, "SELECT DISTINCT digest FROM content", [&](Stmt& q) {
      recorded.insert(q.Text(0));
      return absl::OkStatus();
    });
  }));
  for (const std::string& d : local_.ListBlobs()) {
    if (recorded.contains(d))
      continue;
    absl::Status s = local_.DeleteBlob(d);
    if (s.ok())
      ++stats.blobs;
  }
  if (snapshots_ != nullptr) {
    for (const auto& [name, store] : snapshots_->all()) {
      absl::StatusOr<int> n = store->SweepBackend();
      if (!n.ok()) {
        spdlog::warn("garbage collection: snapshotter {}: {}", name, n.status().ToString());
      } else {
        stats.snapshots += *n;
      }
    }
  }
  SweepIngests(live, stats);
  // As containerd, a collection that removed nothing is only a debug line (one per container
  // deletion otherwise).
  const bool removed = stats.content_records + stats.leases + stats.blobs + stats.snapshot_records +
                           stats.snapshots + stats.ingests >
                       0;
  spdlog::log(removed ? spdlog::level::info : spdlog::level::debug,
              "garbage collected records={} leases={} blobs={} snapshot_records={} snapshots={} "
              "ingests={} ms={}",
              stats.content_records, stats.leases, stats.blobs, stats.snapshot_records,
              stats.snapshots, stats.ingests,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count());
  return stats;
}

void Collector::SweepIngests(const std::set<ResourceKey>& live, CollectStats& stats) {
  const int64_t cutoff =
      metadata::NowNanos() -
      std::chrono::duration_cast<std::chrono::nanoseconds>(ingest_expiry_).count();
  for (const content::IngestStatus& in : local_.ListIngests()) {
    // Backend refs are "<namespace>@<ref>" (content_store.cc).
    size_t at = in.ref.find('@');
    if (at != std::string::npos &&
        live.contains({in.ref.substr(0, at), "ingests", in.ref.substr(at + 1)}))
      continue;
    if (in.updated_at > cutoff)
      continue;
    // Unavailable while a writer holds it: it is in use after all.
    if (local_.Abort(in.ref).ok())
      ++stats.ingests;
  }
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGc,
      .id = "scheduler",
      .deps = {plugin::Type::kMetadata, plugin::Type::kContent, plugin::Type::kService},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* cp,
                               ic.GetSingle<content::ContentPlugin>(plugin::Type::kContent));
        absl::StatusOr<snapshots::SnapshotStores*> snaps = snapshots::GetStores(ic);
        auto c = std::make_unique<Collector>(md->db(), cp->store(), cp->local(),
                                             snaps.ok() ? *snaps : nullptr);
        // Collect what a previous run left behind before the API is served, so that a
        // collection never races the first clients' writes.
        if (absl::StatusOr<CollectStats> s = c->Run(); !s.ok()) {
          spdlog::warn("start-up garbage collection failed error={}", s.status().ToString());
        }
        return c;
      },
  });
}

}  // namespace berth::gc
