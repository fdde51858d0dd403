// The credit service in-process over gRPC against the real PostgreSQL and Redis of
// ./tests/run.sh, with a test clock.
#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/testing/service_harness.h"
#include "gtest/gtest.h"
#include "services/credit/credit_server.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::credit {
namespace {

using H = testing::ServiceHarness;

constexpr Micros kJune1 = 1780272000LL * 1000000;  // 2026-06-01T00:00:00Z
constexpr Micros kDay = 86400LL * 1000000;

google::protobuf::Timestamp At(int day) {
  google::protobuf::Timestamp ts;
  SetTimestamp(kJune1 + day * kDay, &ts);
  return ts;
}

type::v1::Money Cny(int64_t minor) {
  type::v1::Money m;
  m.set_minor_units(minor);
  m.set_currency("CNY");
  return m;
}

v1::LedgerEventInput Order(const std::string& id, const std::string& ref, const std::string& no,
                           int64_t amount, int day) {
  v1::LedgerEventInput in;
  auto* o = in.mutable_order();
  o->set_event_id(id);
  o->set_external_ref(ref);
  o->set_order_no(no);
  *o->mutable_amount() = Cny(amount);
  *o->mutable_margin() = Cny(amount / 5);
  o->set_product_line("valves");
  *o->mutable_occurred_at() = At(day);
  return in;
}

v1::LedgerEventInput Payment(const std::string& id, const std::string& ref, int64_t amount, int day,
                             const std::string& order_no = "") {
  v1::LedgerEventInput in;
  auto* p = in.mutable_payment();
  p->set_event_id(id);
  p->set_external_ref(ref);
  p->set_payment_no("PAY-" + id);
  *p->mutable_amount() = Cny(amount);
  p->set_order_no(order_no);
  *p->mutable_occurred_at() = At(day);
  return in;
}

v1::LedgerEventInput Cancellation(const std::string& id, const std::string& ref,
                                  const std::string& order_no, int64_t amount, int day) {
  v1::LedgerEventInput in;
  auto* c = in.mutable_cancellation();
  c->set_event_id(id);
  c->set_external_ref(ref);
  c->set_document_no("RET-" + id);
  c->set_order_no(order_no);
  if (amount > 0) *c->mutable_amount() = Cny(amount);
  *c->mutable_occurred_at() = At(day);
  return in;
}

class CreditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<CreditServer>(harness_.deps(), [this] { return now_.load(); });
    harness_.Start({{&server_->ingest_service, v1::LedgerIngestService::service_full_name()},
                    {&server_->credit_service, v1::CreditService::service_full_name()}});
    ingest_ = v1::LedgerIngestService::NewStub(harness_.channel());
    credit_ = v1::CreditService::NewStub(harness_.channel());
  }

  // Announces a customer as the profile service's stream would.
  std::string Known(const std::string& ref, const std::string& owner = "rep.zhang") {
    const std::string id = ids::NewUuid();
    Announce(id, ref, owner, 1, events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
    return id;
  }

  // A CustomerChanged of `id` at profile `version`.
  void Announce(const std::string& id, const std::string& ref, const std::string& owner,
                int64_t version,
                events::v1::CustomerChangeType type = events::v1::CUSTOMER_CHANGE_TYPE_UPDATED) {
    events::v1::CustomerChanged event;
    event.set_event_id(ids::NewUuid());
    event.set_customer_id(id);
    event.set_external_ref(ref);
    event.set_owner(owner);
    event.set_change_type(type);
    event.set_version(version);
    redis::StreamEntry entry{
        "1-0",
        {{"type", "tierwise.events.v1.CustomerChanged"}, {"payload", event.SerializeAsString()}}};
    absl::Status s = HandleCustomerChanged(server_->store, entry);
    EXPECT_TRUE(s.ok()) << s;
  }

  grpc::StatusCode GetAccountAs(const std::string& token, const std::string& customer_id) {
    v1::GetCreditAccountRequest req;
    req.set_customer_id(customer_id);
    v1::CreditAccount out;
    return credit_->GetCreditAccount(H::Context(token).get(), req, &out).error_code();
  }

  std::vector<v1::IngestResult> Ingest(const std::vector<v1::LedgerEventInput>& events,
                                       size_t batch = 1000) {
    auto ctx = H::Context(H::kErp);
    auto stream = ingest_->IngestEvents(ctx.get());
    std::vector<v1::IngestResult> results;
    for (size_t start = 0; start < events.size(); start += batch) {
      v1::IngestEventsRequest req;
      for (size_t i = start; i < std::min(events.size(), start + batch); ++i) {
        *req.add_events() = events[i];
      }
      EXPECT_TRUE(stream->Write(req));
      v1::IngestEventsResponse resp;
      EXPECT_TRUE(stream->Read(&resp));
      for (const auto& r : resp.results()) results.push_back(r);
    }
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return results;
  }

  v1::CreditAccount Account(const std::string& customer_id) {
    v1::GetCreditAccountRequest req;
    req.set_customer_id(customer_id);
    v1::CreditAccount out;
    grpc::Status s = credit_->GetCreditAccount(H::Context(H::kFinance).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::atomic<Micros> now_{kJune1 + 75 * kDay};
  H harness_{Migrations(), "credit"};
  std::unique_ptr<CreditServer> server_;
  std::unique_ptr<v1::LedgerIngestService::Stub> ingest_;
  std::unique_ptr<v1::CreditService::Stub> credit_;
};

TEST_F(CreditServiceTest, AccountFiguresMatchAHandComputedLedger) {
  const std::string id = Known("ERP-1");
  // Net 30 by default. O1 1,000.00 (day 0, due 30), O2 500.00 (day 10, due 40),
  // O3 800.00 (day 20, due 50), partly returned (300.00) after being paid in full;
  // payments: 1,200.00 on day 35 (O1 late, 200 to O2), 800.00 for O3 on day 25.
  const auto results =
      Ingest({Order("e1", "ERP-1", "O1", 100000, 0), Order("e2", "ERP-1", "O2", 50000, 10),
              Order("e3", "ERP-1", "O3", 80000, 20), Payment("e4", "ERP-1", 80000, 25, "O3"),
              Payment("e5", "ERP-1", 120000, 35), Cancellation("e6", "ERP-1", "O3", 30000, 60)});
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome(), v1::INGEST_OUTCOME_APPLIED) << r.event_id() << " " << r.error_message();
  }
  // Day 75. The 300.00 credit note from the return pays O2 down to 0.
  const v1::CreditAccount a = Account(id);
  EXPECT_EQ(a.open_receivables().minor_units(), 0);
  EXPECT_EQ(a.unapplied_credit().minor_units(), 0);
  EXPECT_EQ(a.exposure().minor_units(), 0);
  EXPECT_EQ(a.available_credit().minor_units(), 100000LL * 100);
  // O1 paid 5 days late, O2 settled late (day 60 > due 40), O3 paid early: 1 of 3 on time.
  EXPECT_EQ(a.on_time_ratio_permille(), 333);
  EXPECT_EQ(a.events_applied(), 6);
  EXPECT_EQ(a.factors_size(), 4);

  // Now without the return: O2 keeps 300.00 open, 35 days overdue at day 75.
  const std::string id2 = Known("ERP-2");
  Ingest({Order("f1", "ERP-2", "O1", 100000, 0), Order("f2", "ERP-2", "O2", 50000, 10),
          Payment("f3", "ERP-2", 120000, 35)});
  const v1::CreditAccount b = Account(id2);
  EXPECT_EQ(b.open_receivables().minor_units(), 30000);
  EXPECT_EQ(b.overdue_amount().minor_units(), 30000);
  EXPECT_EQ(b.max_days_overdue(), 35);
  EXPECT_EQ(b.aging().days_31_60().minor_units(), 30000);
  EXPECT_EQ(b.aging().current().minor_units(), 0);
  // Sales of the last 90 days 1,500.00; receivables 300.00 → DSO 18 days.
  EXPECT_EQ(b.dso_days(), 18);

  v1::ListOpenItemsRequest items;
  items.set_customer_id(id2);
  v1::ListOpenItemsResponse open;
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kViewer).get(), items, &open).ok());
  ASSERT_EQ(open.items_size(), 1);
  EXPECT_EQ(open.items(0).order_no(), "O2");
  EXPECT_EQ(open.items(0).paid_amount().minor_units(), 20000);
  EXPECT_EQ(open.items(0).days_overdue(), 35);
  EXPECT_EQ(open.items(0).applied_payments(0), "PAY-f3");
}

