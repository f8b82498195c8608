#pragma once

// gmock matchers for absl::Status and absl::StatusOr (Abseil 20220623 ships none).
//   EXPECT_THAT(store.Create("default", ns), IsOk());
//   EXPECT_THAT(store.Get("default", "x"), StatusIs(absl::StatusCode::kNotFound));

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace berth::testing {

inline const absl::Status& GetStatus(const absl::Status& s) {
  return s;
}

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  *result_listener << "status is " << GetStatus(arg);
  return GetStatus(arg).ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  *result_listener << "status is " << GetStatus(arg);
  return GetStatus(arg).code() == code;
}

// Code and a substring of the message.
MATCHER_P2(StatusIs, code, substr,
           "has code " + absl::StatusCodeToString(code) + " and a message containing " +
               ::testing::PrintToString(substr)) {
  *result_listener << "status is " << GetStatus(arg);
  const absl::Status& s = GetStatus(arg);
  return s.code() == code && std::string(s.message()).find(substr) != std::string::npos;
}

}  // namespace berth::testing

#define BERTH_REQUIRE_ROOT()        \
  do {                              \
    if (::geteuid() != 0)           \
      GTEST_SKIP() << "needs root"; \
  } while (false)
