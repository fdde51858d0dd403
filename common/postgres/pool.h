#ifndef TIERWISE_COMMON_POSTGRES_POOL_H_
#define TIERWISE_COMMON_POSTGRES_POOL_H_

#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status/macros.h"

namespace tierwise::postgres {

// Maps a libpqxx exception to a Status: broken connection → UNAVAILABLE, serialization
// failure / deadlock → ABORTED, unique violation → ALREADY_EXISTS, check / not-null / foreign
// key violation → FAILED_PRECONDITION, anything else → INTERNAL. Messages carry the SQLSTATE
// but never row values.
absl::Status StatusFromException(const std::exception& e);

// `uri` with connect_timeout=5 and TCP keepalive / tcp_user_timeout settings added where the
// operator did not set them (URI or key=value form).
std::string WithConnectionDefaults(const std::string& uri);

struct PoolOptions {
  std::string uri;     // libpq URI or key=value string
  std::string schema;  // set as search_path on every connection (a validated identifier)
  int size = 8;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds statement_timeout{10000};
};

// A fixed-size pool of libpqxx connections for one service schema. Connections are opened
// lazily, so a service starts while PostgreSQL is down; a broken connection is discarded and
// replaced on next use. Thread-safe.
//
//   auto id = pool.Transact<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
//     return tx.exec_params1("INSERT ... RETURNING id", name)[0].as<std::string>();
//   });
//
// Transact commits when fn returns OK and rolls back otherwise. A connection that breaks before
// the commit is retried once on a fresh connection (fn must therefore touch only the database);
// a break during commit is UNAVAILABLE, as the outcome is unknown.
class PgPool {
 public:
  explicit PgPool(PoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  template <typename T>
  absl::StatusOr<T> Transact(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn);
  absl::Status Transact(const std::function<absl::Status(pqxx::work&)>& fn);

  // Statements without a transaction block: no BEGIN and no COMMIT, each statement commits on
  // its own, so one statement costs one round trip instead of three. For reads (one statement,
  // or several that need no common snapshot) and for a single write that stands alone (an
  // audit row of a read); never for writes that must commit together. Retried once on a fresh
  // connection when the connection breaks.
  template <typename T>
  absl::StatusOr<T> Read(const std::function<absl::StatusOr<T>(pqxx::nontransaction&)>& fn);
  absl::Status Read(const std::function<absl::Status(pqxx::nontransaction&)>& fn);

  // SELECT 1 on a pooled connection, bounded by acquire_timeout.
  absl::Status Ping();

  const PoolOptions& options() const { return options_; }
  int open_connections() const;
  int in_use() const;  // leased right now

  // A connection outside the pool (for LISTEN or session-level advisory locks).
  absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenDedicated() const;

 private:
  class Lease;
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  absl::Status RunOnce(bool read, const std::function<absl::Status(pqxx::transaction_base&)>& fn,
                       bool* retryable);
  absl::Status Run(bool read, const std::function<absl::Status(pqxx::transaction_base&)>& fn);
  // Run for a body with a result, on a pqxx::work (read false) or pqxx::nontransaction (true).
  template <typename T, typename Tx>
  absl::StatusOr<T> RunFor(bool read, const std::function<absl::StatusOr<T>(Tx&)>& fn);

  const PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased
};

template <typename T, typename Tx>
absl::StatusOr<T> PgPool::RunFor(bool read, const std::function<absl::StatusOr<T>(Tx&)>& fn) {
  std::optional<T> result;
  TW_RETURN_IF_ERROR(Run(read, [&](pqxx::transaction_base& tx) -> absl::Status {
    TW_ASSIGN_OR_RETURN(T r, fn(static_cast<Tx&>(tx)));
    result = std::move(r);
    return absl::OkStatus();
  }));
  return std::move(*result);
}

template <typename T>
absl::StatusOr<T> PgPool::Transact(const std::function<absl::StatusOr<T>(pqxx::work&)>& fn) {
  return RunFor<T, pqxx::work>(false, fn);
}

template <typename T>
absl::StatusOr<T> PgPool::Read(const std::function<absl::StatusOr<T>(pqxx::nontransaction&)>& fn) {
  return RunFor<T, pqxx::nontransaction>(true, fn);
}

// Runs a statement prepared once per connection under `name` (libpqxx keeps the definition per
// connection and prepares it on first use there), in a transaction or a Read.
template <typename... Args>
pqxx::result Prepared(pqxx::transaction_base& tx, const std::string& name, const std::string& sql,
                      Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_POOL_H_
