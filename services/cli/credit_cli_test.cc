// Runs `tierwise import`, `tierwise demo ledger` and `tierwise credit ...` against in-process
// fakes of the credit and profile services.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/cli/cli_test_fixture.h"
#include "services/cli/command.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCustomerId[] = "5f0c4a6e-1d2b-4c3d-8e9f-0a1b2c3d4e5f";

// Ingestion as the credit service does it, in memory: a repeated event_id is a duplicate with
// its first outcome, customers outside `known` are parked, amounts must be positive.
class FakeIngest final : public v1::LedgerIngestService::Service {
 public:
  grpc::Status IngestEvents(grpc::ServerContext* context,
                            grpc::ServerReaderWriter<v1::IngestEventsResponse,
                                                     v1::IngestEventsRequest>* stream) override {
    const std::string authorization = Authorization(context);
    {
      std::lock_guard<std::mutex> lock(mu_);
      authorization_ = authorization;
    }
    if (authorization == "Bearer viewer-token") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not ingest");
    }
    v1::IngestEventsRequest request;
    while (stream->Read(&request)) {
      v1::IngestEventsResponse response;
      {
        std::lock_guard<std::mutex> lock(mu_);
        batches_.push_back(request.events_size());
        for (int i = 0; i < request.events_size(); ++i) {
          *response.add_results() = Ingest(request.events(i), i);
        }
      }
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

  std::vector<int> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  size_t stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_outcome_.size();
  }
  std::string authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  v1::LedgerEventInput event(const std::string& event_id) {
    std::lock_guard<std::mutex> lock(mu_);
    return events_[event_id];
  }

 private:
  v1::IngestResult Ingest(const v1::LedgerEventInput& event, int index) {
    v1::IngestResult result;
    result.set_index(index);
    const bool order = event.has_order();
    const std::string& id = order                 ? event.order().event_id()
                            : event.has_payment() ? event.payment().event_id()
                                                  : event.cancellation().event_id();
    const std::string& ref = order                 ? event.order().external_ref()
                             : event.has_payment() ? event.payment().external_ref()
                                                   : event.cancellation().external_ref();
    const int64_t amount = order                 ? event.order().amount().minor_units()
                           : event.has_payment() ? event.payment().amount().minor_units()
                                                 : 1;
    result.set_event_id(id);
    if (auto it = first_outcome_.find(id); it != first_outcome_.end()) {
      result.set_outcome(it->second);
      result.set_duplicate(true);
      return result;
    }
    if (amount <= 0) {
      const std::string field = order ? "order.amount.minor_units" : "payment.amount.minor_units";
      result.set_outcome(v1::INGEST_OUTCOME_REJECTED);
      result.set_error_field(field);
      result.set_error_message(absl::StrCat(field, ": must be positive"));
      return result;
    }
    const v1::IngestOutcome outcome =
        ref == "ERP-UNKNOWN" ? v1::INGEST_OUTCOME_PARKED : v1::INGEST_OUTCOME_APPLIED;
    first_outcome_[id] = outcome;
    events_[id] = event;
    result.set_outcome(outcome);
    return result;
  }

  std::mutex mu_;
  std::map<std::string, v1::IngestOutcome> first_outcome_;
  std::map<std::string, v1::LedgerEventInput> events_;
  std::vector<int> batches_;
  std::string authorization_;
};

