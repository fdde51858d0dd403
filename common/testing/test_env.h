#ifndef TIERWISE_COMMON_TESTING_TEST_ENV_H_
#define TIERWISE_COMMON_TESTING_TEST_ENV_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/postgres/pool.h"
#include "common/redis/redis_client.h"

// Integration tests run against the real PostgreSQL and Redis that ./tests/run.sh starts on
// free ports and announces in TIERWISE_TEST_PG_URI / TIERWISE_TEST_REDIS_ADDR. Each test gets
// its own schema and Redis key prefix, so tests share no state and may run in parallel.
namespace tierwise::testing {

// The connection settings; a test that needs them fails (not skips) when they are missing.
std::string PgUri();
std::string RedisAddr();

// "prefix_<pid>_<counter>_<random>", lowercase, a valid schema / key-prefix identifier.
std::string UniqueName(absl::string_view prefix);

// A fresh schema, dropped (with everything in it) on destruction.
class TestSchema {
 public:
  explicit TestSchema(absl::string_view prefix = "t", int pool_size = 4);
  ~TestSchema();
  const std::string& name() const { return name_; }
  postgres::PgPool& pool() { return *pool_; }

 private:
  std::string name_;
  std::unique_ptr<postgres::PgPool> pool_;
};

std::unique_ptr<redis::RedisClient> NewRedisClient();

}  // namespace tierwise::testing

#endif  // TIERWISE_COMMON_TESTING_TEST_ENV_H_
