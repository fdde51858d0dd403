#ifndef TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_TEST_UTIL_H_
#define TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_TEST_UTIL_H_

// For the classification integration tests: stream entries shaped like the ones the profile
// and credit services publish, and a whole classification service (engine, gRPC services,
// a fixed test clock) on a ServiceHarness of its own. Several instances may live in one test,
// e.g. a clean run next to one that gets the same events redelivered.
//
//   ClassificationInstance clean;
//   clean.Deliver(CustomerCreated(id, kTestNow - 900 * kDay));
//   clean.Deliver(LedgerOrder(id, "e1", 5000, kTestNow - 3 * kDay));
//   EXPECT_EQ(clean.TierOf(id), "A");

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/redis/stream_names.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/classification/classification_server.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification::testutil {

inline constexpr Micros kTestNow = 1795392000LL * 1000000;  // 2026-11-22

inline redis::StreamEntry EntryOf(const google::protobuf::Message& event,
                                  const std::string& event_id) {
  return {"1-0",
          {{"type", event.GetTypeName()},
           {"event_id", event_id},
           {"payload", event.SerializeAsString()}}};
}

// CustomerChanged CREATED for a customer who has been a customer since `since`.
inline redis::StreamEntry CustomerCreated(const std::string& customer_id, Micros since,
                                          int64_t version = 1) {
  events::v1::CustomerChanged e;
  e.set_event_id(absl::StrCat("cc-", customer_id, "-", version));
  e.set_customer_id(customer_id);
  e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  e.set_version(version);
  time::SetTimestamp(since, e.mutable_create_time());
  return EntryOf(e, e.event_id());
}

// CustomerChanged CREATED for an archive created at `created` whose first transaction (a date
// in the business calendar) was on `first_transaction` (no date when year is 0).
inline redis::StreamEntry CustomerImported(const std::string& customer_id, Micros created,
                                           absl::CivilDay first_transaction, int64_t version = 1) {
  events::v1::CustomerChanged e;
  e.set_event_id(absl::StrCat("cc-", customer_id, "-", version));
  e.set_customer_id(customer_id);
  e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  e.set_version(version);
  time::SetTimestamp(created, e.mutable_create_time());
  e.mutable_first_transaction_date()->set_year(static_cast<int>(first_transaction.year()));
  e.mutable_first_transaction_date()->set_month(first_transaction.month());
  e.mutable_first_transaction_date()->set_day(first_transaction.day());
  return EntryOf(e, e.event_id());
}

// A LedgerEvent as the credit service publishes it once it applied the ERP event; the credit
// figures are those after the event.
inline events::v1::LedgerEvent LedgerFact(events::v1::LedgerEventKind kind,
                                          const std::string& customer_id,
                                          const std::string& event_id,
                                          const std::string& document_no, int64_t amount,
                                          Micros occurred_at, const std::string& rating = "AA") {
  events::v1::LedgerEvent e;
  e.set_event_id(event_id);
  e.set_customer_id(customer_id);
  e.set_kind(kind);
  e.set_document_no(document_no);
  e.mutable_amount()->set_minor_units(amount);
  e.mutable_amount()->set_currency("CNY");
  if (kind == events::v1::LEDGER_EVENT_KIND_ORDER) {
    e.mutable_margin()->set_minor_units(amount / 5);
    e.mutable_margin()->set_currency("CNY");
  }
  time::SetTimestamp(occurred_at, e.mutable_occurred_at());
  e.set_credit_rating(rating);
  e.set_on_time_payment_ratio(0.9);
  return e;
}

// An order whose document number is "O-<event_id>".
inline redis::StreamEntry LedgerOrder(const std::string& customer_id, const std::string& event_id,
                                      int64_t amount, Micros occurred_at,
                                      const std::string& rating = "AA") {
  return EntryOf(LedgerFact(events::v1::LEDGER_EVENT_KIND_ORDER, customer_id, event_id,
                            "O-" + event_id, amount, occurred_at, rating),
                 event_id);
}

// Cancels `amount` (0: all) of the order that event `order_event_id` placed.
inline redis::StreamEntry LedgerCancellation(const std::string& customer_id,
                                             const std::string& event_id,
                                             const std::string& order_event_id, int64_t amount,
                                             Micros occurred_at, const std::string& rating = "AA") {
  return EntryOf(LedgerFact(events::v1::LEDGER_EVENT_KIND_CANCELLATION, customer_id, event_id,
                            "O-" + order_event_id, amount, occurred_at, rating),
                 event_id);
}

inline redis::StreamEntry LedgerPayment(const std::string& customer_id, const std::string& event_id,
                                        int64_t amount, Micros occurred_at,
                                        const std::string& rating = "AA") {
  return EntryOf(LedgerFact(events::v1::LEDGER_EVENT_KIND_PAYMENT, customer_id, event_id,
                            "P-" + event_id, amount, occurred_at, rating),
                 event_id);
}

// What a clean run and a disturbed one must agree on, per customer.
struct TierOutcome {
  std::string tier;
  int score = 0;
  std::string label;
  std::string gate;
  bool operator==(const TierOutcome& o) const {
    return tier == o.tier && score == o.score && label == o.label && gate == o.gate;
  }
  friend std::ostream& operator<<(std::ostream& os, const TierOutcome& t) {
    return os << t.tier << " (score " << t.score << ", " << t.label << ", gate '" << t.gate << "')";
  }
};

// Follows a job with GetJob (`make_context` gives each call's context) until it is no longer
// running, for up to 30 s; the job as last read.
template <typename ContextFn>
v1::Job WaitForJob(v1::ClassificationService::Stub& tiers, ContextFn&& make_context,
                   const std::string& job_id) {
  v1::Job job;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    v1::GetJobRequest get;
    get.set_id(job_id);
    const grpc::Status s = tiers.GetJob(make_context().get(), get, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || job.state() != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return job;
}

// ActivateRuleSet(version) and then its job followed to the end (it must end "done"); the
// activation's response.
template <typename ContextFn>
v1::ActivateRuleSetResponse ActivateAndWait(v1::RuleSetService::Stub& rules,
                                            v1::ClassificationService::Stub& tiers,
                                            ContextFn&& make_context, int64_t version) {
  v1::ActivateRuleSetRequest activate;
  activate.set_version(version);
  v1::ActivateRuleSetResponse response;
  const grpc::Status s = rules.ActivateRuleSet(make_context().get(), activate, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!s.ok()) return response;
  EXPECT_EQ(response.job().rule_set_version(), version);
  const v1::Job job = WaitForJob(tiers, make_context, response.job().id());
  EXPECT_EQ(job.state(), "done") << job.DebugString();
  *response.mutable_job() = job;
  return response;
}

// One classification service in-process: its own schema and Redis prefix, the engine loaded,
// the three gRPC services started, and a clock the test moves.
class ClassificationInstance {
 public:
  // `cache`, when set, is the Redis of the tier cache instead of the harness's; `calendar` the
  // business calendar.
  explicit ClassificationInstance(Micros now = kTestNow, redis::RedisClient* cache = nullptr,
                                  time::BusinessCalendar calendar = time::BusinessCalendar::Utc())
      : now_(now),
        deps_(std::make_unique<server::ServiceDeps>(server::ServiceDeps{
            harness_.deps().config, harness_.pool(), cache != nullptr ? *cache : harness_.redis(),
            harness_.relay(), harness_.deps().tokens, std::move(calendar)})),
        server_(std::make_unique<ClassificationServer>(*deps_, [this] { return now_.load(); })) {
    absl::Status loaded = server_->engine.Load();
    EXPECT_TRUE(loaded.ok()) << loaded;
    harness_.Start(
        {{&server_->rule_set_service, v1::RuleSetService::service_full_name()},
         {&server_->classification_service, v1::ClassificationService::service_full_name()},
         {&server_->report_service, v1::ReportService::service_full_name()}});
    tiers_ = v1::ClassificationService::NewStub(harness_.channel());
    rules_ = v1::RuleSetService::NewStub(harness_.channel());
    reports_ = v1::ReportService::NewStub(harness_.channel());
  }
  // No call may reach the services while they are destroyed.
  ~ClassificationInstance() { harness_.Stop(); }

  ::tierwise::testing::ServiceHarness& harness() { return harness_; }
  TierEngine& engine() { return server_->engine; }
  redis::TrackedCache* local_cache() { return server_->local_tiers.get(); }
  v1::ClassificationService::Stub& tiers() { return *tiers_; }
  v1::RuleSetService::Stub& rules() { return *rules_; }
  v1::ReportService::Stub& reports() { return *reports_; }
  void set_now(Micros now) { now_ = now; }
  Micros now() const { return now_; }
  std::string LedgerStream() const { return streams::Ledger(harness_.prefix()); }
  std::string TierChangedStream() const { return streams::TierChanged(harness_.prefix()); }

  // Hands an entry to the engine's handler for its type, as a stream consumer would.
  absl::Status Deliver(const redis::StreamEntry& entry) {
    return entry.Field("type") == "tierwise.events.v1.CustomerChanged"
               ? engine().OnCustomerChanged(entry)
               : engine().OnLedgerEvent(entry);
  }

  // GetTier over gRPC (viewer); "" when the call fails.
  std::string TierOf(const std::string& customer_id) {
    v1::GetTierRequest request;
    request.set_customer_id(customer_id);
    v1::Tier tier;
    grpc::Status s = tiers_->GetTier(
        ::tierwise::testing::ServiceHarness::Context(::tierwise::testing::ServiceHarness::kViewer)
            .get(),
        request, &tier);
    EXPECT_TRUE(s.ok()) << customer_id << ": " << s.error_message();
    return s.ok() ? tier.tier() : "";
  }

  // Every stored tier, straight from PostgreSQL.
  std::map<std::string, TierOutcome> Outcomes() {
    std::map<std::string, TierOutcome> out;
    absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
      for (const store::StoredTier& t : store::AllTiers(tx)) {
        out[t.tier.customer_id()] = {t.tier.tier(), t.tier.score(), t.tier.label(), t.gate};
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Every customer's stored metrics (all columns but updated_at) as JSON text.
  std::map<std::string, std::string> Metrics() {
    std::map<std::string, std::string> out;
    absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
      for (const auto& row : tx.exec("SELECT customer_id::text, (to_jsonb(m) - 'updated_at')::text"
                                     " FROM customer_metrics m")) {
        out[row[0].as<std::string>()] = row[1].as<std::string>();
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Customers per tier, from the stored tiers.
  std::map<std::string, int> Counts() {
    std::map<std::string, int> counts;
    for (const auto& [id, outcome] : Outcomes()) ++counts[outcome.tier];
    return counts;
  }

 private:
  std::atomic<Micros> now_;
  ::tierwise::testing::ServiceHarness harness_{Migrations(), "classification"};
  std::unique_ptr<server::ServiceDeps> deps_;
  std::unique_ptr<ClassificationServer> server_;
  std::unique_ptr<v1::ClassificationService::Stub> tiers_;
  std::unique_ptr<v1::RuleSetService::Stub> rules_;
  std::unique_ptr<v1::ReportService::Stub> reports_;
};

}  // namespace tierwise::classification::testutil

#endif  // TIERWISE_SERVICES_CLASSIFICATION_CLASSIFICATION_TEST_UTIL_H_
