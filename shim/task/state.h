#pragma once

// The state of a task's process (init or exec) as an enum with predicates (containerd's
// initState): every RPC checks its predicate and fails with FailedPrecondition naming the
// state, e.g. `task "web" is stopped: cannot pause`.

#include <string_view>

namespace berth::shim {

enum class State { kCreated, kRunning, kPaused, kStopped };

constexpr std::string_view Name(State s) {
  switch (s) {
    case State::kCreated:
      return "created";
    case State::kRunning:
      return "running";
    case State::kPaused:
      return "paused";
    case State::kStopped:
      return "stopped";
  }
  return "unknown";
}

constexpr bool CanStart(State s) {
  return s == State::kCreated;
}

constexpr bool CanPause(State s) {
  return s == State::kRunning;
}

constexpr bool CanResume(State s) {
  return s == State::kPaused;
}

// Not a paused one (as containerd): the exec's process would join the frozen cgroup and
// freeze before it could report that it started.
constexpr bool CanExecInto(State s) {
  return s == State::kRunning;
}

constexpr bool CanSignal(State s) {
  return s != State::kStopped;
}

// A created process is killed by delete; a running or paused one must be stopped first.
constexpr bool CanDelete(State s) {
  return s == State::kCreated || s == State::kStopped;
}

}  // namespace berth::shim
