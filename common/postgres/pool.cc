#include "common/postgres/pool.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace tierwise::postgres {

absl::Status StatusFromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError("database connection lost during commit; outcome unknown");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError("database unavailable");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e); sql != nullptr) {
    const std::string state = sql->sqlstate();
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError(absl::StrCat("transaction conflict (SQLSTATE ", state, ")"));
    }
    if (state == "23505") {
      return absl::AlreadyExistsError("unique constraint violated (SQLSTATE 23505)");
    }
    if (state.rfind("23", 0) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("integrity constraint violated (SQLSTATE ", state, ")"));
    }
    if (state == "57014") return absl::DeadlineExceededError("statement timeout");
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P03") {
      return absl::UnavailableError(absl::StrCat("database unavailable (SQLSTATE ", state, ")"));
    }
    return absl::InternalError(absl::StrCat("database error (SQLSTATE ", state, ")"));
  }
  return absl::InternalError(absl::StrCat("database error: ", e.what()));
}

std::string WithConnectionDefaults(const std::string& uri) {
  // Bounded connects, and TCP keepalives with a user timeout so that a server that vanished
  // (failover, a dead node) is noticed in about half a minute instead of the kernel's hours.
  static constexpr std::pair<const char*, const char*> kDefaults[] = {
      {"connect_timeout", "5"},     {"keepalives", "1"},       {"keepalives_idle", "15"},
      {"keepalives_interval", "5"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "30000"},
  };
  const bool is_uri =
      absl::StartsWith(uri, "postgresql://") || absl::StartsWith(uri, "postgres://");
  std::string out = uri;
  bool has_query = is_uri && uri.find('?') != std::string::npos;
  for (const auto& [key, value] : kDefaults) {
    if (absl::StrContains(uri, absl::StrCat(key, "="))) continue;  // the operator's value wins
    if (is_uri) {
      absl::StrAppend(&out, has_query ? "&" : "?", key, "=", value);
      has_query = true;
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  }
  return out;
}

PgPool::PgPool(PoolOptions options) : options_(std::move(options)) {}

PgPool::~PgPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

int PgPool::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

int PgPool::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_ - static_cast<int>(idle_.size());
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::OpenDedicated() const {
  try {
    auto conn = std::make_unique<pqxx::connection>(WithConnectionDefaults(options_.uri));
    pqxx::nontransaction setup(*conn);
    // The schema name is a validated identifier; quote_name guards it anyway.
    setup.exec(absl::StrCat("SET search_path TO ", setup.quote_name(options_.schema), ", public"));
    setup.exec(absl::StrCat("SET statement_timeout = ", options_.statement_timeout.count()));
    setup.commit();
    return conn;
  } catch (const std::exception& e) {
    return StatusFromException(e);
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool ready = cv_.wait_for(lock, options_.acquire_timeout,
                                    [&] { return !idle_.empty() || open_ < options_.size; });
    if (!ready) return absl::UnavailableError("database pool exhausted");
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // reserve a slot, connect outside the lock
  }
  auto conn = OpenDedicated();
  if (!conn.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    cv_.notify_one();
  }
  return conn;
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn != nullptr && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

absl::Status PgPool::RunOnce(bool read,
                             const std::function<absl::Status(pqxx::transaction_base&)>& fn,
                             bool* retryable) {
  *retryable = false;
  TW_ASSIGN_OR_RETURN(auto acquired, Acquire());
  std::unique_ptr<pqxx::connection> conn = std::move(acquired);
  absl::Status status;
  bool committing = false;
  try {
    if (read) {
      pqxx::nontransaction tx(*conn);
      status = fn(tx);
    } else {
      pqxx::work tx(*conn);
      status = fn(tx);
      if (status.ok()) {
        committing = true;
        tx.commit();
      }
    }
  } catch (const pqxx::broken_connection& e) {
    status = StatusFromException(e);
    *retryable = !committing;
    conn.reset();
    // When the server restarted, every idle connection is stale too: drop them all.
    std::lock_guard<std::mutex> lock(mu_);
    open_ -= static_cast<int>(idle_.size());
    idle_.clear();
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    if (!conn->is_open()) conn.reset();
  }
  Release(std::move(conn));
  return status;
}

absl::Status PgPool::Run(bool read,
                         const std::function<absl::Status(pqxx::transaction_base&)>& fn) {
  bool retryable = false;
  absl::Status status = RunOnce(read, fn, &retryable);
  if (retryable) {
    log::Warn("postgres.reconnect", {{"schema", options_.schema}});
    status = RunOnce(read, fn, &retryable);
  }
  return status;
}

absl::Status PgPool::Transact(const std::function<absl::Status(pqxx::work&)>& fn) {
  return Run(false, [&](pqxx::transaction_base& tx) { return fn(static_cast<pqxx::work&>(tx)); });
}

absl::Status PgPool::Read(const std::function<absl::Status(pqxx::nontransaction&)>& fn) {
  return Run(
      true, [&](pqxx::transaction_base& tx) { return fn(static_cast<pqxx::nontransaction&>(tx)); });
}

absl::Status PgPool::Ping() {
  return Read([](pqxx::nontransaction& tx) {
    tx.exec("SELECT 1");
    return absl::OkStatus();
  });
}

}  // namespace tierwise::postgres
