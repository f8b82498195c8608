#include "lib/filters/selector.h"

#include <optional>
#include <utility>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "re2/re2.h"

namespace berth::filters {

std::string_view OperatorText(Operator op) {
  switch (op) {
    case Operator::kPresent:
      return "";
    case Operator::kEqual:
      return "==";
    case Operator::kNotEqual:
      return "!=";
    case Operator::kMatches:
      return "~=";
  }
  return "";
}

absl::StatusOr<Selector> Selector::Make(std::vector<std::string> path, Operator op,
                                        std::string value) {
  Selector s(std::move(path), op, std::move(value));
  if (op != Operator::kMatches)
    return s;
  RE2::Options options;
  options.set_log_errors(false);  // the error goes back to the caller instead
  auto regex = std::make_shared<const RE2>(s.value_, options);
  if (!regex->ok()) {
    return InvalidArgument(
        fmt::format("invalid regular expression {:?}: {}", s.value_, regex->error()));
  }
  s.regex_ = std::move(regex);
  return s;
}

bool Selector::Match(const Adaptor& adaptor) const {
  std::optional<std::string> field = adaptor.Field(path_);
  switch (op_) {
    case Operator::kPresent:
      return field.has_value();
    case Operator::kEqual:
      return field.has_value() && *field == value_;
    case Operator::kNotEqual:
      return field.value_or("") != value_;
    case Operator::kMatches:
      return RE2::PartialMatch(field.value_or(""), *regex_);
  }
  return false;
}

}  // namespace berth::filters