TEST_F(CreditServiceTest, InvalidEventsAreRejectedWithTheFieldAndTheBatchGoesOn) {
  Known("ERP-1");
  v1::LedgerEventInput bad_amount = Order("b1", "ERP-1", "O1", 0, 1);
  v1::LedgerEventInput no_customer = Payment("b2", "", 100, 1);
  v1::LedgerEventInput wrong_currency = Order("b3", "ERP-1", "O3", 100, 1);
  wrong_currency.mutable_order()->mutable_amount()->set_currency("USD");
  wrong_currency.mutable_order()->mutable_margin()->set_currency("USD");
  const auto results = Ingest({bad_amount, Order("g1", "ERP-1", "O2", 100, 1), no_customer,
                               wrong_currency, v1::LedgerEventInput()});
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0].outcome(), v1::INGEST_OUTCOME_REJECTED);
  EXPECT_EQ(results[0].error_field(), "order.amount.minor_units");
  EXPECT_EQ(results[1].outcome(), v1::INGEST_OUTCOME_APPLIED);
  EXPECT_EQ(results[2].error_field(), "payment.external_ref");
  EXPECT_EQ(results[3].error_field(), "order.amount.currency");
  EXPECT_EQ(results[4].error_field(), "event");
  EXPECT_EQ(harness_.CountRows("ledger_facts"), 1);

  v1::IngestResult single;
  grpc::Status s = ingest_->RecordOrder(H::Context(H::kErp).get(), bad_amount.order(), &single);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("order.amount.minor_units", 0), 0u) << s.error_message();
}

TEST_F(CreditServiceTest, RepeatedEventsCountOnceEvenFromConcurrentClients) {
  std::vector<std::string> ids;
  for (int c = 0; c < 10; ++c) ids.push_back(Known(absl::StrCat("ERP-", c)));
  std::vector<v1::LedgerEventInput> events;
  int64_t ordered = 0, paid = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string ref = absl::StrCat("ERP-", i % 10);
    if (i % 4 == 3) {
      events.push_back(Payment(absl::StrCat("ev", i), ref, 1000 + i, i % 60));
      paid += 1000 + i;
    } else {
      events.push_back(Order(absl::StrCat("ev", i), ref, absl::StrCat("O", i), 5000 + i, i % 60));
      ordered += 5000 + i;
    }
  }
  auto first = Ingest(events, 250);
  for (const auto& r : first) ASSERT_FALSE(r.duplicate());
  // The same feed again, from two clients at once.
  std::vector<v1::IngestResult> again_a, again_b;
  std::thread a([&] { again_a = Ingest(events, 100); });
  std::thread b([&] {
    auto shuffled = events;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(7));
    again_b = Ingest(shuffled, 333);
  });
  a.join();
  b.join();
  for (const auto& r : again_a) EXPECT_TRUE(r.duplicate()) << r.event_id();
  for (const auto& r : again_b) EXPECT_TRUE(r.duplicate()) << r.event_id();
  EXPECT_EQ(harness_.CountRows("ledger_facts"), 1000);
  int64_t exposure = 0, applied = 0;
  for (const auto& id : ids) {
    const v1::CreditAccount acc = Account(id);
    exposure += acc.exposure().minor_units() - acc.unapplied_credit().minor_units();
    applied += acc.events_applied();
  }
  EXPECT_EQ(applied, 1000);
  EXPECT_EQ(exposure, ordered - paid);
  // One LedgerEvent per fact on the stream.
  EXPECT_EQ(harness_.DrainStream(LedgerStream(harness_.prefix())).size(), 1000u);
}

TEST_F(CreditServiceTest, ArrivalOrderDoesNotChangeTheOutcome) {
  std::vector<v1::LedgerEventInput> events;
  std::mt19937_64 rng(42);
  for (int o = 0; o < 20; ++o) {
    events.push_back(
        Order(absl::StrCat("o", o), "REF", absl::StrCat("O", o), 10000 + o * 7, o * 3));
    if (o % 3 == 0) {
      events.push_back(
          Cancellation(absl::StrCat("c", o), "REF", absl::StrCat("O", o), 2000, o * 3 + 1));
    }
    if (o % 2 == 0) {
      events.push_back(Payment(absl::StrCat("p", o), "REF", 9000, o * 3 + 5,
                               o % 4 == 0 ? absl::StrCat("O", o) : ""));
    }
  }
  std::vector<v1::CreditAccount> outcomes;
  for (int run = 0; run < 3; ++run) {
    const std::string ref = absl::StrCat("REF-", run);
    const std::string id = Known(ref);
    std::vector<v1::LedgerEventInput> copy;
    for (auto e : events) {
      // Each run is its own customer with its own event ids.
      if (e.has_order()) {
        e.mutable_order()->set_external_ref(ref);
        e.mutable_order()->set_event_id(ref + e.order().event_id());
      } else if (e.has_payment()) {
        e.mutable_payment()->set_external_ref(ref);
        e.mutable_payment()->set_event_id(ref + e.payment().event_id());
      } else {
        e.mutable_cancellation()->set_external_ref(ref);
        e.mutable_cancellation()->set_event_id(ref + e.cancellation().event_id());
      }
      copy.push_back(e);
    }
    if (run > 0) std::shuffle(copy.begin(), copy.end(), rng);
    Ingest(copy, run == 2 ? 1 : 7);  // run 2: one event per message
    outcomes.push_back(Account(id));
  }
  for (int run = 1; run < 3; ++run) {
    EXPECT_EQ(outcomes[run].exposure().minor_units(), outcomes[0].exposure().minor_units());
    EXPECT_EQ(outcomes[run].overdue_amount().minor_units(),
              outcomes[0].overdue_amount().minor_units());
    EXPECT_EQ(outcomes[run].unapplied_credit().minor_units(),
              outcomes[0].unapplied_credit().minor_units());
    EXPECT_EQ(outcomes[run].on_time_ratio_permille(), outcomes[0].on_time_ratio_permille());
    EXPECT_EQ(outcomes[run].rating(), outcomes[0].rating());
  }
}

TEST_F(CreditServiceTest, EventsForUnknownCustomersAreParkedThenApplied) {
  const auto results =
      Ingest({Order("n1", "NEW-1", "O1", 40000, 0), Payment("n2", "NEW-1", 10000, 5)});
  for (const auto& r : results) EXPECT_EQ(r.outcome(), v1::INGEST_OUTCOME_PARKED);
  v1::ListParkedEventsRequest list;
  v1::ListParkedEventsResponse parked;
  ASSERT_TRUE(ingest_->ListParkedEvents(H::Context(H::kFinance).get(), list, &parked).ok());
  ASSERT_EQ(parked.events_size(), 2);
  EXPECT_EQ(parked.events(0).customer_key(), "NEW-1");
  EXPECT_TRUE(harness_.DrainStream(LedgerStream(harness_.prefix())).empty());

  const std::string id = Known("NEW-1");
  ASSERT_TRUE(ingest_->ListParkedEvents(H::Context(H::kFinance).get(), list, &parked).ok());
  EXPECT_EQ(parked.events_size(), 0);
  const v1::CreditAccount a = Account(id);
  EXPECT_EQ(a.open_receivables().minor_units(), 30000);
  EXPECT_EQ(a.events_applied(), 2);
  EXPECT_EQ(harness_.DrainStream(LedgerStream(harness_.prefix())).size(), 2u);
  // A repeat still answers PARKED (the first result) and changes nothing.
  const auto again = Ingest({Order("n1", "NEW-1", "O1", 40000, 0)});
  EXPECT_EQ(again[0].outcome(), v1::INGEST_OUTCOME_PARKED);
  EXPECT_TRUE(again[0].duplicate());
  EXPECT_EQ(Account(id).events_applied(), 2);
}

