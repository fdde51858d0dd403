#include "common/config/config.h"

#include <map>

#include "gtest/gtest.h"

namespace tierwise::config {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConfigTest, FlagWinsOverEnvironmentWhichWinsOverDefault) {
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "profile", 50051);
  ASSERT_TRUE(parser
                  .Parse({"--pg_uri=postgresql://flag", "--pg_pool_size", "3"},
                         FakeEnv({{"TIERWISE_PG_URI", "postgresql://env"},
                                  {"TIERWISE_REDIS_ADDR", "10.0.0.1:7000"}}))
                  .ok());
  EXPECT_EQ(config.pg_uri, "postgresql://flag");
  EXPECT_EQ(config.redis_addr, "10.0.0.1:7000");
  EXPECT_EQ(config.pg_pool_size, 3);
  EXPECT_EQ(config.listen, "0.0.0.0:50051");
  EXPECT_EQ(config.pg_schema, "profile");
}

TEST(ConfigTest, BadValuesNameTheFlagAndVariable) {
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "profile", 50051);
  absl::Status s = parser.Parse({"--pg_pool_size=0"}, FakeEnv({}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--pg_pool_size (TIERWISE_PG_POOL_SIZE)"), std::string::npos) << s;

  s = parser.Parse({}, FakeEnv({{"TIERWISE_LISTEN", "nohostport"}}));
  EXPECT_NE(s.message().find("--listen"), std::string::npos) << s;

  s = parser.Parse({"--pg_schema=Bad-Name"}, FakeEnv({}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);

  s = parser.Parse({"--no_such_flag=1"}, FakeEnv({}));
  EXPECT_NE(s.message().find("unknown flag --no_such_flag"), std::string::npos);

  s = parser.Parse({"--log_format=xml"}, FakeEnv({}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, GrpcLimitsHaveDefaultsAndBounds) {
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "credit", 50053);
  ASSERT_TRUE(parser.Parse({}, FakeEnv({})).ok());
  EXPECT_EQ(config.max_concurrent_streams, 100);
  EXPECT_EQ(config.resource_quota_mb, 256);
  EXPECT_EQ(config.max_threads, 256);
  ASSERT_TRUE(
      parser
          .Parse({"--max_concurrent_streams=8"},
                 FakeEnv({{"TIERWISE_RESOURCE_QUOTA_MB", "0"}, {"TIERWISE_MAX_THREADS", "64"}}))
          .ok());
  EXPECT_EQ(config.max_concurrent_streams, 8);
  EXPECT_EQ(config.resource_quota_mb, 0);
  EXPECT_EQ(config.max_threads, 64);
  absl::Status s = parser.Parse({"--max_concurrent_streams=0"}, FakeEnv({}));
  EXPECT_NE(s.message().find("--max_concurrent_streams (TIERWISE_MAX_CONCURRENT_STREAMS)"),
            std::string::npos)
      << s;
  s = parser.Parse({"--max_threads=2"}, FakeEnv({}));
  EXPECT_NE(s.message().find("--max_threads"), std::string::npos) << s;
  s = parser.Parse({"--resource_quota_mb=-1"}, FakeEnv({}));
  EXPECT_NE(s.message().find("--resource_quota_mb"), std::string::npos) << s;
}

TEST(ConfigTest, ValidateRequiresDatabaseTokensAndConsistentTls) {
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "profile", 50051);
  ASSERT_TRUE(parser.Parse({}, FakeEnv({})).ok());
  EXPECT_NE(config.Validate().message().find("--pg_uri"), std::string::npos);

  ASSERT_TRUE(parser.Parse({"--pg_uri=x", "--tokens=a:admin:12345678"}, FakeEnv({})).ok());
  EXPECT_TRUE(config.Validate().ok());

  ASSERT_TRUE(
      parser.Parse({"--pg_uri=x", "--tokens=a:admin:12345678", "--tls_cert=c.pem"}, FakeEnv({}))
          .ok());
  EXPECT_NE(config.Validate().message().find("--tls_key"), std::string::npos);

  ConfigParser migrate_parser;
  ServiceConfig migrate;
  migrate.Register(migrate_parser, "profile", 50051);
  ASSERT_TRUE(migrate_parser.Parse({"--pg_uri=x", "--migrate_only"}, FakeEnv({})).ok());
  EXPECT_TRUE(migrate.migrate_only);
  EXPECT_TRUE(migrate.Validate().ok()) << "migrations need no tokens";
}

TEST(ConfigTest, BusinessTimeZoneIsAnIanaNameDefaultingToUtc) {
  {
    ConfigParser parser;
    ServiceConfig config;
    config.Register(parser, "credit", 50053);
    ASSERT_TRUE(parser.Parse({}, FakeEnv({})).ok());
    EXPECT_EQ(config.business_time_zone, "UTC");
  }
  {
    ConfigParser parser;
    ServiceConfig config;
    config.Register(parser, "credit", 50053);
    ASSERT_TRUE(parser.Parse({}, FakeEnv({{"TIERWISE_BUSINESS_TIME_ZONE", "Asia/Shanghai"}})).ok());
    EXPECT_EQ(config.business_time_zone, "Asia/Shanghai");
  }
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "credit", 50053);
  absl::Status s = parser.Parse({"--business_time_zone=Asia/Shangai"}, FakeEnv({}));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--business_time_zone (TIERWISE_BUSINESS_TIME_ZONE)"),
            std::string::npos)
      << s;
}

TEST(ConfigTest, HelpIsReported) {
  ConfigParser parser;
  ServiceConfig config;
  config.Register(parser, "credit", 50053);
  bool help = false;
  ASSERT_TRUE(parser.Parse({"--help"}, FakeEnv({}), &help).ok());
  EXPECT_TRUE(help);
  EXPECT_NE(parser.Usage().find("TIERWISE_REDIS_PREFIX"), std::string::npos);
}

}  // namespace
}  // namespace tierwise::config
