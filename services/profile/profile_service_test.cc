// The profile service in-process on a free port, against the real PostgreSQL and Redis of
// ./tests/run.sh, called over gRPC as any client would.
#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "common/client/channel.h"
#include "common/outbox/outbox.h"
#include "common/postgres/audit.h"
#include "common/postgres/migrations.h"
#include "common/server/server_runner.h"
#include "common/status/status.h"
#include "common/testing/service_harness.h"
#include "common/testing/test_env.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/profile/profile_server.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::profile {
namespace {

using v1::CustomerProfileService;

constexpr char kAdmin[] = "admin-token-0001";
constexpr char kManager[] = "manager-token-01";
constexpr char kRepZhang[] = "rep-zhang-token1";
constexpr char kRepChen[] = "rep-chen-token01";
constexpr char kViewer[] = "viewer-token-001";
constexpr char kFinance[] = "finance-token-01";
constexpr char kErp[] = "erp-adapter-tok1";

std::vector<postgres::Migration> AllMigrations() {
  std::vector<postgres::Migration> m = Migrations();
  m.push_back(outbox::TableMigration());
  m.push_back(postgres::AuditMigration());
  return m;
}

class ProfileServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(postgres::ApplyMigrations(schema_.pool(), AllMigrations()).ok());
    config_.redis_prefix = tierwise::testing::UniqueName("tw");
    auto tokens = auth::TokenStore::FromText(
        absl::StrCat("admin admin ", kAdmin, "\nmanager.li manager ", kManager,
                     "\nrep.zhang sales_rep ", kRepZhang, "\nrep.chen sales_rep ", kRepChen,
                     "\nviewer viewer ", kViewer, "\nfinance.wang finance ", kFinance,
                     "\nerp.adapter erp_adapter ", kErp, "\n"),
        "");
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    deps_ = std::make_unique<server::ServiceDeps>(
        server::ServiceDeps{config_, schema_.pool(), *redis_, relay_, *tokens});
    profile_ = std::make_unique<ProfileServer>(*deps_, [] {
      return std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    });
    host_ = std::make_unique<server::ServiceHost>(server::ServerOptions{
        .listen = "127.0.0.1:0", .health_interval = std::chrono::milliseconds(100)});
    host_->AddService(&profile_->service, CustomerProfileService::service_full_name());
    host_->SetReadinessProbe(
        [this] { return probe_ok_ ? schema_.pool().Ping() : absl::UnavailableError("db down"); });
    ASSERT_TRUE(host_->Start().ok());
    channel_ = client::MakeChannel({.address = absl::StrCat("127.0.0.1:", host_->port())});
    stub_ = CustomerProfileService::NewStub(channel_);
  }

  void TearDown() override {
    if (host_) host_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    client::Authorize(*ctx, token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  v1::CreateCustomerRequest NewCustomer(const std::string& name, const std::string& ref = "") {
    v1::CreateCustomerRequest req;
    v1::Customer* c = req.mutable_customer();
    c->set_legal_name(name);
    c->set_external_ref(ref);
    c->set_nature(v1::NATURE_ENTERPRISE);
    c->set_industry("machinery");
    c->mutable_region()->set_province("江苏");
    c->mutable_region()->set_city("苏州");
    c->set_owner("rep.zhang");
    c->add_tags("key-account");
    return req;
  }

  v1::Customer Create(const v1::CreateCustomerRequest& req, const std::string& token = kAdmin) {
    v1::Customer out;
    grpc::Status s = stub_->CreateCustomer(Ctx(token).get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  int64_t CountRows(const std::string& table) {
    return *schema_.pool().Transact<int64_t>([&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
      return tx.exec("SELECT count(*) FROM " + tx.quote_name(table))[0][0].as<int64_t>();
    });
  }

  std::vector<events::v1::CustomerChanged> PublishedEvents() {
    while (true) {
      auto n = relay_.PublishOnce();
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) break;
    }
    auto entries = redis_->XRange(CustomerChangedStream(config_.redis_prefix));
    EXPECT_TRUE(entries.ok());
    std::vector<events::v1::CustomerChanged> out;
    for (const auto& e : *entries) {
      EXPECT_EQ(e.Field("type"), "tierwise.events.v1.CustomerChanged");
      events::v1::CustomerChanged event;
      EXPECT_TRUE(event.ParseFromString(e.Field("payload")));
      EXPECT_EQ(e.Field("event_id"), event.event_id());
      out.push_back(event);
    }
    return out;
  }

  tierwise::testing::TestSchema schema_{"profile"};
  std::unique_ptr<redis::RedisClient> redis_ = tierwise::testing::NewRedisClient();
  outbox::Relay relay_{schema_.pool(), *redis_};
  config::ServiceConfig config_;
  std::unique_ptr<server::ServiceDeps> deps_;
  std::unique_ptr<ProfileServer> profile_;
  std::unique_ptr<server::ServiceHost> host_;
  std::atomic<bool> probe_ok_{true};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<CustomerProfileService::Stub> stub_;
};

std::vector<std::string> ViolatedFields(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : status::FieldViolations(status::FromGrpcStatus(s))) out.push_back(v.field);
  return out;
}

TEST_F(ProfileServiceTest, CreateGetUpdateRoundTrip) {
  v1::CreateCustomerRequest req = NewCustomer("苏州恒达精密机械有限公司", "ERP-C00001");
  req.mutable_customer()->mutable_registration()->set_unified_credit_code("91350100M000100Y43");
  req.mutable_customer()->mutable_registration()->set_bank_account("6222020200112233445");
  req.mutable_customer()->mutable_first_transaction_date()->set_year(2021);
  req.mutable_customer()->mutable_first_transaction_date()->set_month(3);
  req.mutable_customer()->mutable_first_transaction_date()->set_day(9);
  v1::Contact* contact = req.add_contacts();
  contact->set_name("李娜");
  contact->set_role(v1::DECISION_ROLE_DECISION_MAKER);
  contact->set_key_man(true);
  contact->set_phone("13800138000");
  const v1::Customer created = Create(req);
  EXPECT_EQ(created.etag(), "v1");
  EXPECT_EQ(created.state(), v1::CUSTOMER_STATE_ACTIVE);
  EXPECT_EQ(created.lifecycle_stage(), v1::LIFECYCLE_STAGE_PROSPECT);
  EXPECT_EQ(created.created_by(), "admin");

  v1::GetCustomerRequest get;
  get.set_id(created.id());
  get.set_view(v1::CUSTOMER_VIEW_FULL);
  v1::Customer full;
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &full).ok());
  EXPECT_EQ(full.legal_name(), "苏州恒达精密机械有限公司");
  EXPECT_EQ(full.registration().bank_account(), "6222020200112233445");
  EXPECT_EQ(full.first_transaction_date().year(), 2021);
  ASSERT_EQ(full.contacts_size(), 1);
  EXPECT_EQ(full.contacts(0).phone(), "13800138000");
  EXPECT_TRUE(full.contacts(0).key_man());

  v1::GetCustomerByExternalRefRequest by_ref;
  by_ref.set_external_ref("ERP-C00001");
  v1::Customer basic;
  ASSERT_TRUE(stub_->GetCustomerByExternalRef(Ctx(kViewer).get(), by_ref, &basic).ok());
  EXPECT_EQ(basic.id(), created.id());
  EXPECT_EQ(basic.registration().bank_account(), "") << "BASIC view hides bank data";
  EXPECT_EQ(basic.contacts(0).phone(), "");

  v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_id(created.id());
  update.mutable_customer()->mutable_region()->set_city("无锡");
  update.mutable_customer()->set_lifecycle_stage(v1::LIFECYCLE_STAGE_ACTIVE);
  update.mutable_customer()->set_legal_name("ignored: not in the mask");
  update.mutable_update_mask()->add_paths("region.city");
  update.mutable_update_mask()->add_paths("lifecycle_stage");
  update.set_etag("v1");
  v1::Customer updated;
  ASSERT_TRUE(stub_->UpdateCustomer(Ctx(kRepZhang).get(), update, &updated).ok());
  EXPECT_EQ(updated.etag(), "v2");
  EXPECT_EQ(updated.region().city(), "无锡");
  EXPECT_EQ(updated.region().province(), "江苏");
  EXPECT_EQ(updated.legal_name(), "苏州恒达精密机械有限公司");
  EXPECT_EQ(updated.updated_by(), "rep.zhang");

  v1::Customer reread;
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &reread).ok());
  EXPECT_EQ(reread.region().city(), "无锡");
  EXPECT_EQ(reread.lifecycle_stage(), v1::LIFECYCLE_STAGE_ACTIVE);
  EXPECT_EQ(reread.etag(), "v2");

  v1::GetCustomerRequest missing;
  missing.set_id("00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(stub_->GetCustomer(Ctx(kAdmin).get(), missing, &reread).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ProfileServiceTest, DuplicateExternalRefIsAlreadyExistsAndWritesNothing) {
  Create(NewCustomer("甲公司", "ERP-DUP"));
  v1::Customer out;
  grpc::Status s = stub_->CreateCustomer(Ctx(kAdmin).get(), NewCustomer("乙公司", "ERP-DUP"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(s.error_message().find("external_ref"), std::string::npos);
  EXPECT_EQ(CountRows("customers"), 1);
  EXPECT_EQ(PublishedEvents().size(), 1u);
}

TEST_F(ProfileServiceTest, InvalidInputNamesTheFieldAndWritesNothing) {
  v1::CreateCustomerRequest req = NewCustomer("");
  req.mutable_customer()->mutable_registration()->set_email("not-an-email");
  req.mutable_customer()->mutable_registration()->set_unified_credit_code("91350100M000100Y44");
  req.add_contacts()->set_phone("12");
  v1::Customer out;
  grpc::Status s = stub_->CreateCustomer(Ctx(kAdmin).get(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("customer.legal_name: is required", 0), 0u)
      << s.error_message();
  EXPECT_EQ(ViolatedFields(s),
            (std::vector<std::string>{
                "customer.legal_name", "customer.registration.unified_credit_code",
                "customer.registration.email", "contacts[0].name", "contacts[0].phone"}));

  v1::CreateCustomerRequest bad_enum = NewCustomer("丙公司");
  bad_enum.mutable_customer()->set_nature(static_cast<v1::Nature>(77));
  s = stub_->CreateCustomer(Ctx(kAdmin).get(), bad_enum, &out);
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"customer.nature"});

  for (const char* table : {"customers", "contacts", "audit_log", "outbox"}) {
    EXPECT_EQ(CountRows(table), 0) << table;
  }

  // A bad update leaves the stored customer as it was.
  const v1::Customer c = Create(NewCustomer("丁公司"));
  v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_id(c.id());
  update.mutable_customer()->mutable_registration()->set_phone("call me");
  update.mutable_update_mask()->add_paths("registration.phone");
  s = stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out);
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"customer.registration.phone"});
  update.mutable_update_mask()->set_paths(0, "etag");
  s = stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out);
  EXPECT_EQ(ViolatedFields(s), std::vector<std::string>{"update_mask"});
  v1::GetCustomerRequest get;
  get.set_id(c.id());
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &out).ok());
  EXPECT_EQ(out.etag(), "v1");
  EXPECT_EQ(CountRows("audit_log"), 1);

  get.set_id("not-a-uuid");
  EXPECT_EQ(ViolatedFields(stub_->GetCustomer(Ctx(kAdmin).get(), get, &out)),
            std::vector<std::string>{"id"});
}