TEST_F(CreditServiceTest, ParkedEventsComePageByPageWithTokensBoundToTheFilter) {
  Ingest({Order("p1", "PARK-1", "O1", 100, 0), Order("p2", "PARK-1", "O2", 200, 0),
          Order("p3", "PARK-2", "O3", 300, 0)});
  v1::ListParkedEventsRequest list;
  list.set_external_ref("PARK-1");
  list.set_page_size(1);
  std::vector<std::string> ids;
  for (int page = 0; page < 3; ++page) {
    v1::ListParkedEventsResponse parked;
    ASSERT_TRUE(ingest_->ListParkedEvents(H::Context(H::kFinance).get(), list, &parked).ok());
    for (const auto& e : parked.events()) ids.push_back(e.event_id());
    if (parked.next_page_token().empty()) break;
    list.set_page_token(parked.next_page_token());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"p1", "p2"}));

  // A token of one filter replayed with another is refused, not a page of the other list.
  list.set_page_size(1);
  list.clear_page_token();
  v1::ListParkedEventsResponse first;
  ASSERT_TRUE(ingest_->ListParkedEvents(H::Context(H::kFinance).get(), list, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  list.set_external_ref("PARK-2");
  list.set_page_token(first.next_page_token());
  v1::ListParkedEventsResponse other;
  EXPECT_EQ(ingest_->ListParkedEvents(H::Context(H::kFinance).get(), list, &other).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CreditServiceTest, OneBatchResolvesCustomersByIdInAnyCaseAndByExternalRef) {
  const std::string by_ref = Known("REF-A");
  const std::string by_id = Known("REF-B");
  v1::LedgerEventInput upper = Order("k1", "", "O1", 40000, 0);
  upper.mutable_order()->clear_external_ref();
  upper.mutable_order()->set_customer_id(absl::AsciiStrToUpper(by_id));
  v1::LedgerEventInput lower = Payment("k2", "", 10000, 5);
  lower.mutable_payment()->clear_external_ref();
  lower.mutable_payment()->set_customer_id(by_id);
  const auto results = Ingest({upper, Order("k3", "REF-A", "O2", 25000, 1), lower,
                               Order("k4", "REF-UNKNOWN", "O3", 1000, 1)});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome(), v1::INGEST_OUTCOME_APPLIED);
  EXPECT_EQ(results[0].customer_id(), by_id);
  EXPECT_EQ(results[1].outcome(), v1::INGEST_OUTCOME_APPLIED);
  EXPECT_EQ(results[1].customer_id(), by_ref);
  EXPECT_EQ(results[2].outcome(), v1::INGEST_OUTCOME_APPLIED);
  EXPECT_EQ(results[3].outcome(), v1::INGEST_OUTCOME_PARKED);
  EXPECT_EQ(Account(by_id).open_receivables().minor_units(), 30000);
  EXPECT_EQ(Account(by_id).events_applied(), 2);
  EXPECT_EQ(Account(by_ref).open_receivables().minor_units(), 25000);
  EXPECT_EQ(harness_.DrainStream(LedgerStream(harness_.prefix())).size(), 3u);
}

TEST_F(CreditServiceTest, OutboxDeliversEachLedgerEventOnceAcrossRelayRestarts) {
  Known("ERP-1");
  std::vector<v1::LedgerEventInput> events;
  for (int i = 0; i < 120; ++i)
    events.push_back(Order(absl::StrCat("x", i), "ERP-1", absl::StrCat("O", i), 100, 1));
  Ingest(events, 40);
  {
    outbox::Relay first(harness_.pool(), harness_.redis(), {.batch_size = 50});
    ASSERT_EQ(*first.PublishOnce(), 50);
  }  // "crash" after one batch
  {
    outbox::Relay second(harness_.pool(), harness_.redis(), {.batch_size = 50});
    // Pretend the first relay had also sent the next rows without marking them.
    ASSERT_EQ(*second.PublishOnce(), 50);
    ASSERT_TRUE(harness_.pool()
                    .Transact([](pqxx::work& tx) {
                      tx.exec("UPDATE outbox SET published_at = NULL WHERE id > 90");
                      return absl::OkStatus();
                    })
                    .ok());
  }
  const auto entries = harness_.DrainStream(LedgerStream(harness_.prefix()));
  ASSERT_EQ(entries.size(), 120u);
  std::set<std::string> ids;
  for (const auto& e : entries) {
    events::v1::LedgerEvent event;
    ASSERT_TRUE(event.ParseFromString(e.Field("payload")));
    ids.insert(event.event_id());
    EXPECT_EQ(event.kind(), events::v1::LEDGER_EVENT_KIND_ORDER);
  }
  EXPECT_EQ(ids.size(), 120u);
}

TEST_F(CreditServiceTest, CheckCreditGivesDecisionsWithReasons) {
  const std::string id = Known("ERP-1");
  Ingest({Order("k1", "ERP-1", "O1", 9000000, 0)});  // 90,000.00 due day 30, 45 days overdue
  v1::CheckCreditRequest check;
  check.set_customer_id(id);
  *check.mutable_order_amount() = Cny(500000);
  v1::CheckCreditResponse out;
  ASSERT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out).ok());
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_APPROVED_WITH_WARNING);
  ASSERT_EQ(out.reasons_size(), 2);
  EXPECT_EQ(out.reasons(0).rfind("NEAR_LIMIT", 0), 0u) << out.reasons(0);
  EXPECT_EQ(out.reasons(1).rfind("OVERDUE_ITEMS", 0), 0u) << out.reasons(1);

  *check.mutable_order_amount() = Cny(2000000);
  ASSERT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out).ok());
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_BLOCKED);
  EXPECT_EQ(out.reasons(0).rfind("OVER_LIMIT", 0), 0u);
  EXPECT_EQ(out.available_after().minor_units(), 10000000 - 11000000);

  v1::PlaceHoldRequest hold;
  hold.set_customer_id(id);
  v1::CreditAccount account;
  EXPECT_EQ(credit_->PlaceHold(H::Context(H::kFinance).get(), hold, &account).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  hold.set_reason("disputed invoice");
  EXPECT_EQ(credit_->PlaceHold(H::Context(H::kRepZhang).get(), hold, &account).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(credit_->PlaceHold(H::Context(H::kFinance).get(), hold, &account).ok());
  EXPECT_EQ(account.status(), v1::ACCOUNT_STATUS_ON_HOLD);
  *check.mutable_order_amount() = Cny(100);
  ASSERT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out).ok());
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_BLOCKED);
  EXPECT_EQ(out.reasons(0), "ON_HOLD: manual: disputed invoice");

  // Time passes: 61 days overdue blocks by policy (60) even without the hold.
  v1::ReleaseHoldRequest release;
  release.set_customer_id(id);
  release.set_reason("settled the dispute");
  ASSERT_TRUE(credit_->ReleaseHold(H::Context(H::kManager).get(), release, &account).ok());
  now_ = kJune1 + 91 * kDay;
  ASSERT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out).ok());
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_BLOCKED);
  EXPECT_TRUE(std::any_of(out.reasons().begin(), out.reasons().end(), [](const std::string& r) {
    return r.rfind("OVERDUE: 61 days", 0) == 0;
  }));
  // At 90 days overdue the sweep places the automatic hold; a payment releases it.
  now_ = kJune1 + 121 * kDay;
  ASSERT_EQ(*server_->store.SweepHolds(), 1);
  EXPECT_TRUE(Account(id).hold_automatic());
  Ingest({Payment("k2", "ERP-1", 9000000, 119)});
  EXPECT_EQ(Account(id).status(), v1::ACCOUNT_STATUS_ACTIVE);
}

