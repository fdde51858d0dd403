// Runs `tierwise interactions ...` and `tierwise demo interactions` against in-process fakes of
// the interaction, profile and classification services.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/cli/cli_test_fixture.h"
#include "services/cli/command.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"
#include "tierwise/interaction/v1/interaction.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::interaction::v1;
namespace pb = ::tierwise::profile::v1;
namespace cv1 = ::tierwise::classification::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCustomerId[] = "3d1c4a6e-1d2b-4c3d-8e9f-0a1b2c3d4e5f";
constexpr int kDemoCustomers = 24;

// The id of demo customer n (a UUID, as the interaction service wants).
std::string DemoId(int n) { return absl::StrFormat("00000000-0000-4000-8000-%012d", n); }

// Owner of demo customer n in the fake profile.
std::string DemoOwner(int n) { return n % 3 == 0 ? "rep.chen" : "rep.zhang"; }

int64_t Seconds(absl::CivilDay day) {
  return absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone()));
}

// The interaction service in memory: keeps logged records (a repeated request id returns the
// first result), lists them per customer/owner in pages, and records the last request of each
// kind. The viewer token may not write.
class FakeInteraction final : public v1::InteractionService::Service {
 public:
  grpc::Status LogInteraction(grpc::ServerContext* context,
                              const v1::LogInteractionRequest* request,
                              v1::Interaction* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    authorization_ = Authorization(context);
    if (authorization_ == "Bearer viewer-token") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not log");
    }
    ++log_calls_;
    last_log_ = *request;
    if (auto it = by_request_id_.find(request->request_id());
        !request->request_id().empty() && it != by_request_id_.end()) {
      *response = records_[it->second];
      return grpc::Status::OK;
    }
    v1::Interaction record = request->interaction();
    record.set_id(absl::StrCat("int-", records_.size() + 1));
    record.set_root_id(record.id());
    record.set_version(1);
    record.set_tier("A");
    if (!record.has_recorded_at())
      record.mutable_recorded_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    record.set_late_entry(record.recorded_at().seconds() - record.occurred_at().seconds() > 86400);
    if (!request->request_id().empty()) by_request_id_[request->request_id()] = records_.size();
    records_.push_back(record);
    *response = record;
    return grpc::Status::OK;
  }
  grpc::Status GetInteraction(grpc::ServerContext*, const v1::GetInteractionRequest* request,
                              v1::Interaction* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::Interaction& record : records_) {
      if (record.id() == request->id()) {
        *response = record;
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such interaction");
  }
  grpc::Status ListInteractions(grpc::ServerContext*, const v1::ListInteractionsRequest* request,
                                v1::ListInteractionsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_list_ = *request;
    list_tokens_.push_back(request->page_token());
    std::vector<const v1::Interaction*> matching;
    for (const v1::Interaction& record : records_) {
      if (!request->customer_id().empty() && record.customer_id() != request->customer_id())
        continue;
      if (!request->owner().empty() && record.owner() != request->owner()) continue;
      matching.push_back(&record);
    }
    const size_t page_size = request->page_size() > 0 ? request->page_size() : 50;
    size_t start = 0;
    if (!request->page_token().empty()) start = std::stoul(request->page_token());
    for (size_t i = start; i < matching.size() && i < start + page_size; ++i) {
      *response->add_interactions() = *matching[i];
    }
    if (start + page_size < matching.size()) {
      response->set_next_page_token(absl::StrCat(start + page_size));
    }
    return grpc::Status::OK;
  }
  grpc::Status CorrectInteraction(grpc::ServerContext*,
                                  const v1::CorrectInteractionRequest* request,
                                  v1::Interaction* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_correct_ = *request;
    *response = request->interaction();
    response->set_id(absl::StrCat("int-", records_.size() + 1));
    response->set_corrects(request->id());
    response->set_version(2);
    response->set_correction_reason(request->reason());
    return grpc::Status::OK;
  }
  grpc::Status ListDueFollowUps(grpc::ServerContext*, const v1::ListDueFollowUpsRequest* request,
                                v1::ListFollowUpsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_due_ = *request;
    // Two pages of one.
    const bool first = request->page_token().empty();
    v1::FollowUp* follow_up = response->add_follow_ups();
    follow_up->set_customer_id(first ? "c-1" : "c-2");
    follow_up->set_kind(first ? v1::FOLLOW_UP_KIND_REGULAR : v1::FOLLOW_UP_KIND_EXECUTIVE);
    follow_up->set_channel(v1::CHANNEL_ON_SITE_VISIT);
    if (first) response->set_next_page_token("p2");
    return grpc::Status::OK;
  }
  grpc::Status ListOverdueFollowUps(grpc::ServerContext*,
                                    const v1::ListOverdueFollowUpsRequest* request,
                                    v1::ListFollowUpsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_overdue_ = *request;
    v1::FollowUp* follow_up = response->add_follow_ups();
    follow_up->set_customer_id("c-9");
    follow_up->set_days_overdue(12);
    return grpc::Status::OK;
  }
  grpc::Status OpenComplaint(grpc::ServerContext*, const v1::OpenComplaintRequest* request,
                             v1::Complaint* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    opened_.push_back(*request);
    *response = request->complaint();
    response->set_id(absl::StrCat("cmp-", opened_.size()));
    response->set_status(v1::COMPLAINT_STATUS_OPEN);
    response->set_needs_attention(true);
    return grpc::Status::OK;
  }
  grpc::Status RespondToComplaint(grpc::ServerContext*,
                                  const v1::RespondToComplaintRequest* request,
                                  v1::Complaint* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    responded_.push_back(*request);
    response->set_id(request->id());
    response->set_status(v1::COMPLAINT_STATUS_RESPONDED);
    response->set_response(request->response());
    return grpc::Status::OK;
  }
  grpc::Status ResolveComplaint(grpc::ServerContext*, const v1::ResolveComplaintRequest* request,
                                v1::Complaint* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    resolved_.push_back(*request);
    response->set_id(request->id());
    response->set_status(v1::COMPLAINT_STATUS_RESOLVED);
    response->set_resolution(request->resolution());
    return grpc::Status::OK;
  }
  grpc::Status GetComplaint(grpc::ServerContext*, const v1::GetComplaintRequest* request,
                            v1::Complaint* response) override {
    if (request->id() != "cmp-7") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no complaint");
    response->set_id(request->id());
    response->set_status(v1::COMPLAINT_STATUS_RESPONDED);
    response->mutable_response_breached_at()->set_seconds(1700000000);
    return grpc::Status::OK;
  }
  grpc::Status ListComplaints(grpc::ServerContext*, const v1::ListComplaintsRequest* request,
                              v1::ListComplaintsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_complaints_ = *request;
    response->add_complaints()->set_id("cmp-1");
    return grpc::Status::OK;
  }

#define TW_FAKE_GETTER(type, name)         \
  type name() {                            \
    std::lock_guard<std::mutex> lock(mu_); \
    return name##_;                        \
  }
  TW_FAKE_GETTER(std::string, authorization)
  TW_FAKE_GETTER(int, log_calls)
  TW_FAKE_GETTER(v1::LogInteractionRequest, last_log)
  TW_FAKE_GETTER(std::vector<v1::Interaction>, records)
  TW_FAKE_GETTER(v1::ListInteractionsRequest, last_list)
  TW_FAKE_GETTER(std::vector<std::string>, list_tokens)
  TW_FAKE_GETTER(v1::CorrectInteractionRequest, last_correct)
  TW_FAKE_GETTER(v1::ListDueFollowUpsRequest, last_due)
  TW_FAKE_GETTER(v1::ListOverdueFollowUpsRequest, last_overdue)
  TW_FAKE_GETTER(std::vector<v1::OpenComplaintRequest>, opened)
  TW_FAKE_GETTER(std::vector<v1::RespondToComplaintRequest>, responded)
  TW_FAKE_GETTER(std::vector<v1::ResolveComplaintRequest>, resolved)
  TW_FAKE_GETTER(v1::ListComplaintsRequest, last_complaints)
#undef TW_FAKE_GETTER

 private:
  std::mutex mu_;
  std::string authorization_;
  int log_calls_ = 0;
  v1::LogInteractionRequest last_log_;
  std::vector<v1::Interaction> records_;
  std::map<std::string, size_t> by_request_id_;
  v1::ListInteractionsRequest last_list_;
  std::vector<std::string> list_tokens_;
  v1::CorrectInteractionRequest last_correct_;
  v1::ListDueFollowUpsRequest last_due_;
  v1::ListOverdueFollowUpsRequest last_overdue_;
  std::vector<v1::OpenComplaintRequest> opened_;
  std::vector<v1::RespondToComplaintRequest> responded_;
  std::vector<v1::ResolveComplaintRequest> resolved_;
  v1::ListComplaintsRequest last_complaints_;
};

