#include "lib/base/labels.h"

#include <string>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(LabelsTest, SizeLimitCountsKeyAndValue) {
  EXPECT_THAT(ValidateLabel("k", std::string(4095, 'v')), IsOk());
  EXPECT_THAT(ValidateLabel("k", std::string(4096, 'v')),
              StatusIs(absl::StatusCode::kInvalidArgument, "label \"k\""));
  EXPECT_THAT(ValidateLabel("", "v"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LabelsTest, ValidateLabelsChecksEach) {
  EXPECT_THAT(ValidateLabels({{"a", "1"}, {"containerd.io/gc.root", "x"}}), IsOk());
  EXPECT_THAT(ValidateLabels({{"a", "1"}, {"", "x"}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LabelsTest, ApplyLabelPaths) {
  Labels cur = {{"a", "1"}, {"b", "2"}};
  ASSERT_THAT(ApplyLabelPaths({{"c", "3"}}, {"labels.c", "labels.a"}, "x", cur), IsOk());
  EXPECT_EQ(cur, (Labels{{"b", "2"}, {"c", "3"}}));
  ASSERT_THAT(ApplyLabelPaths({{"z", "9"}}, {}, "x", cur), IsOk());
  EXPECT_EQ(cur, (Labels{{"z", "9"}}));
  EXPECT_THAT(ApplyLabelPaths({}, {"name"}, "namespace \"web\"", cur),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "namespace \"web\": cannot update field \"name\""));
}

}  // namespace
}  // namespace berth
