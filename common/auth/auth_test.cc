#include "common/auth/auth.h"

#include "gtest/gtest.h"

namespace tierwise::auth {
namespace {

std::shared_ptr<const TokenStore> Tokens() {
  auto store = TokenStore::FromText(
      "# demo tokens\nadmin admin admin-token-1\n  rep.zhang sales_rep rep-token-1 \n\n",
      "viewer:viewer:viewer-token-1");
  EXPECT_TRUE(store.ok()) << store.status();
  return *store;
}

TEST(AuthTest, TokensMapToPrincipals) {
  auto tokens = Tokens();
  ASSERT_EQ(tokens->size(), 3u);
  ASSERT_NE(tokens->Find("rep-token-1"), nullptr);
  EXPECT_EQ(tokens->Find("rep-token-1")->name, "rep.zhang");
  EXPECT_EQ(tokens->Find("rep-token-1")->role, Role::kSalesRep);
  EXPECT_EQ(tokens->Find("nope"), nullptr);
}

TEST(AuthTest, BadTokenSourcesAreRejected) {
  EXPECT_FALSE(TokenStore::FromText("a superuser tok123456", "").ok());
  EXPECT_FALSE(TokenStore::FromText("a admin", "").ok());
  EXPECT_FALSE(TokenStore::FromText("a admin short", "").ok());
  EXPECT_FALSE(TokenStore::FromText("a admin same-token-1\nb viewer same-token-1", "").ok());
  EXPECT_FALSE(TokenStore::FromText("", "a:admin").ok());
}

TEST(AuthTest, CheckAuthenticatesThenAuthorizes) {
  Authorizer authorizer(Tokens(),
                        {{"Update", {Role::kAdmin, Role::kSalesRep}}, {"Get", Roles::All()}});
  EXPECT_EQ(authorizer.Check(std::nullopt, "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authorizer.Check("Basic abc", "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authorizer.Check("Bearer wrong", "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authorizer.Check("Bearer viewer-token-1", "Update").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer.Check("Bearer admin-token-1", "NotInTable").status().code(),
            absl::StatusCode::kPermissionDenied);
  auto ok = authorizer.Check("Bearer rep-token-1", "Update");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->name, "rep.zhang");
}

TEST(AuthTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kFinance, Role::kErpAdapter,
                 Role::kViewer}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("root").has_value());
}

}  // namespace
}  // namespace tierwise::auth
