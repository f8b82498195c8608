#include "services/metadata/namespace_store.h"

#include "absl/strings/str_join.h"
#include "fmt/format.h"

#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"

namespace berth::metadata {
namespace {

// Tables that hold objects of a namespace, with the word used in messages.
constexpr std::pair<const char*, const char*> kNamespacedTables[] = {
    {"images", "images"}, {"containers", "containers"}, {"content", "content"},
    {"leases", "leases"}, {"snapshots", "snapshots"},
};

absl::StatusOr<Namespace> Load(Tx& tx, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT labels FROM namespaces WHERE name = ?"));
  q.Bind(1, name);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return NotFoundError("namespace", name);
  BERTH_ASSIGN_OR_RETURN(Labels labels, DecodeLabels(q.Text(0)));
  return Namespace{name, std::move(labels)};
}

absl::Status StoreLabels(Tx& tx, const Namespace& ns) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt q, tx.Query("UPDATE namespaces SET labels = ?, updated_at = ? WHERE name = ?"));
  q.Bind(1, EncodeLabels(ns.labels)).Bind(2, NowNanos()).Bind(3, ns.name);
  return q.Run();
}

}  // namespace

absl::Status EnsureNamespace(Tx& tx, const std::string& name) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", name));
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("INSERT OR IGNORE INTO namespaces "
                                          "(name, labels, created_at, updated_at) "
                                          "VALUES (?, '{}', ?, ?)"));
  int64_t now = NowNanos();
  q.Bind(1, name).Bind(2, now).Bind(3, now);
  return q.Run();
}

absl::StatusOr<Namespace> NamespaceStore::Get(const std::string& name) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", name));
  Namespace out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(out, Load(tx, name));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Namespace>> NamespaceStore::List() {
  std::vector<Namespace> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT name, labels FROM namespaces ORDER BY name"));
    return ForEachRow(q, [&](Stmt& r) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Labels labels, DecodeLabels(r.Text(1)));
      out.push_back(Namespace{r.Text(0), std::move(labels)});
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<Namespace> NamespaceStore::Create(const Namespace& ns) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", ns.name));
  BERTH_RETURN_IF_ERROR(
      Annotate(ValidateLabels(ns.labels), fmt::format("namespace {:?}", ns.name)));
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("INSERT OR IGNORE INTO namespaces "
                                            "(name, labels, created_at, updated_at) "
                                            "VALUES (?, ?, ?, ?)"));
    int64_t now = NowNanos();
    q.Bind(1, ns.name).Bind(2, EncodeLabels(ns.labels)).Bind(3, now).Bind(4, now);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0)
      return AlreadyExistsError("namespace", ns.name);
    return absl::OkStatus();
  }));
  return ns;
}

absl::StatusOr<Namespace> NamespaceStore::Update(const Namespace& ns,
                                                 const std::vector<std::string>& paths) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", ns.name));
  BERTH_RETURN_IF_ERROR(
      Annotate(ValidateLabels(ns.labels), fmt::format("namespace {:?}", ns.name)));
  Namespace cur;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(cur, Load(tx, ns.name));
    BERTH_RETURN_IF_ERROR(
        ApplyLabelPaths(ns.labels, paths, fmt::format("namespace {:?}", ns.name), cur.labels));
    return StoreLabels(tx, cur);
  }));
  return cur;
}

absl::Status NamespaceStore::Delete(const std::string& name) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", name));
  return db_.Update([&](Tx& tx) -> absl::Status {
    std::vector<std::string> held;
    for (const auto& [table, word] : kNamespacedTables) {
      BERTH_ASSIGN_OR_RETURN(
          Stmt q, tx.Query(fmt::format("SELECT 1 FROM {} WHERE namespace = ? LIMIT 1", table)));
      q.Bind(1, name);
      BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row)
        held.emplace_back(word);
    }
    if (!held.empty()) {
      return FailedPrecondition(fmt::format("namespace {:?}: must be empty, but still has {}", name,
                                            absl::StrJoin(held, ", ")));
    }
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM namespaces WHERE name = ?"));
    q.Bind(1, name);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0)
      return NotFoundError("namespace", name);
    return absl::OkStatus();
  });
}

}  // namespace berth::metadata