TEST_F(CreditServiceTest, LimitApplicationsFollowTheApprovalRules) {
  const std::string zhangs = Known("ERP-Z", "rep.zhang");
  const std::string chens = Known("ERP-C", "rep.chen");
  v1::SubmitLimitApplicationRequest submit;
  submit.set_customer_id(chens);
  *submit.mutable_requested_limit() = Cny(50000000);
  submit.set_justification("new project");
  v1::LimitApplication app;
  EXPECT_EQ(
      credit_->SubmitLimitApplication(H::Context(H::kRepZhang).get(), submit, &app).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  submit.set_customer_id(zhangs);
  ASSERT_TRUE(credit_->SubmitLimitApplication(H::Context(H::kRepZhang).get(), submit, &app).ok());
  EXPECT_EQ(app.state(), v1::APPLICATION_STATE_PENDING);
  EXPECT_EQ(app.applicant(), "rep.zhang");

  v1::DecideLimitApplicationRequest decide;
  decide.set_application_id(app.id());
  decide.set_action(v1::DECISION_ACTION_APPROVE_WITH_AMOUNT);
  *decide.mutable_approved_limit() = Cny(30000000);
  decide.set_reason("half of the project volume");
  v1::LimitApplication decided;
  EXPECT_EQ(credit_->DecideLimitApplication(H::Context(H::kRepZhang).get(), decide, &decided)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A manager's own application cannot be decided by that manager.
  v1::LimitApplication own;
  ASSERT_TRUE(credit_->SubmitLimitApplication(H::Context(H::kManager).get(), submit, &own).ok());
  v1::DecideLimitApplicationRequest self = decide;
  self.set_application_id(own.id());
  EXPECT_EQ(
      credit_->DecideLimitApplication(H::Context(H::kManager).get(), self, &decided).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);

  ASSERT_TRUE(
      credit_->DecideLimitApplication(H::Context(H::kFinance).get(), decide, &decided).ok());
  EXPECT_EQ(decided.state(), v1::APPLICATION_STATE_APPROVED);
  EXPECT_EQ(decided.decided_by(), "finance.wang");
  EXPECT_EQ(Account(zhangs).credit_limit().minor_units(), 30000000);
  EXPECT_EQ(
      credit_->DecideLimitApplication(H::Context(H::kFinance).get(), decide, &decided).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListLimitApplicationsRequest list;
  list.set_state(v1::APPLICATION_STATE_PENDING);
  v1::ListLimitApplicationsResponse pending;
  ASSERT_TRUE(credit_->ListLimitApplications(H::Context(H::kFinance).get(), list, &pending).ok());
  ASSERT_EQ(pending.applications_size(), 1);
  EXPECT_EQ(pending.applications(0).id(), own.id());
  EXPECT_EQ(harness_.CountRows("audit_log"), 3);  // two submissions, one approval
}

TEST_F(CreditServiceTest, ARepReadsOnlyTheCreditDataOfTheirOwnCustomers) {
  const std::string zhangs = Known("ERP-Z", "rep.zhang");
  const std::string chens = Known("ERP-C", "rep.chen");
  // Both 45 days overdue at day 75 (due day 30).
  Ingest({Order("z1", "ERP-Z", "OZ1", 100000, 0), Order("c1", "ERP-C", "OC1", 200000, 0)});
  const std::string unknown = ids::NewUuid();

  // Account, open items, check: own customer yes, another rep's no, an unknown one NOT_FOUND.
  EXPECT_EQ(GetAccountAs(H::kRepZhang, zhangs), grpc::StatusCode::OK);
  EXPECT_EQ(GetAccountAs(H::kRepZhang, chens), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetAccountAs(H::kRepChen, chens), grpc::StatusCode::OK);
  EXPECT_EQ(GetAccountAs(H::kRepZhang, unknown), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetAccountAs(H::kViewer, chens), grpc::StatusCode::OK);
  v1::ListOpenItemsRequest items;
  items.set_customer_id(zhangs);
  v1::ListOpenItemsResponse items_out;
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kRepZhang).get(), items, &items_out).ok());
  ASSERT_EQ(items_out.items_size(), 1);
  EXPECT_EQ(items_out.items(0).order_no(), "OZ1");
  items.set_customer_id(chens);
  grpc::Status denied = credit_->ListOpenItems(H::Context(H::kRepZhang).get(), items, &items_out);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message().rfind("customer_id: ", 0), 0u) << denied.error_message();
  v1::CheckCreditRequest check;
  check.set_customer_id(chens);
  *check.mutable_order_amount() = Cny(100);
  v1::CheckCreditResponse check_out;
  EXPECT_EQ(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &check_out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  check.set_customer_id(zhangs);
  EXPECT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &check_out).ok());

  // Collections: a rep sees their own overdue customers, finance every one.
  v1::ListCollectionsResponse collections;
  ASSERT_TRUE(credit_->ListCollections(H::Context(H::kRepZhang).get(), {}, &collections).ok());
  ASSERT_EQ(collections.entries_size(), 1);
  EXPECT_EQ(collections.entries(0).customer_id(), zhangs);
  ASSERT_TRUE(credit_->ListCollections(H::Context(H::kFinance).get(), {}, &collections).ok());
  EXPECT_EQ(collections.entries_size(), 2);

  // Limit applications: a rep lists those of their own customers only.
  v1::SubmitLimitApplicationRequest submit;
  *submit.mutable_requested_limit() = Cny(50000000);
  submit.set_justification("new project");
  v1::LimitApplication zhang_app, chen_app;
  submit.set_customer_id(zhangs);
  ASSERT_TRUE(
      credit_->SubmitLimitApplication(H::Context(H::kManager).get(), submit, &zhang_app).ok());
  submit.set_customer_id(chens);
  ASSERT_TRUE(
      credit_->SubmitLimitApplication(H::Context(H::kManager).get(), submit, &chen_app).ok());
  v1::ListLimitApplicationsRequest list;
  v1::ListLimitApplicationsResponse apps;
  ASSERT_TRUE(credit_->ListLimitApplications(H::Context(H::kRepZhang).get(), list, &apps).ok());
  ASSERT_EQ(apps.applications_size(), 1);
  EXPECT_EQ(apps.applications(0).id(), zhang_app.id());
  ASSERT_TRUE(credit_->ListLimitApplications(H::Context(H::kFinance).get(), list, &apps).ok());
  EXPECT_EQ(apps.applications_size(), 2);
  list.set_customer_id(chens);
  EXPECT_EQ(
      credit_->ListLimitApplications(H::Context(H::kRepZhang).get(), list, &apps).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(credit_->ListLimitApplications(H::Context(H::kRepChen).get(), list, &apps).ok());
  ASSERT_EQ(apps.applications_size(), 1);
  EXPECT_EQ(apps.applications(0).id(), chen_app.id());

  // A reassignment announced by the profile moves the scope with it.
  Announce(chens, "ERP-C", "rep.zhang", 2);
  EXPECT_EQ(GetAccountAs(H::kRepZhang, chens), grpc::StatusCode::OK);
  EXPECT_EQ(GetAccountAs(H::kRepChen, chens), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CreditServiceTest, AnOlderCustomerChangedVersionDoesNotOverwriteANewerOne) {
  const std::string id = ids::NewUuid();
  Announce(id, "ERP-V", "rep.chen", 3, events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  // Version 2 (reassigning to rep.zhang, another ERP code) arrives late; redelivered version 3
  // with other values changes nothing either.
  Announce(id, "ERP-OLD", "rep.zhang", 2);
  Announce(id, "ERP-OLD", "rep.zhang", 3);
  EXPECT_EQ(*server_->store.OwnerOf(id), "rep.chen");
  EXPECT_EQ(GetAccountAs(H::kRepZhang, id), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetAccountAs(H::kRepChen, id), grpc::StatusCode::OK);
  // The ERP code stayed too: events for ERP-V apply, events for ERP-OLD stay parked.
  const auto results =
      Ingest({Order("v1", "ERP-V", "OV1", 1000, 70), Order("v2", "ERP-OLD", "OV2", 1000, 70)});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].outcome(), v1::INGEST_OUTCOME_APPLIED);
  EXPECT_EQ(results[1].outcome(), v1::INGEST_OUTCOME_PARKED);
  // A stale announcement does not unpark events under the code it names.
  Announce(id, "ERP-OLD", "rep.zhang", 1);
  EXPECT_EQ(Account(id).events_applied(), 1);

  // A newer version wins.
  Announce(id, "ERP-V", "rep.zhang", 4);
  EXPECT_EQ(*server_->store.OwnerOf(id), "rep.zhang");
  EXPECT_EQ(GetAccountAs(H::kRepZhang, id), grpc::StatusCode::OK);
  EXPECT_EQ(GetAccountAs(H::kRepChen, id), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CreditServiceTest, PolicyUpdatesAreValidated) {
  v1::CreditPolicy policy;
  ASSERT_TRUE(credit_->GetCreditPolicy(H::Context(H::kViewer).get(), {}, &policy).ok());
  EXPECT_EQ(policy.weight_on_time_ratio(), 40);
  v1::UpdateCreditPolicyRequest update;
  *update.mutable_policy() = policy;
  update.mutable_policy()->set_weight_tenure(50);
  v1::CreditPolicy out;
  grpc::Status s = credit_->UpdateCreditPolicy(H::Context(H::kFinance).get(), update, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("policy.weight_on_time_ratio: weights must sum to 100", 0), 0u);
  update.mutable_policy()->set_weight_tenure(10);
  update.mutable_policy()->set_auto_hold_days_overdue(45);
  EXPECT_EQ(credit_->UpdateCreditPolicy(H::Context(H::kViewer).get(), update, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(credit_->UpdateCreditPolicy(H::Context(H::kFinance).get(), update, &out).ok());
  EXPECT_EQ(out.version(), 1);
  ASSERT_TRUE(credit_->GetCreditPolicy(H::Context(H::kViewer).get(), {}, &policy).ok());
  EXPECT_EQ(policy.auto_hold_days_overdue(), 45);
  EXPECT_EQ(policy.updated_by(), "finance.wang");
}

TEST_F(CreditServiceTest, EveryMethodNeedsATokenAndTheRightRole) {
  for (const auto* name :
       {"tierwise.credit.v1.LedgerIngestService", "tierwise.credit.v1.CreditService"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr);
    const auth::RoleTable table = std::string(name).find("Ingest") != std::string::npos
                                      ? LedgerIngestRoleTable()
                                      : CreditRoleTable();
    for (int i = 0; i < service->method_count(); ++i) {
      EXPECT_TRUE(table.contains(service->method(i)->name())) << service->method(i)->name();
    }
  }
  v1::IngestResult r;
  grpc::ClientContext none;
  EXPECT_EQ(ingest_->RecordOrder(&none, Order("z", "R", "O", 1, 1).order(), &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      ingest_->RecordOrder(H::Context(H::kViewer).get(), Order("z", "R", "O", 1, 1).order(), &r)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  v1::CreditAccount a;
  v1::GetCreditAccountRequest get;
  get.set_customer_id(ids::NewUuid());
  grpc::ClientContext none2;
  EXPECT_EQ(credit_->GetCreditAccount(&none2, get, &a).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(credit_->GetCreditAccount(H::Context(H::kErp).get(), get, &a).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(credit_->GetCreditAccount(H::Context(H::kViewer).get(), get, &a).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CreditServiceTest, AnIdleIngestStreamEndsWithDeadlineExceeded) {
  // Set before the first IngestEvents call reads it.
  server_->ingest_service.set_idle_timeout(std::chrono::seconds(1));
  Known("ERP-IDLE");
  auto ctx = H::Context(H::kErp);
  auto stream = ingest_->IngestEvents(ctx.get());
  v1::IngestEventsRequest req;
  *req.add_events() = Order("idle-1", "ERP-IDLE", "O1", 1000, 0);
  ASSERT_TRUE(stream->Write(req));
  v1::IngestEventsResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_EQ(resp.results(0).outcome(), v1::INGEST_OUTCOME_APPLIED);
  // Then nothing: the server ends the stream, saying why.
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_NE(s.error_message().find("--ingest_idle_timeout_s"), std::string::npos)
      << s.error_message();
}

// Issue 11, "Overflow bypasses credit control": three orders of 4×10^18 fen used to be applied
// and wrap the exposure to −6,446,744,073,709,551,616, and CheckCredit then approved.
TEST_F(CreditServiceTest, AmountsAboveTheDocumentMaximumAreRejectedAndNothingWraps) {
  const std::string id = Known("ERP-BIG");
  constexpr int64_t kHuge = 4'000'000'000'000'000'000;  // 4 × 10^18 fen
  const std::string kAbove = "exceeds the maximum of 1000000000000000 minor units";
  const auto results =
      Ingest({Order("big-1", "ERP-BIG", "O1", kHuge, 1), Order("big-2", "ERP-BIG", "O2", kHuge, 2),
              Order("big-3", "ERP-BIG", "O3", kHuge, 3)});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome(), v1::INGEST_OUTCOME_REJECTED) << r.event_id();
    EXPECT_EQ(r.error_field(), "order.amount.minor_units") << r.event_id();
    EXPECT_EQ(r.error_message().rfind("order.amount.minor_units: " + kAbove, 0), 0u)
        << r.error_message();
  }
  // One at a time: INVALID_ARGUMENT naming the field, for every kind of document.
  v1::IngestResult single;
  for (int i = 1; i <= 3; ++i) {
    const auto order = Order(absl::StrCat("big-", i), "ERP-BIG", absl::StrCat("O", i), kHuge, i);
    grpc::Status s = ingest_->RecordOrder(H::Context(H::kErp).get(), order.order(), &single);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // The margin (a fifth of the amount) is above the maximum too: "(and 1 more)".
    EXPECT_EQ(s.error_message().rfind("order.amount.minor_units: " + kAbove, 0), 0u)
        << s.error_message();
  }
  grpc::Status s = ingest_->RecordPayment(H::Context(H::kErp).get(),
                                          Payment("big-p", "ERP-BIG", kHuge, 4).payment(), &single);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "payment.amount.minor_units: " + kAbove);
  s = ingest_->RecordCancellation(H::Context(H::kErp).get(),
                                  Cancellation("big-c", "ERP-BIG", "O1", kHuge, 4).cancellation(),
                                  &single);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "cancellation.amount.minor_units: " + kAbove);
  EXPECT_EQ(harness_.CountRows("ledger_facts"), 0) << "nothing of a rejected event is stored";

  const v1::CreditAccount a = Account(id);
  EXPECT_EQ(a.exposure().minor_units(), 0);
  EXPECT_EQ(a.open_receivables().minor_units(), 0);
  EXPECT_EQ(a.events_applied(), 0);
  v1::CheckCreditRequest check;
  check.set_customer_id(id);
  *check.mutable_order_amount() = Cny(100000);  // 1,000.00
  v1::CheckCreditResponse out;
  ASSERT_TRUE(credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out).ok());
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_APPROVED);
  EXPECT_EQ(out.reasons_size(), 0);
  EXPECT_EQ(out.available_after().minor_units(), 100000LL * 100 - 100000);

  // The check's amount and every limit are capped the same way.
  *check.mutable_order_amount() = Cny(kHuge);
  s = credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "order_amount.minor_units: " + kAbove);
  v1::SetCreditTermsRequest terms;
  terms.set_customer_id(id);
  terms.set_reason("test");
  *terms.mutable_credit_limit() = Cny(kMaxDocumentMinorUnits + 1);
  v1::CreditAccount account;
  s = credit_->SetCreditTerms(H::Context(H::kFinance).get(), terms, &account);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "credit_limit.minor_units: " + kAbove);
  v1::SubmitLimitApplicationRequest submit;
  submit.set_customer_id(id);
  *submit.mutable_requested_limit() = Cny(kHuge);
  submit.set_justification("big plans");
  v1::LimitApplication app;
  s = credit_->SubmitLimitApplication(H::Context(H::kManager).get(), submit, &app);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "requested_limit.minor_units: " + kAbove);

  // Exactly at the maximum is a valid document.
  const auto at_cap = Ingest({Order("cap-1", "ERP-BIG", "C1", kMaxDocumentMinorUnits, 1)});
  ASSERT_EQ(at_cap.size(), 1u);
  EXPECT_EQ(at_cap[0].outcome(), v1::INGEST_OUTCOME_APPLIED) << at_cap[0].error_message();
  EXPECT_EQ(Account(id).exposure().minor_units(), kMaxDocumentMinorUnits);
}

