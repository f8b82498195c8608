#include "lib/base/identifiers.h"

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsSeparator(char c) {
  return c == '.' || c == '_' || c == '-';
}

// True when id is alnum runs joined by single separators.
bool MatchesGrammar(std::string_view id) {
  bool after_alnum = false;
  for (char c : id) {
    if (IsAlnum(c)) {
      after_alnum = true;
    } else if (IsSeparator(c) && after_alnum) {
      after_alnum = false;
    } else {
      return false;
    }
  }
  return after_alnum;
}

}  // namespace

absl::Status ValidateIdentifier(std::string_view id) {
  return ValidateIdentifier("identifier", id);
}

absl::Status ValidateIdentifier(std::string_view kind, std::string_view id) {
  if (id.empty())
    return InvalidArgument(fmt::format("{} must not be empty", kind));
  if (id.size() > kMaxIdentifierLength) {
    return InvalidArgument(fmt::format("{} {:?}: longer than the maximum of {} characters", kind,
                                       id, kMaxIdentifierLength));
  }
  if (!MatchesGrammar(id)) {
    return InvalidArgument(fmt::format(
        "{} {:?}: must be letters and digits, joined by single '.', '_' or '-'", kind, id));
  }
  return absl::OkStatus();
}

}  // namespace berth
