#include "lib/filters/quote.h"

#include <optional>

#include "fmt/format.h"

#include "lib/base/hex.h"

namespace berth::filters {
namespace {

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes one escape sequence; `in` starts at its backslash. Returns the number of bytes it
// spans, or nullopt with `error` set.
std::optional<size_t> DecodeEscape(std::string_view in, char quote, std::string& out,
                                   std::string& error) {
  if (in.size() < 2) {
    error = "unterminated escape sequence";
    return std::nullopt;
  }
  const char c = in[1];
  constexpr std::string_view kSimple = "abfnrtv\\";
  constexpr std::string_view kDecoded = "\a\b\f\n\r\t\v\\";
  if (size_t i = kSimple.find(c); i != std::string_view::npos) {
    out += kDecoded[i];
    return 2;
  }
  if (c == quote) {
    out += quote;
    return 2;
  }
  if (c >= '0' && c <= '7') {
    unsigned v = 0;
    for (size_t i = 1; i < 4; ++i) {
      if (i >= in.size() || in[i] < '0' || in[i] > '7') {
        error = "octal escape needs three digits (\\000 to \\377)";
        return std::nullopt;
      }
      v = v * 8 + (in[i] - '0');
    }
    if (v > 0xFF) {
      error = "octal escape above \\377";
      return std::nullopt;
    }
    out += static_cast<char>(v);
    return 4;
  }
  size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
  if (digits == 0) {
    error = "invalid escape sequence";
    if (c > ' ' && c < 0x7F)
      error += fmt::format(" \\{}", c);
    return std::nullopt;
  }
  char32_t v = 0;
  for (size_t i = 2; i < 2 + digits; ++i) {
    int d = i < in.size() ? HexDigitValue(in[i]) : -1;
    if (d < 0) {
      error = fmt::format("\\{} escape needs {} hex digits", c, digits);
      return std::nullopt;
    }
    v = v * 16 + static_cast<char32_t>(d);
  }
  if (c == 'x') {
    out += static_cast<char>(v);
  } else if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    error = "escape is not a valid Unicode code point";
    return std::nullopt;
  } else {
    AppendUtf8(v, out);
  }
  return 2 + digits;
}

}  // namespace

Unquoted Unquote(std::string_view input, size_t start) {
  Unquoted r;
  const char quote = input[start];
  size_t i = start + 1;
  while (i < input.size() && input[i] != '\n') {
    const char c = input[i];
    if (c == quote) {
      r.end = i + 1;
      return r;
    }
    if (c == '\0') {
      r.error = "NUL in quoted string";
      r.error_pos = i;
      return r;
    }
    if (c != '\\') {
      r.text += c;
      ++i;
      continue;
    }
    std::optional<size_t> n = DecodeEscape(input.substr(i), quote, r.text, r.error);
    if (!n) {
      r.error_pos = i;
      return r;
    }
    i += *n;
  }
  r.error = "unterminated quoted string";
  r.error_pos = start;
  return r;
}

}  // namespace berth::filters