TEST_F(CreditServiceTest, StoredFactsPastInt64BlockTheCheckInsteadOfWrapping) {
  // 10,000 valid orders at the maximum: 10^19 fen of receivables cannot be represented. The
  // facts are kept (the ERP's truth), the account goes on automatic hold, the account view is
  // FAILED_PRECONDITION and the check is BLOCKED — never a wrapped, negative exposure.
  const std::string id = Known("ERP-MANY");
  std::vector<v1::LedgerEventInput> orders;
  for (int i = 0; i < 10000; ++i) {
    orders.push_back(Order(absl::StrCat("many-", i), "ERP-MANY", absl::StrCat("O", i),
                           kMaxDocumentMinorUnits, 0));
  }
  const auto results = Ingest(orders);
  ASSERT_EQ(results.size(), orders.size());
  for (const auto& r : results) {
    ASSERT_EQ(r.outcome(), v1::INGEST_OUTCOME_APPLIED) << r.event_id() << " " << r.error_message();
  }
  v1::GetCreditAccountRequest get;
  get.set_customer_id(id);
  v1::CreditAccount account;
  grpc::Status s = credit_->GetCreditAccount(H::Context(H::kFinance).get(), get, &account);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("int64"), std::string::npos) << s.error_message();

  v1::CheckCreditRequest check;
  check.set_customer_id(id);
  *check.mutable_order_amount() = Cny(100);
  v1::CheckCreditResponse out;
  s = credit_->CheckCredit(H::Context(H::kRepZhang).get(), check, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.decision(), v1::CREDIT_DECISION_BLOCKED);
  ASSERT_EQ(out.reasons_size(), 2);
  EXPECT_EQ(out.reasons(0).rfind("ON_HOLD: automatic: the account's", 0), 0u) << out.reasons(0);
  EXPECT_EQ(out.reasons(1).rfind("OUT_OF_RANGE: the account's", 0), 0u) << out.reasons(1);
  EXPECT_FALSE(out.has_available_after());
  EXPECT_FALSE(out.has_account());
}

