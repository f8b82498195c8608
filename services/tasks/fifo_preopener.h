#pragma once

// FifoPreopener opens a client's stdio fifos as soon as the client makes them, so that the
// client's own opens of them return at once instead of when the task's shim opens the other
// ends.
//
// Why: containerd's cio package (ctr, and Go clients built on containerd's client) makes its
// fifos right before tasks.Create and opens each in a goroutine whose open(2) blocks until a
// peer comes. On a 2-CPU machine two such goroutines hold both of the client's Go Ps, and the
// replies to its next calls (containers.Get, snapshots.Mounts) wait until Go's sysmon takes a
// P back: up to 10 ms (bench/README.md, "ctr's stalls, corrected").
//
// How: the directories under which clients make their fifo sets ("ROOT/SET/ID-stdout", as cio
// does, SET a name of decimal digits) are learnt from the stdio paths that tasks.Create and
// tasks.Exec name. A ROOT is watched (inotify) only when berthd's user owns it and nobody else
// may write in it. A new SET owned by that user and named as cio names them is watched for
// `set_watch`; in it each fifo of that user named ID-stdin, ID-stdout or ID-stderr is opened
// read-write and non-blocking (a peer for a reader and a writer alike) when `awaited(ID)`. The
// service's is true for a container of berthd's whose task is not created yet: a ROOT may be
// shared (ctr's default /run/containerd/fifo is containerd's clients' too), and a set of
// theirs held here would keep their readers from EOF. Nothing else is opened, and nothing is
// ever read or written.
//
// berthd holds such a fifo until the shim has opened its own end, since a client's reader
// whose last writer goes reads EOF (and its writer whose last reader goes, EPIPE):
//  - Release(paths) after tasks.Create (the shim opens the init's stdio in its create);
//    ReleaseExpected(key) after an exec's start or delete (the shim opens an exec's stdio when
//    it starts it). Expect(key, paths), at tasks.Exec, also opens the exec's fifos at once if
//    they were not yet: their client named them, so they are its whatever their ID, and its
//    opens of them block until the exec's start otherwise;
//  - the SET's removal (its client gave up: cio removes the SET when it closes);
//  - `max_hold` (a client killed between making its fifos and its create, or another
//    daemon's client that runs a container of the same id as one of berthd's, at once).
// A path that has been released is not opened for `set_watch` after (its creation may still be
// in the queue of events when the create that names it has been answered: opened then, it
// would be held with nobody to release it, and the client's reader would wait for EOF).
//
// Thread-safe. One thread of its own reads the watches; the calls take a mutex for
// microseconds. A failure of inotify only means fifos that are not opened early.

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

#include "lib/base/unique_fd.h"

namespace berth::services::tasks {

class FifoPreopener {
 public:
  struct Options {
    size_t max_roots = 8;   // ROOTs watched at once
    size_t max_held = 384;  // fifos held at once
    absl::Duration set_watch = absl::Seconds(5);
    absl::Duration max_hold = absl::Seconds(60);
    // Whether the fifos named ID-* of a set are to be opened; called on the preopener's
    // thread, once per ID and set. Empty: every ID.
    std::function<bool(const std::string& id)> awaited;
  };

  explicit FifoPreopener(Options options);

  FifoPreopener() : FifoPreopener(Options{}) {}

  ~FifoPreopener();

  FifoPreopener(const FifoPreopener&) = delete;
  FifoPreopener& operator=(const FifoPreopener&) = delete;

  // Learns the ROOT of each stdio path that has the form of a client's fifo (an absolute path
  // ending in -stdin, -stdout or -stderr; URIs and empty paths are skipped), then closes
  // what is held of these paths.
  void Release(const std::vector<std::string>& paths);

  // For an exec: learns as Release does and opens the fifos of `paths` (those of berthd's
  // user, as the watcher would); what is held of them stays open until ReleaseExpected(key).
  void Expect(const std::string& key, const std::vector<std::string>& paths);
  void ReleaseExpected(const std::string& key);

  size_t held() const;  // fifos open now

 private:
  struct Set {
    std::string path;
    UniqueFd dir;
    absl::Time watch_until;
    std::map<std::string, bool> awaited;  // by ID: what options_.awaited said
  };

  struct Held {
    UniqueFd fd;
    int set_wd;
    absl::Time since;
  };

  struct Expected {
    std::vector<std::string> paths;
    absl::Time since;
  };

  void Loop();
  void ReadEvents();
  void Learn(const std::vector<std::string>& paths);         // mu_ held
  void WatchSet(const std::string& path);                    // mu_ held
  void Open(int set_wd, Set& set, const std::string& name);  // mu_ held
  // Opens `name` under `dir` (a descriptor or AT_FDCWD) into held_[path]; mu_ held.
  bool Hold(int dir, const std::string& name, const std::string& path, int set_wd);
  void Let(const std::string& path, absl::Time now);  // closes and remembers; mu_ held
  void DropSet(int wd);                               // mu_ held
  void Expire(absl::Time now);                        // mu_ held
  void Wake();

  const Options options_;
  const uid_t uid_;
  UniqueFd inotify_;
  UniqueFd wake_;  // eventfd: stop, or something to expire
  mutable std::mutex mu_;
  std::map<int, std::string> roots_;            // by watch descriptor; guarded by mu_
  std::map<int, Set> sets_;                     // by watch descriptor; guarded by mu_
  std::map<std::string, Held> held_;            // by fifo path; guarded by mu_
  std::map<std::string, Expected> expected_;    // guarded by mu_
  std::map<std::string, absl::Time> released_;  // fifo path -> when; guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::services::tasks
