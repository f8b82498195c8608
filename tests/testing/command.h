#pragma once

// Runs a program and captures its output, for tests that drive real binaries (berthd, ctr).

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "lib/base/unique_fd.h"

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

// A descriptor at `at_least` or above without close-on-exec, as one a program leaks to what it
// starts: the write end of a pipe whose read end is closed.
UniqueFd LeakableDescriptor(int at_least);

// Where the standard streams of a process started by SpawnInBackground go.
struct BackgroundIo {
  std::string output;       // the file stdout goes to
  bool truncate = false;    // empty `output` first; else append to it
  bool with_stderr = true;  // stderr to `output` too; else to /dev/null
  int stdin_fd = -1;        // -1: /dev/null
};

// Starts argv[0] (searched in PATH) without waiting for it: its pid, which the caller waits
// for and kills by that pid; -1 when it could not be started (`*error`, if given, is then the
// errno-style reason).
pid_t SpawnInBackground(const std::vector<std::string>& argv, const BackgroundIo& io,
                        int* error = nullptr);

// Directory of the binaries being tested: $BERTH_BIN_DIR, else the build's bin/.
std::string BinDir();

// The source tree: $BERTH_SOURCE_DIR, else the one this build was configured from.
std::string SourceDir();

// Full path to a berth binary, e.g. BinPath("berthd").
std::string BinPath(const std::string& name);

// True when `name` is found in PATH.
bool HaveProgram(const std::string& name);

// The non-empty lines of a command's output.
std::vector<std::string> Lines(const std::string& s);

// Builds the test images into `outdir` with tests/fixtures/make-images.sh (busybox-static and
// Debian's tools, no network): oci/<name> layouts, <name>.docker.tar archives and more.
CommandResult MakeTestImages(const std::string& outdir);

}  // namespace berth::testing
