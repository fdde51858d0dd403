#ifndef TIERWISE_COMMON_REDIS_REDIS_CLIENT_H_
#define TIERWISE_COMMON_REDIS_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct redisContext;

namespace tierwise::redis {

// An owned copy of a Redis reply (RESP2), independent of hiredis.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // AUTH when non-empty
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
};

// Parses "host:port" into options (port defaults to 6379).
absl::StatusOr<RedisOptions> ParseRedisAddress(const std::string& address);

// One stream entry as returned by XRANGE / XREADGROUP.
struct StreamEntry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;

  // Value of the first field with this name, or "" when absent.
  std::string Field(const std::string& name) const;
};

// A thread-safe Redis client over one hiredis connection, with connect and command timeouts.
// A broken connection is dropped and re-established on the next command (one retry for
// idempotent use is up to the caller). Errors: UNAVAILABLE when Redis cannot be reached, times
// out or answers with a transient error (LOADING after a restart, READONLY/MASTERDOWN during a
// failover, BUSY, TRYAGAIN, CLUSTERDOWN); any other Redis error reply is returned as
// Reply::Type::kError by Command() and as INTERNAL (or FAILED_PRECONDITION for stream-ID ordering
// errors) by the typed helpers.
//
//   auto client = RedisClient(options);
//   auto reply = client.Command({"GET", "key"});
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Runs one command with binary-safe arguments.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);

  // Sends the commands back to back and then reads their replies (one round trip for all),
  // in order. No reconnect-and-resend: on a broken or timed-out connection it is UNAVAILABLE
  // and any prefix of the commands may have run.
  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

  // PING; OK when Redis answers.
  absl::Status Ping();

  // Where and how this client connects (e.g. to open more connections to the same Redis).
  const RedisOptions& options() const { return options_; }

  // XADD stream id field value [field value...]; id "*" lets Redis choose. Returns the entry id.
  // An explicit id not greater than the stream's last id gives FAILED_PRECONDITION.
  absl::StatusOr<std::string> XAdd(const std::string& stream, const std::string& id,
                                   const std::vector<std::pair<std::string, std::string>>& fields);

  // XRANGE stream start end [COUNT count].
  absl::StatusOr<std::vector<StreamEntry>> XRange(const std::string& stream,
                                                  const std::string& start = "-",
                                                  const std::string& end = "+", int64_t count = 0);

 private:
  absl::Status EnsureConnectedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DisconnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisOptions options_;
  std::mutex mu_;
  redisContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace tierwise::redis

#endif  // TIERWISE_COMMON_REDIS_REDIS_CLIENT_H_
