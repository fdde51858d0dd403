// The interaction service in-process over gRPC against the real PostgreSQL and Redis of
// ./tests/run.sh, with a test clock and a fake classification service on its own port (the
// real gRPC client path: deadline, token, request id).
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/ids/ids.h"
#include "common/status/status.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/interaction/interaction_server.h"
#include "services/interaction/interaction_store.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::interaction {
namespace {

using H = testing::ServiceHarness;
using classification::v1::ClassificationService;

constexpr Micros kHour = 3600LL * 1'000'000;

Micros Noon(int y, int m, int d) {
  return (absl::CivilDay(y, m, d) - absl::CivilDay(1970, 1, 1)) * kMicrosPerDay + 12 * kHour;
}

type::v1::Date Day(int y, int m, int d) {
  type::v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

std::string Text(const type::v1::Date& d) {
  return absl::FormatCivilTime(absl::CivilDay(d.year(), d.month(), d.day()));
}

// Answers GetTier from a map (UNAVAILABLE while `down`) and GetServicePolicy with the A/B/C
// policy of the seeds; remembers what the last call carried.
class FakeClassification final : public ClassificationService::Service {
 public:
  grpc::Status GetTier(grpc::ServerContext* context,
                       const classification::v1::GetTierRequest* request,
                       classification::v1::Tier* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Remember(*context);
    ++tier_calls_;
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down for the test");
    auto it = tiers_.find(request->customer_id());
    if (it == tiers_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no tier");
    response->set_customer_id(request->customer_id());
    response->set_tier(it->second);
    return grpc::Status::OK;
  }
  grpc::Status GetServicePolicy(grpc::ServerContext* context,
                                const classification::v1::GetServicePolicyRequest*,
                                ServicePolicy* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Remember(*context);
    if (down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down for the test");
    auto add = [&](std::string tier, int interval, std::string channel, int executive,
                   int response_h, int resolution_h) {
      TierPolicy* t = response->add_tiers();
      t->set_tier(std::move(tier));
      t->set_visit_interval_days(interval);
      t->set_preferred_channel(std::move(channel));
      t->set_executive_interval_days(executive);
      t->set_response_sla_hours(response_h);
      t->set_resolution_sla_hours(resolution_h);
    };
    switch (policy_variant_) {
      case 0:
        add("A", 30, "on_site_visit", 90, 4, 24);
        add("B", 30, "phone", 0, 24, 48);
        add("C", 30, "mail", 0, 24, 48);
        response->mutable_tiers(2)->set_pool_after_days(180);
        response->mutable_tiers(2)->set_pool_interval_days(90);
        break;
      case 1:  // shorter cadences, an earlier pool
        add("A", 14, "on_site_visit", 60, 4, 24);
        add("B", 21, "phone", 0, 24, 48);
        add("C", 30, "mail", 0, 24, 48);
        response->mutable_tiers(2)->set_pool_after_days(30);
        response->mutable_tiers(2)->set_pool_interval_days(60);
        break;
      default:  // B gets an executive cadence, A is called, no C tier (unknown tiers: none)
        add("A", 20, "phone", 0, 4, 24);
        add("B", 45, "email_im", 120, 24, 48);
        break;
    }
    return grpc::Status::OK;
  }
  int tier_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return tier_calls_;
  }
  void SetPolicyVariant(int variant) {
    std::lock_guard<std::mutex> lock(mu_);
    policy_variant_ = variant;
  }

  void Set(const std::string& customer, const std::string& tier) {
    std::lock_guard<std::mutex> lock(mu_);
    tiers_[customer] = tier;
  }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  std::pair<std::string, std::string> LastMetadata() {
    std::lock_guard<std::mutex> lock(mu_);
    return {last_authorization_, last_request_id_};
  }

 private:
  void Remember(const grpc::ServerContext& context) {
    auto get = [&](const char* key) {
      auto it = context.client_metadata().find(key);
      return it == context.client_metadata().end()
                 ? std::string()
                 : std::string(it->second.data(), it->second.size());
    };
    last_authorization_ = get("authorization");
    last_request_id_ = get("x-request-id");
  }

  std::mutex mu_;
  std::map<std::string, std::string> tiers_;
  bool down_ = false;
  int policy_variant_ = 0;
  int tier_calls_ = 0;
  std::string last_authorization_;
  std::string last_request_id_;
};

class InteractionServiceTest : public ::testing::Test {
 protected:
  // The business time zone of the server under test.
  virtual std::string Zone() const { return "UTC"; }
  // Whether the directory keeps tiers in process (coherent through Redis client tracking).
  virtual bool TierCache() const { return false; }

  void SetUp() override {
    if (TierCache()) {
      tier_cache_ = std::make_unique<redis::TrackedCache>(
          harness_.deps().redis.options(), TierCacheKeyPrefix(harness_.deps().config.redis_prefix),
          1000);
      tier_cache_->Start();
      for (int i = 0; i < 500 && !tier_cache_->coherent(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ASSERT_TRUE(tier_cache_->coherent());
    }
    absl::StatusOr<time::BusinessCalendar> calendar = time::BusinessCalendar::Load(Zone());
    ASSERT_TRUE(calendar.ok()) << calendar.status();
    harness_.deps().calendar = *calendar;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&classification_);
    classification_server_ = builder.BuildAndStart();
    ASSERT_NE(classification_server_, nullptr);
    auto directory = std::make_shared<ClassificationDirectory>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()),
        DirectoryOptions{
            .token = "svc-interaction-token",
            .policy_ttl = std::chrono::seconds(0),
            .tier_cache = TierCache() ? tier_cache_.get() : nullptr,
            .tier_key_prefix = TierCacheKeyPrefix(harness_.deps().config.redis_prefix)});
    server_ = std::make_unique<InteractionServer>(harness_.deps(), directory,
                                                  [this] { return now_.load(); });
    harness_.Start({{&server_->service, v1::InteractionService::service_full_name()}});
    stub_ = v1::InteractionService::NewStub(harness_.channel());
  }
  void TearDown() override {
    harness_.Stop();
    classification_server_->Shutdown();
  }

  // Announces a customer as the profile service's stream would.
  std::string Known(const std::string& owner = "rep.zhang", const std::string& tier = "",
                    int64_t version = 1, bool deleted = false, std::string id = "",
                    int lifecycle_stage = 2) {
    events::v1::CustomerChanged event;
    event.set_customer_id(id.empty() ? ids::NewUuid() : id);
    event.set_external_ref(absl::StrCat("ERP-", event.customer_id().substr(0, 6)));
    event.set_owner(owner);
    event.set_version(version);
    event.set_lifecycle_stage(lifecycle_stage);
    event.set_change_type(deleted ? events::v1::CUSTOMER_CHANGE_TYPE_DELETED
                                  : events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
    time::SetTimestamp(Noon(2026, 1, 5), event.mutable_create_time());
    absl::Status s = server_->desk.OnCustomerChanged(
        {"1-0",
         {{"type", "tierwise.events.v1.CustomerChanged"}, {"payload", event.SerializeAsString()}}});
    EXPECT_TRUE(s.ok()) << s;
    if (!tier.empty()) {
      classification_.Set(event.customer_id(), tier);
      TierChanged(event.customer_id(), tier, Noon(2026, 2, 1));
    }
    return event.customer_id();
  }

  void TierChanged(const std::string& customer, const std::string& tier, Micros at) {
    events::v1::TierChanged event;
    event.set_event_id(ids::NewUuid());
    event.set_customer_id(customer);
    event.set_tier(tier);
    time::SetTimestamp(at, event.mutable_changed_at());
    absl::Status s = server_->desk.OnTierChanged(
        {"1-0",
         {{"type", "tierwise.events.v1.TierChanged"}, {"payload", event.SerializeAsString()}}});
    EXPECT_TRUE(s.ok()) << s;
  }

  v1::Interaction Record(const std::string& customer, Micros occurred,
                         v1::Channel channel = v1::CHANNEL_PHONE) {
    v1::Interaction in;
    in.set_customer_id(customer);
    time::SetTimestamp(occurred, in.mutable_occurred_at());
    in.set_channel(channel);
    in.set_summary("确认三月订单交付时间, 无异常");
    in.set_conclusion("交付满意, 4月计划增加采购量");
    in.set_contact_name("王经理");
    in.set_contact_role(v1::DECISION_ROLE_DECISION_MAKER);
    in.set_satisfaction(4);
    return in;
  }

  grpc::Status Log(const v1::Interaction& in, v1::Interaction* out,
                   const std::string& token = H::kRepZhang, const std::string& request_id = "") {
    v1::LogInteractionRequest req;
    *req.mutable_interaction() = in;
    req.set_request_id(request_id);
    return stub_->LogInteraction(H::Context(token).get(), req, out);
  }

  v1::Interaction MustLog(const v1::Interaction& in, const std::string& token = H::kRepZhang) {
    v1::Interaction out;
    grpc::Status s = Log(in, &out, token);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::ListFollowUpsResponse Due(const std::string& token, std::vector<std::string> owners,
                                type::v1::Date from, type::v1::Date to) {
    v1::ListDueFollowUpsRequest req;
    for (auto& o : owners) req.add_owners(o);
    *req.mutable_from_date() = from;
    *req.mutable_to_date() = to;
    v1::ListFollowUpsResponse out;
    grpc::Status s = stub_->ListDueFollowUps(H::Context(token).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Complaint Open(const std::string& customer, Micros received) {
    v1::OpenComplaintRequest req;
    req.mutable_complaint()->set_customer_id(customer);
    req.mutable_complaint()->set_subject("交货延迟");
    time::SetTimestamp(received, req.mutable_complaint()->mutable_received_at());
    v1::Complaint out;
    grpc::Status s = stub_->OpenComplaint(H::Context(H::kRepZhang).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static std::vector<std::string> Fields(const grpc::Status& s) {
    std::vector<std::string> out;
    for (const auto& v : status::FieldViolations(status::FromGrpcStatus(s))) {
      out.push_back(v.field);
    }
    return out;
  }

  std::atomic<Micros> now_{Noon(2026, 11, 2)};
  FakeClassification classification_;
  std::unique_ptr<redis::TrackedCache> tier_cache_;
  std::unique_ptr<grpc::Server> classification_server_;
  H harness_{Migrations(), "interaction"};
  std::unique_ptr<InteractionServer> server_;
  std::unique_ptr<v1::InteractionService::Stub> stub_;
};

TEST_F(InteractionServiceTest, LogStampsTheTierFromClassificationWithTheCallersRequestId) {
  const std::string customer = Known("rep.zhang", "A");
  v1::LogInteractionRequest req;
  *req.mutable_interaction() = Record(customer, now_ - 2 * kHour);
  auto ctx = H::Context(H::kRepZhang);
  ctx->AddMetadata("x-request-id", "req-abc-123");
  v1::Interaction out;
  ASSERT_TRUE(stub_->LogInteraction(ctx.get(), req, &out).ok());
  EXPECT_EQ(out.tier(), "A");
  EXPECT_EQ(out.tier_source(), v1::TIER_SOURCE_CLASSIFICATION);
  EXPECT_EQ(out.owner(), "rep.zhang");
  EXPECT_EQ(out.recorded_by(), "rep.zhang");
  EXPECT_EQ(out.version(), 1);
  EXPECT_EQ(out.root_id(), out.id());
  EXPECT_EQ(time::ToMicros(out.recorded_at()), now_.load());
  EXPECT_FALSE(out.late_entry());
  EXPECT_EQ(
      classification_.LastMetadata(),
      std::make_pair(std::string("Bearer svc-interaction-token"), std::string("req-abc-123")));

  v1::GetInteractionRequest get;
  get.set_id(out.id());
  v1::Interaction read;
  ASSERT_TRUE(stub_->GetInteraction(H::Context(H::kViewer).get(), get, &read).ok());
  EXPECT_EQ(read.summary(), out.summary());
  EXPECT_EQ(read.contact_role(), v1::DECISION_ROLE_DECISION_MAKER);
  EXPECT_EQ(harness_.CountRows("audit_log"), 2);  // the log and the read

  // One InteractionLogged event, with the satisfaction classification will count.
  const auto entries = harness_.DrainStream(EventsStream(harness_.prefix()));
  ASSERT_EQ(entries.size(), 1u);
  events::v1::InteractionLogged event;
  ASSERT_TRUE(event.ParseFromString(entries[0].Field("payload")));
  EXPECT_EQ(event.interaction_id(), out.id());
  EXPECT_EQ(event.satisfaction(), 4);
}

TEST_F(InteractionServiceTest, AnAuditedReadReturnsNothingWhenItsAuditRowCannotBeWritten) {
  const std::string customer = Known("rep.zhang", "B");
  v1::LogInteractionRequest req;
  *req.mutable_interaction() = Record(customer, now_ - 2 * kHour);
  v1::Interaction out;
  ASSERT_TRUE(stub_->LogInteraction(H::Context(H::kRepZhang).get(), req, &out).ok());
  // Reads run without a transaction block; their audit row is their own statement, and a read
  // whose row is refused answers with an error, not with the data.
  ASSERT_TRUE(harness_.pool()
                  .Transact([](pqxx::work& tx) {
                    tx.exec(
                        "ALTER TABLE audit_log ADD CONSTRAINT test_no_reads"
                        " CHECK (action NOT IN ('read', 'list')) NOT VALID");
                    return absl::OkStatus();
                  })
                  .ok());
  v1::GetInteractionRequest get;
  get.set_id(out.id());
  v1::Interaction read;
  EXPECT_EQ(stub_->GetInteraction(H::Context(H::kViewer).get(), get, &read).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(read.summary().empty());
  v1::ListInteractionsRequest list;
  list.set_customer_id(customer);
  v1::ListInteractionsResponse page;
  EXPECT_EQ(stub_->ListInteractions(H::Context(H::kViewer).get(), list, &page).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(page.interactions_size(), 0);
  EXPECT_EQ(harness_.CountRows("audit_log"), 1);  // the log only

  ASSERT_TRUE(harness_.pool()
                  .Transact([](pqxx::work& tx) {
                    tx.exec("ALTER TABLE audit_log DROP CONSTRAINT test_no_reads");
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kViewer).get(), list, &page).ok());
  EXPECT_EQ(page.interactions_size(), 1);
  EXPECT_EQ(harness_.CountRows("audit_log"), 2);  // and the list
}

TEST_F(InteractionServiceTest, TierFallsBackToTheLastKnownWhenClassificationIsDown) {
  const std::string customer = Known("rep.zhang", "B");
  const std::string unknown_tier = Known("rep.zhang");
  classification_.SetDown(true);
  const v1::Interaction a = MustLog(Record(customer, now_ - kHour));
  EXPECT_EQ(a.tier(), "B");
  EXPECT_EQ(a.tier_source(), v1::TIER_SOURCE_LAST_KNOWN);
  const v1::Interaction b = MustLog(Record(unknown_tier, now_ - kHour));
  EXPECT_EQ(b.tier(), "");
  EXPECT_EQ(b.tier_source(), v1::TIER_SOURCE_UNKNOWN);
}

TEST_F(InteractionServiceTest, AnEntryMoreThan24HoursAfterTheContactIsFlaggedLate) {
  const std::string customer = Known();
  EXPECT_FALSE(MustLog(Record(customer, now_ - 24 * kHour)).late_entry());
  EXPECT_TRUE(MustLog(Record(customer, now_ - 24 * kHour - 1)).late_entry());
  // An admin back-filling a paper record sets recorded_at; lateness follows it.
  v1::Interaction old = Record(customer, Noon(2026, 3, 1));
  time::SetTimestamp(Noon(2026, 3, 1) + 3 * kHour, old.mutable_recorded_at());
  const v1::Interaction backfilled = MustLog(old, H::kAdmin);
  EXPECT_FALSE(backfilled.late_entry());
  EXPECT_EQ(time::ToMicros(backfilled.recorded_at()), Noon(2026, 3, 1) + 3 * kHour);
  v1::Interaction out;
  EXPECT_EQ(Fields(Log(old, &out, H::kManager)),
            std::vector<std::string>{"interaction.recorded_at"});
}

TEST_F(InteractionServiceTest, ListsNewestFirstAcrossPagesWithFilters) {
  const std::string customer = Known();
  const std::string other = Known();
  std::set<std::string> logged;
  for (int i = 0; i < 23; ++i) {
    logged.insert(MustLog(Record(customer, Noon(2026, 10, 1) + i * kHour,
                                 i % 3 == 0 ? v1::CHANNEL_MAIL : v1::CHANNEL_PHONE))
                      .id());
  }
  MustLog(Record(other, Noon(2026, 10, 5)));
  v1::ListInteractionsRequest req;
  req.set_customer_id(customer);
  req.set_page_size(10);
  std::set<std::string> seen;
  Micros previous = INT64_MAX;
  int pages = 0;
  while (true) {
    v1::ListInteractionsResponse resp;
    ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kManager).get(), req, &resp).ok());
    ++pages;
    for (const auto& in : resp.interactions()) {
      EXPECT_LT(time::ToMicros(in.occurred_at()), previous);
      previous = time::ToMicros(in.occurred_at());
      EXPECT_TRUE(seen.insert(in.id()).second) << "duplicate " << in.id();
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, logged);

  // A token does not work for another filter.
  v1::ListInteractionsRequest other_filter = req;
  other_filter.set_channel(v1::CHANNEL_MAIL);
  v1::ListInteractionsResponse resp;
  EXPECT_EQ(Fields(stub_->ListInteractions(H::Context(H::kManager).get(), other_filter, &resp)),
            std::vector<std::string>{"page_token"});

  // Channel and date range.
  v1::ListInteractionsRequest mail;
  mail.set_customer_id(customer);
  mail.set_channel(v1::CHANNEL_MAIL);
  time::SetTimestamp(Noon(2026, 10, 1) + 3 * kHour, mail.mutable_from_time());
  time::SetTimestamp(Noon(2026, 10, 1) + 12 * kHour, mail.mutable_to_time());
  ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kManager).get(), mail, &resp).ok());
  ASSERT_EQ(resp.interactions_size(), 3);  // hours 9, 6, 3
  EXPECT_EQ(time::ToMicros(resp.interactions(0).occurred_at()), Noon(2026, 10, 1) + 9 * kHour);

  // By owner: a rep's own records across customers.
  v1::ListInteractionsRequest mine;
  mine.set_page_size(100);
  ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kRepZhang).get(), mine, &resp).ok());
  EXPECT_EQ(resp.interactions_size(), 24);
}

TEST_F(InteractionServiceTest, ACorrectionIsANewVersionAndKeepsTheOld) {
  const std::string customer = Known("rep.zhang", "B");
  const v1::Interaction first = MustLog(Record(customer, now_ - kHour));
  v1::CorrectInteractionRequest fix;
  fix.set_id(first.id());
  *fix.mutable_interaction() = Record(customer, now_ - kHour);
  fix.mutable_interaction()->set_satisfaction(2);
  fix.set_reason("满意度录错");
  v1::Interaction second;
  ASSERT_TRUE(stub_->CorrectInteraction(H::Context(H::kRepZhang).get(), fix, &second).ok());
  EXPECT_NE(second.id(), first.id());
  EXPECT_EQ(second.root_id(), first.id());
  EXPECT_EQ(second.version(), 2);
  EXPECT_EQ(second.corrects(), first.id());
  EXPECT_EQ(second.satisfaction(), 2);
  EXPECT_EQ(second.tier(), "B");

  v1::GetInteractionRequest get;
  get.set_id(first.id());
  v1::Interaction old;
  ASSERT_TRUE(stub_->GetInteraction(H::Context(H::kManager).get(), get, &old).ok());
  EXPECT_EQ(old.superseded_by(), second.id());
  EXPECT_EQ(old.satisfaction(), 4);  // not overwritten

  v1::ListInteractionsRequest list;
  list.set_customer_id(customer);
  v1::ListInteractionsResponse current;
  ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kManager).get(), list, &current).ok());
  ASSERT_EQ(current.interactions_size(), 1);
  EXPECT_EQ(current.interactions(0).id(), second.id());
  list.set_include_superseded(true);
  ASSERT_TRUE(stub_->ListInteractions(H::Context(H::kManager).get(), list, &current).ok());
  EXPECT_EQ(current.interactions_size(), 2);

  // The old version cannot be corrected again; another rep cannot correct at all.
  v1::Interaction out;
  EXPECT_EQ(stub_->CorrectInteraction(H::Context(H::kRepZhang).get(), fix, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  fix.set_id(second.id());
  EXPECT_EQ(stub_->CorrectInteraction(H::Context(H::kRepChen).get(), fix, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  fix.set_reason("");
  EXPECT_EQ(Fields(stub_->CorrectInteraction(H::Context(H::kRepZhang).get(), fix, &out)),
            std::vector<std::string>{"reason"});

  const auto entries = harness_.DrainStream(EventsStream(harness_.prefix()));
  ASSERT_EQ(entries.size(), 2u);
  events::v1::InteractionLogged event;
  ASSERT_TRUE(event.ParseFromString(entries[1].Field("payload")));
  EXPECT_EQ(event.corrects(), first.id());
}

TEST_F(InteractionServiceTest, BadInputNamesTheFieldsAndWritesNothing) {
  const std::string customer = Known();
  v1::Interaction in = Record(customer, now_ + 2 * kHour);
  in.set_channel(v1::CHANNEL_UNSPECIFIED);
  in.set_satisfaction(9);
  v1::Interaction out;
  const grpc::Status s = Log(in, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fields(s), (std::vector<std::string>{"interaction.occurred_at", "interaction.channel",
                                                 "interaction.satisfaction"}));
  // A customer the service does not know.
  EXPECT_EQ(Log(Record(ids::NewUuid(), now_ - kHour), &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(harness_.CountRows("interactions"), 0);
  EXPECT_EQ(harness_.CountRows("outbox"), 0);
}

TEST_F(InteractionServiceTest, ARetryWithTheSameRequestIdLogsOnce) {
  const std::string customer = Known();
  v1::Interaction a, b;
  ASSERT_TRUE(Log(Record(customer, now_ - kHour), &a, H::kRepZhang, "erp-77").ok());
  ASSERT_TRUE(Log(Record(customer, now_ - kHour), &b, H::kRepZhang, "erp-77").ok());
  EXPECT_EQ(a.id(), b.id());
  EXPECT_EQ(harness_.CountRows("interactions"), 1);
}

TEST_F(InteractionServiceTest, ARepWorksOnlyOnTheirOwnCustomers) {
  const std::string zhangs = Known("rep.zhang", "B");
  v1::Interaction out;
  EXPECT_EQ(Log(Record(zhangs, now_ - kHour), &out, H::kRepChen).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::Interaction as_other = Record(zhangs, now_ - kHour);
  as_other.set_owner("rep.chen");
  EXPECT_EQ(Log(as_other, &out, H::kRepZhang).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Log(Record(zhangs, now_ - kHour), &out, H::kViewer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const v1::Interaction logged = MustLog(Record(zhangs, now_ - kHour), H::kManager);
  EXPECT_EQ(logged.owner(), "manager.li");

  v1::GetInteractionRequest get;
  get.set_id(logged.id());
  EXPECT_EQ(stub_->GetInteraction(H::Context(H::kRepChen).get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(stub_->GetInteraction(H::Context(H::kRepZhang).get(), get, &out).ok());

  v1::ListInteractionsRequest list;
  list.set_customer_id(zhangs);
  v1::ListInteractionsResponse resp;
  EXPECT_EQ(stub_->ListInteractions(H::Context(H::kRepChen).get(), list, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListDueFollowUpsRequest due;
  due.add_owners("rep.zhang");
  *due.mutable_from_date() = Day(2026, 11, 1);
  *due.mutable_to_date() = Day(2026, 11, 30);
  v1::ListFollowUpsResponse plan;
  EXPECT_EQ(stub_->ListDueFollowUps(H::Context(H::kRepChen).get(), due, &plan).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(
      harness_.MethodsOpenWithoutToken(v1::InteractionService::service_full_name()).empty());
}

TEST_F(InteractionServiceTest, DueAndOverdueFollowUpsFollowEachTiersPolicy) {
  // Fixed clock 2026-11-02. Tiers since 2026-02-01.
  const std::string a = Known("rep.zhang", "A");
  const std::string b = Known("rep.zhang", "B");
  const std::string c = Known("rep.zhang", "C");
  const std::string chens = Known("rep.chen", "B");
  Known("rep.zhang", "A", 2, /*deleted=*/true);                         // deleted: in no plan
  Known("rep.zhang", "B", 1, false, "", /*lifecycle_stage=FORMER*/ 4);  // former: in no plan
  auto log = [&](const std::string& id, Micros at, v1::Channel ch, bool exec = false,
                 bool intent = false) {
    v1::Interaction in = Record(id, at, ch);
    in.set_executive_contact(exec);
    in.set_purchase_intent(intent);
    MustLog(in, H::kManager);
  };
  log(a, Noon(2026, 10, 20), v1::CHANNEL_ON_SITE_VISIT, /*exec=*/true);  // visit due 11-19
  log(a, Noon(2026, 10, 30), v1::CHANNEL_PHONE);                         // not a visit
  log(b, Noon(2026, 9, 25), v1::CHANNEL_PHONE);                          // due 10-25: overdue
  log(c, Noon(2026, 10, 10), v1::CHANNEL_MAIL, false, /*intent=*/true);  // due 11-09
  log(chens, Noon(2026, 10, 1), v1::CHANNEL_PHONE);

  const v1::ListFollowUpsResponse november =
      Due(H::kRepZhang, {}, Day(2026, 11, 1), Day(2026, 11, 30));
  std::vector<std::string> got;
  for (const auto& f : november.follow_ups()) {
    got.push_back(absl::StrCat(f.customer_id() == a   ? "A"
                               : f.customer_id() == b ? "B"
                                                      : "C",
                               " ", v1::FollowUpKind_Name(f.kind()), " ",
                               v1::Channel_Name(f.channel()), " ", Text(f.due_date())));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     "C FOLLOW_UP_KIND_REGULAR CHANNEL_MAIL 2026-11-09",
                     "A FOLLOW_UP_KIND_REGULAR CHANNEL_ON_SITE_VISIT 2026-11-19",
                 }));

  v1::ListOverdueFollowUpsRequest overdue;
  v1::ListFollowUpsResponse late;
  ASSERT_TRUE(stub_->ListOverdueFollowUps(H::Context(H::kRepZhang).get(), overdue, &late).ok());
  ASSERT_EQ(late.follow_ups_size(), 1);
  EXPECT_EQ(late.follow_ups(0).customer_id(), b);
  EXPECT_EQ(late.follow_ups(0).days_overdue(), 8);  // due 10-25, today 11-02
  EXPECT_EQ(late.follow_ups(0).channel(), v1::CHANNEL_PHONE);

  // A's executive contact (last 10-20, every 90 days) is due 2027-01-18.
  const v1::ListFollowUpsResponse winter =
      Due(H::kManager, {"rep.zhang"}, Day(2027, 1, 1), Day(2027, 1, 31));
  ASSERT_EQ(winter.follow_ups_size(), 1);
  EXPECT_EQ(winter.follow_ups(0).kind(), v1::FOLLOW_UP_KIND_EXECUTIVE);
  EXPECT_EQ(Text(winter.follow_ups(0).due_date()), "2027-01-18");

  // A team view covers both reps.
  const v1::ListFollowUpsResponse team =
      Due(H::kManager, {"rep.zhang", "rep.chen"}, Day(2026, 10, 1), Day(2026, 11, 30));
  EXPECT_EQ(team.follow_ups_size(), 4);
}

TEST_F(InteractionServiceTest, ATierChangeMovesTheCustomerToTheNewPlanAtOnce) {
  const std::string customer = Known("rep.zhang", "C");
  v1::Interaction mail = Record(customer, Noon(2026, 10, 28), v1::CHANNEL_MAIL);
  mail.set_purchase_intent(true);
  MustLog(mail);
  auto today = [&] { return Due(H::kRepZhang, {}, Day(2026, 11, 2), Day(2026, 11, 2)); };
  EXPECT_EQ(today().follow_ups_size(), 0);  // mailed 10-28: next mail 11-27

  TierChanged(customer, "A", Noon(2026, 11, 2) - kHour);
  const v1::ListFollowUpsResponse as_a = today();
  ASSERT_EQ(as_a.follow_ups_size(), 2);  // a visit and an executive contact, due today
  EXPECT_EQ(as_a.follow_ups(0).tier(), "A");
  EXPECT_EQ(as_a.follow_ups(0).channel(), v1::CHANNEL_ON_SITE_VISIT);

  // An older TierChanged arriving late changes nothing.
  TierChanged(customer, "C", Noon(2026, 10, 1));
  EXPECT_EQ(today().follow_ups_size(), 2);
}

TEST_F(InteractionServiceTest, ComplaintSlaIsMetAtTheDeadlineAndBreachedJustAfter) {
  const std::string customer = Known("rep.zhang", "B");  // B: respond in 24 h, solve in 48 h
  const Micros received = now_.load();
  const v1::Complaint on_time = Open(customer, received);
  const v1::Complaint late = Open(customer, received);
  EXPECT_EQ(time::ToMicros(on_time.response_due_at()), received + 24 * kHour);
  EXPECT_EQ(time::ToMicros(on_time.resolution_due_at()), received + 48 * kHour);
  EXPECT_TRUE(on_time.needs_attention());

  v1::RespondToComplaintRequest respond;
  respond.set_response("已安排补发");
  v1::Complaint out;
  now_ = received + 24 * kHour;  // exactly at the deadline: met
  respond.set_id(on_time.id());
  ASSERT_TRUE(stub_->RespondToComplaint(H::Context(H::kRepZhang).get(), respond, &out).ok());
  EXPECT_FALSE(out.has_response_breached_at());
  EXPECT_TRUE(out.needs_attention());

  now_ = received + 24 * kHour + 1;  // one microsecond later: breached, stamped at the deadline
  respond.set_id(late.id());
  ASSERT_TRUE(stub_->RespondToComplaint(H::Context(H::kRepZhang).get(), respond, &out).ok());
  ASSERT_TRUE(out.has_response_breached_at());
  EXPECT_EQ(time::ToMicros(out.response_breached_at()), received + 24 * kHour);

  // The sweep finds nothing at the resolution deadline, one breach each just after, and
  // never the same breach twice.
  now_ = received + 48 * kHour;
  EXPECT_EQ(*server_->desk.SweepBreaches(), 0);
  now_ = received + 48 * kHour + 1;
  EXPECT_EQ(*server_->desk.SweepBreaches(), 2);
  EXPECT_EQ(*server_->desk.SweepBreaches(), 0);

  v1::ListComplaintsRequest list;
  list.set_filter(v1::COMPLAINT_FILTER_RESPONSE_BREACHED);
  v1::ListComplaintsResponse breached;
  ASSERT_TRUE(stub_->ListComplaints(H::Context(H::kRepZhang).get(), list, &breached).ok());
  ASSERT_EQ(breached.complaints_size(), 1);
  EXPECT_EQ(breached.complaints(0).id(), late.id());
  list.set_filter(v1::COMPLAINT_FILTER_RESOLUTION_BREACHED);
  ASSERT_TRUE(stub_->ListComplaints(H::Context(H::kManager).get(), list, &breached).ok());
  EXPECT_EQ(breached.complaints_size(), 2);

  // The customer needs attention until every complaint is resolved.
  auto attention = [&] {
    v1::ListOverdueFollowUpsRequest req;
    v1::ListFollowUpsResponse resp;
    EXPECT_TRUE(stub_->ListOverdueFollowUps(H::Context(H::kRepZhang).get(), req, &resp).ok());
    return resp.follow_ups_size() > 0 && resp.follow_ups(0).needs_attention();
  };
  EXPECT_TRUE(attention());
  v1::ResolveComplaintRequest resolve;
  resolve.set_resolution("补发完成, 客户确认");
  for (const auto& id : {on_time.id(), late.id()}) {
    resolve.set_id(id);
    ASSERT_TRUE(stub_->ResolveComplaint(H::Context(H::kRepZhang).get(), resolve, &out).ok());
    EXPECT_FALSE(out.needs_attention());
    EXPECT_EQ(out.status(), v1::COMPLAINT_STATUS_RESOLVED);
  }
  EXPECT_FALSE(attention());
  EXPECT_EQ(stub_->ResolveComplaint(H::Context(H::kRepZhang).get(), resolve, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Each breach is on the stream once: 1 late response + 2 resolution breaches.
  int breaches = 0;
  for (const auto& e : harness_.DrainStream(EventsStream(harness_.prefix()))) {
    if (e.Field("type") != "tierwise.events.v1.ComplaintChanged") continue;
    events::v1::ComplaintChanged event;
    ASSERT_TRUE(event.ParseFromString(e.Field("payload")));
    breaches += event.change() == events::v1::COMPLAINT_CHANGE_RESPONSE_SLA_BREACHED ||
                event.change() == events::v1::COMPLAINT_CHANGE_RESOLUTION_SLA_BREACHED;
  }
  EXPECT_EQ(breaches, 3);
}

TEST_F(InteractionServiceTest, AnATierComplaintRunsOnTheAClock) {
  const std::string customer = Known("rep.zhang", "A");  // A: respond in 4 h
  const v1::Complaint c = Open(customer, now_ - 5 * kHour);
  EXPECT_EQ(time::ToMicros(c.response_due_at()), now_ - kHour);
  EXPECT_EQ(c.tier(), "A");
  // Opened after its deadline: the breach is recorded at once.
  EXPECT_TRUE(c.has_response_breached_at());
  EXPECT_EQ(*server_->desk.SweepBreaches(), 0);
}

// ---------------------------------------------------------------------------------------------
// Stored follow-up plans against plans computed from scratch
// ---------------------------------------------------------------------------------------------

// Every follow-up as a list returns it, in list order: pages of `page_size` through the overdue
// list as of 2100 (every due day), for `owners` (empty = everyone).
std::vector<v1::FollowUp> AllStored(v1::InteractionService::Stub& stub,
                                    const std::vector<std::string>& owners, int page_size) {
  std::vector<v1::FollowUp> out;
  v1::ListOverdueFollowUpsRequest req;
  for (const auto& o : owners) req.add_owners(o);
  *req.mutable_as_of() = Day(2100, 1, 1);
  req.set_page_size(page_size);
  for (int page = 0; page < 1000; ++page) {
    v1::ListFollowUpsResponse resp;
    grpc::Status s = stub.ListOverdueFollowUps(H::Context(H::kManager).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    EXPECT_LE(resp.follow_ups_size(), page_size);
    for (v1::FollowUp& f : *resp.mutable_follow_ups()) {
      f.clear_days_overdue();
      out.push_back(std::move(f));
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  return out;
}

std::vector<std::string> Sorted(const std::vector<v1::FollowUp>& plan) {
  std::vector<std::string> out;
  for (const v1::FollowUp& f : plan) out.push_back(f.ShortDebugString());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(InteractionServiceTest, StoredPlansEqualPlansComputedFromScratch) {
  std::mt19937 rng(20261202);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> owners = {"rep.zhang", "rep.chen", "rep.wang"};
  const std::vector<std::string> tiers = {"A", "B", "C", "K"};
  std::vector<std::string> customers;
  std::map<std::string, int64_t> versions;
  std::vector<std::string> current;  // current versions of records
  for (int i = 0; i < 8; ++i) {
    customers.push_back(Known(owners[pick(3)], i % 4 == 0 ? "" : tiers[pick(4)]));
    versions[customers.back()] = 1;
  }
  int checks = 0, steps_with_plans = 0;
  auto check = [&] {
    {
      auto r = server_->desk.ReplanStale(3);
      ASSERT_TRUE(r.ok()) << r.status();
    }
    absl::StatusOr<ServicePolicy> policy = server_->directory->Policy("");
    ASSERT_TRUE(policy.ok());
    const Micros now = now_.load();
    absl::StatusOr<std::vector<PlanCustomer>> scratch =
        harness_.deps().pool.Transact<std::vector<PlanCustomer>>(
            [&](pqxx::work& tx) -> absl::StatusOr<std::vector<PlanCustomer>> {
              return store::LoadPlanCustomers(tx, {});
            });
    ASSERT_TRUE(scratch.ok());
    std::vector<v1::FollowUp> want;
    for (const PlanCustomer& c : *scratch) {
      for (v1::FollowUp& f : PlanFollowUps(c, *policy, now, harness_.deps().calendar)) {
        want.push_back(std::move(f));
      }
    }
    const std::vector<v1::FollowUp> everyone = AllStored(*stub_, {}, 7);
    ASSERT_EQ(Sorted(everyone), Sorted(want)) << "check " << checks;
    // List order: due day, customer, kind; a team's list is the same rows.
    for (size_t i = 1; i < everyone.size(); ++i) {
      const auto key = [](const v1::FollowUp& f) {
        return std::make_tuple(DayOfDate(f.due_date()), f.customer_id(),
                               static_cast<int>(f.kind()));
      };
      ASSERT_LT(key(everyone[i - 1]), key(everyone[i]));
    }
    std::vector<v1::FollowUp> team = AllStored(*stub_, {"rep.chen", "rep.zhang", "rep.wang"}, 4);
    ASSERT_EQ(Sorted(team), Sorted(everyone));
    std::vector<v1::FollowUp> zhang;
    for (const v1::FollowUp& f : want) {
      if (f.owner() == "rep.zhang") zhang.push_back(f);
    }
    ASSERT_EQ(Sorted(AllStored(*stub_, {"rep.zhang"}, 3)), Sorted(zhang));
    if (!want.empty()) ++steps_with_plans;
    ++checks;
  };
  for (int step = 0; step < 160; ++step) {
    const std::string& customer = customers[pick(static_cast<int>(customers.size()))];
    switch (pick(8)) {
      case 0:
      case 1: {  // a contact
        v1::Interaction in = Record(customer, now_.load() - pick(90 * 24) * kHour,
                                    static_cast<v1::Channel>(1 + pick(7)));
        in.set_executive_contact(pick(4) == 0);
        in.set_purchase_intent(pick(3) == 0);
        if (pick(3) == 0) {
          *in.mutable_next_follow_up_date() = DateOfDay(
              LocalDayOf(harness_.deps().calendar, time::ToMicros(in.occurred_at())) + pick(60));
        }
        v1::Interaction out;
        if (Log(in, &out, H::kManager).ok()) current.push_back(out.id());
        break;
      }
      case 2: {  // a correction
        if (current.empty()) break;
        const size_t i = rng() % current.size();
        v1::CorrectInteractionRequest req;
        req.set_id(current[i]);
        *req.mutable_interaction() =
            Record("", now_.load() - pick(120 * 24) * kHour, static_cast<v1::Channel>(1 + pick(7)));
        req.mutable_interaction()->set_purchase_intent(pick(2) == 0);
        req.mutable_interaction()->set_executive_contact(pick(3) == 0);
        req.set_reason("录入错误");
        v1::Interaction out;
        grpc::Status s = stub_->CorrectInteraction(H::Context(H::kManager).get(), req, &out);
        if (s.ok()) {
          current[i] = out.id();
        } else {
          // The customer left: its records cannot be corrected any more.
          EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
        }
        break;
      }
      case 3:  // a tier change (sometimes an older one arriving late)
        TierChanged(customer, tiers[pick(4)], now_.load() - pick(24 * 60) * kHour);
        break;
      case 4: {  // a new owner, or the customer leaving (former, deleted) or coming back
        const int what = pick(6);
        Known(owners[pick(3)], "", ++versions[customer], /*deleted=*/what == 0, customer,
              /*lifecycle_stage=*/what == 1 ? 4 : 2);
        break;
      }
      case 5:  // a new service policy, caught up with by the background pass (or not yet)
        classification_.SetPolicyVariant(pick(3));
        if (pick(2) == 0) {
          ASSERT_TRUE(server_->desk.ReplanStale(2).ok());
        }
        break;
      case 6:  // time passes: plans must not need the clock (the pool comes by itself)
        now_ += pick(45 * 24) * kHour;
        break;
      default:
        if (pick(2) == 0) {  // a complaint: needs_attention on the customer's follow-ups
          v1::OpenComplaintRequest req;
          req.mutable_complaint()->set_customer_id(customer);
          req.mutable_complaint()->set_subject("交货延迟");
          time::SetTimestamp(now_.load() - kHour, req.mutable_complaint()->mutable_received_at());
          v1::Complaint out;
          stub_->OpenComplaint(H::Context(H::kManager).get(), req, &out);
        } else {
          customers.push_back(Known(owners[pick(3)], tiers[pick(4)]));
          versions[customers.back()] = 1;
        }
    }
    if (step % 20 == 19) check();
    if (HasFatalFailure()) return;
  }
  check();
  EXPECT_GE(steps_with_plans, 5);
}

// ---------------------------------------------------------------------------------------------
// The business calendar (Asia/Shanghai, UTC+8)
// ---------------------------------------------------------------------------------------------

class ShanghaiInteractionTest : public InteractionServiceTest {
 protected:
  std::string Zone() const override { return "Asia/Shanghai"; }
  static Micros Local(int y, int m, int d, int hh, int mm) {
    return time::ToMicros(absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm),
                                          time::BusinessCalendar::Load("Asia/Shanghai")->zone()));
  }
  v1::ListFollowUpsResponse Overdue() {
    v1::ListOverdueFollowUpsRequest req;
    v1::ListFollowUpsResponse out;
    grpc::Status s = stub_->ListOverdueFollowUps(H::Context(H::kRepZhang).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
};

TEST_F(ShanghaiInteractionTest, AFollowUpDueOnDayDIsOverdueFromLocalMidnightAfterIt) {
  const std::string b = Known("rep.zhang", "B");
  // A call at 23:59 on the last day of October, Shanghai time (15:59 UTC): due 30 days later.
  now_ = Local(2026, 10, 31, 23, 59);
  MustLog(Record(b, Local(2026, 10, 31, 23, 59), v1::CHANNEL_PHONE));
  const v1::ListFollowUpsResponse due = Due(H::kRepZhang, {}, Day(2026, 11, 30), Day(2026, 11, 30));
  ASSERT_EQ(due.follow_ups_size(), 1);
  EXPECT_EQ(Text(due.follow_ups(0).due_date()), "2026-11-30");

  // 23:59 on the due day (the last of November): due, not overdue.
  now_ = Local(2026, 11, 30, 23, 59);
  EXPECT_EQ(Overdue().follow_ups_size(), 0);
  // 00:00 local on 12-01 is still 11-30 in UTC (16:00): overdue by one day all the same.
  now_ = Local(2026, 12, 1, 0, 0);
  const v1::ListFollowUpsResponse late = Overdue();
  ASSERT_EQ(late.follow_ups_size(), 1);
  EXPECT_EQ(late.follow_ups(0).days_overdue(), 1);
  EXPECT_EQ(Text(late.follow_ups(0).due_date()), "2026-11-30");
}

TEST_F(ShanghaiInteractionTest, AContactJustAfterLocalMidnightCountsOnTheNewDay) {
  const std::string b = Known("rep.zhang", "B");
  // 00:00 on 11-01 Shanghai is 16:00 UTC on 10-31: the contact is on 11-01, due 12-01.
  now_ = Local(2026, 11, 2, 9, 0);
  v1::Interaction in = Record(b, Local(2026, 11, 1, 0, 0), v1::CHANNEL_PHONE);
  MustLog(in);
  const v1::ListFollowUpsResponse due = Due(H::kRepZhang, {}, Day(2026, 11, 1), Day(2026, 12, 31));
  ASSERT_EQ(due.follow_ups_size(), 1);
  EXPECT_EQ(Text(due.follow_ups(0).due_date()), "2026-12-01");
  EXPECT_NE(due.follow_ups(0).reason().find("last 2026-11-01"), std::string::npos)
      << due.follow_ups(0).reason();

  // next_follow_up_date is a local day: 10-31 is before a contact at 00:30 on 11-01.
  time::SetTimestamp(Local(2026, 11, 1, 0, 30), in.mutable_occurred_at());
  *in.mutable_next_follow_up_date() = Day(2026, 10, 31);
  v1::Interaction out;
  const grpc::Status bad = Log(in, &out);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fields(bad), std::vector<std::string>{"interaction.next_follow_up_date"});
  *in.mutable_next_follow_up_date() = Day(2026, 11, 1);
  ASSERT_TRUE(Log(in, &out).ok());
  const v1::ListFollowUpsResponse agreed =
      Due(H::kRepZhang, {}, Day(2026, 11, 1), Day(2026, 11, 1));
  ASSERT_EQ(agreed.follow_ups_size(), 1);
  EXPECT_EQ(agreed.follow_ups(0).kind(), v1::FOLLOW_UP_KIND_AGREED);
}

// ---------------------------------------------------------------------------------------------
// The tier stamp from the in-process copy of classification's tier cache
// ---------------------------------------------------------------------------------------------

class CachedTierInteractionTest : public InteractionServiceTest {
 protected:
  bool TierCache() const override { return true; }
};

TEST_F(CachedTierInteractionTest, AKnownTierIsStampedWithoutACallUntilClassificationWritesIt) {
  const std::string customer = Known("rep.zhang", "B");
  const int before = classification_.tier_calls();
  EXPECT_EQ(MustLog(Record(customer, Noon(2026, 11, 1))).tier(), "B");
  EXPECT_EQ(classification_.tier_calls(), before + 1);
  for (int i = 0; i < 3; ++i) {
    const v1::Interaction out = MustLog(Record(customer, Noon(2026, 11, 1) + i));
    EXPECT_EQ(out.tier(), "B");
    EXPECT_EQ(out.tier_source(), v1::TIER_SOURCE_CLASSIFICATION);
  }
  EXPECT_EQ(classification_.tier_calls(), before + 1);  // the copy answered

  // Classification writes the customer's new tier through to Redis: the copy drops it, and the
  // next record asks again and stamps the new tier.
  classification_.Set(customer, "A");
  const std::string key = TierCacheKeyPrefix(harness_.deps().config.redis_prefix) + customer;
  ASSERT_TRUE(harness_.deps().redis.Command({"HSET", key, "tier", "A"}).ok());
  for (int i = 0; i < 200 && tier_cache_->Lookup(key).has_value(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(MustLog(Record(customer, Noon(2026, 11, 2))).tier(), "A");
  EXPECT_EQ(classification_.tier_calls(), before + 2);
}

// A follow-up list reads one index range per owner (or one for everyone) in list order, also
// with the generic plan a prepared statement ends up with: never the whole table, never a sort
// of more than the owners' pages.
TEST_F(InteractionServiceTest, FollowUpPagesAreIndexRangesWhateverTheTableSize) {
  absl::Status seeded = harness_.deps().pool.Transact([](pqxx::work& tx) {
    tx.exec(
        "INSERT INTO follow_ups (customer_id, kind, pool, owner, external_ref, tier, due_day,"
        " valid_from, valid_until, channel, last_contact, reason)"
        " SELECT md5('c' || g)::uuid, k, false, 'rep' || (g % 50), 'X' || g, 'C',"
        " 20500 + (hashint4(g * 7 + k) & 1023) % 400, 0, 9223372036854775807, 3, 0, 'r'"
        " FROM generate_series(1, 30000) g, generate_series(1, 2) k");
    tx.exec("ANALYZE follow_ups");
    return absl::OkStatus();
  });
  ASSERT_TRUE(seeded.ok()) << seeded;
  auto explain = [&](bool by_owner, const std::string& args) {
    absl::StatusOr<std::string> plan = harness_.deps().pool.Transact<std::string>(
        [&](pqxx::work& tx) -> absl::StatusOr<std::string> {
          tx.exec("SET LOCAL plan_cache_mode = force_generic_plan");
          tx.exec("PREPARE plan_page_probe AS " + store::PlanPageSql(by_owner));
          std::string text;
          for (const auto& row : tx.exec("EXPLAIN EXECUTE plan_page_probe(" + args + ")")) {
            absl::StrAppend(&text, row[0].as<std::string>(), "\n");
          }
          tx.exec("DEALLOCATE plan_page_probe");
          return text;
        });
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : std::string();
  };
  const std::string keyset = "20699, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 32767, 20729, 1, 101";
  const std::string everyone = explain(false, keyset);
  EXPECT_NE(everyone.find("Index Scan using follow_ups_by_day"), std::string::npos) << everyone;
  EXPECT_EQ(everyone.find("Seq Scan on follow_ups"), std::string::npos) << everyone;
  EXPECT_EQ(everyone.find("Sort"), std::string::npos) << everyone;
  const std::string team = explain(true, keyset + ", '{rep7,rep8}'");
  EXPECT_NE(team.find("Index Scan using follow_ups_by_owner"), std::string::npos) << team;
  EXPECT_EQ(team.find("Seq Scan on follow_ups"), std::string::npos) << team;
  EXPECT_EQ(team.find("Bitmap Heap Scan on follow_ups"), std::string::npos) << team;
}

}  // namespace
}  // namespace tierwise::interaction