// ---- Business calendar (issue #11) ------------------------------------------------------------

class ShanghaiCreditServiceTest : public CreditServiceTest {
 protected:
  void SetUp() override {
    harness_.deps().calendar = *time::BusinessCalendar::Load("Asia/Shanghai");
    CreditServiceTest::SetUp();
  }
};

constexpr Micros kHour = 3600LL * 1000000;
constexpr Micros kMinute = 60LL * 1000000;
constexpr Micros kChinaOffset = 8 * kHour;  // Asia/Shanghai has no DST

// 2026-06-`day` 00:00 in Shanghai (day may pass the month's end).
Micros ShanghaiJune(int day) { return kJune1 + (day - 1) * kDay - kChinaOffset; }

v1::LedgerEventInput OrderAt(const std::string& id, const std::string& ref, const std::string& no,
                             int64_t amount, Micros at, Micros due = 0) {
  v1::LedgerEventInput in = Order(id, ref, no, amount, 0);
  SetTimestamp(at, in.mutable_order()->mutable_occurred_at());
  if (due != 0) SetTimestamp(due, in.mutable_order()->mutable_due_date());
  return in;
}

TEST_F(ShanghaiCreditServiceTest, DaysAreLocalDaysOfTheBusinessTimeZone) {
  const std::string id = Known("ERP-SH");
  // Due 10 June 10:00 local (02:00Z).
  Ingest({OrderAt("e1", "ERP-SH", "O1", 100000, ShanghaiJune(1), ShanghaiJune(10) + 10 * kHour)});
  v1::ListOpenItemsRequest items;
  items.set_customer_id(id);
  v1::ListOpenItemsResponse open;
  // 10 June 23:59 local: the due day is not over.
  now_ = ShanghaiJune(11) - kMinute;
  EXPECT_EQ(Account(id).overdue_amount().minor_units(), 0);
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &open).ok());
  EXPECT_EQ(open.items(0).days_overdue(), 0);
  v1::ListCollectionsRequest collections;
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(credit_->ListCollections(H::Context(H::kFinance).get(), collections, &list).ok());
  EXPECT_EQ(list.entries_size(), 0);
  // 11 June 00:00 local (still 10 June 16:00 in UTC): 1 day overdue.
  now_ = ShanghaiJune(11);
  const v1::CreditAccount a = Account(id);
  EXPECT_EQ(a.overdue_amount().minor_units(), 100000);
  EXPECT_EQ(a.max_days_overdue(), 1);
  EXPECT_EQ(a.aging().days_1_30().minor_units(), 100000);
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &open).ok());
  EXPECT_EQ(open.items(0).days_overdue(), 1);
  ASSERT_TRUE(credit_->ListCollections(H::Context(H::kFinance).get(), collections, &list).ok());
  ASSERT_EQ(list.entries_size(), 1);
  EXPECT_EQ(list.entries(0).max_days_overdue(), 1);
  EXPECT_EQ(list.entries(0).overdue_amount().minor_units(), 100000);

  // 月结: an invoice on 30 June 23:30 local is in June's statement (due 31 July 23:59:59
  // local); one at 1 July 00:30 local (30 June 16:30Z, June in UTC) is in July's.
  v1::SetCreditTermsRequest terms;
  terms.set_customer_id(id);
  terms.mutable_terms()->set_type(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
  terms.set_reason("monthly statement agreed");
  v1::CreditAccount changed;
  ASSERT_TRUE(credit_->SetCreditTerms(H::Context(H::kFinance).get(), terms, &changed).ok());
  Ingest({OrderAt("e2", "ERP-SH", "O2", 5000, ShanghaiJune(31) - 30 * kMinute),
          OrderAt("e3", "ERP-SH", "O3", 7000, ShanghaiJune(31) + 30 * kMinute)});
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &open).ok());
  ASSERT_EQ(open.items_size(), 3);
  EXPECT_EQ(open.items(1).order_no(), "O2");
  EXPECT_EQ(ToMicros(open.items(1).due_date()), ShanghaiJune(31 + 31) - 1000000);
  EXPECT_EQ(open.items(2).order_no(), "O3");
  EXPECT_EQ(ToMicros(open.items(2).due_date()), ShanghaiJune(31 + 31 + 31) - 1000000);
  // The statement closes at the local month end: overdue from 1 August 00:00 local.
  now_ = ShanghaiJune(31 + 31) - kMinute;
  EXPECT_EQ(Account(id).overdue_amount().minor_units(), 100000);  // O1 only
  now_ = ShanghaiJune(31 + 31);
  EXPECT_EQ(Account(id).overdue_amount().minor_units(), 105000);
}

