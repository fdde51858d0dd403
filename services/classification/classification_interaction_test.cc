// The interaction service's events (InteractionLogged, ComplaintChanged) reaching the
// classification service: entries are XADDed onto <prefix>:interaction.events as the outbox
// relay writes them and read by the service's own consumer, against the real PostgreSQL and
// Redis, with a test clock.
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/redis/stream_names.h"
#include "common/testing/service_harness.h"
#include "gtest/gtest.h"
#include "services/classification/classification_server.h"
#include "services/classification/classification_test_util.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::classification {
namespace {

using H = testing::ServiceHarness;

constexpr Micros kNow = 1795392000LL * 1000000;  // 2026-11-22

// What customer_metrics holds for one customer (the interaction part).
struct StoredMetrics {
  std::optional<int> satisfaction_x100;
  int satisfaction_count = 0;
  int complaints_12m = 0;
  int open_complaints = 0;
  int sla_breaches_12m = 0;
  bool operator==(const StoredMetrics& o) const {
    return satisfaction_x100 == o.satisfaction_x100 && satisfaction_count == o.satisfaction_count &&
           complaints_12m == o.complaints_12m && open_complaints == o.open_complaints &&
           sla_breaches_12m == o.sla_breaches_12m;
  }
};

void PrintTo(const StoredMetrics& m, std::ostream* os) {
  *os << "{satisfaction_x100="
      << (m.satisfaction_x100 ? std::to_string(*m.satisfaction_x100) : "none")
      << " count=" << m.satisfaction_count << " complaints_12m=" << m.complaints_12m
      << " open=" << m.open_complaints << " breaches_12m=" << m.sla_breaches_12m << "}";
}

class InteractionEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<ClassificationServer>(harness_.deps(), [this] { return now_.load(); });
    ASSERT_TRUE(server_->engine.Load().ok());
    harness_.Start(
        {{&server_->rule_set_service, v1::RuleSetService::service_full_name()},
         {&server_->classification_service, v1::ClassificationService::service_full_name()}});
    tiers_ = v1::ClassificationService::NewStub(harness_.channel());
    rules_ = v1::RuleSetService::NewStub(harness_.channel());
    // The service's own consumers (not started: the test polls), retrying a failed entry at
    // once and dead-lettering it on its second failure.
    auto redis = redis::ParseRedisAddress(testing::RedisAddr());
    ASSERT_TRUE(redis.ok());
    for (StreamInput& input :
         StreamInputs(std::shared_ptr<TierEngine>(std::shared_ptr<void>(), &server_->engine),
                      *redis, harness_.prefix(), "test-consumer",
                      {.block = std::chrono::milliseconds(10),
                      .reclaim_idle = std::chrono::milliseconds(0),
                      .max_deliveries = 2})) {
      if (input.stream == Stream()) consumer_ = input.consumer;
    }
    ASSERT_NE(consumer_, nullptr) << "no consumer of " << Stream();
    ASSERT_TRUE(consumer_->EnsureGroup().ok());
  }

  std::string Stream() const { return streams::InteractionEvents(harness_.prefix()); }
  std::string DeadLetters() const {
    return streams::DeadLetter(harness_.prefix(), "classification");
  }

  // A customer the profile service announced, a customer for two years.
  std::string Customer() {
    events::v1::CustomerChanged e;
    e.set_event_id(ids::NewUuid());
    e.set_customer_id(ids::NewUuid());
    e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
    e.set_version(1);
    store::SetTimestamp(kNow - 730 * kDay, e.mutable_create_time());
    absl::Status s = server_->engine.OnCustomerChanged(
        {"1-0",
         {{"type", "tierwise.events.v1.CustomerChanged"}, {"payload", e.SerializeAsString()}}});
    EXPECT_TRUE(s.ok()) << s;
    return e.customer_id();
  }

  static events::v1::InteractionLogged Interaction(const std::string& customer,
                                                   const std::string& id, int satisfaction,
                                                   int days_ago, const std::string& corrects = "") {
    events::v1::InteractionLogged e;
    e.set_event_id("ev-" + id);
    e.set_interaction_id(id);
    e.set_customer_id(customer);
    store::SetTimestamp(kNow - days_ago * kDay, e.mutable_occurred_at());
    e.set_channel(2);
    e.set_satisfaction(satisfaction);
    e.set_corrects(corrects);
    e.set_owner("rep.zhang");
    return e;
  }

  static events::v1::ComplaintChanged Complaint(const std::string& customer, const std::string& id,
                                                int64_t version, bool open, bool response_breached,
                                                bool resolution_breached, int opened_days_ago) {
    events::v1::ComplaintChanged e;
    e.set_event_id(absl::StrCat("ev-", id, "-", version));
    e.set_complaint_id(id);
    e.set_customer_id(customer);
    e.set_change(!open                 ? events::v1::COMPLAINT_CHANGE_RESOLVED
                 : resolution_breached ? events::v1::COMPLAINT_CHANGE_RESOLUTION_SLA_BREACHED
                 : response_breached   ? events::v1::COMPLAINT_CHANGE_RESPONSE_SLA_BREACHED
                                       : events::v1::COMPLAINT_CHANGE_OPENED);
    e.set_version(version);
    store::SetTimestamp(kNow - opened_days_ago * kDay, e.mutable_opened_at());
    store::SetTimestamp(kNow - opened_days_ago * kDay + version * 3600LL * 1000000,
                        e.mutable_changed_at());
    e.set_open(open);
    e.set_response_breached(response_breached);
    e.set_resolution_breached(resolution_breached);
    e.set_owner("rep.zhang");
    e.set_tier("B");
    return e;
  }

  // The entry as the outbox relay writes it.
  template <typename Event>
  static redis::StreamEntry Entry(const Event& e) {
    return {"",
            {{"type", e.GetTypeName()},
             {"event_id", e.event_id()},
             {"payload", e.SerializeAsString()}}};
  }

  template <typename Event>
  void Publish(const Event& e) {
    auto id = harness_.redis().XAdd(Stream(), "*", Entry(e).fields);
    ASSERT_TRUE(id.ok()) << id.status();
  }

  // Reads what is on the stream; returns how many entries were handled successfully.
  int Poll() {
    absl::StatusOr<int> n = consumer_->PollOnce();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }

  template <typename Event>
  void Deliver(const Event& e) {
    Publish(e);
    EXPECT_EQ(Poll(), 1);
  }

  StoredMetrics Metrics(const std::string& customer) {
    auto m = harness_.pool().Transact<StoredMetrics>(
        [&](pqxx::work& tx) -> absl::StatusOr<StoredMetrics> {
          const pqxx::result r = tx.exec_params(
              "SELECT satisfaction_x100, satisfaction_count_12m, complaints_12m, open_complaints,"
              " sla_breaches_12m FROM customer_metrics WHERE customer_id = $1",
              customer);
          if (r.empty()) return absl::NotFoundError("no metrics row");
          StoredMetrics out;
          if (!r[0][0].is_null()) out.satisfaction_x100 = r[0][0].as<int>();
          out.satisfaction_count = r[0][1].as<int>();
          out.complaints_12m = r[0][2].as<int>();
          out.open_complaints = r[0][3].as<int>();
          out.sla_breaches_12m = r[0][4].as<int>();
          return out;
        });
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : StoredMetrics{};
  }

  v1::Tier Get(const std::string& id) {
    v1::GetTierRequest req;
    req.set_customer_id(id);
    v1::Tier t;
    grpc::Status s = tiers_->GetTier(H::Context(H::kViewer).get(), req, &t);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return t;
  }

  std::vector<v1::TierChange> History(const std::string& id) {
    v1::GetTierHistoryRequest req;
    req.set_customer_id(id);
    v1::GetTierHistoryResponse resp;
    EXPECT_TRUE(tiers_->GetTierHistory(H::Context(H::kViewer).get(), req, &resp).ok());
    return {resp.changes().begin(), resp.changes().end()};
  }

  const v1::FactorContribution* Factor(const v1::Tier& t, const std::string& name) {
    for (const auto& f : t.factors()) {
      if (f.factor() == name) return &f;
    }
    ADD_FAILURE() << "no factor " << name;
    return nullptr;
  }

  // Weighted score: satisfaction 60 (full points at 5.00), complaints in 12 months 20 (none at
  // 2), open complaints 10 (none at 1), SLA breaches 10 (none at 2); A ≥ 85, B ≥ 60, C ≥ 30.
  // Created and activated over the API, so validation has to accept the factors.
  void ActivateServiceRuleSet() {
    v1::CreateRuleSetRequest create;
    v1::RuleSet* rs = create.mutable_rule_set();
    *rs = DefaultRuleSet();
    rs->set_name("service quality");
    rs->set_method(v1::METHOD_WEIGHTED_SCORE);
    rs->clear_factors();
    for (auto [factor, weight, cap] :
         std::vector<std::tuple<v1::Factor, int, int64_t>>{{v1::FACTOR_SATISFACTION, 60, 500},
                                                           {v1::FACTOR_COMPLAINTS_12M, 20, 2},
                                                           {v1::FACTOR_OPEN_COMPLAINTS, 10, 1},
                                                           {v1::FACTOR_SLA_BREACHES_12M, 10, 2}}) {
      v1::ScoreFactor* f = rs->add_factors();
      f->set_factor(factor);
      f->set_weight(weight);
      f->set_cap(cap);
    }
    for (auto [tier, min] :
         std::vector<std::pair<std::string, int>>{{"A", 85}, {"B", 60}, {"C", 30}}) {
      v1::TierThreshold* t = rs->add_thresholds();
      t->set_tier(tier);
      t->set_min_value(min);
    }
    v1::RuleSet created;
    grpc::Status s = rules_->CreateRuleSet(H::Context(H::kManager).get(), create, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
    testutil::ActivateAndWait(
        *rules_, *tiers_, [] { return H::Context(H::kManager); }, created.version());
  }

  std::atomic<Micros> now_{kNow};
  H harness_{Migrations(), "classification"};
  std::unique_ptr<ClassificationServer> server_;
  std::unique_ptr<v1::ClassificationService::Stub> tiers_;
  std::unique_ptr<v1::RuleSetService::Stub> rules_;
  std::shared_ptr<redis::StreamConsumer> consumer_;
};

