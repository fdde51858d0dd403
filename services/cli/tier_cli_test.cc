// Runs `tierwise tiers ...` against in-process fakes of the classification and profile
// services.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/cli/cli_test_fixture.h"
#include "services/cli/command.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::classification::v1;
using ::testing::HasSubstr;

constexpr char kCustomerId[] = "7a1c4a6e-1d2b-4c3d-8e9f-0a1b2c3d4e5f";

// Knows one customer (kCustomerId, tier A); records the last pin; lists tiers in three pages of
// one; a full reclassification runs for one GetJob and then is done.
class FakeClassification final : public v1::ClassificationService::Service {
 public:
  grpc::Status GetTier(grpc::ServerContext*, const v1::GetTierRequest* request,
                       v1::Tier* response) override {
    if (request->customer_id() != kCustomerId) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no tier for this customer");
    }
    response->set_customer_id(request->customer_id());
    response->set_tier("A");
    response->set_score(81);
    response->set_label("A · high potential · strategic partner");
    return grpc::Status::OK;
  }
  grpc::Status PinTier(grpc::ServerContext*, const v1::PinTierRequest* request,
                       v1::Tier* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_pin_ = *request;
    response->set_customer_id(request->customer_id());
    response->set_tier(request->tier());
    response->set_pinned(true);
    return grpc::Status::OK;
  }
  grpc::Status ListCustomersByTier(grpc::ServerContext*,
                                   const v1::ListCustomersByTierRequest* request,
                                   v1::ListCustomersByTierResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    list_tokens_.push_back(request->page_token());
    const int page = request->page_token().empty() ? 0 : request->page_token()[0] - '0';
    v1::Tier* tier = response->add_tiers();
    tier->set_customer_id(absl::StrCat("customer-", page));
    tier->set_tier(request->tier());
    if (page < 2) response->set_next_page_token(absl::StrCat(page + 1));
    return grpc::Status::OK;
  }
  grpc::Status StartFullReclassification(grpc::ServerContext*,
                                         const v1::StartFullReclassificationRequest*,
                                         v1::Job* response) override {
    response->set_id("job-1");
    response->set_state("running");
    return grpc::Status::OK;
  }
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                      v1::Job* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++job_polls_;
    response->set_id(request->id());
    response->set_state(job_polls_ < 2 ? "running" : "done");
    response->set_processed(job_polls_ < 2 ? 5 : 10);
    response->set_total(10);
    return grpc::Status::OK;
  }

  v1::PinTierRequest last_pin() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_pin_;
  }
  std::vector<std::string> list_tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_tokens_;
  }
  int job_polls() {
    std::lock_guard<std::mutex> lock(mu_);
    return job_polls_;
  }

 private:
  std::mutex mu_;
  v1::PinTierRequest last_pin_;
  std::vector<std::string> list_tokens_;
  int job_polls_ = 0;
};

class FakeRuleSets final : public v1::RuleSetService::Service {
 public:
  grpc::Status SimulateRuleSet(grpc::ServerContext*, const v1::SimulateRuleSetRequest* request,
                               v1::SimulateRuleSetResponse* response) override {
    if (request->version() != 3)
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such rule set");
    response->set_customers(100);
    response->set_movers(7);
    return grpc::Status::OK;
  }
};

class TierCliTest : public CliFixture {
 protected:
  void SetUp() override {
    classification_server_ =
        StartFakeServer({&classification_, &rule_sets_}, &classification_address_);
    profile_server_ = StartFakeServer({&profile_}, &profile_address_);
    ASSERT_NE(classification_server_, nullptr);
    ASSERT_NE(profile_server_, nullptr);
    WriteEnvFile("tier", {{"TIERWISE_CLASSIFICATION_ADDR", classification_address_},
                          {"TIERWISE_PROFILE_ADDR", profile_address_}});
  }

  void TearDown() override {
    classification_server_->Shutdown();
    profile_server_->Shutdown();
    CliFixture::TearDown();
  }

  FakeClassification classification_;
  FakeRuleSets rule_sets_;
  FakeRefResolver profile_{"ERP-C00007", kCustomerId};
  std::unique_ptr<grpc::Server> classification_server_;
  std::unique_ptr<grpc::Server> profile_server_;
  std::string classification_address_;
  std::string profile_address_;
};