TEST_F(ProfileServiceTest, EtagRaceHasExactlyOneWinner) {
  const v1::Customer c = Create(NewCustomer("戊公司"));
  constexpr int kWriters = 8;
  std::vector<grpc::Status> results(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      v1::UpdateCustomerRequest update;
      update.mutable_customer()->set_id(c.id());
      update.mutable_customer()->set_short_name(absl::StrCat("writer-", i));
      update.mutable_update_mask()->add_paths("short_name");
      update.set_etag(c.etag());
      v1::Customer out;
      results[i] = stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out);
    });
  }
  for (auto& w : writers) w.join();
  int ok = 0;
  for (const auto& r : results) {
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.error_code(), grpc::StatusCode::ABORTED) << r.error_message();
    }
  }
  EXPECT_EQ(ok, 1);
  v1::GetCustomerRequest get;
  get.set_id(c.id());
  v1::Customer out;
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &out).ok());
  EXPECT_EQ(out.etag(), "v2");
  EXPECT_EQ(PublishedEvents().size(), 2u) << "one create, one winning update";
}

TEST_F(ProfileServiceTest, ListPagesCoverEveryCustomerOnceInStableOrder) {
  const std::vector<std::string> provinces = {"江苏", "浙江", "广东"};
  std::set<std::string> jiangsu_ids;
  for (int i = 0; i < 37; ++i) {
    // Shared names make the id the tie-breaker for part of the order.
    v1::CreateCustomerRequest req = NewCustomer(absl::StrCat("公司-", i % 9));
    req.mutable_customer()->mutable_region()->set_province(provinces[i % 3]);
    if (i % 4 == 0) req.mutable_customer()->add_tags("export");
    const v1::Customer c = Create(req);
    if (i % 3 == 0) jiangsu_ids.insert(c.id());
  }
  auto collect = [&](v1::ListCustomersRequest req) {
    std::vector<v1::Customer> all;
    for (int pages = 0; pages < 100; ++pages) {
      v1::ListCustomersResponse resp;
      grpc::Status s = stub_->ListCustomers(Ctx(kViewer).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_LE(resp.customers_size(), req.page_size());
      for (const auto& c : resp.customers()) all.push_back(c);
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return all;
  };
  v1::ListCustomersRequest req;
  req.set_page_size(5);
  std::vector<v1::Customer> all = collect(req);
  ASSERT_EQ(all.size(), 37u);
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    ids.insert(all[i].id());
    if (i > 0) {
      EXPECT_LE(std::make_pair(all[i - 1].legal_name(), all[i - 1].id()),
                std::make_pair(all[i].legal_name(), all[i].id()));
    }
  }
  EXPECT_EQ(ids.size(), 37u) << "no duplicates";

  v1::ListCustomersRequest filtered;
  filtered.set_page_size(4);
  filtered.set_province("江苏");
  std::set<std::string> got;
  for (const auto& c : collect(filtered)) got.insert(c.id());
  EXPECT_EQ(got, jiangsu_ids);

  v1::ListCustomersRequest tagged;
  tagged.set_page_size(100);
  tagged.set_tag("export");
  EXPECT_EQ(collect(tagged).size(), 10u);

  v1::ListCustomersRequest prefix;
  prefix.set_page_size(100);
  prefix.set_name_prefix("公司-1");
  for (const auto& c : collect(prefix)) EXPECT_EQ(c.legal_name(), "公司-1");
  EXPECT_EQ(collect(prefix).size(), 4u);  // i = 1, 10, 19, 28

  // A token is bound to its filter.
  v1::ListCustomersResponse first;
  ASSERT_TRUE(stub_->ListCustomers(Ctx(kViewer).get(), req, &first).ok());
  filtered.set_page_token(first.next_page_token());
  v1::ListCustomersResponse resp;
  EXPECT_EQ(ViolatedFields(stub_->ListCustomers(Ctx(kViewer).get(), filtered, &resp)),
            std::vector<std::string>{"page_token"});
}

TEST_F(ProfileServiceTest, SoftDeleteHidesFromListsButKeepsTheRecord) {
  const v1::Customer keep = Create(NewCustomer("保留公司"));
  const v1::Customer gone = Create(NewCustomer("删除公司"));
  v1::DeleteCustomerRequest del;
  del.set_id(gone.id());
  v1::Customer out;
  EXPECT_EQ(stub_->DeleteCustomer(Ctx(kRepZhang).get(), del, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->DeleteCustomer(Ctx(kManager).get(), del, &out).ok());
  EXPECT_EQ(out.state(), v1::CUSTOMER_STATE_DELETED);
  v1::ListCustomersRequest list;
  v1::ListCustomersResponse resp;
  ASSERT_TRUE(stub_->ListCustomers(Ctx(kViewer).get(), list, &resp).ok());
  ASSERT_EQ(resp.customers_size(), 1);
  EXPECT_EQ(resp.customers(0).id(), keep.id());
  list.set_show_deleted(true);
  ASSERT_TRUE(stub_->ListCustomers(Ctx(kViewer).get(), list, &resp).ok());
  EXPECT_EQ(resp.customers_size(), 2);
  v1::GetCustomerRequest get;
  get.set_id(gone.id());
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kViewer).get(), get, &out).ok());
  EXPECT_EQ(out.legal_name(), "删除公司");
  EXPECT_TRUE(out.has_delete_time());
}

