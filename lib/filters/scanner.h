#pragma once

// The tokens of the filter language (containerd's filters/scanner.go, with '|' as a token).
// Positions are byte offsets into the input. Whitespace between tokens is skipped.

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::filters {

enum class TokenKind {
  kEnd,       // end of input
  kField,     // [A-Za-z0-9_-]+
  kValue,     // an unquoted value: a run of printable characters other than ',' and '|'
  kQuoted,    // "…", or /…/ and |…| after ~=; text is the decoded string
  kDot,       // '.'
  kComma,     // ','
  kPipe,      // '|'
  kOperator,  // a run of '=', '!' and '~'; the parser decides whether it is one it knows
  kOther,     // one character that starts no token here
  kError,     // a malformed quoted string; text is the reason, pos where it is
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t pos = 0;    // first byte of the token
  size_t end = 0;    // one past its last byte
  std::string text;  // field, value or operator text; decoded text; or the error
};

// What the parser expects next, which decides how some characters scan.
enum class ScanMode {
  kField,  // field paths, separators and operators
  kValue,  // after == or !=: a value or a "quoted" value
  kRegex,  // after ~=: also /…/ and |…| quoted values, as containerd allows
};

// Splits a filter into tokens. Holds a view of the input, which must outlive it. Cheap to copy,
// so a copy is how the parser looks ahead.
class Scanner {
 public:
  explicit Scanner(std::string_view input) : input_(input) {}

  // Reads the next token.
  Token Next(ScanMode mode);

  // Returns what Next(mode) would, without consuming it.
  Token Peek(ScanMode mode) const {
    Scanner copy = *this;
    return copy.Next(mode);
  }

 private:
  Token Take(TokenKind kind, size_t start, size_t end);
  Token ScanQuoted(size_t start);
  template <typename Pred>
  Token ScanRun(TokenKind kind, size_t start, Pred pred);

  std::string_view input_;
  size_t pos_ = 0;
};

// The offset of the first byte of input that is not part of well-formed UTF-8, or npos.
size_t FindInvalidUtf8(std::string_view input);

}  // namespace berth::filters
