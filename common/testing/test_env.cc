#include "common/testing/test_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tierwise::testing {
namespace {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: run the integration tests through ./tests/run.sh";
    return "";
  }
  return v;
}

}  // namespace

std::string PgUri() { return RequireEnv("TIERWISE_TEST_PG_URI"); }
std::string RedisAddr() { return RequireEnv("TIERWISE_TEST_REDIS_ADDR"); }

std::string UniqueName(absl::string_view prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return absl::StrCat(prefix, "_", getpid(), "_", counter.fetch_add(1), "_",
                      absl::Hex(salt & 0xffffff));
}

TestSchema::TestSchema(absl::string_view prefix, int pool_size) : name_(UniqueName(prefix)) {
  pool_ = std::make_unique<postgres::PgPool>(
      postgres::PoolOptions{.uri = PgUri(), .schema = name_, .size = pool_size});
}

TestSchema::~TestSchema() {
  postgres::PgPool admin({.uri = PgUri(), .schema = "public", .size = 1});
  (void)admin.Transact([&](pqxx::work& tx) {
    tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
    return absl::OkStatus();
  });
}

std::unique_ptr<redis::RedisClient> NewRedisClient() {
  auto options = redis::ParseRedisAddress(RedisAddr());
  EXPECT_TRUE(options.ok()) << options.status();
  return std::make_unique<redis::RedisClient>(options.ok() ? *options : redis::RedisOptions{});
}

}  // namespace tierwise::testing