TEST_F(ShanghaiCreditServiceTest, TheAutomaticHoldCountsLocalDays) {
  const std::string id = Known("ERP-AH");
  Ingest({OrderAt("h1", "ERP-AH", "O1", 100000, ShanghaiJune(1), ShanghaiJune(10) + 10 * kHour)});
  // The default policy holds at 90 days overdue: from 8 September 00:00 local (10 June + 90).
  now_ = ShanghaiJune(100) - kMinute;
  EXPECT_EQ(*server_->store.SweepHolds(), 0);
  EXPECT_EQ(Account(id).max_days_overdue(), 89);
  now_ = ShanghaiJune(100);
  EXPECT_EQ(*server_->store.SweepHolds(), 1);
  const v1::CreditAccount held = Account(id);
  EXPECT_EQ(held.status(), v1::ACCOUNT_STATUS_ON_HOLD);
  EXPECT_TRUE(held.hold_automatic());
  EXPECT_EQ(held.hold_reason(), "automatic: 90 days overdue (policy 90)");
}

// ---- Incremental ledger state -------------------------------------------------------------------

// A random ledger of one customer: orders, partial and total cancellations/returns, payments
// targeted (also at orders that come later or never) and untargeted, all on days 0..70.
std::vector<v1::LedgerEventInput> RandomCustomerLedger(std::mt19937_64& rng,
                                                       const std::string& ref) {
  std::vector<v1::LedgerEventInput> out;
  const int orders = 1 + static_cast<int>(rng() % 8);
  for (int o = 0; o < orders; ++o) {
    const std::string no = absl::StrCat("O", o % 6);
    out.push_back(Order(absl::StrCat(ref, "-o", o), ref, no,
                        1 + static_cast<int64_t>(rng() % 90000), static_cast<int>(rng() % 70)));
    if (rng() % 3 == 0) {
      out.push_back(Cancellation(absl::StrCat(ref, "-c", o), ref, no,
                                 rng() % 3 == 0 ? 0 : 1 + static_cast<int64_t>(rng() % 40000),
                                 static_cast<int>(rng() % 70)));
    }
  }
  const int payments = static_cast<int>(rng() % 8);
  for (int p = 0; p < payments; ++p) {
    out.push_back(Payment(absl::StrCat(ref, "-p", p), ref, 1 + static_cast<int64_t>(rng() % 60000),
                          static_cast<int>(rng() % 70),
                          rng() % 2 ? absl::StrCat("O", rng() % 8) : ""));
  }
  return out;
}

TEST_F(ShanghaiCreditServiceTest, StoredLedgerStateEqualsReplayForAnyArrivalOrderAndBatches) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  constexpr int kCustomers = 40;
  std::vector<std::string> ids;
  std::vector<v1::LedgerEventInput> all;
  for (int c = 0; c < kCustomers; ++c) {
    const std::string ref = absl::StrCat("ERP-R", c);
    ids.push_back(Known(ref));
    for (auto& e : RandomCustomerLedger(rng, ref)) all.push_back(std::move(e));
  }
  // Half in time order (the incremental path), half shuffled (late facts: the repair path),
  // with redeliveries, in random batch sizes.
  std::vector<v1::LedgerEventInput> feed = all;
  std::sort(feed.begin(), feed.end(), [](const auto& a, const auto& b) {
    const Fact x = ToFact(a), y = ToFact(b);
    return KeyOf(x) < KeyOf(y);
  });
  std::shuffle(feed.begin() + static_cast<std::ptrdiff_t>(feed.size() / 2), feed.end(), rng);
  for (size_t d = 0; d < all.size() / 5; ++d) feed.push_back(all[rng() % all.size()]);
  for (size_t start = 0; start < feed.size();) {
    const size_t size = 1 + rng() % 60;
    Ingest({feed.begin() + static_cast<std::ptrdiff_t>(start),
            feed.begin() + static_cast<std::ptrdiff_t>(std::min(feed.size(), start + size))});
    start += size;
  }
  const time::BusinessCalendar calendar = *time::BusinessCalendar::Load("Asia/Shanghai");
  for (int c = 0; c < kCustomers; ++c) {
    SCOPED_TRACE(absl::StrCat("customer ", c));
    absl::StatusOr<LedgerCheck> check = server_->store.VerifyLedger(ids[c], false);
    ASSERT_TRUE(check.ok()) << check.status();
    EXPECT_TRUE(check->matched) << check->difference;
    std::vector<Fact> facts;
    const std::string prefix = absl::StrCat("ERP-R", c, "-");
    for (const auto& e : all) {
      const Fact f = ToFact(e);
      if (f.event_id.rfind(prefix, 0) == 0) facts.push_back(f);
    }
    const Ledger replayed = Replay(facts, {Terms::Type::kNetDays, 30}, calendar);
    const Position want = *PositionAt(replayed, now_, calendar);
    const v1::CreditAccount got = Account(ids[c]);
    EXPECT_EQ(got.exposure().minor_units(), want.exposure());
    EXPECT_EQ(got.open_orders().minor_units(), want.open_orders);
    EXPECT_EQ(got.overdue_amount().minor_units(), want.overdue_amount);
    EXPECT_EQ(got.max_days_overdue(), want.max_days_overdue);
    EXPECT_EQ(got.aging().days_1_30().minor_units(), want.aging.days_1_30);
    EXPECT_EQ(got.aging().days_31_60().minor_units(), want.aging.days_31_60);
    EXPECT_EQ(got.dso_days(), want.dso_days);
    EXPECT_EQ(got.on_time_ratio_permille(), want.on_time_permille.value_or(-1));
    EXPECT_EQ(got.unapplied_credit().minor_units(), replayed.unapplied);
    EXPECT_EQ(got.events_applied(), replayed.facts);
  }
}