TEST_F(InteractionEventsTest, SatisfactionAndComplaintMetricsAppear) {
  const std::string id = Customer();
  Deliver(Interaction(id, "i1", 5, 10));
  Deliver(Interaction(id, "i2", 4, 20));
  Deliver(Interaction(id, "i3", 4, 30));
  Deliver(Interaction(id, "i4", 0, 40));   // satisfaction not asked: no rating
  Deliver(Interaction(id, "i5", 1, 400));  // outside the 12-month window
  Deliver(Complaint(id, "k1", 1, true, false, false, 5));
  Deliver(Complaint(id, "k2", 3, false, true, true, 100));
  Deliver(Complaint(id, "k3", 2, true, true, false, 500));  // old but still open

  StoredMetrics want;
  want.satisfaction_x100 = 433;  // (5 + 4 + 4) / 3 = 4.333…
  want.satisfaction_count = 3;
  want.complaints_12m = 2;    // k1, k2
  want.open_complaints = 2;   // k1, k3
  want.sla_breaches_12m = 2;  // both of k2's clocks; k3 opened before the window
  EXPECT_EQ(Metrics(id), want);
  EXPECT_EQ(harness_.CountRows("interaction_facts"), 5);
  EXPECT_EQ(harness_.CountRows("complaint_facts"), 3);
  auto dead = harness_.redis().XRange(DeadLetters());
  ASSERT_TRUE(dead.ok());
  EXPECT_TRUE(dead->empty());
}

