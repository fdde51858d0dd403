#include "common/auth/auth.h"

#include <grpcpp/test/server_context_test_spouse.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"
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

TEST(AuthTest, StoredDigestsAcceptTheirTokenOnly) {
  // sha256("admin-token-1"), as `printf %s admin-token-1 | sha256sum` prints it.
  const std::string digest = HashToken("admin-token-1");
  ASSERT_EQ(digest.size(), 7u + 64u);
  EXPECT_EQ(digest.substr(0, 7), "sha256:");
  EXPECT_EQ(HashToken("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto store = TokenStore::FromText(
      absl::StrCat("admin admin ", digest, "\nrep.zhang sales_rep rep-token-1\n"),
      absl::StrCat("viewer:viewer:", HashToken("viewer-token-1")));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ((*store)->size(), 3u);
  ASSERT_NE((*store)->Find("admin-token-1"), nullptr);
  EXPECT_EQ((*store)->Find("admin-token-1")->name, "admin");
  EXPECT_EQ((*store)->Find("viewer-token-1")->role, Role::kViewer);
  EXPECT_EQ((*store)->Find("rep-token-1")->name, "rep.zhang");
  // The digest itself is not a credential.
  EXPECT_EQ((*store)->Find(digest), nullptr);
  EXPECT_EQ((*store)->Find(digest.substr(7)), nullptr);
  EXPECT_EQ((*store)->Find("admin-token-"), nullptr);
  EXPECT_EQ((*store)->Find(""), nullptr);
}

TEST(AuthTest, MalformedDigestsAreRejected) {
  const std::string digest = HashToken("admin-token-1");
  EXPECT_FALSE(TokenStore::FromText("a admin sha256:abcd", "").ok());
  EXPECT_FALSE(
      TokenStore::FromText("a admin " + digest.substr(0, digest.size() - 1) + "g", "").ok());
  EXPECT_FALSE(TokenStore::FromText("a admin sha256:" + std::string(63, 'a') + "g", "").ok());
  EXPECT_FALSE(TokenStore::FromText("a admin sha256:" + std::string(66, 'a'), "").ok());
  // Upper-case hex digits name the same digest.
  std::string upper = digest;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = absl::ascii_toupper(upper[i]);
  auto store = TokenStore::FromText("a admin " + upper, "");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_NE((*store)->Find("admin-token-1"), nullptr);
  // The same token once plain and once hashed is still a duplicate.
  EXPECT_FALSE(TokenStore::FromText("a admin admin-token-1\nb viewer " + digest, "").ok());
}

TEST(AuthTest, RequestIdsAreRestricted) {
  EXPECT_TRUE(ValidRequestId("abc-DEF_0.9"));
  EXPECT_TRUE(ValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(ValidRequestId(""));
  EXPECT_FALSE(ValidRequestId(std::string(129, 'a')));
  for (const char* bad : {"a b", "a\nb", "a\rb", "a\x1b[31m", "a\"b", "a=b", "\xc3\xa9"}) {
    EXPECT_FALSE(ValidRequestId(bad)) << bad;
  }

  Authorizer authorizer(Tokens(), {{"Get", Roles::All()}});
  auto authorize = [&](std::optional<std::string> request_id) {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse(&context);
    spouse.AddClientMetadata("authorization", "Bearer viewer-token-1");
    if (request_id.has_value()) spouse.AddClientMetadata("x-request-id", *request_id);
    return authorizer.Authorize(context, "Get");
  };
  auto good = authorize("req-42.a_b");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->request_id, "req-42.a_b");
  auto generated = authorize(std::nullopt);
  ASSERT_TRUE(generated.ok()) << generated.status();
  EXPECT_TRUE(ValidRequestId(generated->request_id)) << generated->request_id;
  for (const std::string& bad :
       std::vector<std::string>{"line\nbreak", "esc\x1b[0m", std::string(129, 'x'), ""}) {
    auto rejected = authorize(bad);
    EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(rejected.status().message().find("x-request-id"), absl::string_view::npos);
    auto violations = status::FieldViolations(rejected.status());
    ASSERT_EQ(violations.size(), 1u);
    EXPECT_EQ(violations[0].field, "x-request-id");
  }
}

TEST(AuthTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kFinance, Role::kErpAdapter,
                 Role::kViewer}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("root").has_value());
}

// The digest context is reused per thread: every lookup must still hash exactly its own token,
// whatever the thread hashed before (a longer token, an unknown one), on many threads at once.
TEST(AuthTest, LookupsStayExactOnEveryThread) {
  auto tokens = Tokens();
  const std::string long_token(4096, 'k');
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const Principal* rep = tokens->Find("rep-token-1");
        if (rep == nullptr || rep->name != "rep.zhang") ++wrong;
        if (tokens->Find(long_token) != nullptr) ++wrong;
        if (tokens->Find(absl::StrCat("rep-token-", t + 2)) != nullptr) ++wrong;
        if (tokens->Find("rep-token-1 ") != nullptr) ++wrong;
        const Principal* admin = tokens->Find("admin-token-1");
        if (admin == nullptr || admin->role != Role::kAdmin) ++wrong;
      }
      if (HashToken("abc") !=
          "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") {
        ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A store holds the tokens it was loaded with: a token removed or changed in the source is
// refused by the store loaded from the new source, however often the old one was accepted.
TEST(AuthTest, AReloadedStoreRefusesRevokedTokens) {
  auto before =
      TokenStore::FromText("rep.zhang sales_rep rep-token-1\nadmin admin admin-token-1", "");
  ASSERT_TRUE(before.ok()) << before.status();
  for (int i = 0; i < 100; ++i) ASSERT_NE((*before)->Find("rep-token-1"), nullptr);
  auto after =
      TokenStore::FromText("rep.zhang sales_rep rep-token-2\nadmin admin admin-token-1", "");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->Find("rep-token-1"), nullptr);
  ASSERT_NE((*after)->Find("rep-token-2"), nullptr);
  Authorizer authorizer(*after, {{"Get", Roles::All()}});
  EXPECT_EQ(authorizer.Check("Bearer rep-token-1", "Get").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(authorizer.Check("Bearer rep-token-2", "Get").ok());
}

}  // namespace
}  // namespace tierwise::auth
