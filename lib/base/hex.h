#pragma once

// The value of one hexadecimal digit, for the escape decoders (filter strings, stdio URIs).

namespace berth {

// 0-15 for [0-9a-fA-F], -1 for any other character.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

}  // namespace berth
