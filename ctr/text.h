#pragma once

// Small string helpers shared by bctr's flag parsers, user database and spec builder.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace berth::ctr {

// Splits at every `sep`; a trailing `sep` gives a trailing empty piece, "" gives none.
inline std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep)
    out.emplace_back();
  return out;
}

inline std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A decimal uint32 without sign or spaces; nullopt otherwise.
inline std::optional<uint32_t> ParseUint32(const std::string& s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit))
    return std::nullopt;
  uint64_t v = std::stoull(s);
  if (v > 0xffffffffULL)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace berth::ctr
