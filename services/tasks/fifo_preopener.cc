#include "services/tasks/fifo_preopener.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <set>
#include <string_view>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace berth::services::tasks {
namespace {

namespace fs = std::filesystem;

// The ID of a fifo named ID-stdin, ID-stdout or ID-stderr (as cio names them); "" for any other.
std::string_view StdioId(std::string_view name) {
  for (std::string_view suffix : {"-stdin", "-stdout", "-stderr"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return name.substr(0, name.size() - suffix.size());
  }
  return {};
}

// cio makes each set with os.MkdirTemp(ROOT, ""): a name of decimal digits.
bool IsSetName(std::string_view name) {
  return !name.empty() && name.find_first_not_of("0123456789") == std::string_view::npos;
}

// The normal form of a client's fifo path (ROOT/SET/NAME), or "" for anything else: URIs,
// relative paths, other names.
std::string FifoPath(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return "";
  fs::path p = fs::path(path).lexically_normal();
  if (StdioId(p.filename().string()).empty() || !IsSetName(p.parent_path().filename().string()))
    return "";
  return p.string();
}

// Owned by `uid` and writable by nobody else.
bool OwnedOnlyBy(const struct stat& st, uid_t uid) {
  return st.st_uid == uid && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

}  // namespace

FifoPreopener::FifoPreopener(Options options) : options_(options), uid_(::geteuid()) {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!inotify_.valid() || !wake_.valid()) {
    spdlog::warn("fifo preopener: {}: client fifos are not opened ahead", std::strerror(errno));
    inotify_.reset();
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

FifoPreopener::~FifoPreopener() {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
}

void FifoPreopener::Wake() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void FifoPreopener::Release(const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  Learn(paths);
  const absl::Time now = absl::Now();
  for (const std::string& p : paths) {
    if (std::string f = FifoPath(p); !f.empty())
      Let(f, now);
  }
}

void FifoPreopener::Expect(const std::string& key, const std::vector<std::string>& paths) {
  {
    std::lock_guard lock(mu_);
    Learn(paths);
    Expected& e = expected_[key];
    for (const std::string& p : e.paths) held_.erase(p);  // a key named again: the old exec is gone
    e.paths.clear();
    for (const std::string& p : paths) {
      std::string f = FifoPath(p);
      if (f.empty())
        continue;
      // The client named them for this exec: they are its, whatever their ID.
      if (inotify_.valid() && !held_.contains(f) && !released_.contains(f) &&
          held_.size() < options_.max_held)
        (void)Hold(AT_FDCWD, f, f, /*set_wd=*/-1);
      e.paths.push_back(std::move(f));
    }
    e.since = absl::Now();
  }
  Wake();  // so that the loop expires it in time
}

void FifoPreopener::ReleaseExpected(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = expected_.find(key);
  if (it == expected_.end())
    return;
  const absl::Time now = absl::Now();
  for (const std::string& p : it->second.paths) Let(p, now);
  expected_.erase(it);
}

size_t FifoPreopener::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void FifoPreopener::Learn(const std::vector<std::string>& paths) {
  if (!inotify_.valid())
    return;
  for (const std::string& p : paths) {
    std::string fifo = FifoPath(p);
    if (fifo.empty())
      continue;
    std::string root = fs::path(fifo).parent_path().parent_path().string();
    if (root.size() <= 1 || roots_.size() >= options_.max_roots)
      continue;
    bool known = false;
    for (const auto& [wd, path] : roots_) known = known || path == root;
    struct stat st;
    if (known || ::lstat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || !OwnedOnlyBy(st, uid_))
      continue;
    int wd =
        ::inotify_add_watch(inotify_.get(), root.c_str(),
                            IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd < 0) {
      spdlog::warn("fifo preopener: watch {}: {}", root, std::strerror(errno));
      continue;
    }
    roots_[wd] = root;
    spdlog::info("fifo preopener: opening client fifos made under {} ahead", root);
  }
}

void FifoPreopener::Loop() {
  for (;;) {
    int timeout_ms;
    {
      std::lock_guard lock(mu_);
      if (stopping_)
        return;
      Expire(absl::Now());
      // Nothing to expire: sleep until an event comes.
      timeout_ms =
          sets_.empty() && held_.empty() && expected_.empty() && released_.empty() ? -1 : 500;
    }
    struct pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
      spdlog::warn("fifo preopener: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof(n));
    }
    if (fds[0].revents & POLLIN)
      ReadEvents();
  }
}

void FifoPreopener::ReadEvents() {
  alignas(struct inotify_event) char buf[16384];
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof(buf));
    if (n <= 0)
      return;  // EAGAIN: all read
    std::lock_guard lock(mu_);
    for (char* at = buf; at < buf + n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(at);
      at += sizeof(struct inotify_event) + ev->len;
      const std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      if (auto root = roots_.find(ev->wd); root != roots_.end()) {
        if (ev->mask & IN_IGNORED) {
          roots_.erase(root);  // removed, or its filesystem unmounted
        } else if ((ev->mask & IN_CREATE) && (ev->mask & IN_ISDIR) && IsSetName(name)) {
          WatchSet(root->second + "/" + name);
        } else if (ev->mask & IN_ISDIR) {
          // Removed or moved away. (The set's own IN_DELETE_SELF would only come once the
          // directory descriptor kept in Set is closed.)
          const std::string path = root->second + "/" + name;
          auto set = std::find_if(sets_.begin(), sets_.end(),
                                  [&](const auto& s) { return s.second.path == path; });
          if (set != sets_.end())
            DropSet(set->first);
        }
      } else if (auto set = sets_.find(ev->wd); set != sets_.end()) {
        if (ev->mask & IN_IGNORED) {
          DropSet(ev->wd);
        } else if ((ev->mask & IN_CREATE) && !(ev->mask & IN_ISDIR)) {
          Open(ev->wd, set->second, name);
        }
      }
    }
  }
}

void FifoPreopener::WatchSet(const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!dir.valid() || ::fstat(dir.get(), &st) != 0 || !OwnedOnlyBy(st, uid_))
    return;
  int wd =
      ::inotify_add_watch(inotify_.get(), path.c_str(), IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW);
  if (wd < 0 || sets_.contains(wd))
    return;
  Set& set = sets_[wd];
  set.path = path;
  set.watch_until = absl::Now() + options_.set_watch;
  // What was made before the watch began.
  UniqueFd list(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  set.dir = std::move(dir);
  DIR* d = list.valid() ? ::fdopendir(list.get()) : nullptr;
  if (d == nullptr)
    return;
  (void)list.release();  // closedir closes it
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type == DT_FIFO || e->d_type == DT_UNKNOWN)
      Open(wd, set, e->d_name);
  }
  ::closedir(d);
}