TEST_F(InteractionEventsTest, SatisfactionFactorChangesTheTier) {
  const std::string id = Customer();
  ActivateServiceRuleSet();
  // No rating: satisfaction is neutral (50 points → 30), no complaints (40): 70 → B.
  v1::Tier t = Get(id);
  EXPECT_EQ(t.tier(), "B");
  EXPECT_EQ(t.score(), 70);
  ASSERT_NE(Factor(t, "SATISFACTION"), nullptr);
  EXPECT_EQ(Factor(t, "SATISFACTION")->value(), "none");
  EXPECT_EQ(Factor(t, "SATISFACTION")->points(), 50);

  // A 5.00 average: 100 points → 60 + 40 = 100 → A, at once, with the event as the reason.
  Deliver(Interaction(id, "i1", 5, 3));
  t = Get(id);
  EXPECT_EQ(t.tier(), "A");
  EXPECT_EQ(t.score(), 100);
  EXPECT_EQ(Factor(t, "SATISFACTION")->value(), "5.00");
  std::vector<v1::TierChange> history = History(id);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0].previous_tier(), "B");
  EXPECT_EQ(history[0].tier(), "A");
  EXPECT_EQ(history[0].reason_code(), "EVENT");
  EXPECT_EQ(history[0].trigger_event_id(), "ev-i1");

  // An open complaint with a breached response SLA: 12-month complaints 1 of 2 (50 → 10), open
  // 1 of 1 (0), breaches 1 of 2 (50 → 5): 60 + 10 + 0 + 5 = 75 → B (beyond A's 10 % band).
  Deliver(Complaint(id, "k1", 2, true, true, false, 1));
  t = Get(id);
  EXPECT_EQ(t.score(), 75);
  EXPECT_EQ(t.tier(), "B");
  EXPECT_EQ(History(id)[0].reason_code(), "EVENT");
  EXPECT_EQ(History(id)[0].trigger_event_id(), "ev-k1-2");

  // The tier change reached the TierChanged stream.
  const auto changed = harness_.DrainStream(streams::TierChanged(harness_.prefix()));
  ASSERT_FALSE(changed.empty());
  events::v1::TierChanged last;
  ASSERT_TRUE(last.ParseFromString(changed.back().Field("payload")));
  EXPECT_EQ(last.customer_id(), id);
  EXPECT_EQ(last.tier(), "B");
  EXPECT_EQ(last.reason_code(), "EVENT");
}

