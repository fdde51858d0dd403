#ifndef TIERWISE_COMMON_POSTGRES_LEADER_LEASE_H_
#define TIERWISE_COMMON_POSTGRES_LEADER_LEASE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

// One writer among replicas, elected with a session-level PostgreSQL advisory lock held on a
// dedicated connection: whoever holds pg_advisory_lock(key) is the leader; the lock goes with the
// session, so a leader that dies (its socket closes) or loses its connection (the server drops
// the session after the keepalive settings below) frees it for a standby, which polls for it.
//
//   LeaderLease lease(open_connection, {.name = "classification", .key = LeaderLease::KeyOf(
//                         "classification.writer", schema)},
//                     [&] { return StartWriting(); },  // on the lease's thread; error = retry
//                     [&] { StopWriting(); });
//   lease.Start();
//
// The leader checks its session every check_interval and steps down (on_lost) when the check
// fails, before the server can hand the lock on (the session's server-side keepalives are
// several times longer); a fencing token (e.g. an epoch bumped in on_elected and checked by each
// write transaction) closes the remaining gap. on_elected failing releases the lock again and the
// lease retries after retry_interval. Thread-safe; the callbacks run on the lease's thread,
// never concurrently.
namespace tierwise::postgres {

struct LeaderLeaseOptions {
  std::string name;                                // for logs, e.g. "classification"
  int64_t key = 0;                                 // the advisory lock key (see KeyOf)
  std::chrono::milliseconds retry_interval{1000};  // a standby tries the lock this often
  std::chrono::milliseconds check_interval{1000};  // the leader checks its session this often
  // Server-side TCP settings of the lock's session (seconds): how soon PostgreSQL drops the
  // session, releasing the lock, when the leader's host stops answering.
  int server_keepalive_idle_s = 5;
  int server_keepalive_interval_s = 1;
  int server_keepalive_count = 3;
};

class LeaderLease {
 public:
  using Opener = std::function<absl::StatusOr<std::unique_ptr<pqxx::connection>>()>;

  LeaderLease(Opener open, LeaderLeaseOptions options, std::function<absl::Status()> on_elected,
              std::function<void()> on_lost);
  ~LeaderLease();  // Stop()
  LeaderLease(const LeaderLease&) = delete;
  LeaderLease& operator=(const LeaderLease&) = delete;

  void Start();
  // Steps down (on_lost when leading; the lock goes with the closed session) and joins.
  void Stop();

  bool leader() const { return leader_.load(); }
  // Terms won by this process so far.
  int64_t terms() const { return terms_.load(); }

  // A stable lock key for `purpose` within `scope` (e.g. a schema name): FNV-1a of both.
  static int64_t KeyOf(const std::string& purpose, const std::string& scope);

 private:
  void Run();
  // Tries the lock once on *conn (opening it when null); true when held now.
  bool TryAcquire(std::unique_ptr<pqxx::connection>* conn);
  // True while *conn is open and still holds the lock.
  bool StillHeld(pqxx::connection& conn);
  // Sleeps up to `pause`, waking early on Stop().
  void Pause(std::chrono::milliseconds pause);

  const Opener open_;
  const LeaderLeaseOptions options_;
  const std::function<absl::Status()> on_elected_;
  const std::function<void()> on_lost_;
  std::atomic<bool> leader_{false};
  std::atomic<int64_t> terms_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_LEADER_LEASE_H_
