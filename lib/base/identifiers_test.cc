#include "lib/base/identifiers.h"

#include <string>

#include "gtest/gtest.h"

namespace berth {
namespace {

// Table-driven, as containerd's identifiers tests: the same rules for namespaces and ids.
TEST(IdentifiersTest, Table) {
  struct Case {
    std::string id;
    bool valid;
  } cases[] = {
      {"a", true},       {"default", true},
      {"k8s.io", true},  {"moby", true},
      {"web-1", true},   {"a_b.c-d", true},
      {"Z9", true},      {std::string(76, 'x'), true},
      {"", false},       {std::string(77, 'x'), false},
      {"-a", false},     {"a-", false},
      {".a", false},     {"a..b", false},
      {"a.-b", false},   {"a/b", false},
      {"../etc", false}, {"a b", false},
      {"a\nb", false},   {"ünicode", false},
      {"a:b", false},
  };

  for (const Case& c : cases) {
    EXPECT_EQ(ValidateIdentifier(c.id).ok(), c.valid) << "id \"" << c.id << "\"";
    if (!c.valid) {
      EXPECT_EQ(ValidateIdentifier(c.id).code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(IdentifiersTest, MessageNamesKindAndId) {
  absl::Status s = ValidateIdentifier("namespace", "a/b");
  EXPECT_NE(std::string(s.message()).find("namespace \"a/b\""), std::string::npos) << s;
  EXPECT_EQ(ValidateIdentifier("namespace", "").message(), "namespace must not be empty");
}

}  // namespace
}  // namespace berth