TEST_F(InteractionEventsTest, ACorrectionReplacesTheRatingInEitherArrivalOrder) {
  ActivateServiceRuleSet();
  const std::string in_order = Customer();
  const std::string reversed = Customer();
  // In order: the original (5) and then its correction (1).
  Deliver(Interaction(in_order, "a1", 5, 10));
  EXPECT_EQ(Get(in_order).tier(), "A");
  Deliver(Interaction(in_order, "a2", 1, 10, "a1"));
  // The correction first, then the version it replaces.
  Deliver(Interaction(reversed, "b2", 1, 10, "b1"));
  Deliver(Interaction(reversed, "b1", 5, 10));

  for (const std::string& id : {in_order, reversed}) {
    StoredMetrics want;
    want.satisfaction_x100 = 100;
    want.satisfaction_count = 1;
    EXPECT_EQ(Metrics(id), want) << id;
    // 1.00 = 0 points: 0 + 40 → C.
    EXPECT_EQ(Get(id).tier(), "C") << id;
    EXPECT_EQ(Get(id).score(), 40) << id;
  }
  // Both end in the same stored state: the replaced version kept, superseded.
  auto rows = harness_.pool().Transact<std::vector<std::string>>(
      [](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const auto& r :
             tx.exec("SELECT interaction_id || ':' || satisfaction || ':' || superseded || ':' ||"
                     " logged || ':' || corrects FROM interaction_facts ORDER BY interaction_id")) {
          out.push_back(r[0].as<std::string>());
        }
        return out;
      });
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, (std::vector<std::string>{"a1:5:true:true:", "a2:1:false:true:a1",
                                             "b1:5:true:true:", "b2:1:false:true:b1"}));

  // A correction of the correction: only the newest version counts.
  Deliver(Interaction(in_order, "a3", 4, 10, "a2"));
  EXPECT_EQ(Metrics(in_order).satisfaction_x100, 400);
  EXPECT_EQ(Metrics(in_order).satisfaction_count, 1);
}

