// Runs whole CLI commands against an in-process fake of the profile service.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/cli/cli_test_fixture.h"
#include "services/cli/command.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

namespace tierwise::cli {
namespace {

namespace pb = ::tierwise::profile::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Keeps customers in memory; pages of 2; rejects a registration e-mail without '@' like the
// real service does.
class FakeProfileService final : public pb::CustomerProfileService::Service {
 public:
  grpc::Status CreateCustomer(grpc::ServerContext* context,
                              const pb::CreateCustomerRequest* request,
                              pb::Customer* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context);
    last_create_ = *request;
    const std::string& email = request->customer().registration().email();
    if (!email.empty() && email.find('@') == std::string::npos) {
      google::rpc::BadRequest bad_request;
      auto* violation = bad_request.add_field_violations();
      violation->set_field("customer.registration.email");
      violation->set_description("not an e-mail address");
      google::rpc::Status details;
      details.set_code(grpc::StatusCode::INVALID_ARGUMENT);
      details.set_message("invalid customer");
      details.add_details()->PackFrom(bad_request);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "invalid customer",
                          details.SerializeAsString());
    }
    for (const pb::Customer& existing : customers_) {
      if (!request->customer().external_ref().empty() &&
          existing.external_ref() == request->customer().external_ref()) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "external_ref taken");
      }
    }
    *response = request->customer();
    response->set_id(absl::StrCat("id-", customers_.size() + 1));
    for (const pb::Contact& contact : request->contacts()) *response->add_contacts() = contact;
    customers_.push_back(*response);
    return grpc::Status::OK;
  }

  grpc::Status ListCustomers(grpc::ServerContext* context, const pb::ListCustomersRequest* request,
                             pb::ListCustomersResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context);
    last_list_ = *request;
    size_t start = 0;
    if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
    }
    for (size_t i = start; i < customers_.size() && i < start + 2; ++i) {
      *response->add_customers() = customers_[i];
    }
    if (start + 2 < customers_.size()) response->set_next_page_token(absl::StrCat(start + 2));
    return grpc::Status::OK;
  }

  grpc::Status UpdateCustomer(grpc::ServerContext* context,
                              const pb::UpdateCustomerRequest* request,
                              pb::Customer* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context);
    last_update_ = *request;
    if (authorization_ == "Bearer viewer-token") {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "viewer may not update");
    }
    *response = request->customer();
    return grpc::Status::OK;
  }

  grpc::Status GetCustomerByExternalRef(grpc::ServerContext* context,
                                        const pb::GetCustomerByExternalRefRequest* request,
                                        pb::Customer* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    Record(context);
    for (const pb::Customer& customer : customers_) {
      if (customer.external_ref() == request->external_ref()) {
        *response = customer;
        if (request->view() != pb::CUSTOMER_VIEW_FULL) response->clear_registration();
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such customer");
  }

  std::string authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return customers_.size();
  }
  pb::CreateCustomerRequest last_create() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_create_;
  }
  pb::UpdateCustomerRequest last_update() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_update_;
  }
  pb::ListCustomersRequest last_list() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_list_;
  }

 private:
  void Record(grpc::ServerContext* context) {
    auto it = context->client_metadata().find("authorization");
    authorization_ = it == context->client_metadata().end()
                         ? "<none>"
                         : std::string(it->second.data(), it->second.size());
  }

  std::mutex mu_;
  std::vector<pb::Customer> customers_;
  std::string authorization_;
  pb::CreateCustomerRequest last_create_;
  pb::UpdateCustomerRequest last_update_;
  pb::ListCustomersRequest last_list_;
};