TEST_F(ProfileServiceTest, EraseLeavesNoPersonalDataInAnyTable) {
  const std::string marker = "ZQXMARKER";
  v1::CreateCustomerRequest req = NewCustomer(marker + "-个体户", "ERP-ERASE-1");
  req.mutable_customer()->set_nature(v1::NATURE_INDIVIDUAL);
  req.mutable_customer()->set_short_name(marker + "-short");
  req.mutable_customer()->add_aliases(marker + "-alias");
  req.mutable_customer()->set_potential_notes(marker + " plans to expand");
  auto* reg = req.mutable_customer()->mutable_registration();
  reg->set_legal_representative(marker + "-rep");
  reg->set_bank_account(marker + "-acct");
  reg->set_email("zqxmarker@example.com");
  reg->set_address(marker + " 路 1 号");
  v1::Contact* contact = req.add_contacts();
  contact->set_name(marker + "-contact");
  contact->set_email("zqxmarker.contact@example.com");
  contact->set_phone("13912345678");
  const v1::Customer c = Create(req);
  // Activity that leaves rows behind: an update, a contact, a sensitive read.
  v1::AddContactRequest add;
  add.set_customer_id(c.id());
  add.mutable_contact()->set_name(marker + "-second");
  v1::Customer out;
  ASSERT_TRUE(stub_->AddContact(Ctx(kAdmin).get(), add, &out).ok());
  v1::GetCustomerRequest get;
  get.set_id(c.id());
  get.set_view(v1::CUSTOMER_VIEW_FULL);
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &out).ok());

  v1::EraseCustomerRequest erase;
  erase.set_id(c.id());
  EXPECT_EQ(ViolatedFields(stub_->EraseCustomer(Ctx(kAdmin).get(), erase, &out)),
            std::vector<std::string>{"reason"});
  erase.set_reason("data subject request #42");
  EXPECT_EQ(stub_->EraseCustomer(Ctx(kManager).get(), erase, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->EraseCustomer(Ctx(kAdmin).get(), erase, &out).ok());
  EXPECT_EQ(out.state(), v1::CUSTOMER_STATE_ERASED);
  EXPECT_EQ(out.erased_by(), "admin");
  EXPECT_TRUE(out.has_erase_time());
  PublishedEvents();

  // Every row of every table in the schema, as text.
  auto dump =
      schema_.pool().Transact<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
        std::string all;
        for (const auto& t : tx.exec_params(
                 "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
                 schema_.name())) {
          for (const auto& row :
               tx.exec("SELECT t::text, encode(convert_to(t::text, 'UTF8'), 'escape') FROM " +
                       tx.quote_name(t[0].as<std::string>()) + " t")) {
            all += row[0].as<std::string>();
            all += "\n";
          }
        }
        // Outbox payloads are bytes: search them raw too.
        for (const auto& row : tx.exec("SELECT payload FROM outbox")) {
          all += pqxx::binarystring(row[0]).str();
        }
        return all;
      });
  ASSERT_TRUE(dump.ok()) << dump.status();
  EXPECT_EQ(dump->find(marker), std::string::npos);
  EXPECT_EQ(absl::AsciiStrToLower(*dump).find("zqxmarker"), std::string::npos);
  EXPECT_EQ(dump->find("13912345678"), std::string::npos);
  EXPECT_EQ(CountRows("contacts"), 0);
  // Nor in what reached Redis.
  auto entries = redis_->XRange(CustomerChangedStream(config_.redis_prefix));
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) EXPECT_EQ(e.Field("payload").find(marker), std::string::npos);

  // The tombstone says who erased it, and when; it cannot be changed any more.
  get.set_view(v1::CUSTOMER_VIEW_BASIC);
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &out).ok());
  EXPECT_EQ(out.state(), v1::CUSTOMER_STATE_ERASED);
  EXPECT_EQ(out.external_ref(), "ERP-ERASE-1");
  EXPECT_EQ(out.erased_by(), "admin");
  EXPECT_EQ(out.legal_name(), "");
  v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_id(c.id());
  update.mutable_customer()->set_legal_name("back");
  update.mutable_update_mask()->add_paths("legal_name");
  EXPECT_EQ(stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ProfileServiceTest, EachChangeReachesTheStreamExactlyOnce) {
  const v1::Customer c = Create(NewCustomer("己公司", "ERP-EV-1"));
  v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_id(c.id());
  update.mutable_customer()->set_industry("electronics");
  update.mutable_update_mask()->add_paths("industry");
  v1::Customer out;
  ASSERT_TRUE(stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out).ok());
  // The same update again changes nothing, so it announces nothing.
  ASSERT_TRUE(stub_->UpdateCustomer(Ctx(kAdmin).get(), update, &out).ok());
  EXPECT_EQ(out.etag(), "v2");
  v1::AddContactRequest add;
  add.set_customer_id(c.id());
  add.mutable_contact()->set_name("周强");
  ASSERT_TRUE(stub_->AddContact(Ctx(kAdmin).get(), add, &out).ok());
  v1::DeleteCustomerRequest del;
  del.set_id(c.id());
  ASSERT_TRUE(stub_->DeleteCustomer(Ctx(kAdmin).get(), del, &out).ok());
  ASSERT_TRUE(stub_->DeleteCustomer(Ctx(kAdmin).get(), del, &out).ok());  // idempotent

  std::vector<events::v1::CustomerChanged> events = PublishedEvents();
  // Relaying again (e.g. another replica's relay) adds nothing.
  EXPECT_EQ(*relay_.PublishOnce(), 0);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].change_type(), events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
  EXPECT_EQ(events[1].change_type(), events::v1::CUSTOMER_CHANGE_TYPE_UPDATED);
  EXPECT_EQ(events[1].industry(), "electronics");
  EXPECT_EQ(events[1].changed_fields(0), "industry");
  EXPECT_EQ(events[2].change_type(), events::v1::CUSTOMER_CHANGE_TYPE_CONTACTS_CHANGED);
  EXPECT_EQ(events[3].change_type(), events::v1::CUSTOMER_CHANGE_TYPE_DELETED);
  std::set<std::string> event_ids;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(events[i].customer_id(), c.id());
    EXPECT_EQ(events[i].external_ref(), "ERP-EV-1");
    EXPECT_EQ(events[i].version(), i + 1);
    event_ids.insert(events[i].event_id());
  }
  EXPECT_EQ(event_ids.size(), 4u);
}