// Knows ERP-C00001 (kCustomerId) by external ref, and lists kDemoCustomers demo customers plus
// one that is not a demo customer, in pages of 5.
class FakeProfile final : public FakeRefResolver {
 public:
  FakeProfile() : FakeRefResolver("ERP-C00001", kCustomerId) {}

  grpc::Status ListCustomers(grpc::ServerContext*, const pb::ListCustomersRequest* request,
                             pb::ListCustomersResponse* response) override {
    std::vector<pb::Customer> all;
    for (int n = 1; n <= kDemoCustomers; ++n) {
      pb::Customer customer;
      customer.set_id(DemoId(n));
      customer.set_external_ref(absl::StrFormat("ERP-C%05d", n));
      customer.set_owner(DemoOwner(n));
      customer.set_lifecycle_stage(pb::LIFECYCLE_STAGE_ACTIVE);
      all.push_back(customer);
    }
    pb::Customer other;
    other.set_id(DemoId(999));
    other.set_external_ref("SAP-4711");
    other.set_owner("rep.zhang");
    all.insert(all.begin() + 3, other);
    const size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
    for (size_t i = start; i < all.size() && i < start + 5; ++i)
      *response->add_customers() = all[i];
    if (start + 5 < all.size()) response->set_next_page_token(absl::StrCat(start + 5));
    return grpc::Status::OK;
  }
};

