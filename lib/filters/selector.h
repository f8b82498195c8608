#pragma once

// One condition of a filter, `<fieldpath>[<operator><value>]`, and how it matches an object.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/filters/adaptor.h"

namespace re2 {
class RE2;
}

namespace berth::filters {

enum class Operator {
  kPresent,   // no operator: the field is present
  kEqual,     // ==
  kNotEqual,  // !=
  kMatches,   // ~=
};

// "==", "!=", "~=", or "" for kPresent.
std::string_view OperatorText(Operator op);

// Immutable once made; copies share the compiled regular expression, which is safe to use from
// several threads at once.
class Selector {
 public:
  // For kMatches, value is an RE2 regular expression (the syntax of Go's regexp, which containerd
  // uses). Returns InvalidArgument naming the expression and what is wrong with it.
  static absl::StatusOr<Selector> Make(std::vector<std::string> path, Operator op,
                                       std::string value);

  // The semantics of containerd, where an absent field reads as "":
  //   kPresent  the field is present
  //   kEqual    the field is present and equals value
  //   kNotEqual the field is absent or differs from value (an absent field matches `!=x`)
  //   kMatches  the regular expression matches somewhere in the field (unanchored), "" if absent
  bool Match(const Adaptor& adaptor) const;

  const std::vector<std::string>& path() const { return path_; }

  Operator op() const { return op_; }

  const std::string& value() const { return value_; }

 private:
  Selector(std::vector<std::string> path, Operator op, std::string value)
      : path_(std::move(path)), op_(op), value_(std::move(value)) {}

  std::vector<std::string> path_;
  Operator op_;
  std::string value_;
  std::shared_ptr<const re2::RE2> regex_;  // set for kMatches
};

}  // namespace berth::filters
