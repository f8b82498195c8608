#pragma once

// A close-on-exec pipe as two UniqueFds.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"

namespace berth {

inline absl::Status MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return ErrnoError(errno, "pipe");
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  return absl::OkStatus();
}

}  // namespace berth