TEST_F(CreditServiceTest, VerifyLedgerFindsAndRepairsADamagedStateAndOldAccountsAreBuilt) {
  const std::string id = Known("ERP-V");
  Ingest({Order("v1", "ERP-V", "O1", 10000, 0), Order("v2", "ERP-V", "O2", 5000, 1),
          Payment("v3", "ERP-V", 12000, 40), Payment("v4", "ERP-V", 100, 41, "O9")});
  ASSERT_TRUE(server_->store.VerifyLedger(id, false)->matched);
  const v1::CreditAccount before = Account(id);
  // Damage the stored state behind the service's back.
  ASSERT_TRUE(harness_.pool()
                  .Transact([&](pqxx::work& tx) {
                    tx.exec_params(
                        "UPDATE ledger_items SET paid = 0 WHERE customer_id = $1"
                        " AND order_no = 'O2'",
                        id);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_NE(Account(id).exposure().minor_units(), before.exposure().minor_units());
  absl::StatusOr<LedgerCheck> check = server_->store.VerifyLedger(id, false);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_FALSE(check->matched);
  EXPECT_EQ(check->difference, "item O2");
  EXPECT_FALSE(check->repaired);
  // Over the API: admin only; the repair is audited.
  v1::VerifyLedgerRequest verify;
  verify.set_customer_id(id);
  v1::VerifyLedgerResponse verified;
  EXPECT_EQ(credit_->VerifyLedger(H::Context(H::kFinance).get(), verify, &verified).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(credit_->VerifyLedger(H::Context(H::kAdmin).get(), verify, &verified).ok());
  EXPECT_FALSE(verified.matched());
  EXPECT_EQ(verified.difference(), "item O2");
  EXPECT_FALSE(verified.repaired());
  verify.set_repair(true);
  ASSERT_TRUE(credit_->VerifyLedger(H::Context(H::kAdmin).get(), verify, &verified).ok());
  EXPECT_TRUE(verified.repaired());
  EXPECT_EQ(harness_.CountRows("audit_log"), 1);
  ASSERT_TRUE(credit_->VerifyLedger(H::Context(H::kAdmin).get(), verify, &verified).ok());
  EXPECT_TRUE(verified.matched());
  EXPECT_FALSE(verified.repaired());
  verify.set_customer_id("nope");
  EXPECT_EQ(credit_->VerifyLedger(H::Context(H::kAdmin).get(), verify, &verified).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Account(id).exposure().minor_units(), before.exposure().minor_units());
  EXPECT_EQ(Account(id).unapplied_credit().minor_units(), 100);

  // An account from before the stored state (not ready, no items) is built by the backfill.
  ASSERT_TRUE(harness_.pool()
                  .Transact([&](pqxx::work& tx) {
                    tx.exec_params("DELETE FROM ledger_items WHERE customer_id = $1", id);
                    tx.exec_params(
                        "UPDATE accounts SET ledger_ready = false, ledger_state = NULL,"
                        " unapplied = 0 WHERE customer_id = $1",
                        id);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_FALSE(server_->store.VerifyLedger(id, false)->matched);
  EXPECT_EQ(*server_->store.BackfillLedgers(10), 1);
  EXPECT_EQ(*server_->store.BackfillLedgers(10), 0);
  EXPECT_TRUE(server_->store.VerifyLedger(id, false)->matched);
  EXPECT_EQ(Account(id).exposure().minor_units(), before.exposure().minor_units());
}

TEST_F(CreditServiceTest, ALateFactRepairsByReplayAndInOrderFactsApplyIncrementally) {
  const std::string id = Known("ERP-L");
  Ingest({Order("l1", "ERP-L", "O1", 10000, 0), Order("l2", "ERP-L", "O2", 5000, 10)});
  EXPECT_EQ(server_->store.ledger_replays(), 0);
  // A payment dated before O2 arrives late: oldest due first still settles O1.
  Ingest({Payment("l3", "ERP-L", 10000, 5)});
  EXPECT_EQ(server_->store.ledger_replays(), 1);
  EXPECT_TRUE(server_->store.VerifyLedger(id, false)->matched);
  v1::ListOpenItemsRequest items;
  items.set_customer_id(id);
  v1::ListOpenItemsResponse open;
  ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &open).ok());
  ASSERT_EQ(open.items_size(), 1);
  EXPECT_EQ(open.items(0).order_no(), "O2");
  // In order: applied to the stored state without touching settled history.
  Ingest({Payment("l4", "ERP-L", 2000, 20), Cancellation("l5", "ERP-L", "O1", 1000, 21)});
  EXPECT_EQ(server_->store.ledger_replays(), 1);
  EXPECT_TRUE(server_->store.VerifyLedger(id, false)->matched);
  const v1::CreditAccount a = Account(id);
  EXPECT_EQ(a.open_receivables().minor_units(), 2000);  // O2 5,000 - 2,000 - 1,000 credit note
  EXPECT_EQ(a.events_applied(), 5);
}

TEST_F(CreditServiceTest, AFeedHoldingOneAccountDoesNotBlockAnotherCustomer) {
  const std::string a = Known("ERP-LA");
  const std::string b = Known("ERP-LB");
  Ingest({Order("la1", "ERP-LA", "O1", 1000, 0), Order("lb1", "ERP-LB", "O1", 1000, 0)});
  // Another writer holds A's account row.
  std::atomic<bool> locked{false}, release{false};
  std::thread holder([&] {
    absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
      tx.exec_params("SELECT 1 FROM accounts WHERE customer_id = $1 FOR UPDATE", a);
      locked = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  while (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // B's events go through meanwhile; A's wait for the lock and then apply.
  v1::IngestResult result;
  auto ctx = H::Context(H::kErp);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  const grpc::Status b_status =
      ingest_->RecordPayment(ctx.get(), Payment("lb2", "ERP-LB", 400, 1).payment(), &result);
  std::atomic<bool> a_done{false};
  std::thread a_feed([&] {
    v1::IngestResult r;
    EXPECT_TRUE(ingest_
                    ->RecordPayment(H::Context(H::kErp).get(),
                                    Payment("la2", "ERP-LA", 300, 1).payment(), &r)
                    .ok());
    a_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const bool a_waited = !a_done;
  release = true;
  holder.join();
  a_feed.join();
  EXPECT_TRUE(b_status.ok()) << b_status.error_message();
  EXPECT_TRUE(a_waited);
  EXPECT_EQ(Account(b).open_receivables().minor_units(), 600);
  EXPECT_EQ(Account(a).open_receivables().minor_units(), 700);
}

// ---- Paging -----------------------------------------------------------------------------------

TEST_F(CreditServiceTest, ListsPageWithoutDuplicatesOrGapsOnEqualKeys) {
  // Open items: seven orders at the same instant.
  const std::string id = Known("ERP-P");
  std::vector<v1::LedgerEventInput> orders;
  for (int i = 0; i < 7; ++i) {
    orders.push_back(Order(absl::StrCat("p", i), "ERP-P", absl::StrCat("O", i), 1000, 0));
  }
  Ingest(orders);
  v1::ListOpenItemsRequest items;
  items.set_customer_id(id);
  items.set_page_size(3);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    v1::ListOpenItemsResponse out;
    ASSERT_TRUE(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &out).ok());
    for (const auto& item : out.items()) seen.push_back(item.order_no());
    if (out.next_page_token().empty()) break;
    items.set_page_token(out.next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"O0", "O1", "O2", "O3", "O4", "O5", "O6"}));
  v1::ListOpenItemsResponse unused;
  items.set_include_settled(true);  // another filter: the token does not fit
  EXPECT_EQ(credit_->ListOpenItems(H::Context(H::kFinance).get(), items, &unused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Limit applications: five submitted at the same instant (the test clock stands still).
  v1::SubmitLimitApplicationRequest submit;
  submit.set_customer_id(id);
  *submit.mutable_requested_limit() = Cny(50000000);
  submit.set_justification("more volume");
  std::set<std::string> submitted;
  for (int i = 0; i < 5; ++i) {
    v1::LimitApplication app;
    ASSERT_TRUE(credit_->SubmitLimitApplication(H::Context(H::kManager).get(), submit, &app).ok());
    submitted.insert(app.id());
  }
  v1::ListLimitApplicationsRequest list;
  list.set_page_size(2);
  std::vector<std::string> listed;
  for (int page = 0; page < 5; ++page) {
    v1::ListLimitApplicationsResponse out;
    ASSERT_TRUE(credit_->ListLimitApplications(H::Context(H::kFinance).get(), list, &out).ok());
    for (const auto& a : out.applications()) listed.push_back(a.id());
    if (out.next_page_token().empty()) break;
    list.set_page_token(out.next_page_token());
  }
  EXPECT_EQ(listed.size(), 5u);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), submitted);
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));  // equal times: by id
  list.set_state(v1::APPLICATION_STATE_APPROVED);
  v1::ListLimitApplicationsResponse other;
  EXPECT_EQ(
      credit_->ListLimitApplications(H::Context(H::kFinance).get(), list, &other).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  // Collections: five customers overdue since the same due date, two per page.
  std::set<std::string> overdue;
  for (int c = 0; c < 5; ++c) {
    const std::string ref = absl::StrCat("ERP-Q", c);
    overdue.insert(Known(ref));
    Ingest({Order(absl::StrCat("q", c), ref, "O1", 1000 * (c + 1), 0)});
  }
  v1::ListCollectionsRequest collections;
  collections.set_page_size(2);
  std::vector<std::string> collected;
  int pages = 0;
  for (; pages < 6; ++pages) {
    v1::ListCollectionsResponse out;
    ASSERT_TRUE(credit_->ListCollections(H::Context(H::kFinance).get(), collections, &out).ok());
    for (const auto& e : out.entries()) {
      collected.push_back(e.customer_id());
      EXPECT_EQ(e.max_days_overdue(), 45);
    }
    if (out.next_page_token().empty()) break;
    collections.set_page_token(out.next_page_token());
  }
  // The seven orders of ERP-P fell due on the same day too.
  EXPECT_EQ(collected.size(), 6u);
  EXPECT_EQ(std::set<std::string>(collected.begin(), collected.end()).size(), 6u);
  for (const std::string& c : overdue) {
    EXPECT_EQ(std::count(collected.begin(), collected.end(), c), 1);
  }
  EXPECT_EQ(pages, 2);  // 2 + 2 + 2, the last page without a token
}

}  // namespace
}  // namespace tierwise::credit
