// The interaction service in-process over gRPC against the real PostgreSQL and Redis of
// ./tests/run.sh, with a test clock and a fake classification service on its own port (the
// real gRPC client path: deadline, token, request id).
#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/ids/ids.h"
#include "common/status/status.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/interaction/interaction_server.h"
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
    add("A", 30, "on_site_visit", 90, 4, 24);
    add("B", 30, "phone", 0, 24, 48);
    add("C", 30, "mail", 0, 24, 48);
    response->mutable_tiers(2)->set_pool_after_days(180);
    response->mutable_tiers(2)->set_pool_interval_days(90);
    return grpc::Status::OK;
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
  std::string last_authorization_;
  std::string last_request_id_;
};

class InteractionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&classification_);
    classification_server_ = builder.BuildAndStart();
    ASSERT_NE(classification_server_, nullptr);
    auto directory = std::make_shared<ClassificationDirectory>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()),
        DirectoryOptions{.token = "svc-interaction-token", .policy_ttl = std::chrono::seconds(0)});
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

}  // namespace
}  // namespace tierwise::interaction
