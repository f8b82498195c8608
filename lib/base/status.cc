#include "lib/base/status.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "fmt/format.h"

namespace berth {

absl::Status NotFoundError(std::string_view kind, std::string_view id) {
  return absl::NotFoundError(fmt::format("{} {:?}: not found", kind, id));
}

absl::Status AlreadyExistsError(std::string_view kind, std::string_view id) {
  return absl::AlreadyExistsError(fmt::format("{} {:?}: already exists", kind, id));
}

absl::Status InvalidArgument(std::string_view msg) {
  return absl::InvalidArgumentError(std::string(msg));
}

absl::Status FailedPrecondition(std::string_view msg) {
  return absl::FailedPreconditionError(std::string(msg));
}

absl::Status Unavailable(std::string_view msg) {
  return absl::UnavailableError(std::string(msg));
}

absl::Status Unimplemented(std::string_view msg) {
  return absl::UnimplementedError(std::string(msg));
}

absl::Status Internal(std::string_view msg) {
  return absl::InternalError(std::string(msg));
}

absl::Status ErrnoError(int err, std::string_view op) {
  char buf[256];
  const char* text = strerror_r(err, buf, sizeof(buf));  // GNU variant: returns the text
  std::string msg = fmt::format("{}: {}", op, text);
  switch (err) {
    case EBUSY:
    case ENOTEMPTY:
      return absl::FailedPreconditionError(msg);
    default:
      // ErrnoToStatus appends strerror itself; take only its code.
      return absl::Status(absl::ErrnoToStatus(err, "").code(), msg);
  }
}

absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok())
    return s;
  absl::Status out(s.code(), fmt::format("{}: {}", context, std::string(s.message())));
  s.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string_view ErrdefsName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return "not found";
    case absl::StatusCode::kAlreadyExists:
      return "already exists";
    case absl::StatusCode::kInvalidArgument:
      return "invalid argument";
    case absl::StatusCode::kFailedPrecondition:
      return "failed precondition";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kUnimplemented:
      return "not implemented";
    default:
      return "unknown";
  }
}

}  // namespace berth
