#include "lib/filters/scanner.h"

#include <algorithm>
#include <utility>

#include "lib/filters/quote.h"

namespace berth::filters {
namespace {

bool IsSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

bool IsFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsOperatorChar(char c) {
  return c == '=' || c == '!' || c == '~';
}

// Bytes of UTF-8 sequences (>= 0x80) count as printable; the input was checked beforehand.
bool IsValueChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > ' ' && u != 0x7F && c != ',' && c != '|';
}

// The length of the UTF-8 sequence that starts with lead byte c (1 for anything else).
size_t SequenceLength(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0xC2 && u <= 0xDF)
    return 2;
  if (u >= 0xE0 && u <= 0xEF)
    return 3;
  if (u >= 0xF0 && u <= 0xF4)
    return 4;
  return 1;
}

}  // namespace

Token Scanner::Take(TokenKind kind, size_t start, size_t end) {
  pos_ = end;
  return Token{.kind = kind,
               .pos = start,
               .end = end,
               .text = std::string(input_.substr(start, end - start))};
}

template <typename Pred>
Token Scanner::ScanRun(TokenKind kind, size_t start, Pred pred) {
  size_t end = start;
  while (end < input_.size() && pred(input_[end])) ++end;
  return Take(kind, start, end);
}

Token Scanner::ScanQuoted(size_t start) {
  Unquoted u = Unquote(input_, start);
  if (!u.ok()) {
    pos_ = input_.size();  // nothing after a broken quote is worth scanning
    return Token{.kind = TokenKind::kError, .pos = u.error_pos, .end = pos_, .text = u.error};
  }
  pos_ = u.end;
  return Token{.kind = TokenKind::kQuoted, .pos = start, .end = u.end, .text = std::move(u.text)};
}

Token Scanner::Next(ScanMode mode) {
  while (pos_ < input_.size() && IsSpace(input_[pos_])) ++pos_;
  const size_t start = pos_;
  if (start >= input_.size())
    return Take(TokenKind::kEnd, start, start);
  const char c = input_[start];
  if (c == '"' || (mode == ScanMode::kRegex && (c == '/' || c == '|')))
    return ScanQuoted(start);
  if (mode != ScanMode::kField && IsValueChar(c))
    return ScanRun(TokenKind::kValue, start, IsValueChar);
  switch (c) {
    case '.':
      return Take(TokenKind::kDot, start, start + 1);
    case ',':
      return Take(TokenKind::kComma, start, start + 1);
    case '|':
      return Take(TokenKind::kPipe, start, start + 1);
    default:
      break;
  }
  if (IsOperatorChar(c))
    return ScanRun(TokenKind::kOperator, start, IsOperatorChar);
  if (IsFieldChar(c))
    return ScanRun(TokenKind::kField, start, IsFieldChar);
  size_t end = std::min(start + SequenceLength(c), input_.size());
  return Take(TokenKind::kOther, start, end);
}

size_t FindInvalidUtf8(std::string_view input) {
  size_t i = 0;
  while (i < input.size()) {
    const auto lead = static_cast<unsigned char>(input[i]);
    const size_t n = SequenceLength(input[i]);
    if (n == 1 && lead >= 0x80)
      return i;  // a stray continuation byte, or C0, C1, F5..FF
    if (i + n > input.size())
      return i;
    // The second byte's range depends on the lead byte (no overlongs, surrogates or > U+10FFFF).
    const auto second = static_cast<unsigned char>(n > 1 ? input[i + 1] : 0x80);
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead == 0xE0)
      lo = 0xA0;
    if (lead == 0xED)
      hi = 0x9F;
    if (lead == 0xF0)
      lo = 0x90;
    if (lead == 0xF4)
      hi = 0x8F;
    if (n > 1 && (second < lo || second > hi))
      return i;
    for (size_t k = 2; k < n; ++k) {
      if ((static_cast<unsigned char>(input[i + k]) & 0xC0) != 0x80)
        return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

}  // namespace berth::filters
