#pragma once

// Internal to lib/oci: typed reads from nlohmann::json that name the offending field.
// A bad value throws FieldError{path, message}; the public parse functions (spec_json.h) catch it
// at their boundary and return InvalidArgument. Nothing outside lib/oci sees an exception.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace berth::oci::internal {

using nlohmann::json;

struct FieldError {
  std::string path;
  std::string message;
};

inline std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

inline std::string Index(const std::string& path, size_t i) {
  return fmt::format("{}[{}]", path, i);
}

[[noreturn]] inline void Fail(const std::string& path, std::string message) {
  throw FieldError{path, std::move(message)};
}

inline void Expect(bool ok, const json& j, const std::string& path, std::string_view want) {
  if (!ok)
    Fail(path, fmt::format("expected {}, got {}", want, j.type_name()));
}

template <typename T>
T As(const json& j, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    Expect(j.is_boolean(), j, path, "boolean");
    return j.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    Expect(j.is_string(), j, path, "string");
    return j.get<std::string>();
  } else if constexpr (std::is_integral_v<T>) {
    Expect(j.is_number_integer(), j, path, "integer");
    if (j.is_number_unsigned()) {
      uint64_t v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        Fail(path, fmt::format("{} is out of range", v));
      return static_cast<T>(v);
    }
    int64_t v = j.get<int64_t>();
    if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
      Fail(path, fmt::format("{} is out of range", v));
    return static_cast<T>(v);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    Expect(j.is_array(), j, path, "array");
    std::vector<std::string> out;
    for (size_t i = 0; i < j.size(); ++i) out.push_back(As<std::string>(j[i], Index(path, i)));
    return out;
  } else if constexpr (std::is_same_v<T, std::vector<uint32_t>>) {
    Expect(j.is_array(), j, path, "array");
    std::vector<uint32_t> out;
    for (size_t i = 0; i < j.size(); ++i) out.push_back(As<uint32_t>(j[i], Index(path, i)));
    return out;
  } else {
    static_assert(std::is_same_v<T, std::map<std::string, std::string>>);
    Expect(j.is_object(), j, path, "object");
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : j.items()) out[k] = As<std::string>(v, Join(path, k));
    return out;
  }
}

// Reads o[key] into `out` when present and not null.
template <typename T>
void Opt(const json& o, std::string_view key, const std::string& path, T& out) {
  auto it = o.find(key);
  if (it != o.end() && !it->is_null())
    out = As<T>(*it, Join(path, key));
}

template <typename T>
void Opt(const json& o, std::string_view key, const std::string& path, std::optional<T>& out) {
  auto it = o.find(key);
  if (it != o.end() && !it->is_null())
    out = As<T>(*it, Join(path, key));
}

// Reads o[key], which must be present.
template <typename T>
void Req(const json& o, std::string_view key, const std::string& path, T& out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null())
    Fail(Join(path, key), "required");
  out = As<T>(*it, Join(path, key));
}

// Calls fn(element, element_path) for each element of the array o[key], if present.
template <typename Fn>
void ForEach(const json& o, std::string_view key, const std::string& path, Fn fn) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null())
    return;
  std::string p = Join(path, key);
  Expect(it->is_array(), *it, p, "array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    std::string ep = Index(p, i);
    Expect(e.is_object(), e, ep, "object");
    fn(e, ep);
  }
}

// The object o[key], or nullptr when absent or null.
inline const json* Object(const json& o, std::string_view key, const std::string& path) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null())
    return nullptr;
  Expect(it->is_object(), *it, Join(path, key), "object");
  return &*it;
}

}  // namespace berth::oci::internal
