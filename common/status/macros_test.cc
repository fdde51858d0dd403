#include "common/status/macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace tierwise::status {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::NotFoundError("customer 7") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeIf(bool ok, int value) {
  if (!ok) return absl::UnavailableError("database restarting");
  return std::make_unique<int>(value);
}

absl::Status Steps(bool fail_first, int* reached) {
  *reached = 0;
  TW_RETURN_IF_ERROR(FailIf(fail_first));
  *reached = 1;
  TW_RETURN_IF_ERROR(FailIf(false));
  *reached = 2;
  return absl::OkStatus();
}

absl::StatusOr<int> Sum(bool first_ok, bool second_ok) {
  TW_ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeIf(first_ok, 40));  // move-only works
  TW_ASSIGN_OR_RETURN(auto b, MakeIf(second_ok, 2));                  // twice in one scope
  return *a + *b;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int reached = -1;
  absl::Status s = Steps(true, &reached);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "customer 7");
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(Steps(false, &reached).ok());
  EXPECT_EQ(reached, 2);
}

TEST(StatusMacrosTest, AssignOrReturnPassesValuesAndErrors) {
  EXPECT_EQ(*Sum(true, true), 42);
  EXPECT_EQ(Sum(false, true).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Sum(true, false).status().message(), "database restarting");
}

}  // namespace
}  // namespace tierwise::status
