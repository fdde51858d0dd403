#include "services/classification/writer.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/classification/classification_store.h"

namespace tierwise::classification {
namespace {

constexpr char kPinRequest[] = "PIN";
constexpr char kUnpinRequest[] = "UNPIN";
constexpr char kReclassifyRequest[] = "RECLASSIFY";
constexpr char kFullRequest[] = "FULL";

template <typename Fn>
absl::Status InTx(postgres::PgPool& pool, Fn&& fn) {
  return pool.Transact([&](pqxx::work& tx) -> absl::Status { return fn(tx); });
}

template <typename Message>
absl::StatusOr<Message> Parse(const absl::StatusOr<std::string>& bytes) {
  if (!bytes.ok()) return bytes.status();
  Message m;
  if (!m.ParseFromString(*bytes)) return absl::InternalError("unreadable write request result");
  return m;
}

}  // namespace

// ---- JobRunner ----

JobRunner::~JobRunner() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

absl::StatusOr<v1::Job> JobRunner::Create(const Actor& actor, bool* created) {
  v1::Job job;
  job.set_id(ids::NewUuid());
  job.set_state("running");
  store::SetTimestamp(clock_(), job.mutable_start_time());
  std::optional<v1::Job> running;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    running = store::InsertRunningJob(tx, job);
    if (!running.has_value()) {
      postgres::WriteAudit(tx, AuditOf(actor, "reclassification.start", "", "job", job.id()));
    }
    return absl::OkStatus();
  }));
  *created = !running.has_value();
  return running.has_value() ? *running : job;
}

absl::StatusOr<v1::Job> JobRunner::Start(const std::string& reason, const Actor& actor) {
  bool created = false;
  absl::StatusOr<v1::Job> job = Create(actor, &created);
  if (job.ok() && created) Run(*job, reason);
  return job;
}

void JobRunner::Run(const v1::Job& saved, const std::string& reason) {
  Background([this, job = saved, reason]() mutable {
    (void)InTx(pool_, [&](pqxx::work& tx) {
      store::ClaimJob(tx, job.id(), engine_.runner_id());
      return absl::OkStatus();
    });
    absl::StatusOr<int64_t> changed =
        engine_.ReclassifyAll(reason, [&](int64_t processed, int64_t total) {
          job.set_processed(processed);
          job.set_total(total);
          (void)InTx(pool_, [&](pqxx::work& tx) {
            store::SaveJob(tx, job);
            return absl::OkStatus();
          });
        });
    job.set_state(changed.ok() ? "done" : "failed");
    if (changed.ok()) {
      job.set_changed(*changed);
      job.set_processed(job.total());
    } else {
      job.set_error(changed.status().ToString());
    }
    store::SetTimestamp(clock_(), job.mutable_end_time());
    (void)InTx(pool_, [&](pqxx::work& tx) {
      store::SaveJob(tx, job);
      return absl::OkStatus();
    });
  });
}

void JobRunner::Background(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  threads_.emplace_back(std::move(fn));
}

absl::StatusOr<int64_t> JobRunner::FailInterrupted() {
  int64_t failed = 0;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    failed = store::FailInterruptedJobs(tx, engine_.runner_id(), clock_());
    return absl::OkStatus();
  }));
  if (failed > 0) log::Warn("classification.jobs_interrupted", {{"jobs", failed}});
  return failed;
}

absl::StatusOr<v1::Job> JobRunner::Get(const std::string& id) {
  std::optional<v1::Job> job;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    job = store::LoadJob(tx, id);
    return absl::OkStatus();
  }));
  if (!job.has_value()) return absl::NotFoundError(absl::StrCat("no job ", id));
  return *job;
}

// ---- Writer ----

Writer::Writer(postgres::PgPool& pool, TierEngine& engine, JobRunner& jobs,
               std::function<bool()> leading, Options options)
    : pool_(pool), engine_(engine), jobs_(jobs), leading_(std::move(leading)), options_(options) {}

absl::StatusOr<v1::Tier> Writer::Pin(const std::string& customer_id, const std::string& tier,
                                     const std::string& reason, Micros expires,
                                     const Actor& actor) {
  if (leading()) return engine_.Pin(customer_id, tier, reason, expires, actor);
  v1::PinTierRequest request;
  request.set_customer_id(customer_id);
  request.set_tier(tier);
  request.set_reason(reason);
  store::SetTimestamp(expires, request.mutable_expire_time());
  return Parse<v1::Tier>(Submit(kPinRequest, request.SerializeAsString(), actor));
}

absl::StatusOr<v1::Tier> Writer::Unpin(const std::string& customer_id, const std::string& reason,
                                       const Actor& actor) {
  if (leading()) return engine_.Unpin(customer_id, reason, actor);
  v1::UnpinTierRequest request;
  request.set_customer_id(customer_id);
  request.set_reason(reason);
  return Parse<v1::Tier>(Submit(kUnpinRequest, request.SerializeAsString(), actor));
}

absl::StatusOr<v1::Tier> Writer::Reclassify(const std::string& customer_id, const Actor& actor) {
  if (leading()) return engine_.Reclassify(customer_id, "RECLASSIFY", actor);
  v1::ReclassifyRequest request;
  request.set_customer_id(customer_id);
  return Parse<v1::Tier>(Submit(kReclassifyRequest, request.SerializeAsString(), actor));
}