void FifoPreopener::Open(int set_wd, Set& set, const std::string& name) {
  const std::string id(StdioId(name));
  if (id.empty() || held_.size() >= options_.max_held)
    return;
  std::string path = set.path + "/" + name;
  if (held_.contains(path) || released_.contains(path))
    return;
  if (options_.awaited) {
    auto [it, fresh] = set.awaited.try_emplace(id, false);
    if (fresh)
      it->second = options_.awaited(id);
    if (!it->second)
      return;
  }
  (void)Hold(set.dir.get(), name, path, set_wd);
}

bool FifoPreopener::Hold(int dir, const std::string& name, const std::string& path, int set_wd) {
  // Looked at through an O_PATH descriptor, opened only when it is a fifo of berthd's user (in a
  // watched set, one whose directory is still writable by that user alone: its mode may have
  // changed since WatchSet looked): no symlink is followed and no other kind of file is opened.
  struct stat st;
  if (dir != AT_FDCWD && (::fstat(dir, &st) != 0 || !OwnedOnlyBy(st, uid_)))
    return false;
  UniqueFd at(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!at.valid() || ::fstat(at.get(), &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_uid != uid_)
    return false;
  UniqueFd fd(
      ::open(fmt::format("/proc/self/fd/{}", at.get()).c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid())
    return false;
  held_[path] = Held{.fd = std::move(fd), .set_wd = set_wd, .since = absl::Now()};
  return true;
}

void FifoPreopener::Let(const std::string& path, absl::Time now) {
  held_.erase(path);
  released_[path] = now;
}

void FifoPreopener::DropSet(int wd) {
  for (auto it = held_.begin(); it != held_.end();) {
    it = it->second.set_wd == wd ? held_.erase(it) : std::next(it);
  }
  sets_.erase(wd);
  (void)::inotify_rm_watch(inotify_.get(), wd);  // EINVAL when the kernel dropped it already
}

void FifoPreopener::Expire(absl::Time now) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (now - it->second.since < options_.max_hold) {
      ++it;
      continue;
    }
    spdlog::warn("fifo preopener: {} not claimed by a task in {}; closed", it->first,
                 absl::FormatDuration(options_.max_hold));
    it = held_.erase(it);
  }
  for (auto it = expected_.begin(); it != expected_.end();) {
    it = now - it->second.since >= options_.max_hold ? expected_.erase(it) : std::next(it);
  }
  for (auto it = released_.begin(); it != released_.end();) {
    it = now - it->second >= options_.set_watch ? released_.erase(it) : std::next(it);
  }
  // A set stays watched while it has fifos held, for its removal.
  std::set<int> busy;
  for (const auto& [path, h] : held_) busy.insert(h.set_wd);
  std::vector<int> done;
  for (const auto& [wd, set] : sets_) {
    if (!busy.contains(wd) && now >= set.watch_until)
      done.push_back(wd);
  }
  for (int wd : done) DropSet(wd);
}

}  // namespace berth::services::tasks
