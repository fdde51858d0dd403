// The classification service in-process against the real PostgreSQL and Redis: stream
// entries in, tiers, history, cache and TierChanged events out, with a test clock.
#include <chrono>
#include <set>
#include <thread>

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

class ClassificationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<ClassificationServer>(harness_.deps(), [this] { return now_.load(); });
    ASSERT_TRUE(server_->engine.Load().ok());
    harness_.Start(
        {{&server_->rule_set_service, v1::RuleSetService::service_full_name()},
         {&server_->classification_service, v1::ClassificationService::service_full_name()},
         {&server_->report_service, v1::ReportService::service_full_name()}});
    reports_ = v1::ReportService::NewStub(harness_.channel());
    tiers_ = v1::ClassificationService::NewStub(harness_.channel());
    rules_ = v1::RuleSetService::NewStub(harness_.channel());
  }

  // A customer the profile service announced, a customer for two years.
  std::string Customer(int version = 1, std::string id = "", const std::string& owner = "") {
    if (id.empty()) id = ids::NewUuid();
    events::v1::CustomerChanged e;
    e.set_event_id(ids::NewUuid());
    e.set_customer_id(id);
    e.set_owner(owner);
    e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
    e.set_version(version);
    e.mutable_first_transaction_date()->set_year(2024);
    e.mutable_first_transaction_date()->set_month(6);
    e.mutable_first_transaction_date()->set_day(1);
    store::SetTimestamp(kNow - 900 * kDay, e.mutable_create_time());
    absl::Status s = server_->engine.OnCustomerChanged(
        {"1-0",
         {{"type", "tierwise.events.v1.CustomerChanged"}, {"payload", e.SerializeAsString()}}});
    EXPECT_TRUE(s.ok()) << s;
    return id;
  }

  void Order(const std::string& customer, const std::string& event_id, int64_t amount, int days_ago,
             const std::string& rating = "AA") {
    events::v1::LedgerEvent e;
    e.set_event_id(event_id);
    e.set_customer_id(customer);
    e.set_kind(events::v1::LEDGER_EVENT_KIND_ORDER);
    e.set_document_no("O-" + event_id);
    e.mutable_amount()->set_minor_units(amount);
    e.mutable_amount()->set_currency("CNY");
    e.mutable_margin()->set_minor_units(amount / 5);
    store::SetTimestamp(now_ - days_ago * kDay, e.mutable_occurred_at());
    e.set_credit_rating(rating);
    e.set_on_time_payment_ratio(0.9);
    absl::Status s = server_->engine.OnLedgerEvent(
        {"1-0", {{"type", "tierwise.events.v1.LedgerEvent"}, {"payload", e.SerializeAsString()}}});
    EXPECT_TRUE(s.ok()) << s;
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

  std::atomic<Micros> now_{kNow};
  H harness_{Migrations(), "classification"};
  std::unique_ptr<ClassificationServer> server_;
  std::unique_ptr<v1::ClassificationService::Stub> tiers_;
  std::unique_ptr<v1::RuleSetService::Stub> rules_;
  std::unique_ptr<v1::ReportService::Stub> reports_;
};