// Tiers: customers 1-3 A, 4-8 B, the rest C; customer kDemoCustomers is unknown (guessed).
class FakeClassification final : public cv1::ClassificationService::Service {
 public:
  grpc::Status BatchGetTiers(grpc::ServerContext*, const cv1::BatchGetTiersRequest* request,
                             cv1::BatchGetTiersResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    if (unavailable_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "classification down");
    for (const std::string& id : request->customer_ids()) {
      const int n = std::stoi(id.substr(id.size() - 12));
      if (n == kDemoCustomers || n > kDemoCustomers) continue;
      cv1::Tier* tier = response->add_tiers();
      tier->set_customer_id(id);
      tier->set_tier(n <= 3 ? "A" : n <= 8 ? "B" : "C");
    }
    return grpc::Status::OK;
  }
  void set_unavailable(bool unavailable) {
    std::lock_guard<std::mutex> lock(mu_);
    unavailable_ = unavailable;
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  bool unavailable_ = false;
};

class InteractionCliTest : public CliFixture {
 protected:
  void SetUp() override {
    interaction_server_ = StartFakeServer({&interaction_}, &interaction_address_);
    profile_server_ = StartFakeServer({&profile_}, &profile_address_);
    classification_server_ = StartFakeServer({&classification_}, &classification_address_);
    ASSERT_NE(interaction_server_, nullptr);
    ASSERT_NE(profile_server_, nullptr);
    ASSERT_NE(classification_server_, nullptr);
    WriteEnvFile("interaction", {{"TIERWISE_INTERACTION_ADDR", interaction_address_},
                                 {"TIERWISE_PROFILE_ADDR", profile_address_},
                                 {"TIERWISE_CLASSIFICATION_ADDR", classification_address_}});
  }

  void TearDown() override {
    interaction_server_->Shutdown();
    profile_server_->Shutdown();
    classification_server_->Shutdown();
    CliFixture::TearDown();
  }

  FakeInteraction interaction_;
  FakeProfile profile_;
  FakeClassification classification_;
  std::unique_ptr<grpc::Server> interaction_server_;
  std::unique_ptr<grpc::Server> profile_server_;
  std::unique_ptr<grpc::Server> classification_server_;
  std::string interaction_address_;
  std::string profile_address_;
  std::string classification_address_;
};

TEST_F(InteractionCliTest, LogSendsEveryFieldAndPrintsTheRecord) {
  ASSERT_EQ(Run({"interactions",
                 "log",
                 "ERP-C00001",
                 "--channel",
                 "on-site-visit",
                 "--summary",
                 "上门拜访，了解采购计划",
                 "--occurred-at",
                 "2026-11-20T10:30:00+08:00",
                 "--contact",
                 "王伟",
                 "--contact-role",
                 "decision_maker",
                 "--satisfaction",
                 "4",
                 "--conclusion",
                 "客户有采购意向",
                 "--special-items",
                 "价格敏感",
                 "--next-follow-up",
                 "2026-12-01",
                 "--intent",
                 "--executive",
                 "--owner",
                 "rep.zhang",
                 "--request-id",
                 "r-1"}),
            kExitOk)
      << err_;
  EXPECT_EQ(interaction_.authorization(), "Bearer admin-token");
  const v1::LogInteractionRequest sent = interaction_.last_log();
  EXPECT_EQ(sent.request_id(), "r-1");
  const v1::Interaction& record = sent.interaction();
  EXPECT_EQ(record.customer_id(), kCustomerId);  // the external ref, resolved
  EXPECT_EQ(record.channel(), v1::CHANNEL_ON_SITE_VISIT);
  EXPECT_EQ(record.summary(), "上门拜访，了解采购计划");
  EXPECT_EQ(record.occurred_at().seconds(),
            absl::ToUnixSeconds(
                absl::FromCivil(absl::CivilSecond(2026, 11, 20, 2, 30, 0), absl::UTCTimeZone())));
  EXPECT_EQ(record.contact_name(), "王伟");
  EXPECT_EQ(record.contact_role(), v1::DECISION_ROLE_DECISION_MAKER);
  EXPECT_EQ(record.satisfaction(), 4);
  EXPECT_EQ(record.conclusion(), "客户有采购意向");
  EXPECT_EQ(record.special_items(), "价格敏感");
  EXPECT_EQ(record.next_follow_up_date().year(), 2026);
  EXPECT_EQ(record.next_follow_up_date().month(), 12);
  EXPECT_EQ(record.next_follow_up_date().day(), 1);
  EXPECT_TRUE(record.purchase_intent());
  EXPECT_TRUE(record.executive_contact());
  EXPECT_EQ(record.owner(), "rep.zhang");
  EXPECT_FALSE(record.has_recorded_at());

  v1::Interaction printed = ParseJson<v1::Interaction>(out_);
  EXPECT_EQ(printed.id(), "int-1");
  EXPECT_EQ(printed.tier(), "A");
  EXPECT_THAT(out_, HasSubstr("\"next_follow_up_date\""));  // proto field names
}

TEST_F(InteractionCliTest, LogDefaultsOccurredAtToNowAndBackFillsRecordedAt) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  ASSERT_EQ(
      Run({"interactions", "log", kCustomerId, "--channel", "phone", "--summary", "电话回访"}),
      kExitOk)
      << err_;
  const int64_t after = absl::ToUnixSeconds(absl::Now());
  v1::Interaction record = interaction_.last_log().interaction();
  EXPECT_GE(record.occurred_at().seconds(), before);
  EXPECT_LE(record.occurred_at().seconds(), after);
  EXPECT_EQ(record.satisfaction(), 0);
  EXPECT_FALSE(record.purchase_intent());
  EXPECT_FALSE(record.has_next_follow_up_date());