TEST_F(InteractionEventsTest, RedeliveredEventsChangeNothing) {
  ActivateServiceRuleSet();
  const std::string id = Customer();
  const auto first = Interaction(id, "r1", 5, 10);
  const auto correction = Interaction(id, "r2", 3, 10, "r1");
  const auto complaint = Complaint(id, "k1", 1, true, false, false, 10);
  Deliver(first);
  Deliver(correction);
  Deliver(complaint);
  const StoredMetrics metrics = Metrics(id);
  const v1::Tier tier = Get(id);
  const int64_t history = harness_.CountRows("tier_history");
  const int64_t outbox = harness_.CountRows("outbox");

  // The relay wrote an entry twice, or a consumer died after its commit and before XACK:
  // the same entries are delivered again, in any order.
  Deliver(correction);
  Deliver(first);
  Deliver(complaint);
  EXPECT_TRUE(server_->engine.OnInteractionEvent(Entry(first)).ok());
  // A consumer that read an entry and died: another member reclaims it.
  Publish(correction);
  auto read = harness_.redis().Command({"XREADGROUP", "GROUP", "classification", "dead-member",
                                        "COUNT", "10", "STREAMS", Stream(), ">"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Poll(), 1) << "reclaimed from the dead member";

  EXPECT_EQ(Metrics(id), metrics);
  EXPECT_EQ(Get(id).tier(), tier.tier());
  EXPECT_EQ(Get(id).score(), tier.score());
  EXPECT_EQ(harness_.CountRows("tier_history"), history);
  EXPECT_EQ(harness_.CountRows("outbox"), outbox);
  EXPECT_EQ(harness_.CountRows("interaction_facts"), 2);
  EXPECT_EQ(harness_.CountRows("complaint_facts"), 1);
}

TEST_F(InteractionEventsTest, ABatchReadIsAppliedAtOnceWhateverTheOrderWithin) {
  const std::string id = Customer();
  // One read of the stream: a correction ahead of the version it replaces, a second rating, and
  // a complaint's resolution ahead of its opening.
  Publish(Interaction(id, "b1-fix", 5, 10, "b1"));
  Publish(Interaction(id, "b1", 2, 10));
  Publish(Interaction(id, "b2", 4, 5));
  Publish(Complaint(id, "bk", 2, false, true, false, 8));
  Publish(Complaint(id, "bk", 1, true, false, false, 8));
  const int64_t history = harness_.CountRows("tier_history");
  EXPECT_EQ(Poll(), 5);
  const StoredMetrics m = Metrics(id);
  ASSERT_TRUE(m.satisfaction_x100.has_value());
  EXPECT_EQ(*m.satisfaction_x100, 450) << "ratings 5 (the correction) and 4";
  EXPECT_EQ(m.satisfaction_count, 2);
  EXPECT_EQ(m.complaints_12m, 1);
  EXPECT_EQ(m.open_complaints, 0) << "version 2 (resolved) wins";
  EXPECT_EQ(m.sla_breaches_12m, 1);
  // Evaluated once for the batch: at most one tier change recorded.
  EXPECT_LE(harness_.CountRows("tier_history") - history, 1);
}

TEST_F(InteractionEventsTest, TheNewestComplaintVersionWins) {
  const std::string id = Customer();
  // k1: opened, response breached, resolved (breach kept) — delivered 1, 3, 2.
  Deliver(Complaint(id, "k1", 1, true, false, false, 20));
  Deliver(Complaint(id, "k1", 3, false, true, false, 20));
  Deliver(Complaint(id, "k1", 2, true, true, false, 20));
  // k2: the breach (2) before the opening (1).
  Deliver(Complaint(id, "k2", 2, true, true, true, 5));
  Deliver(Complaint(id, "k2", 1, true, false, false, 5));
  StoredMetrics want;
  want.complaints_12m = 2;
  want.open_complaints = 1;   // k2
  want.sla_breaches_12m = 3;  // k1's response, both of k2's
  EXPECT_EQ(Metrics(id), want);
  auto versions =
      harness_.pool().Transact<std::string>([](pqxx::work& tx) -> absl::StatusOr<std::string> {
        return tx
            .exec(
                "SELECT string_agg(complaint_id || ':' || version, ',' ORDER BY"
                " complaint_id) FROM complaint_facts")[0][0]
            .as<std::string>();
      });
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(*versions, "k1:3,k2:2");
}

TEST_F(InteractionEventsTest, RatingsAndComplaintsLeaveTheWindowWithTime) {
  ActivateServiceRuleSet();
  const std::string id = Customer();
  Deliver(Interaction(id, "w1", 5, 360));  // leaves the window in 5 days: 100 → A
  EXPECT_EQ(Get(id).tier(), "A");
  // Resolved, both clocks breached, leaves in 3 days: 60 + complaints 1 of 2 (10) + open none
  // (10) + breaches 2 of 2 (0) = 80, within A's hysteresis band.
  Deliver(Complaint(id, "k1", 3, false, true, true, 362));
  EXPECT_EQ(Get(id).score(), 80);
  EXPECT_EQ(Get(id).tier(), "A");
  now_ = kNow + 10 * kDay;
  ASSERT_TRUE(server_->engine.Maintain().ok());
  EXPECT_EQ(Metrics(id), StoredMetrics{});
  EXPECT_EQ(Get(id).score(), 70) << "no rating left: neutral again";
  EXPECT_EQ(Get(id).tier(), "B");
  EXPECT_EQ(History(id)[0].reason_code(), "WINDOW_SLIDE");
  // A full reclassification after the slide changes nothing: incremental equals full.
  ASSERT_EQ(*server_->engine.ReclassifyAll("RECLASSIFY", nullptr), 0);
}

TEST_F(InteractionEventsTest, PoisonGoesToTheDeadLetterStreamAndOtherTypesAreSkipped) {
  const std::string id = Customer();
  auto bad = Interaction(id, "p1", 9, 1);  // satisfaction out of 1..5
  Publish(bad);
  ASSERT_TRUE(harness_.redis()
                  .XAdd(Stream(), "*",
                        {{"type", "tierwise.events.v1.ComplaintChanged"}, {"payload", "\xff"}})
                  .ok());
  ASSERT_TRUE(
      harness_.redis()
          .XAdd(Stream(), "*", {{"type", "tierwise.events.v1.FollowUpScheduled"}, {"payload", ""}})
          .ok());
  EXPECT_EQ(Poll(), 1) << "the unknown type is acknowledged and skipped";
  EXPECT_EQ(Poll(), 0) << "second delivery of the poison: dead-lettered";
  auto dead = harness_.redis().XRange(DeadLetters());
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[0].Field("type"), "tierwise.events.v1.InteractionLogged");
  EXPECT_NE((*dead)[0].Field("dead_letter_error").find("InteractionLogged"), std::string::npos);
  EXPECT_EQ(harness_.CountRows("interaction_facts"), 0);
  auto pending = harness_.redis().Command({"XPENDING", Stream(), "classification"});
  ASSERT_TRUE(pending.ok());
  ASSERT_FALSE(pending->elements.empty());
  EXPECT_EQ(pending->elements[0].integer, 0) << "everything acknowledged";
}

}  // namespace
}  // namespace tierwise::classification