TEST_F(TierCliTest, GetByUuidPrintsTheTier) {
  ASSERT_EQ(Run({"tiers", "get", kCustomerId}), kExitOk) << err_;
  v1::Tier tier = ParseJson<v1::Tier>(out_);
  EXPECT_EQ(tier.customer_id(), kCustomerId);
  EXPECT_EQ(tier.tier(), "A");
  EXPECT_EQ(tier.score(), 81);
  EXPECT_THAT(out_, HasSubstr("\"customer_id\""));  // proto field names, as everywhere
}

TEST_F(TierCliTest, GetByExternalRefResolvesThroughTheProfileService) {
  ASSERT_EQ(Run({"tiers", "get", "ERP-C00007"}), kExitOk) << err_;
  EXPECT_EQ(ParseJson<v1::Tier>(out_).customer_id(), kCustomerId);

  EXPECT_EQ(Run({"tiers", "get", "ERP-NOPE"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("resolving external ref 'ERP-NOPE' at the profile service"));
}

TEST_F(TierCliTest, ErrorStatusPrintsJsonErrorAndExitsOne) {
  EXPECT_EQ(Run({"tiers", "get", "00000000-0000-4000-8000-000000000000"}), kExitFailed);
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_,
            "{\"code\":\"NOT_FOUND\",\"message\":\"no tier for this customer\",\"details\":[]}\n");
}

TEST_F(TierCliTest, PinSendsReasonAndExpiryInTheFuture) {
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  ASSERT_EQ(
      Run({"tiers", "pin", kCustomerId, "k", "--reason", "strategic account", "--days", "30"}),
      kExitOk)
      << err_;
  const int64_t after = absl::ToUnixSeconds(absl::Now());
  v1::PinTierRequest pin = classification_.last_pin();
  EXPECT_EQ(pin.customer_id(), kCustomerId);
  EXPECT_EQ(pin.tier(), "K");
  EXPECT_EQ(pin.reason(), "strategic account");
  EXPECT_GE(pin.expire_time().seconds(), before + 30 * 86400);
  EXPECT_LE(pin.expire_time().seconds(), after + 30 * 86400);
  EXPECT_TRUE(ParseJson<v1::Tier>(out_).pinned());
}

TEST_F(TierCliTest, PinNeedsReasonAndDays) {
  EXPECT_EQ(Run({"tiers", "pin", kCustomerId, "A", "--days", "3"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--reason is required"));
  EXPECT_EQ(Run({"tiers", "pin", kCustomerId, "A", "--reason", "r"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--days is required"));
  EXPECT_EQ(Run({"tiers", "pin", kCustomerId, "A", "--reason", "r", "--days", "0"}), kExitUsage);
  EXPECT_EQ(classification_.last_pin().customer_id(), "");
}

TEST_F(TierCliTest, ListAllFollowsPageTokens) {
  ASSERT_EQ(Run({"tiers", "list", "B", "--all", "--page-size", "1"}), kExitOk) << err_;
  EXPECT_EQ(classification_.list_tokens(), (std::vector<std::string>{"", "1", "2"}));
  std::vector<std::string> lines = absl::StrSplit(out_, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << out_;
  for (int i = 0; i < 3; ++i) {
    v1::Tier tier = ParseJson<v1::Tier>(lines[i]);
    EXPECT_EQ(tier.customer_id(), absl::StrCat("customer-", i));
    EXPECT_EQ(tier.tier(), "B");
  }

  // Without --all: one page, the response as it comes.
  ASSERT_EQ(Run({"tiers", "list", "B"}), kExitOk) << err_;
  EXPECT_EQ(ParseJson<v1::ListCustomersByTierResponse>(out_).next_page_token(), "1");
}

TEST_F(TierCliTest, ReclassifyAllWaitsForTheJob) {
  ASSERT_EQ(Run({"tiers", "reclassify-all"}), kExitOk) << err_;
  EXPECT_EQ(ParseJson<v1::Job>(out_).state(), "running");
  EXPECT_EQ(classification_.job_polls(), 0);

  ASSERT_EQ(Run({"tiers", "reclassify-all", "--wait"}), kExitOk) << err_;
  v1::Job job = ParseJson<v1::Job>(out_);
  EXPECT_EQ(job.state(), "done");
  EXPECT_EQ(job.processed(), 10);
  EXPECT_EQ(classification_.job_polls(), 2);
}

TEST_F(TierCliTest, SimulateByVersion) {
  ASSERT_EQ(Run({"tiers", "simulate", "3"}), kExitOk) << err_;
  EXPECT_EQ(ParseJson<v1::SimulateRuleSetResponse>(out_).movers(), 7);
  EXPECT_EQ(Run({"tiers", "simulate", "x"}), kExitUsage);
}

}  // namespace
}  // namespace tierwise::cli
