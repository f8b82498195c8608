#pragma once

// Runs a program and captures its output, for tests that drive real binaries (berthd, ctr).

#include <chrono>
#include <string>
#include <vector>

namespace berth::testing {

struct CommandResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv[0] (searched in PATH) with stdin from /dev/null; kills it (by its pid) after
// `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Directory of the binaries being tested: $BERTH_BIN_DIR, else the build's bin/.
std::string BinDir();

// The source tree: $BERTH_SOURCE_DIR, else the one this build was configured from.
std::string SourceDir();

// Full path to a berth binary, e.g. BinPath("berthd").
std::string BinPath(const std::string& name);

// True when `name` is found in PATH.
bool HaveProgram(const std::string& name);

}  // namespace berth::testing