absl::StatusOr<Activation> Writer::ActivateRuleSet(int64_t version, const Actor& actor) {
  std::optional<Activation> activation;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) -> absl::Status {
    TW_ASSIGN_OR_RETURN(Activation committed, CommitActivation(tx, version, actor, jobs_.Now()));
    activation = std::move(committed);
    return absl::OkStatus();
  }));
  log::Info("classification.rule_set_activated", {{"version", version},
                                                  {"actor", actor.name},
                                                  {"request_id", actor.request_id},
                                                  {"job", activation->job.id()}});
  // The writer applies it in the background (a standby's writer within a poll interval); the
  // caller follows the job.
  if (leading()) {
    jobs_.Background([&engine = engine_] { (void)engine.ApplyActiveRuleSet(); });
  }
  return *std::move(activation);
}

absl::StatusOr<v1::Job> Writer::StartFullReclassification(const std::string& reason,
                                                          const Actor& actor) {
  if (leading()) return jobs_.Start(reason, actor);
  bool created = false;
  TW_ASSIGN_OR_RETURN(v1::Job job, jobs_.Create(actor, &created));
  if (!created) return job;  // the running one
  // The actor column carries the run's reason code (the audit row is written already).
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    store::InsertWriteRequest(tx, kFullRequest, job.SerializeAsString(), reason, actor.role,
                              actor.request_id);
    return absl::OkStatus();
  }));
  return job;
}

absl::StatusOr<std::string> Writer::Submit(const std::string& kind, const std::string& payload,
                                           const Actor& actor) {
  int64_t id = 0;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    id = store::InsertWriteRequest(tx, kind, payload, actor.name, actor.role, actor.request_id);
    return absl::OkStatus();
  }));
  const auto until = std::chrono::steady_clock::now() + options_.wait;
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(options_.poll);
    // This replica may have become the writer meanwhile: then it applies the request itself.
    if (leading()) (void)ApplyPending();
    std::optional<store::WriteOutcome> outcome;
    const absl::Status s = InTx(pool_, [&](pqxx::work& tx) {
      outcome = store::LoadWriteOutcome(tx, id);
      return absl::OkStatus();
    });
    if (!s.ok() || !outcome.has_value() || !outcome->done) continue;
    if (outcome->code != 0) {
      return absl::Status(static_cast<absl::StatusCode>(outcome->code), outcome->message);
    }
    return outcome->result;
  }
  return absl::UnavailableError(absl::StrCat(
      "request ", id, " is queued for the classification writer, which has not applied it yet"));
}

absl::StatusOr<std::string> Writer::Apply(const std::string& kind, const std::string& payload,
                                          const Actor& actor) {
  const auto serialized = [](const absl::StatusOr<v1::Tier>& t) -> absl::StatusOr<std::string> {
    if (!t.ok()) return t.status();
    return t->SerializeAsString();
  };
  if (kind == kPinRequest) {
    v1::PinTierRequest r;
    if (!r.ParseFromString(payload)) return absl::InvalidArgumentError("bad PIN request");
    return serialized(engine_.Pin(r.customer_id(), r.tier(), r.reason(),
                                  store::ToMicros(r.expire_time()), actor));
  }
  if (kind == kUnpinRequest) {
    v1::UnpinTierRequest r;
    if (!r.ParseFromString(payload)) return absl::InvalidArgumentError("bad UNPIN request");
    return serialized(engine_.Unpin(r.customer_id(), r.reason(), actor));
  }
  if (kind == kReclassifyRequest) {
    v1::ReclassifyRequest r;
    if (!r.ParseFromString(payload)) return absl::InvalidArgumentError("bad RECLASSIFY request");
    return serialized(engine_.Reclassify(r.customer_id(), "RECLASSIFY", actor));
  }
  if (kind == kFullRequest) {
    v1::Job job;
    if (!job.ParseFromString(payload)) return absl::InvalidArgumentError("bad FULL request");
    jobs_.Run(job, actor.name);  // the actor column carries the run's reason
    return job.SerializeAsString();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown write request kind ", kind));
}

absl::Status Writer::ApplyPending() {
  if (!leading()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(apply_mu_);
  // A rule set activated through a standby (or before a takeover) first: the requests below
  // are evaluated against it.
  if (absl::StatusOr<int64_t> applied = engine_.ApplyActiveRuleSet(); !applied.ok()) {
    return applied.status();
  }
  std::vector<store::WriteRequest> pending;
  TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
    pending = store::PendingWriteRequests(tx, 100);
    return absl::OkStatus();
  }));
  for (const store::WriteRequest& r : pending) {
    if (!leading()) break;
    absl::StatusOr<std::string> result =
        Apply(r.kind, r.payload, Actor{r.actor, r.actor_role, r.request_id});
    // A transient failure (the database, a lost term) leaves it queued for the next round.
    if (!result.ok() && (result.status().code() == absl::StatusCode::kUnavailable ||
                         result.status().code() == absl::StatusCode::kAborted)) {
      return result.status();
    }
    TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
      store::FinishWriteRequest(tx, r.id, result.ok() ? *result : "",
                                static_cast<int>(result.status().code()),
                                std::string(result.status().message()));
      return absl::OkStatus();
    }));
  }
  return absl::OkStatus();
}

}  // namespace tierwise::classification
