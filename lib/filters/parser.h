#pragma once

// The grammar (containerd's filters/parser.go, plus '|' between alternatives):
//
//   filter      := conjunction ('|' conjunction)*
//   conjunction := selector (',' selector)*
//   selector    := fieldpath [operator value]
//   fieldpath   := field ('.' field)*
//   field       := [A-Za-z0-9_-]+ | "quoted"
//   operator    := '==' | '!=' | '~='
//   value       := unquoted | "quoted"          after '~=' also /quoted/ and |quoted|
//   unquoted    := printable characters other than ',', '|' and whitespace
//
// Whitespace between tokens is ignored. Quoted strings take Go escapes (quote.h).

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/filters/selector.h"

namespace berth::filters {

// Selectors that must all match.
using Conjunction = std::vector<Selector>;

// Parses a non-empty filter into its alternatives. Returns InvalidArgument
// `filter "<input>": <what> at position <byte offset>` for input that does not follow the
// grammar, is not UTF-8, or has an invalid regular expression after ~=.
absl::StatusOr<std::vector<Conjunction>> ParseAlternatives(std::string_view input);

}  // namespace berth::filters