// Records the last request of each kind.
class FakeCredit final : public v1::CreditService::Service {
 public:
  grpc::Status GetCreditAccount(grpc::ServerContext*, const v1::GetCreditAccountRequest* request,
                                v1::CreditAccount* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_customer_ = request->customer_id();
    if (request->customer_id() != kCustomerId) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no credit account");
    }
    response->set_customer_id(request->customer_id());
    response->set_rating("AA");
    return grpc::Status::OK;
  }
  grpc::Status CheckCredit(grpc::ServerContext*, const v1::CheckCreditRequest* request,
                           v1::CheckCreditResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_check_ = *request;
    response->set_decision(v1::CREDIT_DECISION_APPROVED);
    return grpc::Status::OK;
  }
  grpc::Status SetCreditTerms(grpc::ServerContext*, const v1::SetCreditTermsRequest* request,
                              v1::CreditAccount* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_terms_ = *request;
    response->set_customer_id(request->customer_id());
    return grpc::Status::OK;
  }
  grpc::Status DecideLimitApplication(grpc::ServerContext*,
                                      const v1::DecideLimitApplicationRequest* request,
                                      v1::LimitApplication* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_decide_ = *request;
    response->set_id(request->application_id());
    return grpc::Status::OK;
  }
  grpc::Status ListLimitApplications(grpc::ServerContext*,
                                     const v1::ListLimitApplicationsRequest* request,
                                     v1::ListLimitApplicationsResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_list_ = *request;
    // Three pages of one.
    int page = request->page_token().empty() ? 0 : request->page_token()[0] - '0';
    response->add_applications()->set_id(absl::StrCat("app-", page));
    if (page < 2) response->set_next_page_token(absl::StrCat(page + 1));
    return grpc::Status::OK;
  }

  std::string last_customer() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_customer_;
  }
  v1::CheckCreditRequest last_check() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_check_;
  }
  v1::SetCreditTermsRequest last_terms() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_terms_;
  }
  v1::DecideLimitApplicationRequest last_decide() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_decide_;
  }
  v1::ListLimitApplicationsRequest last_list() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_list_;
  }

 private:
  std::mutex mu_;
  std::string last_customer_;
  v1::CheckCreditRequest last_check_;
  v1::SetCreditTermsRequest last_terms_;
  v1::DecideLimitApplicationRequest last_decide_;
  v1::ListLimitApplicationsRequest last_list_;
};

class CreditCliTest : public CliFixture {
 protected:
  void SetUp() override {
    credit_server_ = StartFakeServer({&ingest_, &credit_}, &credit_address_);
    profile_server_ = StartFakeServer({&profile_}, &profile_address_);
    ASSERT_NE(credit_server_, nullptr);
    ASSERT_NE(profile_server_, nullptr);
    WriteEnvFile("credit", {{"TIERWISE_CREDIT_ADDR", credit_address_},
                            {"TIERWISE_PROFILE_ADDR", profile_address_}});
  }

