#include "common/postgres/leader_lease.h"

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/postgres/pool.h"

namespace tierwise::postgres {

LeaderLease::LeaderLease(Opener open, LeaderLeaseOptions options,
                         std::function<absl::Status()> on_elected, std::function<void()> on_lost)
    : open_(std::move(open)),
      options_(std::move(options)),
      on_elected_(std::move(on_elected)),
      on_lost_(std::move(on_lost)) {}

LeaderLease::~LeaderLease() { Stop(); }

int64_t LeaderLease::KeyOf(const std::string& purpose, const std::string& scope) {
  uint64_t h = 14695981039346656037ULL;
  for (const std::string* part : {&purpose, &scope}) {
    for (unsigned char c : *part) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator: ("ab", "c") and ("a", "bc") differ
    h *= 1099511628211ULL;
  }
  return static_cast<int64_t>(h);
}

void LeaderLease::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderLease::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderLease::Pause(std::chrono::milliseconds pause) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, pause, [this] { return stop_; });
}

bool LeaderLease::TryAcquire(std::unique_ptr<pqxx::connection>* conn) {
  try {
    if (*conn == nullptr || !(*conn)->is_open()) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> opened = open_();
      if (!opened.ok()) {
        log::Warn("leader_lease.connect_failed",
                  {{"lease", options_.name}, {"error", opened.status().ToString()}});
        conn->reset();
        return false;
      }
      *conn = std::move(*opened);
      // Server-side keepalives of this session: a leader host that vanishes loses the lock in
      // seconds, not the kernel's hours. Integer settings from our own options.
      pqxx::nontransaction setup(**conn);
      setup.exec(absl::StrCat("SET tcp_keepalives_idle = ", options_.server_keepalive_idle_s));
      setup.exec(
          absl::StrCat("SET tcp_keepalives_interval = ", options_.server_keepalive_interval_s));
      setup.exec(absl::StrCat("SET tcp_keepalives_count = ", options_.server_keepalive_count));
    }
    pqxx::nontransaction tx(**conn);
    return tx.exec_params1("SELECT pg_try_advisory_lock($1)", options_.key)[0].as<bool>();
  } catch (const std::exception& e) {
    log::Warn("leader_lease.try_failed",
              {{"lease", options_.name}, {"error", StatusFromException(e).ToString()}});
    conn->reset();
    return false;
  }
}

bool LeaderLease::StillHeld(pqxx::connection& conn) {
  try {
    pqxx::nontransaction tx(conn);
    // The lock is ours while our session lists it as granted.
    return tx
        .exec_params1(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = $1",
            options_.key)[0]
        .as<bool>();
  } catch (const std::exception& e) {
    log::Warn("leader_lease.check_failed",
              {{"lease", options_.name}, {"error", StatusFromException(e).ToString()}});
    return false;
  }
}

void LeaderLease::Run() {
  std::unique_ptr<pqxx::connection> conn;
  const auto stopping = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  while (!stopping()) {
    if (!TryAcquire(&conn)) {
      Pause(options_.retry_interval);
      continue;
    }
    const auto elected_at = std::chrono::steady_clock::now();
    ++terms_;
    leader_ = true;
    absl::Status started = on_elected_();
    if (!started.ok()) {
      log::Warn("leader_lease.start_failed",
                {{"lease", options_.name}, {"error", started.ToString()}});
      leader_ = false;
      on_lost_();
      conn.reset();  // closing the session releases the lock
      Pause(options_.retry_interval);
      continue;
    }
    log::Info("leader_lease.elected",
              {{"lease", options_.name},
               {"start_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - elected_at)
                                .count()}});
    while (!stopping()) {
      Pause(options_.check_interval);
      if (stopping()) break;
      if (!StillHeld(*conn)) {
        log::Warn("leader_lease.lost", {{"lease", options_.name}});
        break;
      }
    }
    leader_ = false;
    on_lost_();
    conn.reset();
    if (!stopping()) Pause(options_.retry_interval);
  }
}

}  // namespace tierwise::postgres
