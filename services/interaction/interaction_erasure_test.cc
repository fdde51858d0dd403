// Erasure that erases: a customer with records (a correction among them), complaints and audit
// rows — some written the way older versions wrote them, with values in the detail — is erased
// by a CustomerChanged ERASED event. Afterwards no personal text of theirs is left in any
// column of any table of the interaction schema (bytea payloads decoded) nor in any Redis key
// under the test's prefix, the records and complaints are still there with their facts, and a
// second delivery changes nothing. Real PostgreSQL and Redis of ./tests/run.sh, in-process.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ids/ids.h"
#include "common/testing/service_harness.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/interaction/erasure.h"
#include "services/interaction/interaction_server.h"
#include "services/interaction/interaction_store.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::interaction {
namespace {

using H = testing::ServiceHarness;

constexpr Micros kNow = 1795392000LL * 1000000;  // 2026-11-22
constexpr Micros kHour = 3600LL * 1000000;

// Tier "B" for everyone; no service policy (default SLA clocks).
class FixedDirectory final : public TierDirectory {
 public:
  absl::StatusOr<std::string> CurrentTier(const std::string&, const std::string&) override {
    return std::string("B");
  }
  absl::StatusOr<ServicePolicy> Policy(const std::string&) override {
    return absl::UnavailableError("no policy in this test");
  }
};

// Personal text of one customer: each string is distinctive, ASCII and CJK, so that a hit in
// any encoding (text, bytea, protobuf, stream entry) is found.
struct PersonalText {
  explicit PersonalText(const std::string& tag) : tag(tag) {}
  std::string tag;
  std::string S(const std::string& what) const { return absl::StrCat(what, "-", tag, "-王秀英"); }
  std::vector<std::string> All() const {
    std::vector<std::string> out;
    for (const char* what : {"summary", "contact", "special", "conclusion", "summary2", "contact2",
                             "reason", "subject", "description", "response", "resolution",
                             "subject2", "oldreason", "oldsubject"}) {
      out.push_back(S(what));
    }
    out.push_back(RequestId());
    return out;
  }
  // A client's idempotency key, which may carry anything the client put in it (ASCII here).
  std::string RequestId() const { return absl::StrCat("requestid-", tag); }
};

class InteractionErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<InteractionServer>(harness_.deps(), directory_, [] { return kNow; });
    harness_.Start({{&server_->service, v1::InteractionService::service_full_name()}});
    stub_ = v1::InteractionService::NewStub(harness_.channel());
  }
  void TearDown() override { harness_.Stop(); }

  std::string EventsStream() const {
    return absl::StrCat(harness_.prefix(), ":interaction.events");
  }
  std::string CustomersStream() const {
    return absl::StrCat(harness_.prefix(), ":profile.customer_changed");
  }

  // Hands a CustomerChanged to the desk as the stream consumer would (and puts it on the stream,
  // where profile would have put it).
  absl::Status Customer(const std::string& id, events::v1::CustomerChangeType type,
                        int64_t version) {
    events::v1::CustomerChanged e;
    e.set_event_id(ids::NewUuid());
    e.set_customer_id(id);
    e.set_external_ref(absl::StrCat("ERP-", id.substr(0, 8)));
    e.set_change_type(type);
    e.set_version(version);
    if (type != events::v1::CUSTOMER_CHANGE_TYPE_ERASED) {
      e.set_owner("rep.zhang");
      e.set_lifecycle_stage(2);
      time::SetTimestamp(kNow - 400 * 24 * kHour, e.mutable_create_time());
    } else {
      e.set_actor("admin");
    }
    redis::StreamEntry entry{"",
                             {{"type", "tierwise.events.v1.CustomerChanged"},
                              {"event_id", e.event_id()},
                              {"payload", e.SerializeAsString()}}};
    auto added = harness_.redis().XAdd(CustomersStream(), "*", entry.fields);
    EXPECT_TRUE(added.ok()) << added.status();
    return server_->desk.OnCustomerChanged(entry);
  }

  // Records, a correction, complaints (one resolved) and reads of them, all carrying `text`.
  struct Written {
    std::string first_version, correction, complaint, resolved_complaint;
  };
  Written WriteHistory(const std::string& customer, const PersonalText& text) {
    Written w;
    v1::LogInteractionRequest log;
    v1::Interaction* in = log.mutable_interaction();
    in->set_customer_id(customer);
    time::SetTimestamp(kNow - 5 * kHour, in->mutable_occurred_at());
    in->set_channel(v1::CHANNEL_ON_SITE_VISIT);
    in->set_summary(text.S("summary"));
    in->set_contact_name(text.S("contact"));
    in->set_contact_role(v1::DECISION_ROLE_DECISION_MAKER);
    in->set_special_items(text.S("special"));
    in->set_conclusion(text.S("conclusion"));
    in->set_satisfaction(4);
    in->set_purchase_intent(true);
    log.set_request_id(absl::StrCat("req-", text.tag));
    v1::Interaction first;
    grpc::Status s = stub_->LogInteraction(H::Context(H::kRepZhang).get(), log, &first);
    EXPECT_TRUE(s.ok()) << s.error_message();
    w.first_version = first.id();

    v1::CorrectInteractionRequest correct;
    correct.set_id(first.id());
    *correct.mutable_interaction() = log.interaction();
    correct.mutable_interaction()->set_summary(text.S("summary2"));
    correct.mutable_interaction()->set_contact_name(text.S("contact2"));
    correct.set_reason(text.S("reason"));
    v1::Interaction second;
    s = stub_->CorrectInteraction(H::Context(H::kRepZhang).get(), correct, &second);
    EXPECT_TRUE(s.ok()) << s.error_message();
    w.correction = second.id();

    auto open = [&](const std::string& subject, const std::string& request_id) {
      v1::OpenComplaintRequest request;
      request.mutable_complaint()->set_customer_id(customer);
      request.mutable_complaint()->set_subject(subject);
      request.mutable_complaint()->set_description(text.S("description"));
      request.set_request_id(request_id);
      v1::Complaint c;
      grpc::Status st = stub_->OpenComplaint(H::Context(H::kManager).get(), request, &c);
      EXPECT_TRUE(st.ok()) << st.error_message();
      return c.id();
    };
    w.complaint = open(text.S("subject"), text.RequestId());
    v1::RespondToComplaintRequest respond;
    respond.set_id(w.complaint);
    respond.set_response(text.S("response"));
    v1::Complaint c;
    s = stub_->RespondToComplaint(H::Context(H::kManager).get(), respond, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    w.resolved_complaint = open(text.S("subject2"), "");
    v1::ResolveComplaintRequest resolve;
    resolve.set_id(w.resolved_complaint);
    resolve.set_resolution(text.S("resolution"));
    s = stub_->ResolveComplaint(H::Context(H::kManager).get(), resolve, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();

    // Reads are audited too.
    v1::GetInteractionRequest get;
    get.set_id(second.id());
    v1::Interaction read;
    s = stub_->GetInteraction(H::Context(H::kManager).get(), get, &read);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::ListInteractionsRequest list;
    list.set_customer_id(customer);
    list.set_include_superseded(true);
    v1::ListInteractionsResponse listed;
    s = stub_->ListInteractions(H::Context(H::kManager).get(), list, &listed);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(listed.interactions_size(), 2);

    // Audit rows as the service wrote them before it stopped writing values there.
    absl::Status written = harness_.pool().Transact([&](pqxx::work& tx) {
      store::Audit(tx, {.customer_id = customer,
                        .action = "correct",
                        .actor = "rep.zhang",
                        .actor_role = "sales_rep",
                        .entity = "interaction",
                        .entity_id = second.id(),
                        .note = absl::StrCat("corrects ", first.id(), ": ", text.S("oldreason"))});
      store::Audit(tx, {.customer_id = customer,
                        .action = "open",
                        .actor = "manager.li",
                        .actor_role = "manager",
                        .entity = "complaint",
                        .entity_id = w.complaint,
                        .note = text.S("oldsubject")});
      return absl::OkStatus();
    });
    EXPECT_TRUE(written.ok()) << written;
    return w;
  }

  // Every value of every row of every table of the schema: each row as text, and each bytea
  // column decoded, so that text inside protobuf payloads is seen as written.
  std::map<std::string, std::string> DumpTables() {
    std::map<std::string, std::string> out;
    absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
      const pqxx::result tables = tx.exec_params(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1"
          " ORDER BY table_name",
          harness_.schema());
      for (const auto& t : tables) {
        const std::string table = t[0].as<std::string>();
        const std::string qualified =
            absl::StrCat(tx.quote_name(harness_.schema()), ".", tx.quote_name(table));
        std::vector<std::string> bytea;
        for (const auto& c : tx.exec_params(
                 "SELECT column_name FROM information_schema.columns WHERE table_schema = $1"
                 " AND table_name = $2 AND data_type = 'bytea' ORDER BY ordinal_position",
                 harness_.schema(), table)) {
          bytea.push_back(
              absl::StrCat("encode(", tx.quote_name(c[0].as<std::string>()), ", 'base64')"));
        }
        std::string& dump = out[table];
        for (const auto& row : tx.exec(absl::StrCat("SELECT t::text", bytea.empty() ? "" : ", ",
                                                    absl::StrJoin(bytea, ", "), " FROM ", qualified,
                                                    " t ORDER BY t::text"))) {
          absl::StrAppend(&dump, row[0].as<std::string>(), "\n");
          for (pqxx::row::size_type i = 1; i < row.size(); ++i) {
            std::string encoded = row[i].as<std::string>();
            std::string decoded;
            encoded.erase(std::remove(encoded.begin(), encoded.end(), '\n'), encoded.end());
            EXPECT_TRUE(absl::Base64Unescape(encoded, &decoded));
            absl::StrAppend(&dump, "  bytea: ", decoded, "\n");
          }
        }
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Every Redis key under the test's prefix with everything it holds.
  std::map<std::string, std::string> DumpRedis() {
    std::map<std::string, std::string> out;
    std::function<void(const redis::Reply&, std::string&)> flatten = [&](const redis::Reply& r,
                                                                         std::string& into) {
      absl::StrAppend(&into, r.str, " ");
      for (const auto& e : r.elements) flatten(e, into);
    };
    std::string cursor = "0";
    do {
      auto scan = harness_.redis().Command(
          {"SCAN", cursor, "MATCH", absl::StrCat(harness_.prefix(), "*"), "COUNT", "1000"});
      EXPECT_TRUE(scan.ok()) << scan.status();
      if (!scan.ok() || scan->elements.size() != 2) break;
      cursor = scan->elements[0].str;
      for (const auto& key : scan->elements[1].elements) {
        auto type = harness_.redis().Command({"TYPE", key.str});
        EXPECT_TRUE(type.ok());
        if (!type.ok()) continue;
        std::vector<std::string> read;
        if (type->str == "string") read = {"GET", key.str};
        if (type->str == "hash") read = {"HGETALL", key.str};
        if (type->str == "list") read = {"LRANGE", key.str, "0", "-1"};
        if (type->str == "set") read = {"SMEMBERS", key.str};
        if (type->str == "zset") read = {"ZRANGE", key.str, "0", "-1"};
        if (type->str == "stream") read = {"XRANGE", key.str, "-", "+"};
        EXPECT_FALSE(read.empty()) << key.str << " is a " << type->str;
        if (read.empty()) continue;
        auto value = harness_.redis().Command(read);
        EXPECT_TRUE(value.ok()) << value.status();
        if (value.ok()) flatten(*value, out[key.str]);
      }
    } while (cursor != "0");
    return out;
  }

  // Where each string occurs: "table <name>" / "redis <key>".
  static std::vector<std::string> Find(const std::vector<std::string>& needles,
                                       const std::map<std::string, std::string>& tables,
                                       const std::map<std::string, std::string>& keys) {
    std::vector<std::string> hits;
    for (const std::string& needle : needles) {
      for (const auto& [name, dump] : tables) {
        if (dump.find(needle) != std::string::npos) hits.push_back(needle + " in table " + name);
      }
      for (const auto& [name, dump] : keys) {
        if (dump.find(needle) != std::string::npos) hits.push_back(needle + " in redis " + name);
      }
    }
    return hits;
  }

  std::shared_ptr<FixedDirectory> directory_ = std::make_shared<FixedDirectory>();
  H harness_{Migrations(), "interaction"};
  std::unique_ptr<InteractionServer> server_;
  std::unique_ptr<v1::InteractionService::Stub> stub_;
};

TEST_F(InteractionErasureTest, ErasedCustomersTextIsGoneEverywhereAndTheFactsStay) {
  const std::string erased = ids::NewUuid();
  const std::string kept = ids::NewUuid();  // another customer of the same rep, not erased
  ASSERT_TRUE(Customer(erased, events::v1::CUSTOMER_CHANGE_TYPE_CREATED, 1).ok());
  ASSERT_TRUE(Customer(kept, events::v1::CUSTOMER_CHANGE_TYPE_CREATED, 1).ok());
  const PersonalText erased_text("Qx7erased"), kept_text("Kp3kept");
  const Written w = WriteHistory(erased, erased_text);
  WriteHistory(kept, kept_text);
  harness_.DrainStream(EventsStream());

  // Before: the dumps see every string (of both customers), so a miss afterwards means erased.
  {
    auto tables = DumpTables();
    auto keys = DumpRedis();
    for (const std::string& s : erased_text.All()) {
      EXPECT_FALSE(Find({s}, tables, keys).empty()) << s << " was not found before the erasure";
    }
  }
  std::vector<v1::Interaction> before;
  ASSERT_TRUE(harness_.pool()
                  .Transact([&](pqxx::work& tx) {
                    before = store::LockInteractionPayloads(tx, erased);
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_EQ(before.size(), 2u);

  ASSERT_TRUE(Customer(erased, events::v1::CUSTOMER_CHANGE_TYPE_ERASED, 2).ok());
  harness_.DrainStream(EventsStream());

  const auto tables = DumpTables();
  const auto keys = DumpRedis();
  EXPECT_EQ(Find(erased_text.All(), tables, keys), std::vector<std::string>{});
  // The other customer's text is untouched.
  for (const std::string& s : kept_text.All()) {
    EXPECT_FALSE(Find({s}, tables, keys).empty()) << s << " of the other customer is gone";
  }

  // Both versions and both complaints remain, with their facts.
  absl::Status checked = harness_.pool().Transact([&](pqxx::work& tx) {
    std::vector<v1::Interaction> after = store::LockInteractionPayloads(tx, erased);
    EXPECT_EQ(after.size(), 2u);
    for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
      v1::Interaction expected = before[i];
      ScrubInteraction(expected);
      EXPECT_EQ(after[i].SerializeAsString(), expected.SerializeAsString())
          << after[i].DebugString();
      EXPECT_EQ(after[i].summary(), kErasedText);
      EXPECT_EQ(after[i].contact_name(), kErasedText);
      EXPECT_EQ(after[i].channel(), v1::CHANNEL_ON_SITE_VISIT);
      EXPECT_EQ(after[i].satisfaction(), 4);
      EXPECT_EQ(after[i].contact_role(), v1::DECISION_ROLE_DECISION_MAKER);
      EXPECT_EQ(after[i].tier(), "B");
      EXPECT_EQ(after[i].tier_source(), v1::TIER_SOURCE_CLASSIFICATION);
      EXPECT_EQ(time::ToMicros(after[i].occurred_at()), kNow - 5 * kHour);
      EXPECT_TRUE(after[i].purchase_intent());
    }
    std::optional<v1::Interaction> old = store::FindInteraction(tx, w.first_version, false);
    EXPECT_TRUE(old.has_value() && old->superseded_by() == w.correction);
    std::optional<v1::Complaint> c = store::FindComplaint(tx, w.complaint, false);
    EXPECT_TRUE(c.has_value());
    if (c.has_value()) {
      EXPECT_EQ(c->subject(), kErasedText);
      EXPECT_EQ(c->response(), kErasedText);
      EXPECT_EQ(c->status(), v1::COMPLAINT_STATUS_RESPONDED);
      EXPECT_TRUE(c->has_responded_at());
      EXPECT_EQ(c->tier(), "B");
    }
    c = store::FindComplaint(tx, w.resolved_complaint, false);
    EXPECT_TRUE(c.has_value() && c->status() == v1::COMPLAINT_STATUS_RESOLVED &&
                c->has_resolved_at() && c->resolution() == kErasedText);
    // Audit rows keep who, when and what: every row is still there, one erase row added.
    const pqxx::result audit = tx.exec_params(
        "SELECT actor, action, entity, note FROM audit_log WHERE customer_id = $1 ORDER BY id",
        erased);
    std::vector<std::string> rows;
    for (const auto& r : audit) {
      rows.push_back(absl::StrCat(r[0].as<std::string>(), " ", r[1].as<std::string>(), " ",
                                  r[2].as<std::string>(), " [", r[3].as<std::string>(), "]"));
    }
    EXPECT_EQ(rows,
              (std::vector<std::string>{
                  "rep.zhang log interaction []",
                  absl::StrCat("rep.zhang correct interaction [corrects ", w.first_version,
                               "; fields: summary, contact_name]"),
                  "manager.li open complaint [fields: subject, description]",
                  "manager.li respond complaint [fields: response]",
                  "manager.li open complaint [fields: subject, description]",
                  "manager.li resolve complaint [fields: resolution]",
                  "manager.li read interaction []", "manager.li list interaction [2 records]",
                  absl::StrCat("rep.zhang correct interaction [corrects ", w.first_version, "]"),
                  "manager.li open complaint [[erased]]",
                  "admin erase customer [scrubbed 2 record versions, 2 complaints, 2 "
                  "request keys, 2 audit details]"}));
    return absl::OkStatus();
  });
  EXPECT_TRUE(checked.ok()) << checked;

  // The erased customer takes no new records or complaint text.
  v1::LogInteractionRequest log;
  log.mutable_interaction()->set_customer_id(erased);
  time::SetTimestamp(kNow - kHour, log.mutable_interaction()->mutable_occurred_at());
  log.mutable_interaction()->set_channel(v1::CHANNEL_PHONE);
  log.mutable_interaction()->set_summary("new text");
  v1::Interaction refused;
  EXPECT_EQ(stub_->LogInteraction(H::Context(H::kManager).get(), log, &refused).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ResolveComplaintRequest resolve;
  resolve.set_id(w.complaint);
  resolve.set_resolution("new text");
  v1::Complaint c;
  EXPECT_EQ(stub_->ResolveComplaint(H::Context(H::kManager).get(), resolve, &c).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // A second delivery (and an older event arriving late) changes nothing at all.
  ASSERT_TRUE(Customer(erased, events::v1::CUSTOMER_CHANGE_TYPE_ERASED, 2).ok());
  ASSERT_TRUE(Customer(erased, events::v1::CUSTOMER_CHANGE_TYPE_UPDATED, 1).ok());
  harness_.DrainStream(EventsStream());
  auto again = DumpTables();
  EXPECT_EQ(again, tables);
  absl::Status still = harness_.pool().Transact([&](pqxx::work& tx) {
    std::optional<store::KnownCustomer> k = store::FindCustomer(tx, erased);
    EXPECT_TRUE(k.has_value() && k->deleted && k->erased);
    return absl::OkStatus();
  });
  EXPECT_TRUE(still.ok()) << still;
}

// A write of the customer's records that is in flight when the ERASED event comes: writers take
// the customer's row FOR NO KEY UPDATE (FindCustomer for_write, as Log, Correct and the
// complaint calls do), so the erasure waits for the write to commit and then scrubs it too.
TEST_F(InteractionErasureTest, ARecordWrittenDuringTheErasureIsScrubbedToo) {
  const std::string customer = ids::NewUuid();
  ASSERT_TRUE(Customer(customer, events::v1::CUSTOMER_CHANGE_TYPE_CREATED, 1).ok());
  const std::string secret = "summary-inflight-王秀英";
  std::promise<void> locked, release;
  std::shared_future<void> released = release.get_future().share();
  v1::Interaction record;
  record.set_id(ids::NewUuid());
  record.set_root_id(record.id());
  record.set_version(1);
  record.set_customer_id(customer);
  record.set_owner("rep.zhang");
  record.set_recorded_by("rep.zhang");
  time::SetTimestamp(kNow - kHour, record.mutable_occurred_at());
  time::SetTimestamp(kNow, record.mutable_recorded_at());
  record.set_channel(v1::CHANNEL_PHONE);
  record.set_summary(secret);
  std::thread writer([&] {
    absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
      std::optional<store::KnownCustomer> c = store::FindCustomer(tx, customer, true);
      EXPECT_TRUE(c.has_value() && !c->deleted);
      store::InsertInteraction(tx, record, "");
      locked.set_value();
      released.wait();
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  locked.get_future().wait();
  std::atomic<bool> erased{false};
  std::thread erasure([&] {
    absl::Status s = Customer(customer, events::v1::CUSTOMER_CHANGE_TYPE_ERASED, 2);
    EXPECT_TRUE(s.ok()) << s;
    erased = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(erased.load()) << "the erasure did not wait for the write in flight";
  release.set_value();
  writer.join();
  erasure.join();
  std::map<std::string, std::string> tables = DumpTables();
  EXPECT_EQ(Find({secret}, tables, {}), std::vector<std::string>{});
  absl::Status s = harness_.pool().Transact([&](pqxx::work& tx) {
    std::optional<v1::Interaction> stored = store::FindInteraction(tx, record.id(), false);
    EXPECT_TRUE(stored.has_value() && stored->summary() == kErasedText);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace tierwise::interaction