TEST_F(ClassificationTest, ReportsShowDistributionTransitionsAndTheParetoCurve) {
  std::vector<std::string> ids;
  int64_t total = 0;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(Customer());
    Order(ids[i], absl::StrCat("t", i), (i + 1) * (i + 1) * (i + 1) * 1000, 30);
    total += (i + 1) * (i + 1) * (i + 1) * 1000;
  }
  now_ = kNow + 40 * kDay;
  Order(ids[0], "jump", 100000000, 1);  // C -> A; pushes ids[19] A -> B and ids[16] B -> C

  v1::GetTierDistributionResponse now_dist;
  ASSERT_TRUE(reports_->GetTierDistribution(H::Context(H::kViewer).get(), {}, &now_dist).ok());
  ASSERT_EQ(now_dist.tiers_size(), 3);
  EXPECT_EQ(now_dist.tiers(0).tier(), "A");
  EXPECT_EQ(now_dist.tiers(0).customers(), 1);
  EXPECT_EQ(now_dist.tiers(1).customers(), 3);
  EXPECT_EQ(now_dist.tiers(2).customers(), 16);
  EXPECT_EQ(now_dist.revenue().minor_units(), total + 100000000);
  EXPECT_EQ(now_dist.tiers(0).revenue_share_permille(),
            (1000 + 100000000LL) * 1000 / (total + 100000000));

  v1::GetTierDistributionRequest past;
  store::SetTimestamp(kNow + kDay, past.mutable_as_of());
  v1::GetTierDistributionResponse then;
  ASSERT_TRUE(reports_->GetTierDistribution(H::Context(H::kViewer).get(), past, &then).ok());
  EXPECT_EQ(then.tiers(0).customers(), 1);
  EXPECT_EQ(then.revenue().minor_units(), total) << "the jump order came later";

  v1::GetTransitionMatrixRequest matrix_req;
  store::SetTimestamp(kNow + kDay, matrix_req.mutable_from_time());
  v1::GetTransitionMatrixResponse matrix;
  ASSERT_TRUE(
      reports_->GetTransitionMatrix(H::Context(H::kManager).get(), matrix_req, &matrix).ok());
  EXPECT_EQ(matrix.upgrades(), 1);
  EXPECT_EQ(matrix.downgrades(), 2);
  EXPECT_EQ(matrix.unchanged(), 17);
  v1::GetTransitionMatrixRequest bad;
  EXPECT_EQ(reports_->GetTransitionMatrix(H::Context(H::kManager).get(), bad, &matrix).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetParetoCurveRequest curve_req;
  curve_req.set_points(4);
  v1::GetParetoCurveResponse curve;
  ASSERT_TRUE(reports_->GetParetoCurve(H::Context(H::kViewer).get(), curve_req, &curve).ok());
  ASSERT_EQ(curve.points_size(), 4);
  EXPECT_EQ(curve.points(0).customer_share_permille(), 250);
  EXPECT_EQ(curve.points(3).revenue_share_permille(), 1000);
  for (int i = 1; i < 4; ++i) {
    EXPECT_GE(curve.points(i).revenue_share_permille(),
              curve.points(i - 1).revenue_share_permille());
  }
}

TEST_F(ClassificationTest, ParetoTiersFollowRevenueWithReasonsAndEvents) {
  // 20 customers: by count, A = top 1 (5 %), B = the next 3 (up to 20 %). Revenues grow by
  // more than the 10 % hysteresis band from one customer to the next, so each arrival moves
  // the cut-offs cleanly.
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(Customer());
    Order(ids[i], absl::StrCat("e", i), (i + 1) * (i + 1) * (i + 1) * 1000, 30);
  }
  EXPECT_EQ(Get(ids[19]).tier(), "A");
  EXPECT_EQ(Get(ids[18]).tier(), "B");
  EXPECT_EQ(Get(ids[16]).tier(), "B");
  EXPECT_EQ(Get(ids[15]).tier(), "C");
  EXPECT_EQ(Get(ids[19]).rule_set_version(), 1);
  EXPECT_EQ(Get(ids[19]).label(), "A · high potential · long term");

  // ids[0] jumps to the top with one big order: it becomes A in the same step, and the
  // former A and the last B are pushed down (beyond the 10 % hysteresis band).
  Order(ids[0], "big", 100000000, 5);
  EXPECT_EQ(Get(ids[0]).tier(), "A");
  EXPECT_EQ(Get(ids[19]).tier(), "B");
  EXPECT_EQ(Get(ids[16]).tier(), "C");
  const auto history = History(ids[16]);
  ASSERT_GE(history.size(), 1u);
  EXPECT_EQ(history[0].reason_code(), "BOUNDARY_SHIFT");
  EXPECT_EQ(history[0].previous_tier(), "B");
  EXPECT_EQ(history[0].trigger_event_id(), "big");
  EXPECT_EQ(History(ids[0])[0].reason_code(), "EVENT");
  EXPECT_GT(History(ids[0])[0].factors_size(), 0);

  // Every change is on the TierChanged stream once.
  const auto entries = harness_.DrainStream(streams::TierChanged(harness_.prefix()));
  int64_t history_rows = harness_.CountRows("tier_history");
  EXPECT_EQ(static_cast<int64_t>(entries.size()), history_rows);
  events::v1::TierChanged last;
  ASSERT_TRUE(last.ParseFromString(entries.back().Field("payload")));
  EXPECT_FALSE(last.reason_code().empty());
}

