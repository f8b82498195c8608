#include "ctr/progress.h"

#include "fmt/format.h"

namespace berth::ctr {
namespace {

std::string Short(const std::string& digest) {
  size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

std::string Bar(int64_t done, int64_t size, int width) {
  int fill = size > 0 ? static_cast<int>(done * width / size) : width;
  fill = std::clamp(fill, 0, width);
  std::string s = "[" + std::string(fill, '=');
  if (fill < width)
    s += ">" + std::string(width - fill - 1, ' ');
  return s + "]";
}

}  // namespace

std::string HumanSize(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

Progress::Progress(std::FILE* out, bool tty, std::string verb)
    : out_(out), tty_(tty), verb_(std::move(verb)) {
  if (tty_) {
    render_ = std::thread([this] {
      absl::MutexLock l(&mu_);
      while (!stop_) {
        Draw();
        mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(100));
      }
    });
  }
}

Progress::~Progress() {
  Stop();
}

void Progress::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stop_)
      return;
    stop_ = true;
  }
  if (render_.joinable())
    render_.join();
  absl::MutexLock l(&mu_);
  if (tty_)
    Draw();
}

Progress::Row& Progress::RowFor(const registry::Descriptor& d) {
  for (Row& r : rows_) {
    if (r.digest == d.digest)
      return r;
  }
  rows_.push_back(Row{d.digest, d.size});
  return rows_.back();
}

void Progress::Expect(const registry::Descriptor& d) {
  absl::MutexLock l(&mu_);
  RowFor(d);
}

void Progress::Started(const registry::Descriptor& d, int64_t offset) {
  absl::MutexLock l(&mu_);
  Row& r = RowFor(d);
  r.state = State::kActive;
  r.done = offset;
  if (!tty_) {
    std::fprintf(out_, "%s: %s %s%s\n", d.digest.c_str(), verb_.c_str(), HumanSize(d.size).c_str(),
                 offset > 0 ? fmt::format(" (resuming at {})", HumanSize(offset)).c_str() : "");
    std::fflush(out_);
  }
}

void Progress::Advanced(const registry::Descriptor& d, int64_t bytes) {
  absl::MutexLock l(&mu_);
  RowFor(d).done += bytes;
}

void Progress::Finished(const registry::Descriptor& d, bool already_there) {
  absl::MutexLock l(&mu_);
  Row& r = RowFor(d);
  r.state = already_there ? State::kExists : State::kDone;
  r.done = r.size;
  if (!tty_) {
    std::fprintf(out_, "%s: %s\n", d.digest.c_str(), already_there ? "already exists" : "done");
    std::fflush(out_);
  }
}

void Progress::Retrying(const registry::Descriptor& d, const absl::Status& why) {
  absl::MutexLock l(&mu_);
  if (!tty_) {
    std::fprintf(out_, "%s: retrying: %s\n", d.digest.c_str(), std::string(why.message()).c_str());
    std::fflush(out_);
  }
}

void Progress::Draw() {
  std::string s;
  if (drawn_ > 0)
    s += fmt::format("\x1b[{}A", drawn_);  // back to the first line we drew
  int64_t total = 0, done = 0;
  for (const Row& r : rows_) {
    total += r.size;
    done += r.done;
    std::string state;
    switch (r.state) {
      case State::kWaiting:
        state = "waiting";
        break;
      case State::kActive:
        state = verb_;
        break;
      case State::kDone:
        state = "done";
        break;
      case State::kExists:
        state = "exists";
        break;
    }
    s += fmt::format("\x1b[2K{}  {:<11} {} {:>10} / {:<10}\n", Short(r.digest), state,
                     Bar(r.done, r.size, 30), HumanSize(r.done), HumanSize(r.size));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  s += fmt::format("\x1b[2Ktotal         {:>11} {} {:>10} / {:<10} {:.1f}s\n", "",
                   Bar(done, total, 30), HumanSize(done), HumanSize(total), secs);
  drawn_ = static_cast<int>(rows_.size()) + 1;
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
}

}  // namespace berth::ctr
