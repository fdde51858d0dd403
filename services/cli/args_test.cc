#include "services/cli/args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/cli/cli_context.h"

namespace tierwise::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<OptionSpec> kSpecs = {{"name"}, {"tag", true, true}, {"full", false}};

TEST(ParseArgsTest, SeparatesOptionsAndPositionals) {
  absl::StatusOr<ParsedArgs> parsed =
      ParseArgs({"id-1", "--name", "x", "--tag=a", "--full", "--tag", "b", "id-2"}, kSpecs);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional(), ElementsAre("id-1", "id-2"));
  EXPECT_EQ(parsed->Get("name"), "x");
  EXPECT_THAT(parsed->GetAll("tag"), ElementsAre("a", "b"));
  EXPECT_TRUE(parsed->Has("full"));
  EXPECT_FALSE(parsed->Get("missing").has_value());
}

TEST(ParseArgsTest, EverythingAfterDoubleDashIsPositional) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs({"--full", "--", "--name", "-"}, kSpecs);
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->positional(), ElementsAre("--name", "-"));
  EXPECT_FALSE(parsed->Has("name"));
}

TEST(ParseArgsTest, AnEmptyValueIsAValue) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs({"--name", ""}, kSpecs);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Get("name"), "");
}

TEST(ParseArgsTest, RejectsBadCommandLines) {
  EXPECT_THAT(ParseArgs({"--nope"}, kSpecs).status().message(), HasSubstr("unknown option --nope"));
  EXPECT_THAT(ParseArgs({"--name"}, kSpecs).status().message(), HasSubstr("needs a value"));
  EXPECT_THAT(ParseArgs({"--full=yes"}, kSpecs).status().message(), HasSubstr("takes no value"));
  EXPECT_THAT(ParseArgs({"--name", "a", "--name", "b"}, kSpecs).status().message(),
              HasSubstr("more than once"));
}

TEST(ParseArgsTest, GetInt) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs({"--name", "12"}, kSpecs);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed->GetInt("name", 5), 12);
  EXPECT_EQ(*parsed->GetInt("other", 5), 5);
  parsed = ParseArgs({"--name", "twelve"}, kSpecs);
  EXPECT_FALSE(parsed->GetInt("name", 5).ok());
}

TEST(GlobalOptionsTest, ExtractedFromAnywhere) {
  std::vector<std::string> args = {"--addr",  "h:1",  "customer",      "get",       "ID",
                                   "--token", "",     "--role=viewer", "--timeout", "2.5",
                                   "--full",  "--ca", "ca.pem"};
  absl::StatusOr<GlobalOptions> options = ExtractGlobalOptions(&args);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(args, ElementsAre("customer", "get", "ID", "--full"));
  EXPECT_EQ(options->addr, "h:1");
  ASSERT_TRUE(options->token.has_value());
  EXPECT_EQ(*options->token, "");  // explicitly empty: send no token
  EXPECT_EQ(options->role, "viewer");
  EXPECT_DOUBLE_EQ(options->timeout_seconds, 2.5);
  EXPECT_EQ(options->ca_file, "ca.pem");
  EXPECT_FALSE(options->help);
}

TEST(GlobalOptionsTest, DefaultsAndHelp) {
  std::vector<std::string> args = {"customer", "list", "-h"};
  absl::StatusOr<GlobalOptions> options = ExtractGlobalOptions(&args);
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(options->help);
  EXPECT_FALSE(options->token.has_value());
  EXPECT_FALSE(options->addr.has_value());
  EXPECT_EQ(options->role, "admin");
  EXPECT_DOUBLE_EQ(options->timeout_seconds, 10);
}

TEST(GlobalOptionsTest, RejectsBadValues) {
  std::vector<std::string> args = {"--timeout", "0"};
  EXPECT_FALSE(ExtractGlobalOptions(&args).ok());
  args = {"--timeout", "soon"};
  EXPECT_FALSE(ExtractGlobalOptions(&args).ok());
  args = {"health", "--addr"};
  EXPECT_FALSE(ExtractGlobalOptions(&args).ok());
  args = {"--cert", "c.pem", "--key", "k.pem"};  // mutual TLS needs the CA too
  EXPECT_FALSE(ExtractGlobalOptions(&args).ok());
}

TEST(GlobalOptionsTest, StopsAtDoubleDash) {
  std::vector<std::string> args = {"customer", "get", "--", "--addr"};
  absl::StatusOr<GlobalOptions> options = ExtractGlobalOptions(&args);
  ASSERT_TRUE(options.ok());
  EXPECT_THAT(args, ElementsAre("customer", "get", "--", "--addr"));
}

}  // namespace
}  // namespace tierwise::cli
