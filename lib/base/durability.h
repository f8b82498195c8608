#pragma once

namespace berth {

// When a committed write to one of berth's SQLite databases (WAL mode) reaches the disk.
//
// kSynced: the commit fsyncs the log before it returns; the change survives a power loss.
// kDeferred: the commit returns once the log is written; the change becomes durable with the
// next kSynced commit on the same database (or an explicit sync). A power loss can lose it,
// together with every later deferred commit, but never a kSynced commit that came after it: the
// log is replayed in order, so what survives is always a prefix of the commits.
//
// Deferred commits are for changes whose loss is harmless because nothing outside the
// database has acted on them yet, or because whatever did act on them dies with the power
// (see the callers).
enum class Durability { kSynced, kDeferred };

}  // namespace berth