TEST_F(ClassificationTest, RedeliveredEventsChangeNothing) {
  const std::string id = Customer();
  Order(id, "once", 300000, 10);
  const int64_t rows = harness_.CountRows("tier_history");
  Order(id, "once", 300000, 10);
  Order(id, "once", 999999, 10);  // same id, different content: still the first
  EXPECT_EQ(harness_.CountRows("ledger_entries"), 1);
  EXPECT_EQ(harness_.CountRows("tier_history"), rows);
}

TEST_F(ClassificationTest, NewCustomersStayOnProbationAndPoorCreditCaps) {
  std::vector<std::string> veterans;
  for (int i = 0; i < 20; ++i) {
    veterans.push_back(Customer());
    Order(veterans[i], absl::StrCat("v", i), (i + 1) * 100000, 10);
  }
  // A customer created last month with the biggest revenue of all: probation keeps it at C,
  // while the top veteran (A = the top 2 of 21) stays A.
  events::v1::CustomerChanged e;
  e.set_event_id("new-customer");
  e.set_customer_id(ids::NewUuid());
  e.set_version(1);
  store::SetTimestamp(kNow - 30 * kDay, e.mutable_create_time());
  ASSERT_TRUE(server_->engine
                  .OnCustomerChanged({"1-0",
                                      {{"type", "tierwise.events.v1.CustomerChanged"},
                                       {"payload", e.SerializeAsString()}}})
                  .ok());
  Order(e.customer_id(), "n", 90000000, 5);
  EXPECT_EQ(Get(e.customer_id()).tier(), "C");
  EXPECT_EQ(Get(veterans[19]).tier(), "A");
  // A C credit rating caps the veteran at C.
  Order(veterans[19], "v-late", 100, 1, "C");
  EXPECT_EQ(Get(veterans[19]).tier(), "C");
}

TEST_F(ClassificationTest, ProbationEndAndDormancyNeedNoEventToBeApplied) {
  std::vector<std::string> veterans;
  for (int i = 0; i < 20; ++i) {
    veterans.push_back(Customer());
    Order(veterans[i], absl::StrCat("p", i), (i + 1) * 100000, 10);
  }
  // The biggest earner of all became a customer six months (the probation) less a day ago.
  const Micros since = kNow + kDay - 6 * (kYear / 12);
  events::v1::CustomerChanged e;
  e.set_event_id("probation-customer");
  e.set_customer_id(ids::NewUuid());
  e.set_version(1);
  store::SetTimestamp(since, e.mutable_create_time());
  ASSERT_TRUE(server_->engine
                  .OnCustomerChanged({"1-0",
                                      {{"type", "tierwise.events.v1.CustomerChanged"},
                                       {"payload", e.SerializeAsString()}}})
                  .ok());
  Order(e.customer_id(), "big", 90000000, 3);
  EXPECT_EQ(Get(e.customer_id()).tier(), "C");
  // A veteran whose last order was 179 days ago is active, not yet dormant.
  const std::string quiet = Customer();
  Order(quiet, "quiet", 5000, 179);
  EXPECT_EQ(Get(quiet).behaviour(), "active");

  // Two days on, without any event: maintenance ends the probation and marks the dormancy.
  now_ = kNow + 2 * kDay;
  ASSERT_TRUE(server_->engine.Maintain().ok());
  EXPECT_EQ(Get(e.customer_id()).tier(), "A");
  EXPECT_EQ(History(e.customer_id())[0].reason_code(), "PROBATION_END");
  EXPECT_EQ(Get(quiet).behaviour(), "dormant");
  // Nothing is due any more until the next threshold; a full run agrees.
  ASSERT_EQ(*server_->engine.Maintain(), 0);
  ASSERT_EQ(*server_->engine.ReclassifyAll("RECLASSIFY", nullptr), 0);
}

TEST_F(ClassificationTest, RevenueLeavingTheWindowMovesTheTier) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(Customer());
    Order(ids[i], absl::StrCat("w", i), (i + 1) * (i + 1) * (i + 1) * 1000, 100);
  }
  Order(ids[0], "old-big", 9000000, 360);  // leaves the window in 5 days
  EXPECT_EQ(Get(ids[0]).tier(), "A");
  now_ = kNow + 10 * kDay;
  ASSERT_TRUE(server_->engine.Maintain().ok());
  EXPECT_EQ(Get(ids[0]).tier(), "C");
  EXPECT_EQ(History(ids[0])[0].reason_code(), "WINDOW_SLIDE");
  // A full reclassification of unchanged data changes nothing.
  ASSERT_EQ(*server_->engine.ReclassifyAll("RECLASSIFY", nullptr), 0);
}