class CliRunTest : public CliFixture {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    server_ = StartFakeServer({&service_}, &address_);
    ASSERT_NE(server_, nullptr);
    WriteEnvFile("run", {{"TIERWISE_PROFILE_ADDR", address_}});
  }

  void TearDown() override {
    server_->Shutdown();
    CliFixture::TearDown();
  }

  FakeProfileService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(CliRunTest, HelpAndUsageErrors) {
  EXPECT_EQ(Run({"help"}), kExitOk);
  EXPECT_THAT(out_, HasSubstr("customer create"));
  EXPECT_THAT(out_, HasSubstr("demo load"));
  EXPECT_EQ(Run({"--help"}), kExitOk);
  EXPECT_EQ(Run({"customer", "get", "--help"}), kExitOk);
  EXPECT_THAT(out_, HasSubstr("usage: tierwise customer get ID | --external-ref REF"));
  EXPECT_EQ(Run({"help", "customer"}), kExitOk);
  EXPECT_THAT(out_, HasSubstr("customer update"));

  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_EQ(Run({"frobnicate"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_EQ(Run({"customer", "fly"}), kExitUsage);
  EXPECT_EQ(Run({"customer", "get"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("give either an ID or --external-ref"));
  EXPECT_EQ(Run({"customer", "get", "x", "--bogus"}), kExitUsage);
  EXPECT_EQ(Run({"customer", "create", "--nature", "company", "--legal-name", "x"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("unknown Nature 'company'"));
  EXPECT_EQ(Run({"customer", "update", "id-1"}), kExitUsage);
  EXPECT_EQ(Run({"customer", "list", "--env", "/nonexistent/tierwise.env"}), kExitUsage);
  EXPECT_EQ(service_.size(), 0u);
}

TEST_F(CliRunTest, CreateSendsTheFieldsAndTheRoleToken) {
  ASSERT_EQ(Run({"customer",       "create",
                 "--legal-name",   "苏州恒达精密机械有限公司",
                 "--external-ref", "ERP-1",
                 "--nature",       "enterprise",
                 "--lifecycle",    "active",
                 "--province",     "江苏",
                 "--city",         "苏州",
                 "--tag",          "a",
                 "--tag",          "b",
                 "--email",        "info@hengda.com.cn",
                 "--credit-code",  "91320505MA1XXXXX0X"}),
            kExitOk)
      << err_;
  EXPECT_EQ(service_.authorization(), "Bearer admin-token");
  pb::Customer sent = service_.last_create().customer();
  EXPECT_EQ(sent.legal_name(), "苏州恒达精密机械有限公司");
  EXPECT_EQ(sent.external_ref(), "ERP-1");
  EXPECT_EQ(sent.nature(), pb::NATURE_ENTERPRISE);
  EXPECT_EQ(sent.lifecycle_stage(), pb::LIFECYCLE_STAGE_ACTIVE);
  EXPECT_EQ(sent.region().city(), "苏州");
  EXPECT_THAT(sent.tags(), ElementsAre("a", "b"));
  EXPECT_EQ(sent.registration().email(), "info@hengda.com.cn");
  EXPECT_EQ(sent.registration().unified_credit_code(), "91320505MA1XXXXX0X");
  EXPECT_THAT(out_, HasSubstr("\"legal_name\": \"苏州恒达精密机械有限公司\""));
  EXPECT_THAT(out_, HasSubstr("\"id\": \"id-1\""));
}

TEST_F(CliRunTest, CreateFromJsonMovesContactsIntoTheRequest) {
  ASSERT_EQ(Run({"customer", "create", "--json",
                 R"({"legal_name":"杭州华盛电子有限公司","owner":"rep.chen",
                     "contacts":[{"name":"王伟","role":"DECISION_ROLE_DECISION_MAKER"}]})",
                 "--owner", "rep.zhang"}),
            kExitOk)
      << err_;
  pb::CreateCustomerRequest sent = service_.last_create();
  EXPECT_EQ(sent.customer().legal_name(), "杭州华盛电子有限公司");
  EXPECT_EQ(sent.customer().owner(), "rep.zhang");  // the option beats the JSON
  EXPECT_TRUE(sent.customer().contacts().empty());
  ASSERT_EQ(sent.contacts_size(), 1);
  EXPECT_EQ(sent.contacts(0).name(), "王伟");

  EXPECT_EQ(Run({"customer", "create", "--json", "{not json"}), kExitUsage);
  EXPECT_THAT(err_, HasSubstr("--json is not a Customer"));
}

TEST_F(CliRunTest, TokenSelection) {
  ASSERT_EQ(Run({"customer", "list", "--role", "viewer"}), kExitOk) << err_;
  EXPECT_EQ(service_.authorization(), "Bearer viewer-token");
  ASSERT_EQ(Run({"customer", "list", "--token", ""}), kExitOk) << err_;
  EXPECT_EQ(service_.authorization(), "<none>");
  ASSERT_EQ(Run({"--token=given", "customer", "list"}), kExitOk) << err_;
  EXPECT_EQ(service_.authorization(), "Bearer given");
  // The process environment beats the env file.
  ASSERT_EQ(Run({"customer", "list"}, {{"TIERWISE_ADMIN_TOKEN", "from-process"}}), kExitOk);
  EXPECT_EQ(service_.authorization(), "Bearer from-process");
}

TEST_F(CliRunTest, FailedCallPrintsJsonErrorWithFieldViolations) {
  EXPECT_EQ(Run({"customer", "create", "--legal-name", "x", "--email", "not-an-email"}),
            kExitFailed);
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_,
            "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"invalid customer\",\"details\":["
            "{\"field\":\"customer.registration.email\",\"description\":\"not an e-mail "
            "address\"}]}\n");
  EXPECT_EQ(Run({"customer", "get", "--external-ref", "nope"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("\"code\":\"NOT_FOUND\""));
}

TEST_F(CliRunTest, ListFiltersAndAllPages) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_EQ(Run({"customer", "create", "--legal-name", absl::StrCat("c", i)}), kExitOk);
  }
  ASSERT_EQ(Run({"customer", "list", "--province", "江苏", "--lifecycle", "dormant", "--nature",
                 "government", "--page-size", "7", "--name-prefix", "苏州", "--tag", "export"}),
            kExitOk)
      << err_;
  pb::ListCustomersRequest sent = service_.last_list();
  EXPECT_EQ(sent.province(), "江苏");
  EXPECT_EQ(sent.lifecycle_stage(), pb::LIFECYCLE_STAGE_DORMANT);
  EXPECT_EQ(sent.nature(), pb::NATURE_GOVERNMENT);
  EXPECT_EQ(sent.page_size(), 7);
  EXPECT_EQ(sent.name_prefix(), "苏州");
  EXPECT_EQ(sent.tag(), "export");
  EXPECT_THAT(out_, HasSubstr("\"next_page_token\": \"2\""));

  ASSERT_EQ(Run({"customer", "list", "--all"}), kExitOk) << err_;
  std::vector<std::string> lines = OutLines();
  ASSERT_EQ(lines.size(), 5u) << out_;
  EXPECT_THAT(lines[0], HasSubstr("\"legal_name\":\"c1\""));
  EXPECT_THAT(lines[4], HasSubstr("\"legal_name\":\"c5\""));
}

TEST_F(CliRunTest, UpdateBuildsTheMaskFromSetPaths) {
  ASSERT_EQ(Run({"customer", "update", "id-9", "--set", "region.city=杭州", "--set",
                 "tags=key-account,export", "--set", "lifecycle_stage=dormant", "--set",
                 "nature=government", "--set", "short_name=", "--etag", "e1"}),
            kExitOk)
      << err_;
  pb::UpdateCustomerRequest sent = service_.last_update();
  EXPECT_EQ(sent.customer().id(), "id-9");
  EXPECT_EQ(sent.customer().region().city(), "杭州");
  EXPECT_THAT(sent.customer().tags(), ElementsAre("key-account", "export"));
  EXPECT_EQ(sent.customer().lifecycle_stage(), pb::LIFECYCLE_STAGE_DORMANT);
  EXPECT_EQ(sent.customer().nature(), pb::NATURE_GOVERNMENT);
  EXPECT_THAT(sent.update_mask().paths(),
              ElementsAre("region.city", "tags", "lifecycle_stage", "nature", "short_name"));
  EXPECT_EQ(sent.etag(), "e1");

  ASSERT_EQ(
      Run({"customer", "update", "id-9", "--json", R"({"owner":"rep.chen"})", "--mask", "owner"}),
      kExitOk)
      << err_;
  sent = service_.last_update();
  EXPECT_EQ(sent.customer().owner(), "rep.chen");
  EXPECT_THAT(sent.update_mask().paths(), ElementsAre("owner"));

  EXPECT_EQ(Run({"customer", "update", "id-9", "--set", "nope=1"}), kExitUsage);
  EXPECT_EQ(Run({"customer", "update", "id-9", "--set", "owner=x", "--role", "viewer"}),
            kExitFailed);
  EXPECT_THAT(err_, HasSubstr("PERMISSION_DENIED"));
}

TEST_F(CliRunTest, DemoLoadIsRepeatable) {
  ASSERT_EQ(Run({"demo", "load", "--count", "6", "--seed", "7"}), kExitOk) << err_;
  EXPECT_EQ(out_, "{\"created\":6,\"existing\":0,\"failed\":0}\n");
  EXPECT_EQ(service_.size(), 6u);
  EXPECT_FALSE(service_.last_create().contacts().empty());
  ASSERT_EQ(Run({"demo", "load", "--count", "8", "--seed", "7"}), kExitOk) << err_;
  EXPECT_EQ(out_, "{\"created\":2,\"existing\":6,\"failed\":0}\n");
  EXPECT_EQ(Run({"demo", "load", "--count", "-1"}), kExitUsage);

  ASSERT_EQ(Run({"demo", "show", "--count", "3"}), kExitOk);
  EXPECT_EQ(OutLines().size(), 3u);
}

TEST_F(CliRunTest, Health) {
  ASSERT_EQ(Run({"health"}), kExitOk) << err_;
  EXPECT_THAT(out_, HasSubstr("\"status\": \"SERVING\""));
  server_->GetHealthCheckService()->SetServingStatus("tierwise.profile.v1.CustomerProfileService",
                                                     false);
  EXPECT_EQ(Run({"health", "--service", "tierwise.profile.v1.CustomerProfileService"}),
            kExitFailed);
  EXPECT_THAT(out_, HasSubstr("NOT_SERVING"));
  EXPECT_EQ(Run({"health", "--service", "unknown.Service"}), kExitFailed);
  EXPECT_THAT(err_, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_EQ(Run({"health", "nosuchservice"}), kExitUsage);
}

TEST_F(CliRunTest, UnreachableServerIsUnavailable) {
  // A port nothing listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  EXPECT_EQ(Run({"health", "--addr", absl::StrCat("127.0.0.1:", port), "--timeout", "3"}),
            kExitFailed);
  EXPECT_THAT(err_, HasSubstr("{\"code\":\"UNAVAILABLE\""));
  EXPECT_EQ(out_, "");
}

}  // namespace
}  // namespace tierwise::cli
