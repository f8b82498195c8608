#include "lib/filters/filter.h"

#include <algorithm>
#include <iterator>

#include "lib/base/status_macros.h"

namespace berth::filters {

absl::StatusOr<Filter> Filter::Parse(std::string_view input) {
  if (input.empty())
    return Filter();
  BERTH_ASSIGN_OR_RETURN(std::vector<Conjunction> alternatives, ParseAlternatives(input));
  return Filter(std::move(alternatives));
}

absl::StatusOr<Filter> Filter::ParseAll(std::span<const std::string> inputs) {
  if (inputs.empty())
    return Filter();
  std::vector<Conjunction> alternatives;
  for (const std::string& input : inputs) {
    BERTH_ASSIGN_OR_RETURN(Filter f, Parse(input));
    std::move(f.alternatives_.begin(), f.alternatives_.end(), std::back_inserter(alternatives));
  }
  return Filter(std::move(alternatives));
}

bool Filter::Match(const Adaptor& adaptor) const {
  return std::any_of(alternatives_.begin(), alternatives_.end(), [&](const Conjunction& c) {
    return std::all_of(c.begin(), c.end(), [&](const Selector& s) { return s.Match(adaptor); });
  });
}

}  // namespace berth::filters