TEST_F(ClassificationTest, PinsOverrideAndLapse) {
  const std::string id = Customer();
  Order(id, "p", 1000, 3);
  v1::PinTierRequest pin;
  pin.set_customer_id(id);
  pin.set_tier("K");
  pin.set_reason("strategic account");
  v1::Tier t;
  EXPECT_EQ(tiers_->PinTier(H::Context(H::kManager).get(), pin, &t).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // no expiry
  store::SetTimestamp(now_ + 7 * kDay, pin.mutable_expire_time());
  EXPECT_EQ(tiers_->PinTier(H::Context(H::kRepZhang).get(), pin, &t).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(tiers_->PinTier(H::Context(H::kManager).get(), pin, &t).ok());
  EXPECT_EQ(t.tier(), "K");
  EXPECT_TRUE(t.pinned());
  EXPECT_EQ(Get(id).tier(), "K");
  EXPECT_EQ(History(id)[0].reason_code(), "PIN");
  EXPECT_EQ(History(id)[0].actor(), "manager.li");
  now_ = kNow + 8 * kDay;
  ASSERT_TRUE(server_->engine.Maintain().ok());
  EXPECT_FALSE(Get(id).pinned());
  EXPECT_EQ(Get(id).tier(), "A");  // the only customer with revenue
  EXPECT_EQ(History(id)[0].reason_code(), "UNPIN");
}

TEST_F(ClassificationTest, TierLookupsUseTheCacheAndFallBackToPostgres) {
  const std::string id = Customer();
  Order(id, "c", 5000, 3);
  const int64_t hits = server_->engine.cache_hits();
  EXPECT_EQ(Get(id).tier(), "A");
  EXPECT_EQ(server_->engine.cache_hits(), hits + 1);
  ASSERT_TRUE(harness_.redis().Command({"DEL", server_->engine.CacheKey(id)}).ok());
  // Another client's write reaches the in-process copy with Redis's invalidation message.
  for (int i = 0; i < 500 && server_->local_tiers->Lookup(server_->engine.CacheKey(id)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_FALSE(server_->local_tiers->Lookup(server_->engine.CacheKey(id)).has_value());
  const int64_t misses = server_->engine.cache_misses();
  EXPECT_EQ(Get(id).tier(), "A");
  EXPECT_EQ(server_->engine.cache_misses(), misses + 1);
  auto cached = harness_.redis().Command({"HGET", server_->engine.CacheKey(id), "p"});
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->type, redis::Reply::Type::kString) << "the miss refilled the cache";
  // A stale write (older evaluation) does not replace the newer cached tier.
  v1::Tier stale = Get(id);
  stale.set_tier("D");
  store::SetTimestamp(store::ToMicros(stale.evaluated_at()) - 1000000,
                      stale.mutable_evaluated_at());
  server_->engine.WriteCache({stale});
  EXPECT_EQ(Get(id).tier(), "A");
  // With Redis unreachable, lookups still answer from PostgreSQL.
  redis::RedisClient down({.host = "127.0.0.1", .port = 1});
  TierEngine offline(harness_.pool(), down,
                     {.redis_prefix = harness_.prefix(), .clock = [] { return kNow; }});
  ASSERT_TRUE(offline.Load().ok());
  auto from_db = offline.GetTier(id);
  ASSERT_TRUE(from_db.ok()) << from_db.status();
  EXPECT_EQ(from_db->tier(), "A");
}

TEST_F(ClassificationTest, RuleSetsAreValidatedSimulatedAndActivated) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(Customer());
    Order(ids[i], absl::StrCat("r", i), (i + 1) * 10000000, 20);
  }
  v1::CreateRuleSetRequest create;
  v1::RuleSet* rs = create.mutable_rule_set();
  *rs = DefaultRuleSet();
  rs->set_name("absolute");
  rs->set_method(v1::METHOD_THRESHOLDS);
  auto* a = rs->add_thresholds();
  a->set_tier("A");
  a->set_min_value(50000000);
  auto* b = rs->add_thresholds();
  b->set_tier("B");
  b->set_min_value(60000000);  // overlaps A's range
  v1::RuleSet out;
  grpc::Status s = rules_->CreateRuleSet(H::Context(H::kManager).get(), create, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("rule_set.thresholds[1].min_value", 0), 0u)
      << s.error_message();
  b->set_min_value(20000000);
  ASSERT_TRUE(rules_->CreateRuleSet(H::Context(H::kManager).get(), create, &out).ok());
  EXPECT_EQ(out.version(), 2);
  EXPECT_FALSE(out.active());

  v1::SimulateRuleSetRequest sim;
  sim.set_version(2);
  v1::SimulateRuleSetResponse result;
  ASSERT_TRUE(rules_->SimulateRuleSet(H::Context(H::kViewer).get(), sim, &result).ok());
  EXPECT_EQ(result.customers(), 10);
  // Under the candidate: A = revenue ≥ 500,000.00 (6 customers), B ≥ 200,000.00 (3), D (1).
  std::map<std::string, int64_t> dist;
  for (const auto& d : result.distribution()) dist[d.tier()] = d.customers();
  EXPECT_EQ(dist["A"], 6);
  EXPECT_EQ(dist["B"], 3);
  EXPECT_EQ(dist["D"], 1);
  EXPECT_EQ(Get(ids[5]).tier(), "C") << "simulation applies nothing";

  const v1::ActivateRuleSetResponse activated = testutil::ActivateAndWait(
      *rules_, *tiers_, [] { return H::Context(H::kManager); }, 2);
  EXPECT_TRUE(activated.rule_set().active());
  EXPECT_EQ(activated.job().state(), "done");
  EXPECT_EQ(Get(ids[5]).tier(), "A");
  EXPECT_EQ(Get(ids[0]).tier(), "D");
  EXPECT_EQ(History(ids[5])[0].reason_code(), "RULE_ACTIVATION");
  EXPECT_EQ(Get(ids[5]).rule_set_version(), 2);
}

// Every change RPC writes one audit row in its transaction: who (name, role, request id), what
// (action, entity) and the names of the changed fields, never their values.
TEST_F(ClassificationTest, ChangeRpcsWriteAuditRows) {
  const std::string id = Customer();
  Order(id, "audited", 1000, 3);
  const auto call = [](const char* token, const std::string& request_id) {
    std::unique_ptr<grpc::ClientContext> ctx = H::Context(token);
    ctx->AddMetadata("x-request-id", request_id);
    return ctx;
  };
  v1::PinTierRequest pin;
  pin.set_customer_id(id);
  pin.set_tier("K");
  pin.set_reason("strategic account");
  store::SetTimestamp(now_ + 7 * kDay, pin.mutable_expire_time());
  v1::Tier t;
  ASSERT_TRUE(tiers_->PinTier(call(H::kManager, "req-pin").get(), pin, &t).ok());
  v1::UnpinTierRequest unpin;
  unpin.set_customer_id(id);
  ASSERT_TRUE(tiers_->UnpinTier(call(H::kManager, "req-unpin").get(), unpin, &t).ok());
  v1::ReclassifyRequest reclassify;
  reclassify.set_customer_id(id);
  ASSERT_TRUE(tiers_->Reclassify(call(H::kAdmin, "req-reclassify").get(), reclassify, &t).ok());
  v1::CreateRuleSetRequest create;
  *create.mutable_rule_set() = DefaultRuleSet();
  create.mutable_rule_set()->set_name("audited");
  v1::RuleSet rs;
  ASSERT_TRUE(rules_->CreateRuleSet(call(H::kManager, "req-create").get(), create, &rs).ok());
  testutil::ActivateAndWait(
      *rules_, *tiers_, [&call] { return call(H::kManager, "req-activate"); }, rs.version());
  v1::UpdateServicePolicyRequest policy;
  *policy.mutable_policy() = DefaultServicePolicy();
  v1::ServicePolicy updated;
  ASSERT_TRUE(
      tiers_->UpdateServicePolicy(call(H::kAdmin, "req-policy").get(), policy, &updated).ok());
  v1::Job job;
  ASSERT_TRUE(tiers_
                  ->StartFullReclassification(call(H::kManager, "req-full").get(),
                                              v1::StartFullReclassificationRequest(), &job)
                  .ok());
  // A refused change writes nothing.
  unpin.set_customer_id(ids::NewUuid());
  EXPECT_EQ(tiers_->UnpinTier(call(H::kManager, "req-refused").get(), unpin, &t).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  std::vector<std::vector<std::string>> rows;
  ASSERT_TRUE(harness_.pool()
                  .Read([&](pqxx::nontransaction& tx) -> absl::Status {
                    for (const auto& r : tx.exec(
                             "SELECT coalesce(customer_id::text, ''), action, actor, actor_role,"
                             " request_id, entity, entity_id, array_to_string(fields, ','),"
                             " note FROM audit_log ORDER BY id")) {
                      std::vector<std::string> row;
                      for (const auto& f : r) row.push_back(f.is_null() ? "" : f.c_str());
                      rows.push_back(std::move(row));
                    }
                    return absl::OkStatus();
                  })
                  .ok());
  const std::string pin_fields = "pin_tier,pin_reason,pin_expires";
  const std::vector<std::vector<std::string>> want = {
      {id, "tier.pin", "manager.li", "manager", "req-pin", "", "", pin_fields, ""},
      {id, "tier.unpin", "manager.li", "manager", "req-unpin", "", "", pin_fields, ""},
      {id, "tier.reclassify", "admin", "admin", "req-reclassify", "", "", "", ""},
      {"", "ruleset.create", "manager.li", "manager", "req-create", "rule_set",
       absl::StrCat(rs.version()), "", ""},
      {"", "ruleset.activate", "manager.li", "manager", "req-activate", "rule_set",
       absl::StrCat(rs.version()), "active", ""},
      {"", "policy.update", "admin", "admin", "req-policy", "service_policy",
       absl::StrCat(updated.version()), "tiers", ""},
      {"", "reclassification.start", "manager.li", "manager", "req-full", "job", job.id(), "", ""},
  };
  EXPECT_EQ(rows, want);
  for (const auto& row : rows) {
    for (const std::string& v : row) EXPECT_EQ(v.find("strategic"), std::string::npos) << v;
  }
}

// The factor names of a tier or tier change, in order.
template <typename T>
std::vector<std::string> FactorNames(const T& t) {
  std::vector<std::string> out;
  for (const auto& f : t.factors()) out.push_back(f.factor());
  return out;
}

TEST_F(ClassificationTest, TierFactorsAndHistoryFollowTheCallersScope) {
  const std::string zhangs = Customer(1, "", "rep.zhang");
  const std::string chens = Customer(1, "", "rep.chen");
  Order(zhangs, "z1", 5000000, 10);
  Order(chens, "c1", 3000000, 10);
  const std::vector<std::string> all = {"REVENUE_12M", "MARGIN_12M", "RENEWAL_RATE"};
  const std::vector<std::string> no_money = {"RENEWAL_RATE"};

  auto get = [&](const char* token, const std::string& id) {
    v1::GetTierRequest req;
    req.set_customer_id(id);
    v1::Tier t;
    grpc::Status s = tiers_->GetTier(H::Context(token).get(), req, &t);
    EXPECT_TRUE(s.ok()) << token << ": " << s.error_message();
    return t;
  };
  auto history = [&](const char* token, const std::string& id, v1::GetTierHistoryResponse* out) {
    v1::GetTierHistoryRequest req;
    req.set_customer_id(id);
    return tiers_->GetTierHistory(H::Context(token).get(), req, out).error_code();
  };

  // Revenue and margin factors: the back office yes, viewer and ERP adapter no.
  const v1::Tier full = get(H::kManager, chens);
  EXPECT_EQ(FactorNames(full), all);
  EXPECT_EQ(FactorNames(get(H::kFinance, chens)), all);
  for (const char* token : {H::kViewer, H::kErp}) {
    const v1::Tier t = get(token, chens);
    EXPECT_EQ(t.tier(), full.tier()) << "the plain tier is for everyone";
    EXPECT_EQ(FactorNames(t), no_money) << token;
    v1::GetTierHistoryResponse h;
    ASSERT_EQ(history(token, chens, &h), grpc::StatusCode::OK) << token;
    ASSERT_GE(h.changes_size(), 1);
    EXPECT_EQ(FactorNames(h.changes(0)), no_money) << token;
  }

  // A rep: factors and history of their own customers; another rep's customer only its tier.
  EXPECT_EQ(FactorNames(get(H::kRepZhang, zhangs)), all);
  const v1::Tier other = get(H::kRepZhang, chens);
  EXPECT_EQ(other.tier(), full.tier());
  EXPECT_EQ(other.factors_size(), 0);
  v1::GetTierHistoryResponse h;
  ASSERT_EQ(history(H::kRepZhang, zhangs, &h), grpc::StatusCode::OK);
  ASSERT_GE(h.changes_size(), 1);
  EXPECT_EQ(FactorNames(h.changes(0)), all);
  EXPECT_EQ(history(H::kRepZhang, chens, &h), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(history(H::kRepChen, chens, &h), grpc::StatusCode::OK);
  EXPECT_EQ(history(H::kRepZhang, ids::NewUuid(), &h), grpc::StatusCode::NOT_FOUND);

  v1::BatchGetTiersRequest batch;
  batch.add_customer_ids(zhangs);
  batch.add_customer_ids(chens);
  v1::BatchGetTiersResponse tiers;
  ASSERT_TRUE(tiers_->BatchGetTiers(H::Context(H::kRepZhang).get(), batch, &tiers).ok());
  ASSERT_EQ(tiers.tiers_size(), 2);
  EXPECT_EQ(FactorNames(tiers.tiers(0)), all);
  EXPECT_EQ(tiers.tiers(1).factors_size(), 0);
  ASSERT_TRUE(tiers_->BatchGetTiers(H::Context(H::kViewer).get(), batch, &tiers).ok());
  ASSERT_EQ(tiers.tiers_size(), 2);
  EXPECT_EQ(FactorNames(tiers.tiers(0)), no_money);

  // Lists: a rep's are of their own customers.
  auto listed = [&](const char* token) {
    std::set<std::string> out;
    for (const char* tier : {"K", "A", "B", "C", "D"}) {
      v1::ListCustomersByTierRequest req;
      req.set_tier(tier);
      v1::ListCustomersByTierResponse resp;
      grpc::Status s = tiers_->ListCustomersByTier(H::Context(token).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const auto& t : resp.tiers()) {
        out.insert(t.customer_id());
        if (std::string(token) == H::kViewer) {
          EXPECT_EQ(FactorNames(t), no_money);
        }
      }
    }
    return out;
  };
  EXPECT_EQ(listed(H::kRepZhang), std::set<std::string>{zhangs});
  EXPECT_EQ(listed(H::kRepChen), std::set<std::string>{chens});
  EXPECT_EQ(listed(H::kManager), (std::set<std::string>{zhangs, chens}));
  EXPECT_EQ(listed(H::kViewer).size(), 2u);

  // The profile reassigns chens's customer (version 2): the scope follows; a late version 1
  // does not take it back.
  Customer(2, chens, "rep.zhang");
  Customer(1, chens, "rep.chen");
  EXPECT_EQ(history(H::kRepZhang, chens, &h), grpc::StatusCode::OK);
  EXPECT_EQ(history(H::kRepChen, chens, &h), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(FactorNames(get(H::kRepZhang, chens)), all);
}

TEST_F(ClassificationTest, ServicePolicyAndAuth) {
  v1::ServicePolicy policy;
  ASSERT_TRUE(tiers_->GetServicePolicy(H::Context(H::kRepZhang).get(), {}, &policy).ok());
  ASSERT_EQ(policy.tiers_size(), 5);
  EXPECT_EQ(policy.tiers(1).tier(), "A");
  EXPECT_EQ(policy.tiers(1).preferred_channel(), "on_site_visit");
  v1::UpdateServicePolicyRequest update;
  *update.mutable_policy() = policy;
  update.mutable_policy()->mutable_tiers(1)->set_response_sla_hours(12);
  v1::ServicePolicy out;
  EXPECT_EQ(tiers_->UpdateServicePolicy(H::Context(H::kManager).get(), update, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(tiers_->UpdateServicePolicy(H::Context(H::kAdmin).get(), update, &out).ok());
  ASSERT_TRUE(tiers_->GetServicePolicy(H::Context(H::kViewer).get(), {}, &policy).ok());
  EXPECT_EQ(policy.tiers(1).response_sla_hours(), 12);
  update.mutable_policy()->mutable_tiers(1)->set_resolution_sla_hours(1);
  grpc::Status s = tiers_->UpdateServicePolicy(H::Context(H::kAdmin).get(), update, &out);
  EXPECT_EQ(s.error_message().rfind("policy.tiers[1].resolution_sla_hours", 0), 0u);

  grpc::ClientContext none;
  v1::GetTierRequest req;
  req.set_customer_id(ids::NewUuid());
  v1::Tier t;
  EXPECT_EQ(tiers_->GetTier(&none, req, &t).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(tiers_->GetTier(H::Context(H::kViewer).get(), req, &t).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// One full job at a time: while a job runs (here one a writer began), a second start gets it,
// and an activation fails FAILED_PRECONDITION naming it, activating nothing. A new writer marks
// the full runs its predecessor left unfinished failed, but takes an activation's job over.
TEST_F(ClassificationTest, OneFullJobRunsAtATime) {
  const std::string running = ids::NewUuid();
  const auto exec = [this](const std::string& sql, const std::string& arg) {
    ASSERT_TRUE(harness_.pool()
                    .Transact([&](pqxx::work& tx) {
                      tx.exec_params(sql, arg);
                      return absl::OkStatus();
                    })
                    .ok());
  };
  exec("INSERT INTO jobs (id, state, claimed_by) VALUES ($1, 'running', 'a-writer-that-died')",
       running);
  v1::Job job;
  ASSERT_TRUE(tiers_
                  ->StartFullReclassification(H::Context(H::kManager).get(),
                                              v1::StartFullReclassificationRequest(), &job)
                  .ok());
  EXPECT_EQ(job.id(), running);

  v1::CreateRuleSetRequest create;
  *create.mutable_rule_set() = DefaultRuleSet();
  create.mutable_rule_set()->set_name("waits for the running job");
  v1::RuleSet created;
  ASSERT_TRUE(rules_->CreateRuleSet(H::Context(H::kManager).get(), create, &created).ok());
  v1::ActivateRuleSetRequest activate;
  activate.set_version(created.version());
  v1::ActivateRuleSetResponse activated;
  const grpc::Status refused =
      rules_->ActivateRuleSet(H::Context(H::kManager).get(), activate, &activated);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find(running), std::string::npos) << refused.error_message();
  v1::GetRuleSetRequest get_active;
  v1::RuleSet active;
  ASSERT_TRUE(rules_->GetRuleSet(H::Context(H::kViewer).get(), get_active, &active).ok());
  EXPECT_NE(active.version(), created.version()) << "nothing activated";

  // Elected: the dead writer's full run is failed, which frees the slot.
  absl::StatusOr<int64_t> failed = server_->jobs.FailInterrupted();
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(*failed, 1);
  job = testutil::WaitForJob(
      *tiers_, [] { return H::Context(H::kManager); }, running);
  EXPECT_EQ(job.state(), "failed");
  EXPECT_NE(job.error().find("interrupted"), std::string::npos) << job.error();

  // Now the activation goes through, returns its job at once, and the writer ends it.
  const v1::ActivateRuleSetResponse done = testutil::ActivateAndWait(
      *rules_, *tiers_, [] { return H::Context(H::kManager); }, created.version());
  EXPECT_TRUE(done.rule_set().active());
  EXPECT_EQ(done.job().state(), "done");
  // A start after it is a new job.
  ASSERT_TRUE(tiers_
                  ->StartFullReclassification(H::Context(H::kManager).get(),
                                              v1::StartFullReclassificationRequest(), &job)
                  .ok());
  EXPECT_NE(job.id(), running);
  EXPECT_NE(job.id(), done.job().id());
  EXPECT_EQ(testutil::WaitForJob(
                *tiers_, [] { return H::Context(H::kManager); }, job.id())
                .state(),
            "done");

  // An activation job a dead writer claimed is not failed on election: the writer takes it over.
  const std::string taken_over = ids::NewUuid();
  exec(
      "INSERT INTO jobs (id, state, claimed_by, rule_set_version) VALUES ($1, 'running',"
      " 'a-writer-that-died', 1)",
      taken_over);
  failed = server_->jobs.FailInterrupted();
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(*failed, 0);
  exec("UPDATE jobs SET state = 'done' WHERE id = $1", taken_over);
}

}  // namespace
}  // namespace tierwise::classification
