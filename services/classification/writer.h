#ifndef TIERWISE_SERVICES_CLASSIFICATION_WRITER_H_
#define TIERWISE_SERVICES_CLASSIFICATION_WRITER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/postgres/pool.h"
#include "services/classification/tier_engine.h"
#include "tierwise/classification/v1/classification.pb.h"

// One writer among the replicas. Exactly one replica at a time (the holder of the advisory lock,
// see common/postgres/leader_lease.h and ClassificationDefinition) evaluates: it runs the stream
// consumers, the minute's maintenance, full runs and rule activation, all through its
// TierEngine. Every replica serves reads. The write RPCs work on any replica through Writer:
// on the writer they go to the engine at once; on a standby they are committed to PostgreSQL
// (write_requests, or the rule set's activation itself) and the writer applies them within
// a poll interval (ApplyPending), while the standby waits for the outcome (an activation and a
// full run return their job at once instead).
namespace tierwise::classification {

// Runs full reclassifications in the background and records their progress in `jobs`. One full
// job at a time across the replicas (the running one is returned instead of a second); the
// runs themselves take turns on the engine. Joins its threads on destruction.
class JobRunner {
 public:
  JobRunner(postgres::PgPool& pool, TierEngine& engine, std::function<Micros()> clock)
      : pool_(pool), engine_(engine), clock_(std::move(clock)) {}
  ~JobRunner();
  // A new job, saved as running (with `actor`'s audit row) and started here; the running job
  // instead when there is one.
  absl::StatusOr<v1::Job> Start(const std::string& reason, const Actor& actor);
  // A new job saved as running (with `actor`'s audit row; *created = true), to be started by
  // Run (on the writer); the running job instead when there is one (*created = false).
  absl::StatusOr<v1::Job> Create(const Actor& actor, bool* created);
  // Runs a saved job in the background, claimed by this process.
  void Run(const v1::Job& job, const std::string& reason);
  absl::StatusOr<v1::Job> Get(const std::string& id);
  // Marks failed the full runs a previous writer claimed and did not end (on election).
  absl::StatusOr<int64_t> FailInterrupted();
  // Runs `fn` on a thread joined by the destructor.
  void Background(std::function<void()> fn);
  Micros Now() const { return clock_(); }

 private:
  postgres::PgPool& pool_;
  TierEngine& engine_;
  const std::function<Micros()> clock_;
  std::mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

class Writer {
 public:
  struct Options {
    // How long a standby waits for the writer to apply a request (a takeover included).
    std::chrono::milliseconds wait{15000};
    std::chrono::milliseconds poll{50};
  };
  // `leading`: whether this replica is the writer now (always true for a single replica).
  Writer(postgres::PgPool& pool, TierEngine& engine, JobRunner& jobs, std::function<bool()> leading,
         Options options);
  Writer(postgres::PgPool& pool, TierEngine& engine, JobRunner& jobs, std::function<bool()> leading)
      : Writer(pool, engine, jobs, std::move(leading), Options()) {}

  bool leading() const { return leading_(); }

  // The write RPCs, with TierEngine's contracts. On a standby: UNAVAILABLE when the writer has
  // not applied the request within Options::wait (it stays queued and is applied later; the
  // requests are idempotent, so a retry is harmless).
  // Each writes `actor`'s audit row in the transaction that applies the change (on the writer,
  // also for a request queued by a standby).
  absl::StatusOr<v1::Tier> Pin(const std::string& customer_id, const std::string& tier,
                               const std::string& reason, Micros expires, const Actor& actor);
  absl::StatusOr<v1::Tier> Unpin(const std::string& customer_id, const std::string& reason,
                                 const Actor& actor);
  absl::StatusOr<v1::Tier> Reclassify(const std::string& customer_id, const Actor& actor);
  // Commits the activation and its job (CommitActivation: GetRuleSet(0) on every replica
  // answers it from then on) and returns at once; the writer reclassifies everyone under it in
  // the background, reporting in the job.
  absl::StatusOr<Activation> ActivateRuleSet(int64_t version, const Actor& actor);
  // The job at once (the running one when there is one); the writer runs it.
  absl::StatusOr<v1::Job> StartFullReclassification(const std::string& reason, const Actor& actor);

  // On the writer (a no-op elsewhere): applies a rule set activated through a standby and the
  // queued requests, in order. Periodic.
  absl::Status ApplyPending();

 private:
  // Queues a request and waits for its outcome (the serialized result).
  absl::StatusOr<std::string> Submit(const std::string& kind, const std::string& payload,
                                     const Actor& actor);
  // Applies one queued request on the writer: the serialized result, or the error.
  absl::StatusOr<std::string> Apply(const std::string& kind, const std::string& payload,
                                    const Actor& actor);

  postgres::PgPool& pool_;
  TierEngine& engine_;
  JobRunner& jobs_;
  const std::function<bool()> leading_;
  const Options options_;
  std::mutex apply_mu_;  // one ApplyPending at a time
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_WRITER_H_
