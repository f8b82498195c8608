#pragma once

// Quoted strings of the filter language. The escapes are Go's string-literal escapes, as in
// containerd's filters/quote.go: \a \b \f \n \r \t \v \\, the delimiter itself, \xHH (one raw
// byte), \NNN (octal byte, at most \377), \uHHHH and \UHHHHHHHH (a code point, stored as UTF-8).
// Any other escape, a raw newline or NUL, or a missing closing delimiter is an error.

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::filters {

struct Unquoted {
  std::string text;      // the decoded string, when error is empty
  size_t end = 0;        // offset just past the closing delimiter
  std::string error;     // what is wrong; empty on success
  size_t error_pos = 0;  // offset in the input the error points at

  bool ok() const { return error.empty(); }
};

// Decodes the quoted string whose opening delimiter is input[start]; the closing delimiter is the
// same character. Only that delimiter may be escaped ('"' in "…", '/' in /…/, '|' in |…|).
// REQUIRES: start < input.size().
Unquoted Unquote(std::string_view input, size_t start);

}  // namespace berth::filters
