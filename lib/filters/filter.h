#pragma once

// containerd's filter language, used by the List and Subscribe calls of its API:
//
//   name==foo                      equality
//   name!=foo                      inequality (also true when the field is absent)
//   name~=^f.*  name~=/f.+o/       RE2 regular expression, unanchored; /…/ or |…| may quote it
//   labels."io.k8s.name"           presence; a quoted segment may hold any characters
//   labels.foo==bar,name==x        ',' is AND
//   name==foo|name==bar            '|' is OR (a berth addition; ',' binds tighter)
//   other=="too complex, yo"       quoted values, with Go string escapes
//
// Several filter strings (a repeated `filters` field) are OR'd together, and no filter or an
// empty one matches everything, as in containerd's ParseAll. The grammar is in parser.h.
//
//   std::vector<std::string> inputs(req.filters().begin(), req.filters().end());
//   BERTH_ASSIGN_OR_RETURN(filters::Filter f, filters::Filter::ParseAll(inputs));
//   if (f.Match(filters::MapAdaptor({{"id", c.id}, {"image", c.image}}, c.labels))) …
//
// Differences from containerd: '|' ends an unquoted value, so `name==a|b` is two alternatives and
// a regex alternation must be quoted (`name~=/a|b/`); after == and != a '/' is an ordinary value
// character (containerd rejects it); a bad regular expression fails Parse instead of matching
// nothing.
//
// A Filter is immutable and cheap to copy; Match may be called from several threads at once.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/filters/adaptor.h"
#include "lib/filters/parser.h"

namespace berth::filters {

class Filter {
 public:
  // Matches everything.
  Filter() : alternatives_(1) {}

  // "" matches everything. Otherwise InvalidArgument `filter "<input>": <what> at position <n>`
  // for bad syntax, input that is not UTF-8, or an invalid regular expression.
  static absl::StatusOr<Filter> Parse(std::string_view input);

  // Matches what any of the inputs matches; no inputs match everything. Fails on the first input
  // that does not parse, with Parse's error.
  static absl::StatusOr<Filter> ParseAll(std::span<const std::string> inputs);

  // True when some alternative has all of its selectors matching the object.
  bool Match(const Adaptor& adaptor) const;

  // The alternatives ('|' and separate inputs), each a list of selectors that must all match.
  // A conjunction with no selectors matches everything.
  const std::vector<Conjunction>& alternatives() const { return alternatives_; }

 private:
  explicit Filter(std::vector<Conjunction> alternatives) : alternatives_(std::move(alternatives)) {}

  std::vector<Conjunction> alternatives_;
};

}  // namespace berth::filters