  void TearDown() override {
    credit_server_->Shutdown();
    profile_server_->Shutdown();
    CliFixture::TearDown();
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path.string();
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  FakeIngest ingest_;
  FakeCredit credit_;
  FakeRefResolver profile_{"ERP-C00001", kCustomerId};
  std::unique_ptr<grpc::Server> credit_server_;
  std::unique_ptr<grpc::Server> profile_server_;
  std::string credit_address_;
  std::string profile_address_;
};

constexpr char kLedgerCsv[] =
    "type,event_id,external_ref,document_no,order_no,amount,occurred_at,terms\n"
    "order,e1,ERP-C00001,SO-1,,\"1,200.00\",2026-03-01,net30\n"  // line 2
    "order,e2,ERP-C00001,SO-2,,-5.00,2026-03-02,\n"              // 3: the server rejects it
    "payment,e3,ERP-C00001,RC-1,SO-1,1200,2026-03-20,\n"         // 4
    "order,e4,ERP-UNKNOWN,SO-3,,10.5,2026-03-03,\n"              // 5: parked
    "order,e5,ERP-C00001,SO-4,,ten,2026-03-04,\n"                // 6: the CLI rejects it
    "cancellation,e6,ERP-C00001,CX-1,SO-1,,2026-03-05,\n";       // 7

TEST_F(CreditCliTest, ImportSummarisesReportsAndIsRepeatable) {
  const std::string csv = Write("ledger.csv", kLedgerCsv);
  const std::string report = (dir_ / "report.jsonl").string();
  ASSERT_EQ(Run({"import", csv, "--report", report, "--batch", "2"}), kExitRejected) << err_;
  EXPECT_EQ(out_, "{\"applied\":3,\"duplicate\":0,\"parked\":1,\"rejected\":2,\"lines\":6}\n");
  EXPECT_THAT(err_, HasSubstr("2 rows rejected, see " + report));
  // 5 events reached the server in batches of at most 2.
  EXPECT_EQ(ingest_.batches(), (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(ingest_.authorization(), "Bearer admin-token");
  EXPECT_EQ(ingest_.event("e1").order().amount().minor_units(), 120000);

  std::vector<std::string> rows = absl::StrSplit(Read(report), '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], absl::StrCat("{\"file\":\"", csv,
                                  "\",\"line\":3,\"event_id\":\"e2\",\"field\":\"order.amount."
                                  "minor_units\",\"column\":\"amount\",\"reason\":\"must be "
                                  "positive\",\"source\":\"server\"}"));
  EXPECT_THAT(rows[1], HasSubstr("\"line\":6,\"event_id\":\"e5\",\"field\":\"amount\""));
  EXPECT_THAT(rows[1], HasSubstr("\"source\":\"cli\""));

  // Again: nothing new; the bad rows are still bad.
  ASSERT_EQ(Run({"import", csv, "--report", report}), kExitRejected) << err_;
  EXPECT_EQ(out_, "{\"applied\":0,\"duplicate\":4,\"parked\":0,\"rejected\":2,\"lines\":6}\n");
  EXPECT_EQ(ingest_.stored(), 4u);
}

TEST_F(CreditCliTest, ImportOfACleanFileExitsZeroAndEmptiesTheReport) {
  const std::string csv = Write("good.csv",
                                "type,event_id,external_ref,document_no,amount,occurred_at\n"
                                "order,g1,ERP-C00001,SO-1,10,2026-03-01\n");
  const std::string report = Write("report.jsonl", "stale\n");
  ASSERT_EQ(Run({"import", csv, "--report", report}), kExitOk) << err_;
  EXPECT_EQ(out_, "{\"applied\":1,\"duplicate\":0,\"parked\":0,\"rejected\":0,\"lines\":1}\n");
  EXPECT_EQ(Read(report), "");
  EXPECT_EQ(err_, "");
}

TEST_F(CreditCliTest, ImportReadsJsonLinesAndSeveralFiles) {
  const std::string a =
      Write("a.jsonl", R"({"type":"order","event_id":"j1","external_ref":"ERP-C00001",)"
                       R"("document_no":"SO-1","amount":99.99,"occurred_at":"2026-03-01"})"
                       "\n");
  const std::string b = Write("b.txt", R"({"payment":{"event_id":"j2","external_ref":"ERP-C00001",)"
                                       R"("payment_no":"RC-1","amount":{"minor_units":"9999",)"
                                       R"("currency":"CNY"},"occurred_at":"2026-03-02T00:00:00Z"}})"
                                       "\n");
  const std::string report = (dir_ / "r.jsonl").string();
  EXPECT_EQ(Run({"import", a, b, "--report", report}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("b.txt: cannot tell the format"));
  EXPECT_EQ(ingest_.stored(), 0u);
  ASSERT_EQ(Run({"import", a, b, "--format", "jsonl", "--report", report}), kExitOk) << err_;
  EXPECT_EQ(out_, "{\"applied\":2,\"duplicate\":0,\"parked\":0,\"rejected\":0,\"lines\":2}\n");
  EXPECT_EQ(ingest_.event("j1").order().amount().minor_units(), 9999);
}

TEST_F(CreditCliTest, ImportRefusesABadHeaderBeforeSendingAnything) {
  const std::string good = Write("good.csv", kLedgerCsv);
  const std::string bad = Write("bad.csv", "type,event_id,external_ref,ammount\n");
  EXPECT_EQ(Run({"import", good, bad, "--report", (dir_ / "r.jsonl").string()}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("bad.csv: line 1: unknown column 'ammount'"));
  EXPECT_EQ(ingest_.stored(), 0u);
  EXPECT_EQ(Run({"import", (dir_ / "missing.csv").string()}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("cannot be read"));
  EXPECT_EQ(Run({"import"}), kExitUsage);
  EXPECT_EQ(Run({"import", good, "--batch", "0"}), kExitUsage);
  EXPECT_EQ(Run({"import", good, "--batch", "5001"}), kExitUsage);
  EXPECT_EQ(Run({"import", good, "--format", "xlsx"}), kExitUsage);
}

TEST_F(CreditCliTest, ImportFailsCleanlyWhenTheCallIsRefused) {
  const std::string csv = Write("ledger.csv", kLedgerCsv);
  const std::string report = (dir_ / "report.jsonl").string();
  EXPECT_EQ(Run({"--role", "viewer", "import", csv, "--report", report}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("{\"code\":\"PERMISSION_DENIED\""));
  EXPECT_THAT(err_, HasSubstr("running the same input again is safe"));
  EXPECT_EQ(out_, "");
  EXPECT_EQ(ingest_.stored(), 0u);
}

TEST_F(CreditCliTest, ImportPrefersTheErpAdapterToken) {
  const std::string csv = Write("good.csv",
                                "type,event_id,external_ref,document_no,amount,occurred_at\n"
                                "order,g1,ERP-C00001,SO-1,10,2026-03-01\n");
  const std::string report = (dir_ / "r.jsonl").string();
  ASSERT_EQ(Run({"import", csv, "--report", report}, {{"TIERWISE_ERP_ADAPTER_TOKEN", "erp-token"}}),
            kExitOk)
      << err_;
  EXPECT_EQ(ingest_.authorization(), "Bearer erp-token");
  // An explicit --role wins.
  ASSERT_EQ(Run({"import", csv, "--report", report, "--role", "admin"},
                {{"TIERWISE_ERP_ADAPTER_TOKEN", "erp-token"}}),
            kExitOk);
  EXPECT_EQ(ingest_.authorization(), "Bearer admin-token");
}

TEST_F(CreditCliTest, DemoLedgerCsvImportsAsTheSameEventsAndPushesRepeatably) {
  const std::string csv = (dir_ / "demo.csv").string();
  ASSERT_EQ(Run({"demo", "ledger", "--customers", "8", "--end", "2026-06-30", "--csv", csv}),
            kExitOk)
      << err_;
  EXPECT_THAT(out_, HasSubstr("{\"written\":"));
  const std::string text = Read(csv);
  const size_t rows = std::count(text.begin(), text.end(), '\n') - 1;
  ASSERT_GT(rows, 50u);
  EXPECT_EQ(ingest_.stored(), 0u);  // --csv calls nothing

  ASSERT_EQ(Run({"demo", "ledger", "--customers", "8", "--end", "2026-06-30"}), kExitOk) << err_;
  EXPECT_EQ(out_,
            absl::StrCat("{\"applied\":", rows,
                         ",\"duplicate\":0,\"parked\":0,\"rejected\":0,\"lines\":", rows, "}\n"));
  // The CSV holds the very same events: importing it finds only duplicates.
  ASSERT_EQ(Run({"import", csv, "--report", (dir_ / "r.jsonl").string()}), kExitOk) << err_;
  EXPECT_EQ(out_, absl::StrCat("{\"applied\":0,\"duplicate\":", rows,
                               ",\"parked\":0,\"rejected\":0,\"lines\":", rows, "}\n"));

  EXPECT_EQ(Run({"demo", "ledger", "--end", "2026-02-30"}), kExitUsage);
  EXPECT_EQ(Run({"demo", "ledger", "--months", "0"}), kExitUsage);
}

TEST_F(CreditCliTest, CustomerArgumentsTakeExternalRefs) {
  ASSERT_EQ(Run({"credit", "account", "ERP-C00001"}), kExitOk) << err_;
  EXPECT_EQ(credit_.last_customer(), kCustomerId);
  EXPECT_THAT(out_, HasSubstr("\"rating\": \"AA\""));

  ASSERT_EQ(Run({"credit", "account", kCustomerId}), kExitOk) << err_;
  EXPECT_EQ(credit_.last_customer(), kCustomerId);

  EXPECT_EQ(Run({"credit", "account", "ERP-NOPE"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_THAT(err_, HasSubstr("resolving external ref 'ERP-NOPE' at the profile service"));

  // --addr names the credit service only; the profile service stays where the env says.
  ASSERT_EQ(Run({"--addr", credit_address_, "credit", "account", "ERP-C00001"},
                {{"TIERWISE_CREDIT_ADDR", "127.0.0.1:1"}}),
            kExitOk)
      << err_;
  EXPECT_EQ(credit_.last_customer(), kCustomerId);
}

TEST_F(CreditCliTest, AmountsTermsAndDecisions) {
  ASSERT_EQ(Run({"credit", "check", "ERP-C00001", "12,000.50"}), kExitOk) << err_;
  EXPECT_EQ(credit_.last_check().customer_id(), kCustomerId);
  EXPECT_EQ(credit_.last_check().order_amount().minor_units(), 1200050);
  EXPECT_EQ(credit_.last_check().order_amount().currency(), "CNY");
  EXPECT_EQ(Run({"credit", "check", "ERP-C00001", "12.001"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("AMOUNT: '12.001' is not an amount"));

  ASSERT_EQ(Run({"credit", "terms", kCustomerId, "--limit", "500000", "--terms", "monthly+15",
                 "--reason", "annual review"}),
            kExitOk)
      << err_;
  v1::SetCreditTermsRequest terms = credit_.last_terms();
  EXPECT_EQ(terms.credit_limit().minor_units(), 50000000);
  EXPECT_EQ(terms.terms().type(), v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
  EXPECT_EQ(terms.terms().net_days(), 15);
  EXPECT_EQ(terms.reason(), "annual review");
  EXPECT_EQ(Run({"credit", "terms", kCustomerId, "--limit", "5"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--reason is required"));
  EXPECT_EQ(Run({"credit", "terms", kCustomerId, "--reason", "x"}), kExitUsage);
  EXPECT_EQ(Run({"credit", "terms", kCustomerId, "--terms", "net400", "--reason", "x"}),
            kExitUsage);

  ASSERT_EQ(Run({"credit", "decide", "app-1", "approve-with", "80,000", "--reason", "ok"}), kExitOk)
      << err_;
  EXPECT_EQ(credit_.last_decide().action(), v1::DECISION_ACTION_APPROVE_WITH_AMOUNT);
  EXPECT_EQ(credit_.last_decide().approved_limit().minor_units(), 8000000);
  ASSERT_EQ(Run({"credit", "decide", "app-1", "reject", "--reason", "no"}), kExitOk);
  EXPECT_EQ(credit_.last_decide().action(), v1::DECISION_ACTION_REJECT);
  EXPECT_EQ(Run({"credit", "decide", "app-1", "approve", "5", "--reason", "no"}), kExitUsage);
  EXPECT_EQ(Run({"credit", "decide", "app-1", "maybe", "--reason", "no"}), kExitUsage);
}

TEST_F(CreditCliTest, ApplicationsFilterAndFollowPages) {
  ASSERT_EQ(
      Run({"credit", "applications", "--customer", "ERP-C00001", "--state", "pending", "--all"}),
      kExitOk)
      << err_;
  EXPECT_EQ(credit_.last_list().customer_id(), kCustomerId);
  EXPECT_EQ(credit_.last_list().state(), v1::APPLICATION_STATE_PENDING);
  std::vector<std::string> lines = absl::StrSplit(out_, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "{\"id\":\"app-2\"}");
  EXPECT_EQ(Run({"credit", "applications", "--state", "lost"}), kExitUsage);
}

TEST_F(CreditCliTest, HelpListsTheNewCommands) {
  ASSERT_EQ(Run({"help"}), kExitOk);
  for (const char* words : {"import FILE...", "credit account CUSTOMER", "credit parked",
                            "demo ledger", "credit decide APPLICATION_ID"}) {
    EXPECT_THAT(out_, HasSubstr(words));
  }
  EXPECT_THAT(out_, Not(HasSubstr("credit frobnicate")));
}

}  // namespace
}  // namespace tierwise::cli