  ASSERT_EQ(Run({"interactions", "log", kCustomerId, "--channel", "mail", "--summary", "寄送目录",
                 "--occurred-at", "2026-11-01", "--recorded-at", "2026-11-03T09:00:00Z"}),
            kExitOk)
      << err_;
  record = interaction_.last_log().interaction();
  EXPECT_EQ(record.occurred_at().seconds(), Seconds(absl::CivilDay(2026, 11, 1)));
  EXPECT_EQ(record.recorded_at().seconds(), Seconds(absl::CivilDay(2026, 11, 3)) + 9 * 3600);
  EXPECT_TRUE(ParseJson<v1::Interaction>(out_).late_entry());
}

TEST_F(InteractionCliTest, LogRefusesBadFlagsNamingThemAndSendsNothing) {
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--summary", "x"}, "--channel is required (on_site_visit|phone|mail|email_im|"},
      {{"--channel", "phone"}, "--summary is required"},
      {{"--channel", "fax", "--summary", "x"}, "--channel: unknown Channel 'fax'"},
      {{"--channel", "phone", "--summary", " "}, "--summary must not be empty"},
      {{"--channel", "phone", "--summary", "x", "--satisfaction", "6"},
       "--satisfaction needs a number from 1 to 5"},
      {{"--channel", "phone", "--summary", "x", "--satisfaction", "good"}, "--satisfaction"},
      {{"--channel", "phone", "--summary", "x", "--contact-role", "boss"},
       "--contact-role: unknown DecisionRole 'boss'"},
      {{"--channel", "phone", "--summary", "x", "--next-follow-up", "2026-02-30"},
       "--next-follow-up needs a date YYYY-MM-DD, got '2026-02-30'"},
      {{"--channel", "phone", "--summary", "x", "--occurred-at", "2026-11-20T10:00:00"},
       "--occurred-at: '2026-11-20T10:00:00' has no time zone"},
      {{"--channel", "phone", "--summary", "x", "--recorded-at", "yesterday"}, "--recorded-at: "},
      {{"--channel", "phone", "--summary", "x", "--intent=yes"}, "--intent"},
      {{"--channel", "phone", "--summary", "x", "--frobnicate"}, "--frobnicate"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"interactions", "log", kCustomerId};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    EXPECT_EQ(Run(args), kExitUsage) << c.message;
    EXPECT_THAT(err_, HasSubstr(c.message));
    EXPECT_THAT(err_, HasSubstr("usage: tierwise interactions log CUSTOMER"));
  }
  EXPECT_EQ(Run({"interactions", "log", "--channel", "phone", "--summary", "x"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("give exactly one CUSTOMER"));
  EXPECT_EQ(interaction_.log_calls(), 0);

  // An unknown external ref fails at the profile service: exit 1, nothing logged.
  EXPECT_EQ(Run({"interactions", "log", "ERP-NOPE", "--channel", "phone", "--summary", "x"}),
            kExitFailed);
  EXPECT_THAT(err_, HasSubstr("resolving external ref 'ERP-NOPE' at the profile service"));
  EXPECT_EQ(interaction_.log_calls(), 0);
}

TEST_F(InteractionCliTest, ServerErrorsPrintJsonAndExitOne) {
  EXPECT_EQ(Run({"--role", "viewer", "interactions", "log", kCustomerId, "--channel", "phone",
                 "--summary", "x"}),
            kExitFailed);
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_,
            "{\"code\":\"PERMISSION_DENIED\",\"message\":\"viewer may not log\",\"details\":[]}\n");
  EXPECT_EQ(Run({"interactions", "get", "int-404"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("\"code\":\"NOT_FOUND\""));
}

TEST_F(InteractionCliTest, ListSendsTheFiltersAndFollowsPages) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Run({"interactions", "log", kCustomerId, "--channel", "phone", "--summary",
                   absl::StrCat("call ", i), "--owner", "rep.zhang"}),
              kExitOk);
  }
  ASSERT_EQ(Run({"interactions", "list", "--customer", "ERP-C00001", "--owner", "rep.zhang",
                 "--from", "2026-01-01", "--to", "2026-03-31", "--channel", "phone",
                 "--all-versions", "--all", "--page-size", "1"}),
            kExitOk)
      << err_;
  v1::ListInteractionsRequest sent = interaction_.last_list();
  EXPECT_EQ(sent.customer_id(), kCustomerId);
  EXPECT_EQ(sent.owner(), "rep.zhang");
  EXPECT_EQ(sent.from_time().seconds(), Seconds(absl::CivilDay(2026, 1, 1)));
  // A bare --to date includes that day: the exclusive bound is the next midnight.
  EXPECT_EQ(sent.to_time().seconds(), Seconds(absl::CivilDay(2026, 4, 1)));
  EXPECT_EQ(sent.channel(), v1::CHANNEL_PHONE);
  EXPECT_TRUE(sent.include_superseded());
  EXPECT_EQ(sent.page_size(), 1);
  EXPECT_EQ(interaction_.list_tokens(), (std::vector<std::string>{"", "1", "2"}));
  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 3u) << out_;
  EXPECT_EQ(ParseJson<v1::Interaction>(lines[2]).summary(), "call 2");

  // An RFC 3339 --to is taken as given.
  ASSERT_EQ(Run({"interactions", "list", "--owner", "rep.zhang", "--to", "2026-03-31T00:00:00Z"}),
            kExitOk);
  EXPECT_EQ(interaction_.last_list().to_time().seconds(), Seconds(absl::CivilDay(2026, 3, 31)));
  EXPECT_FALSE(interaction_.last_list().include_superseded());
  EXPECT_EQ(ParseJson<v1::ListInteractionsResponse>(out_).interactions_size(), 3);

  EXPECT_EQ(Run({"interactions", "list"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("give --customer, --owner or both"));
  EXPECT_EQ(
      Run({"interactions", "list", "--owner", "x", "--from", "2026-03-01", "--to", "2026-01-01"}),
      kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--to must be after --from"));
  EXPECT_EQ(Run({"interactions", "list", "--owner", "x", "--channel", "pigeon"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--channel: unknown Channel 'pigeon'"));
  EXPECT_EQ(Run({"interactions", "list", "--owner", "x", "--page-size", "-1"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--page-size"));
}

TEST_F(InteractionCliTest, CorrectSendsTheWholeRecordWithTheChanges) {
  ASSERT_EQ(Run({"interactions", "log", kCustomerId, "--channel", "phone", "--summary", "电话回访",
                 "--occurred-at", "2026-11-02T03:00:00Z", "--contact", "李娜", "--conclusion",
                 "待报价", "--intent", "--satisfaction", "3", "--owner", "rep.zhang"}),
            kExitOk)
      << err_;
  ASSERT_EQ(Run({"interactions", "correct", "int-1", "--satisfaction", "5", "--conclusion", "",
                 "--no-intent", "--channel", "on_site_visit", "--reason", "录入错误"}),
            kExitOk)
      << err_;
  v1::CorrectInteractionRequest sent = interaction_.last_correct();
  EXPECT_EQ(sent.id(), "int-1");
  EXPECT_EQ(sent.reason(), "录入错误");
  const v1::Interaction& record = sent.interaction();
  // Unchanged fields come from the stored version ...
  EXPECT_EQ(record.customer_id(), kCustomerId);
  EXPECT_EQ(record.summary(), "电话回访");
  EXPECT_EQ(record.contact_name(), "李娜");
  EXPECT_EQ(record.owner(), "rep.zhang");
  EXPECT_EQ(record.occurred_at().seconds(), Seconds(absl::CivilDay(2026, 11, 2)) + 3 * 3600);
  // ... the given ones are changed, "" clears ...
  EXPECT_EQ(record.satisfaction(), 5);
  EXPECT_EQ(record.conclusion(), "");
  EXPECT_FALSE(record.purchase_intent());
  EXPECT_EQ(record.channel(), v1::CHANNEL_ON_SITE_VISIT);
  // ... and what the server derives is not sent.
  EXPECT_EQ(record.id(), "");
  EXPECT_EQ(record.tier(), "");
  EXPECT_EQ(record.version(), 0);
  EXPECT_FALSE(record.has_recorded_at());
  v1::Interaction printed = ParseJson<v1::Interaction>(out_);
  EXPECT_EQ(printed.corrects(), "int-1");
  EXPECT_EQ(printed.version(), 2);

  EXPECT_EQ(Run({"interactions", "correct", "int-1", "--satisfaction", "5"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--reason is required"));
  EXPECT_EQ(Run({"interactions", "correct", "int-1", "--reason", "r"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("nothing to correct"));
  EXPECT_EQ(Run({"interactions", "correct", "int-1", "--reason", "r", "--intent", "--no-intent"}),
            kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--intent and --no-intent contradict each other"));
  EXPECT_EQ(Run({"interactions", "correct", "int-9", "--reason", "r", "--satisfaction", "2"}),
            kExitFailed);
  EXPECT_THAT(err_, HasSubstr("NOT_FOUND"));
}

TEST_F(InteractionCliTest, DueDefaultsToTheNextThirtyDaysAndTakesATeam) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  ASSERT_EQ(Run({"interactions", "due", "--owner", "rep.zhang,rep.chen", "--owner", "manager.li"}),
            kExitOk)
      << err_;
  v1::ListDueFollowUpsRequest sent = interaction_.last_due();
  EXPECT_THAT(sent.owners(), ElementsAre("rep.zhang", "rep.chen", "manager.li"));
  EXPECT_EQ(
      absl::CivilDay(sent.from_date().year(), sent.from_date().month(), sent.from_date().day()),
      today);
  EXPECT_EQ(absl::CivilDay(sent.to_date().year(), sent.to_date().month(), sent.to_date().day()),
            today + 30);
  EXPECT_EQ(ParseJson<v1::ListFollowUpsResponse>(out_).next_page_token(), "p2");

  ASSERT_EQ(Run({"interactions", "due", "--from", "2026-12-01", "--to", "2026-12-31", "--all"}),
            kExitOk)
      << err_;
  sent = interaction_.last_due();
  EXPECT_EQ(sent.owners_size(), 0);
  EXPECT_EQ(sent.from_date().month(), 12);
  EXPECT_EQ(sent.to_date().day(), 31);
  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ParseJson<v1::FollowUp>(lines[1]).kind(), v1::FOLLOW_UP_KIND_EXECUTIVE);

  EXPECT_EQ(Run({"interactions", "due", "--from", "2026-01-01", "--to", "2027-01-03"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--to may be at most 366 days after --from"));
  EXPECT_EQ(Run({"interactions", "due", "--from", "2026-03-01", "--to", "2026-02-01"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--to must not be before --from"));
  EXPECT_EQ(Run({"interactions", "due", "--from", "next week"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--from needs a date YYYY-MM-DD"));
}

TEST_F(InteractionCliTest, OverdueAsOfADay) {
  ASSERT_EQ(Run({"interactions", "overdue", "--owner", "rep.zhang", "--as-of", "2026-11-01"}),
            kExitOk)
      << err_;
  v1::ListOverdueFollowUpsRequest sent = interaction_.last_overdue();
  EXPECT_THAT(sent.owners(), ElementsAre("rep.zhang"));
  EXPECT_EQ(sent.as_of().year(), 2026);
  EXPECT_EQ(sent.as_of().month(), 11);
  EXPECT_EQ(sent.as_of().day(), 1);
  EXPECT_EQ(ParseJson<v1::ListFollowUpsResponse>(out_).follow_ups(0).days_overdue(), 12);

  ASSERT_EQ(Run({"interactions", "overdue"}), kExitOk);
  EXPECT_FALSE(interaction_.last_overdue().has_as_of());  // the server's today
  EXPECT_EQ(Run({"interactions", "overdue", "--as-of", "2026-13-01"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--as-of needs a date"));
}

TEST_F(InteractionCliTest, ComplaintsLifecycle) {
  ASSERT_EQ(Run({"interactions", "complaint", "open", "ERP-C00001", "--subject", "到货延迟",
                 "--description", "晚了一周", "--received-at", "2026-11-20T08:00:00+08:00",
                 "--request-id", "c-1"}),
            kExitOk)
      << err_;
  std::vector<v1::OpenComplaintRequest> opened = interaction_.opened();
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].request_id(), "c-1");
  EXPECT_EQ(opened[0].complaint().customer_id(), kCustomerId);
  EXPECT_EQ(opened[0].complaint().subject(), "到货延迟");
  EXPECT_EQ(opened[0].complaint().description(), "晚了一周");
  EXPECT_EQ(opened[0].complaint().received_at().seconds(), Seconds(absl::CivilDay(2026, 11, 20)));
  v1::Complaint complaint = ParseJson<v1::Complaint>(out_);
  EXPECT_EQ(complaint.id(), "cmp-1");
  EXPECT_TRUE(complaint.needs_attention());

  ASSERT_EQ(Run({"interactions", "complaint", "respond", "cmp-1", "--response", "已致歉"}),
            kExitOk);
  ASSERT_EQ(interaction_.responded().size(), 1u);
  EXPECT_EQ(interaction_.responded()[0].response(), "已致歉");
  EXPECT_EQ(ParseJson<v1::Complaint>(out_).status(), v1::COMPLAINT_STATUS_RESPONDED);
  ASSERT_EQ(Run({"interactions", "complaint", "resolve", "cmp-1", "--resolution", "已补发"}),
            kExitOk);
  ASSERT_EQ(interaction_.resolved().size(), 1u);
  EXPECT_EQ(interaction_.resolved()[0].id(), "cmp-1");
  EXPECT_EQ(ParseJson<v1::Complaint>(out_).status(), v1::COMPLAINT_STATUS_RESOLVED);
  ASSERT_EQ(Run({"interactions", "complaint", "get", "cmp-7"}), kExitOk);
  EXPECT_TRUE(ParseJson<v1::Complaint>(out_).has_response_breached_at());

  EXPECT_EQ(Run({"interactions", "complaint", "open", kCustomerId}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--subject is required"));
  EXPECT_EQ(Run({"interactions", "complaint", "open", kCustomerId, "--subject", "s",
                 "--received-at", "2026-11-20 08:00"}),
            kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--received-at: "));
  EXPECT_EQ(Run({"interactions", "complaint", "respond", "cmp-1"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--response is required"));
  EXPECT_EQ(Run({"interactions", "complaint", "resolve", "cmp-1", "--response", "x"}), kExitUsage);
  EXPECT_EQ(Run({"interactions", "complaint", "close", "cmp-1"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("unknown command 'interactions complaint'"));
  EXPECT_EQ(interaction_.opened().size(), 1u);
}

TEST_F(InteractionCliTest, ComplaintsListFilters) {
  ASSERT_EQ(Run({"interactions", "complaints", "--filter", "response-breached", "--owner",
                 "rep.zhang", "--customer", "ERP-C00001"}),
            kExitOk)
      << err_;
  v1::ListComplaintsRequest sent = interaction_.last_complaints();
  EXPECT_EQ(sent.filter(), v1::COMPLAINT_FILTER_RESPONSE_BREACHED);
  EXPECT_EQ(sent.owner(), "rep.zhang");
  EXPECT_EQ(sent.customer_id(), kCustomerId);
  EXPECT_EQ(ParseJson<v1::ListComplaintsResponse>(out_).complaints(0).id(), "cmp-1");

  ASSERT_EQ(Run({"interactions", "complaints", "--filter", "open"}), kExitOk);
  EXPECT_EQ(interaction_.last_complaints().filter(), v1::COMPLAINT_FILTER_OPEN);
  ASSERT_EQ(Run({"interactions", "complaints", "--filter", "all"}), kExitOk);
  EXPECT_EQ(interaction_.last_complaints().filter(), v1::COMPLAINT_FILTER_UNSPECIFIED);
  ASSERT_EQ(Run({"interactions", "complaints", "--filter", "resolution_breached"}), kExitOk);
  EXPECT_EQ(interaction_.last_complaints().filter(), v1::COMPLAINT_FILTER_RESOLUTION_BREACHED);
  EXPECT_EQ(Run({"interactions", "complaints", "--filter", "angry"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--filter: unknown ComplaintFilter 'angry'"));
}

TEST_F(InteractionCliTest, HelpListsEveryCommand) {
  ASSERT_EQ(Run({"help"}), kExitOk);
  for (const char* words :
       {"interactions log CUSTOMER", "interactions get ID", "interactions list",
        "interactions correct ID", "interactions due", "interactions overdue",
        "interactions complaints", "interactions complaint open CUSTOMER",
        "interactions complaint respond ID", "interactions complaint resolve ID",
        "interactions complaint get ID", "demo interactions"}) {
    EXPECT_THAT(out_, HasSubstr(words));
  }
  ASSERT_EQ(Run({"interactions", "complaint", "open", "--help"}), kExitOk);
  EXPECT_THAT(out_, HasSubstr("usage: tierwise interactions complaint open CUSTOMER --subject"));
  EXPECT_THAT(out_, Not(HasSubstr("interactions due")));
  ASSERT_EQ(Run({"help", "interactions"}), kExitOk);
  EXPECT_THAT(out_, HasSubstr("usage: tierwise interactions overdue"));
  EXPECT_THAT(out_, HasSubstr("usage: tierwise interactions complaint get ID"));
}

TEST_F(InteractionCliTest, DemoLogsAYearForEveryDemoCustomerAndIsRepeatable) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  ASSERT_EQ(Run({"demo", "interactions", "--seed", "7", "--concurrency", "4"}), kExitOk) << err_;
  const int64_t after = absl::ToUnixSeconds(absl::Now());
  const std::vector<v1::Interaction> records = interaction_.records();
  ASSERT_GT(records.size(), static_cast<size_t>(kDemoCustomers * 8));

  std::map<std::string, int> per_customer;
  std::map<std::string, int> executive;
  std::set<std::string> late;
  for (const v1::Interaction& r : records) {
    ++per_customer[r.customer_id()];
    const int n = std::stoi(r.customer_id().substr(r.customer_id().size() - 12));
    ASSERT_GE(n, 1);
    ASSERT_LE(n, kDemoCustomers) << "not a demo customer: " << r.customer_id();
    EXPECT_EQ(r.owner(), DemoOwner(n));
    EXPECT_FALSE(r.summary().empty());
    EXPECT_FALSE(r.contact_name().empty());  // from the generated decision chain
    EXPECT_NE(r.channel(), v1::CHANNEL_UNSPECIFIED);
    EXPECT_GE(r.recorded_at().seconds(), r.occurred_at().seconds());
    EXPECT_LE(r.recorded_at().seconds(), after);
    EXPECT_LT(r.occurred_at().seconds(), after);
    EXPECT_GT(r.occurred_at().seconds(), before - 367 * 86400);
    if (r.executive_contact()) ++executive[r.customer_id()];
    if (r.late_entry()) late.insert(r.id());
  }
  EXPECT_EQ(per_customer.size(), static_cast<size_t>(kDemoCustomers));
  // Executive contacts only for the A customers (1-3 in the fake classification), quarterly.
  for (const auto& [id, count] : executive) {
    EXPECT_LE(std::stoi(id.substr(id.size() - 12)), 3) << id;
    EXPECT_GE(count, 3);
    EXPECT_LE(count, 5);
  }
  EXPECT_EQ(executive.size(), 3u);

  const std::vector<v1::OpenComplaintRequest> opened = interaction_.opened();
  for (const v1::OpenComplaintRequest& c : opened) {
    EXPECT_GE(c.complaint().received_at().seconds(), before - 10 * 86400);
    EXPECT_FALSE(c.complaint().subject().empty());
  }
  EXPECT_EQ(out_, absl::StrCat("{\"customers\":", kDemoCustomers,
                               ",\"existing\":0,\"interactions\":", records.size(),
                               ",\"late\":", late.size(), ",\"complaints\":", opened.size(),
                               ",\"responded\":", interaction_.responded().size(),
                               ",\"resolved\":", interaction_.resolved().size(),
                               ",\"failed\":0,\"tiers_guessed\":1}\n"));

  // Again: every customer has records already; nothing is logged.
  ASSERT_EQ(Run({"demo", "interactions", "--seed", "7"}), kExitOk) << err_;
  EXPECT_EQ(interaction_.records().size(), records.size());
  EXPECT_EQ(interaction_.opened().size(), opened.size());
  EXPECT_THAT(out_, HasSubstr(absl::StrCat("\"customers\":", kDemoCustomers, ",\"existing\":",
                                           kDemoCustomers, ",\"interactions\":0,")));
}

TEST_F(InteractionCliTest, DemoGuessesTiersWhenClassificationIsDown) {
  classification_.set_unavailable(true);
  ASSERT_EQ(Run({"demo", "interactions", "--customers", "10"}), kExitOk) << err_;
  EXPECT_THAT(err_, HasSubstr("tiers guessed"));
  EXPECT_THAT(err_, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(out_, HasSubstr("\"customers\":10,"));
  EXPECT_THAT(out_, HasSubstr("\"tiers_guessed\":10}"));
  std::set<std::string> customers;
  for (const v1::Interaction& r : interaction_.records()) customers.insert(r.customer_id());
  EXPECT_EQ(customers.size(), 10u);
}

TEST_F(InteractionCliTest, DemoStopsAtAFatalErrorAndExitsOne) {
  EXPECT_EQ(Run({"--role", "viewer", "demo", "interactions", "--concurrency", "2"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("\"step\":\"LogInteraction\""));
  EXPECT_THAT(err_, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(out_, HasSubstr("\"interactions\":0,"));
  EXPECT_THAT(out_, Not(HasSubstr("\"failed\":0,")));
  EXPECT_TRUE(interaction_.records().empty());

  EXPECT_EQ(Run({"demo", "interactions", "--concurrency", "0"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--concurrency needs a number from 1 to 64"));
  EXPECT_EQ(Run({"demo", "interactions", "--customers", "x"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--customers"));
  EXPECT_EQ(Run({"demo", "interactions", "--seed", "-1"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--seed"));
}

}  // namespace
}  // namespace tierwise::cli