TEST_F(ProfileServiceTest, AuthenticationAndRoles) {
  v1::Customer out;
  grpc::ClientContext no_token;
  EXPECT_EQ(stub_->CreateCustomer(&no_token, NewCustomer("x"), &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      stub_->CreateCustomer(Ctx("wrong-token-123").get(), NewCustomer("x"), &out).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->CreateCustomer(Ctx(kViewer).get(), NewCustomer("x"), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const v1::Customer zhangs = Create(NewCustomer("张的客户"));
  v1::UpdateCustomerRequest update;
  update.mutable_customer()->set_id(zhangs.id());
  update.mutable_customer()->set_short_name("新简称");
  update.mutable_update_mask()->add_paths("short_name");
  EXPECT_EQ(stub_->UpdateCustomer(Ctx(kViewer).get(), update, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->UpdateCustomer(Ctx(kRepChen).get(), update, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED)
      << "a rep changes only their own customers";
  EXPECT_TRUE(stub_->UpdateCustomer(Ctx(kRepZhang).get(), update, &out).ok());
  update.mutable_customer()->set_owner("rep.chen");
  update.mutable_update_mask()->set_paths(0, "owner");
  EXPECT_EQ(stub_->UpdateCustomer(Ctx(kRepZhang).get(), update, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED)
      << "reassignment is for managers";
  EXPECT_TRUE(stub_->UpdateCustomer(Ctx(kManager).get(), update, &out).ok());

  // A rep's new customer is theirs; FULL view only for its owner and the back office.
  v1::CreateCustomerRequest chens = NewCustomer("陈的客户");
  chens.mutable_customer()->clear_owner();
  const v1::Customer created = Create(chens, kRepChen);
  EXPECT_EQ(created.owner(), "rep.chen");
  v1::GetCustomerRequest get;
  get.set_id(created.id());
  get.set_view(v1::CUSTOMER_VIEW_FULL);
  EXPECT_TRUE(stub_->GetCustomer(Ctx(kRepChen).get(), get, &out).ok());
  EXPECT_TRUE(stub_->GetCustomer(Ctx(kFinance).get(), get, &out).ok());
  EXPECT_EQ(stub_->GetCustomer(Ctx(kRepZhang).get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->GetCustomer(Ctx(kViewer).get(), get, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::ListCustomerAuditRequest audit;
  audit.set_customer_id(created.id());
  v1::ListCustomerAuditResponse audit_out;
  EXPECT_EQ(stub_->ListCustomerAudit(Ctx(kRepChen).get(), audit, &audit_out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ProfileServiceTest, OwnerAndExternalRefChangeOnlyForTheRolesThatMay) {
  const v1::Customer c = Create(NewCustomer("乙的客户", "ERP-OWN-1"));  // owner rep.zhang
  auto update_as = [&](const std::string& token, const std::string& path,
                       const v1::Customer& values, v1::Customer* out) {
    v1::UpdateCustomerRequest update;
    *update.mutable_customer() = values;
    update.mutable_customer()->set_id(c.id());
    update.mutable_update_mask()->add_paths(path);
    return stub_->UpdateCustomer(Ctx(token).get(), update, out);
  };
  v1::Customer out;
  v1::Customer reassign;
  reassign.set_owner("rep.chen");
  for (const char* token : {kRepZhang, kErp}) {
    const grpc::Status s = update_as(token, "owner", reassign, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << token;
    EXPECT_EQ(s.error_message().rfind("customer.owner: ", 0), 0u) << s.error_message();
  }
  // Naming the field with the value it has is no change.
  v1::Customer same_owner;
  same_owner.set_owner("rep.zhang");
  EXPECT_TRUE(update_as(kErp, "owner", same_owner, &out).ok());
  EXPECT_EQ(out.etag(), "v1");
  ASSERT_TRUE(update_as(kManager, "owner", reassign, &out).ok());
  EXPECT_EQ(out.owner(), "rep.chen");

  v1::Customer recode;
  recode.set_external_ref("ERP-OWN-2");
  {
    const grpc::Status s = update_as(kRepChen, "external_ref", recode, &out);  // the owner now
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message().rfind("customer.external_ref: ", 0), 0u) << s.error_message();
  }
  ASSERT_TRUE(update_as(kErp, "external_ref", recode, &out).ok());
  EXPECT_EQ(out.external_ref(), "ERP-OWN-2");
  recode.set_external_ref("ERP-OWN-3");
  ASSERT_TRUE(update_as(kManager, "external_ref", recode, &out).ok());
  recode.set_external_ref("ERP-OWN-4");
  ASSERT_TRUE(update_as(kAdmin, "external_ref", recode, &out).ok());
  EXPECT_EQ(out.etag(), "v5");

  // Creation: a rep sets no ERP code, the ERP assigns no owner.
  const int64_t customers = CountRows("customers");
  v1::CreateCustomerRequest by_rep = NewCustomer("丙的客户", "ERP-OWN-5");
  grpc::Status s = stub_->CreateCustomer(Ctx(kRepZhang).get(), by_rep, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message().rfind("customer.external_ref: ", 0), 0u) << s.error_message();
  v1::CreateCustomerRequest by_erp = NewCustomer("丁的客户", "ERP-OWN-6");  // owner rep.zhang
  s = stub_->CreateCustomer(Ctx(kErp).get(), by_erp, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message().rfind("customer.owner: ", 0), 0u) << s.error_message();
  EXPECT_EQ(CountRows("customers"), customers) << "a refused create writes nothing";
  by_erp.mutable_customer()->clear_owner();
  EXPECT_EQ(Create(by_erp, kErp).external_ref(), "ERP-OWN-6");
  by_rep.mutable_customer()->clear_external_ref();
  EXPECT_EQ(Create(by_rep, kRepZhang).owner(), "rep.zhang");
}

TEST_F(ProfileServiceTest, EveryMethodRejectsCallsWithoutToken) {
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      CustomerProfileService::service_full_name());
  ASSERT_NE(service, nullptr);
  ASSERT_EQ(service->method_count(), 11);
  const auth::RoleTable table = ProfileRoleTable();
  for (int i = 0; i < service->method_count(); ++i) {
    EXPECT_TRUE(table.contains(service->method(i)->name()))
        << service->method(i)->name() << " has no role entry";
  }
  EXPECT_EQ(testing::MethodsOpenWithoutToken(channel_, CustomerProfileService::service_full_name()),
            std::vector<std::string>());
}

TEST_F(ProfileServiceTest, ContactsAndAuditTrail) {
  v1::Customer c = Create(NewCustomer("庚公司"), kRepZhang);
  v1::AddContactRequest add;
  add.set_customer_id(c.id());
  add.mutable_contact()->set_name("赵敏");
  add.mutable_contact()->set_role(v1::DECISION_ROLE_INFLUENCER);
  v1::Customer out;
  ASSERT_TRUE(stub_->AddContact(Ctx(kRepZhang).get(), add, &out).ok());
  ASSERT_EQ(out.contacts_size(), 1);
  const std::string contact_id = out.contacts(0).id();

  v1::UpdateContactRequest upd;
  upd.set_customer_id(c.id());
  upd.mutable_contact()->set_id(contact_id);
  upd.mutable_contact()->set_title("技术总监");
  upd.mutable_contact()->set_email("zhao@@x");
  upd.mutable_update_mask()->add_paths("title");
  upd.mutable_update_mask()->add_paths("email");
  EXPECT_EQ(ViolatedFields(stub_->UpdateContact(Ctx(kRepZhang).get(), upd, &out)),
            std::vector<std::string>{"contact.email"});
  upd.mutable_update_mask()->mutable_paths()->RemoveLast();
  ASSERT_TRUE(stub_->UpdateContact(Ctx(kRepZhang).get(), upd, &out).ok());
  EXPECT_EQ(out.contacts(0).title(), "技术总监");
  EXPECT_EQ(out.contacts(0).role(), v1::DECISION_ROLE_INFLUENCER);

  v1::GetCustomerRequest get;
  get.set_id(c.id());
  get.set_view(v1::CUSTOMER_VIEW_FULL);
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kFinance).get(), get, &out).ok());

  v1::RemoveContactRequest rm;
  rm.set_customer_id(c.id());
  rm.set_contact_id(contact_id);
  ASSERT_TRUE(stub_->RemoveContact(Ctx(kRepZhang).get(), rm, &out).ok());
  EXPECT_EQ(out.contacts_size(), 0);
  EXPECT_EQ(stub_->RemoveContact(Ctx(kRepZhang).get(), rm, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::ListCustomerAuditRequest audit;
  audit.set_customer_id(c.id());
  audit.set_page_size(2);
  std::vector<v1::AuditEntry> entries;
  for (int pages = 0; pages < 10; ++pages) {
    v1::ListCustomerAuditResponse resp;
    ASSERT_TRUE(stub_->ListCustomerAudit(Ctx(kManager).get(), audit, &resp).ok());
    for (const auto& e : resp.entries()) entries.push_back(e);
    if (resp.next_page_token().empty()) break;
    audit.set_page_token(resp.next_page_token());
  }
  ASSERT_EQ(entries.size(), 5u);  // newest first
  EXPECT_EQ(entries[0].action(), v1::AUDIT_ACTION_REMOVE_CONTACT);
  EXPECT_EQ(entries[1].action(), v1::AUDIT_ACTION_READ_SENSITIVE);
  EXPECT_EQ(entries[1].actor(), "finance.wang");
  EXPECT_EQ(entries[1].actor_role(), "finance");
  EXPECT_EQ(entries[2].action(), v1::AUDIT_ACTION_UPDATE_CONTACT);
  EXPECT_EQ(entries[2].fields(0), "contacts.title");
  EXPECT_EQ(entries[3].action(), v1::AUDIT_ACTION_ADD_CONTACT);
  EXPECT_EQ(entries[4].action(), v1::AUDIT_ACTION_CREATE);
  EXPECT_EQ(entries[4].actor(), "rep.zhang");
  EXPECT_FALSE(entries[4].request_id().empty());
}

TEST_F(ProfileServiceTest, HealthFollowsTheDatabase) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  auto check = [&](const std::string& service) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(health->Check(&ctx, req, &resp).ok());
    return resp.status();
  };
  EXPECT_EQ(check(""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(check(CustomerProfileService::service_full_name()),
            grpc::health::v1::HealthCheckResponse::SERVING);
  probe_ok_ = false;
  grpc::health::v1::HealthCheckResponse::ServingStatus status =
      grpc::health::v1::HealthCheckResponse::SERVING;
  for (int i = 0; i < 50 && status == grpc::health::v1::HealthCheckResponse::SERVING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = check(CustomerProfileService::service_full_name());
  }
  EXPECT_EQ(status, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  probe_ok_ = true;
  for (int i = 0; i < 50 && status != grpc::health::v1::HealthCheckResponse::SERVING; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = check("");
  }
  EXPECT_EQ(status, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ProfileMigrationsTest, ConcurrentMigrationOfTheProfileSchemaIsHarmless) {
  tierwise::testing::TestSchema schema("profile_mig");
  std::vector<std::thread> replicas;
  std::vector<absl::Status> results(4);
  for (int i = 0; i < 4; ++i) {
    replicas.emplace_back([&, i] {
      postgres::PgPool pool(
          {.uri = tierwise::testing::PgUri(), .schema = schema.name(), .size = 1});
      results[i] = postgres::ApplyMigrations(pool, AllMigrations());
    });
  }
  for (auto& r : replicas) r.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r;
  auto count = schema.pool().Transact<int>([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>();
  });
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, static_cast<int>(AllMigrations().size()));
}

// Every ListCustomers statement reads an index range in list order: no sequential scan of
// customers and no sort, for the first and a deep page of each filter, on a table large enough
// for the planner to care (and with sequential scans priced out, so a missing index shows),
// inserted in random order so that no index enjoys a heap in its own order.
TEST_F(ProfileServiceTest, ListCustomersQueriesUseAnIndexMatchingFilterAndOrder) {
  ASSERT_TRUE(schema_.pool()
                  .Transact([](pqxx::work& tx) {
                    tx.exec(
                        "INSERT INTO customers (id, external_ref, legal_name, nature, industry,"
                        " province, city, owner, lifecycle_stage, tags, state, created_at,"
                        " updated_at, created_by, updated_by)"
                        " SELECT gen_random_uuid(), 'X' || i, 'Customer ' || lpad(i::text, 6, '0'),"
                        " 1 + i % 5, 'ind' || (i % 20), 'prov' || (i % 30), 'city' || (i % 300),"
                        " 'rep' || (i % 50), 1 + i % 4, ARRAY['t' || (i % 40)],"
                        " CASE WHEN i % 10 = 0 THEN 2 ELSE 1 END, now(), now(), 'seed', 'seed'"
                        " FROM generate_series(1, 20000) AS i ORDER BY random()");
                    tx.exec("ANALYZE customers");
                    return absl::OkStatus();
                  })
                  .ok());
  const ListCursor deep{"Customer 012345", "00000000-0000-0000-0000-000000000000"};
  struct Case {
    std::string name;
    ListFilter filter;
    std::vector<std::string> indexes;  // any of these serves the filter in list order
  };
  const std::vector<Case> cases = {
      {"none", {}, {"customers_active_by_name"}},
      {"owner", {.owner = "rep7"}, {"customers_active_by_owner"}},
      {"province", {.province = "prov3"}, {"customers_active_by_province"}},
      {"province+city",
       {.province = "prov3", .city = "city33"},
       {"customers_active_by_city", "customers_active_by_province"}},
      {"city", {.city = "city33"}, {"customers_active_by_city"}},
      {"industry", {.industry = "ind4"}, {"customers_active_by_industry"}},
      {"stage", {.lifecycle_stage = 2}, {"customers_active_by_stage"}},
      {"nature", {.nature = 3}, {"customers_active_by_nature"}},
      {"prefix", {.name_prefix = "Customer 01"}, {"customers_active_by_name"}},
      {"owner+prefix",
       {.owner = "rep7", .name_prefix = "Customer 01"},
       {"customers_active_by_owner"}},
      {"owner+stage",
       {.owner = "rep7", .lifecycle_stage = 2},
       {"customers_active_by_owner", "customers_active_by_stage"}},
      {"tag", {.tag = "t5"}, {"customers_by_tags", "customers_active_by_name"}},
      {"all states", {.show_deleted = true}, {"customers_by_name"}},
  };
  // EXPLAIN of the statement List runs; `ordered`: with sorts and bitmap scans priced out too,
  // so the plan shows whether an index gives the rows in list order.
  // `generic`: the plan a prepared statement settles on after a few runs, without the values,
  // as List runs it (statements prepared once per connection), with sequential scans allowed.
  auto explain = [&](const ListQuery& q, bool ordered, bool generic = false) -> std::string {
    absl::StatusOr<std::string> plan =
        schema_.pool().Transact<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
          std::string text;
          if (generic) {
            tx.exec("SET LOCAL plan_cache_mode = force_generic_plan");
            tx.exec("PREPARE list_probe AS " + q.sql);
            std::string args;
            for (const std::string& p : q.params) {
              absl::StrAppend(&args, args.empty() ? "" : ", ", tx.quote(p));
            }
            for (const auto& row : tx.exec("EXPLAIN EXECUTE list_probe(" + args + ")")) {
              absl::StrAppend(&text, row[0].as<std::string>(), "\n");
            }
            tx.exec("DEALLOCATE list_probe");
            return text;
          }
          tx.exec("SET LOCAL enable_seqscan = off");
          if (ordered) tx.exec("SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off");
          for (const auto& row :
               tx.exec_params("EXPLAIN " + q.sql, pqxx::prepare::make_dynamic_params(q.params))) {
            absl::StrAppend(&text, row[0].as<std::string>(), "\n");
          }
          return text;
        });
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : "";
  };
  auto uses_one_of = [](const std::string& plan, const std::vector<std::string>& indexes) {
    return std::any_of(indexes.begin(), indexes.end(), [&](const std::string& index) {
      return plan.find(" " + index + " ") != std::string::npos ||
             plan.find(" " + index + "\n") != std::string::npos;
    });
  };
  for (const Case& c : cases) {
    for (const std::optional<ListCursor>& after :
         {std::optional<ListCursor>(), std::optional(deep)}) {
      const ListQuery q = BuildListQuery(c.filter, after, 101);
      const std::string label = absl::StrCat(c.name, after ? " (deep page)" : " (first page)");
      const std::string plan = explain(q, false);
      EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << label << "\n" << plan;
      EXPECT_TRUE(uses_one_of(plan, c.indexes)) << label << "\n" << plan;
      if (c.name == "tag") continue;  // a GIN index has no order
      const std::string generic = explain(q, false, /*generic=*/true);
      EXPECT_EQ(generic.find("Seq Scan"), std::string::npos) << label << " generic\n" << generic;
      if (c.indexes.size() == 1) {  // two selective filters may rather sort their few rows
        EXPECT_EQ(generic.find("Sort"), std::string::npos) << label << " generic\n" << generic;
      }
      EXPECT_TRUE(uses_one_of(generic, c.indexes)) << label << " generic\n" << generic;
      const std::string ordered = explain(q, true);
      EXPECT_EQ(ordered.find("Seq Scan"), std::string::npos) << label << "\n" << ordered;
      EXPECT_EQ(ordered.find("Sort"), std::string::npos) << label << "\n" << ordered;
      EXPECT_TRUE(uses_one_of(ordered, c.indexes)) << label << "\n" << ordered;
    }
  }
}

// GetCustomer reads the customer and its contacts in one statement: contacts in the order they
// were added, and none for a customer without any.
TEST_F(ProfileServiceTest, GetReturnsContactsInTheOrderAdded) {
  v1::CreateCustomerRequest req = NewCustomer("苏州精密机械有限公司", "ERP-ORDER-1");
  for (const char* name : {"王经理", "李工", "赵总"}) {
    v1::Contact* k = req.add_contacts();
    k->set_name(name);
    k->set_role(v1::DECISION_ROLE_INFLUENCER);
  }
  req.mutable_contacts(2)->mutable_birthday()->set_year(1980);
  req.mutable_contacts(2)->mutable_birthday()->set_month(2);
  req.mutable_contacts(2)->mutable_birthday()->set_day(29);
  const v1::Customer created = Create(req);
  const v1::Customer bare = Create(NewCustomer("无锡贸易有限公司", "ERP-ORDER-2"));
  v1::GetCustomerRequest get;
  get.set_id(created.id());
  get.set_view(v1::CUSTOMER_VIEW_FULL);
  v1::Customer got;
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &got).ok());
  ASSERT_EQ(got.contacts_size(), 3);
  EXPECT_EQ(got.contacts(0).name(), "王经理");
  EXPECT_EQ(got.contacts(1).name(), "李工");
  EXPECT_EQ(got.contacts(2).name(), "赵总");
  EXPECT_EQ(got.contacts(2).birthday().day(), 29);
  EXPECT_EQ(got.contacts(0).role(), v1::DECISION_ROLE_INFLUENCER);
  EXPECT_EQ(got.legal_name(), "苏州精密机械有限公司");
  get.set_id(bare.id());
  ASSERT_TRUE(stub_->GetCustomer(Ctx(kAdmin).get(), get, &got).ok());
  EXPECT_EQ(got.contacts_size(), 0);
  EXPECT_EQ(got.external_ref(), "ERP-ORDER-2");
}

}  // namespace
}  // namespace tierwise::profile
