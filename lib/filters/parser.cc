#include "lib/filters/parser.h"

#include <string>
#include <utility>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/filters/scanner.h"

namespace berth::filters {
namespace {

// Recursive descent over the scanner's tokens; one method per rule of the grammar.
class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), scanner_(input) {}

  absl::StatusOr<std::vector<Conjunction>> Parse();

 private:
  absl::StatusOr<Conjunction> ParseConjunction();
  absl::StatusOr<Selector> ParseSelector();
  absl::StatusOr<std::vector<std::string>> ParseFieldPath();
  absl::StatusOr<std::string> ParseField();
  absl::StatusOr<Operator> ParseOperator();
  absl::StatusOr<std::string> ParseValue(Operator op, size_t& pos);

  absl::Status Error(size_t pos, std::string_view what) const {
    return InvalidArgument(fmt::format("filter {:?}: {} at position {}", input_, what, pos));
  }

  // The error for token t where `expected` should have been.
  absl::Status Unexpected(const Token& t, std::string_view expected) const {
    if (t.kind == TokenKind::kError)
      return Error(t.pos, t.text);
    if (t.kind == TokenKind::kEnd)
      return Error(t.pos, fmt::format("expected {}", expected));
    std::string_view found = input_.substr(t.pos, t.end - t.pos);
    return Error(t.pos, fmt::format("expected {}, found {:?}", expected, found));
  }

  std::string_view input_;
  Scanner scanner_;
};

absl::StatusOr<std::vector<Conjunction>> Parser::Parse() {
  if (size_t bad = FindInvalidUtf8(input_); bad != std::string_view::npos) {
    return Error(bad, "invalid UTF-8");
  }
  std::vector<Conjunction> alternatives;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(Conjunction c, ParseConjunction());
    alternatives.push_back(std::move(c));
    Token t = scanner_.Next(ScanMode::kField);
    if (t.kind == TokenKind::kEnd)
      return alternatives;
    if (t.kind != TokenKind::kPipe)
      return Unexpected(t, "',', '|' or end of filter");
  }
}

absl::StatusOr<Conjunction> Parser::ParseConjunction() {
  Conjunction selectors;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(Selector s, ParseSelector());
    selectors.push_back(std::move(s));
    if (scanner_.Peek(ScanMode::kField).kind != TokenKind::kComma)
      return selectors;
    (void)scanner_.Next(ScanMode::kField);
  }
}

absl::StatusOr<Selector> Parser::ParseSelector() {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> path, ParseFieldPath());
  switch (scanner_.Peek(ScanMode::kField).kind) {
    case TokenKind::kComma:
    case TokenKind::kPipe:
    case TokenKind::kEnd:
      return Selector::Make(std::move(path), Operator::kPresent, "");
    default:
      break;
  }
  BERTH_ASSIGN_OR_RETURN(Operator op, ParseOperator());
  size_t value_pos = 0;
  BERTH_ASSIGN_OR_RETURN(std::string value, ParseValue(op, value_pos));
  absl::StatusOr<Selector> s = Selector::Make(std::move(path), op, std::move(value));
  if (!s.ok())
    return Error(value_pos, std::string(s.status().message()));
  return s;
}

absl::StatusOr<std::vector<std::string>> Parser::ParseFieldPath() {
  std::vector<std::string> path;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(std::string field, ParseField());
    path.push_back(std::move(field));
    if (scanner_.Peek(ScanMode::kField).kind != TokenKind::kDot)
      return path;
    (void)scanner_.Next(ScanMode::kField);
  }
}

absl::StatusOr<std::string> Parser::ParseField() {
  Token t = scanner_.Next(ScanMode::kField);
  if (t.kind == TokenKind::kField || t.kind == TokenKind::kQuoted)
    return std::move(t.text);
  return Unexpected(t, "field name or quoted string");
}

absl::StatusOr<Operator> Parser::ParseOperator() {
  Token t = scanner_.Next(ScanMode::kField);
  if (t.kind != TokenKind::kOperator)
    return Unexpected(t, "operator ==, != or ~=");
  for (Operator op : {Operator::kEqual, Operator::kNotEqual, Operator::kMatches}) {
    if (t.text == OperatorText(op))
      return op;
  }
  return Error(t.pos, fmt::format("unknown operator {:?} (want ==, != or ~=)", t.text));
}

absl::StatusOr<std::string> Parser::ParseValue(Operator op, size_t& pos) {
  Token t = scanner_.Next(op == Operator::kMatches ? ScanMode::kRegex : ScanMode::kValue);
  pos = t.pos;
  if (t.kind == TokenKind::kValue || t.kind == TokenKind::kQuoted)
    return std::move(t.text);
  return Unexpected(t, "value");
}

}  // namespace

absl::StatusOr<std::vector<Conjunction>> ParseAlternatives(std::string_view input) {
  return Parser(input).Parse();
}

}  // namespace berth::filters
