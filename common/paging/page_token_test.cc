#include "common/paging/page_token.h"

#include <gtest/gtest.h>

#include "tierwise/profile/v1/profile.pb.h"

namespace tierwise::paging {
namespace {

TEST(PageToken, RoundTripsTheCursor) {
  const std::string token = EncodeToken("abc", {"1700000000000000", "id-1"});
  absl::StatusOr<std::vector<std::string>> cursor = DecodeToken(token, "abc", 2);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(*cursor, (std::vector<std::string>{"1700000000000000", "id-1"}));
}

TEST(PageToken, EmptyTokenIsTheFirstPage) {
  absl::StatusOr<std::vector<std::string>> cursor = DecodeToken("", "abc", 2);
  ASSERT_TRUE(cursor.ok());
  EXPECT_TRUE(cursor->empty());
}

TEST(PageToken, RejectsAnotherFilterAndGarbage) {
  const std::string token = EncodeToken("abc", {"1", "x"});
  EXPECT_EQ(DecodeToken(token, "abd", 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeToken(token, "abc", 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeToken("%%%", "abc", 2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PageToken, FingerprintIgnoresPagingFieldsOnly) {
  profile::v1::ListCustomersRequest a;
  a.set_page_size(10);
  a.set_page_token("t");
  profile::v1::ListCustomersRequest b;
  b.set_page_size(99);
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
  b.set_owner("rep.zhang");
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
}

TEST(PageToken, PageSizeDefaultsAndCaps) {
  EXPECT_EQ(*PageSize(0, 50, 500), 50);
  EXPECT_EQ(*PageSize(900, 50, 500), 500);
  EXPECT_EQ(*PageSize(7, 50, 500), 7);
  EXPECT_EQ(PageSize(-1, 50, 500).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tierwise::paging
