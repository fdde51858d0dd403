// Several classification processes against one PostgreSQL schema and one Redis prefix (issue
// #14): real tierwise-classification binaries, a shuffled and partly duplicated feed on the
// streams, and the tiers they settle on compared with one process and with the ABC rule
// evaluated in full. One writer is elected; the others serve reads and forward writes.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/client/channel.h"
#include "common/testing/test_env.h"
#include "common/time/micros.h"
#include "gtest/gtest.h"
#include "services/classification/classification_store.h"
#include "services/classification/tier_rules.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"
#include "tierwise/events/v1/events.pb.h"

extern char** environ;

namespace tierwise::classification {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr char kAdminToken[] = "replica-admin-token-01";
constexpr int kCustomers = 300;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  client::Authorize(*ctx, kAdminToken);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto until = steady_clock::now() + limit;
  while (steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

// One tierwise-classification process on a port of its own, logging to a file.
class Replica {
 public:
  Replica(const std::string& schema, const std::string& prefix, const std::string& log_dir, int n)
      : port_(FreePort()) {
    const char* build = std::getenv("TIERWISE_BUILD_DIR");
    const std::string binary = absl::StrCat(build != nullptr ? build : "build",
                                            "/services/classification/", "tierwise-classification");
    log_ = absl::StrCat(log_dir, "/replica-", n, ".log");
    std::vector<std::string> args = {binary,
                                     "--pg_uri=" + testing::PgUri(),
                                     "--pg_schema=" + schema,
                                     "--redis_addr=" + testing::RedisAddr(),
                                     "--redis_prefix=" + prefix,
                                     absl::StrCat("--listen=127.0.0.1:", port_),
                                     "--metrics_listen=",
                                     absl::StrCat("--tokens=admin:admin:", kAdminToken),
                                     "--log_format=text",
                                     "--reclassify_interval_s=0",
                                     "--drain_seconds=1"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    tiers_ = v1::ClassificationService::NewStub(channel);
    rules_ = v1::RuleSetService::NewStub(channel);
  }
  ~Replica() { Kill(SIGTERM); }

  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0; }
  v1::ClassificationService::Stub& tiers() { return *tiers_; }
  v1::RuleSetService::Stub& rules() { return *rules_; }

  // Ready: answers an authorised read (GetTier of an unknown customer is NOT_FOUND).
  bool Ready() {
    v1::GetTierRequest request;
    request.set_customer_id("00000000-0000-4000-8000-000000000000");
    v1::Tier tier;
    auto ctx = Context();
    ctx->set_deadline(std::chrono::system_clock::now() + milliseconds(500));
    const grpc::Status s = tiers_->GetTier(ctx.get(), request, &tier);
    return s.error_code() == grpc::StatusCode::NOT_FOUND || s.ok();
  }

  void Kill(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string Log() const {
    std::FILE* f = std::fopen(log_.c_str(), "r");
    if (f == nullptr) return "";
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out.size() > 4000 ? out.substr(out.size() - 4000) : out;
  }

 private:
  const int port_;
  std::string log_;
  pid_t pid_ = -1;
  std::unique_ptr<v1::ClassificationService::Stub> tiers_;
  std::unique_ptr<v1::RuleSetService::Stub> rules_;
};

struct Feed {
  std::vector<std::pair<std::string, redis::StreamEntry>> entries;  // (stream suffix, entry)
  std::map<std::string, int64_t> revenue;                           // net, per customer
  int ledger_events = 0;                                            // distinct
};

redis::StreamEntry EntryOf(const google::protobuf::Message& event, const std::string& id) {
  return {
      "*",
      {{"type", event.GetTypeName()}, {"event_id", id}, {"payload", event.SerializeAsString()}}};
}

// kCustomers customers (for 900 days: no probation) with orders over the last 200 days and a
// few full cancellations; every event once, a quarter of them twice, all shuffled together.
Feed MakeFeed(uint64_t seed, Micros now) {
  std::mt19937_64 rng(seed);
  Feed feed;
  std::vector<std::pair<std::string, redis::StreamEntry>> unique;
  std::vector<std::string> ids;
  for (int c = 0; c < kCustomers; ++c) {
    const std::string id = absl::StrFormat("%08x-0000-4000-8000-%012x", 0x7e000000 + c, c);
    ids.push_back(id);
    feed.revenue[id] = 0;
    events::v1::CustomerChanged e;
    e.set_event_id(absl::StrCat("cc-", id));
    e.set_customer_id(id);
    e.set_change_type(events::v1::CUSTOMER_CHANGE_TYPE_CREATED);
    e.set_version(1);
    time::SetTimestamp(now - 900 * kDay, e.mutable_create_time());
    unique.emplace_back(":profile.customer_changed", EntryOf(e, e.event_id()));
  }
  std::map<std::string, std::pair<std::string, int64_t>> orders;  // event id → customer, amount
  for (int i = 0; i < 3000; ++i) {
    const std::string& id = ids[rng() % ids.size()];
    events::v1::LedgerEvent e;
    e.set_customer_id(id);
    e.set_credit_rating("AA");
    e.set_on_time_payment_ratio(0.9);
    time::SetTimestamp(now - static_cast<Micros>(rng() % 200) * kDay - kDay,
                       e.mutable_occurred_at());
    if (i % 12 == 11 && !orders.empty()) {
      auto it = orders.begin();
      std::advance(it, static_cast<long>(rng() % orders.size()));
      if (it->second.second == 0) continue;  // cancelled already
      e.set_event_id(absl::StrCat("x-", seed, "-", i));
      e.set_customer_id(it->second.first);
      e.set_kind(events::v1::LEDGER_EVENT_KIND_CANCELLATION);
      e.set_document_no("O-" + it->first);
      e.mutable_amount()->set_minor_units(0);  // the whole order
      e.mutable_amount()->set_currency("CNY");
      feed.revenue[it->second.first] -= it->second.second;
      it->second.second = 0;
    } else {
      e.set_event_id(absl::StrCat("o-", seed, "-", i));
      e.set_kind(events::v1::LEDGER_EVENT_KIND_ORDER);
      e.set_document_no("O-" + e.event_id());
      // A few big customers, many similar ones.
      const int64_t amount =
          (rng() % 20 == 0 ? 5000000 : 100000) + static_cast<int64_t>(rng() % 50000);
      e.mutable_amount()->set_minor_units(amount);
      e.mutable_amount()->set_currency("CNY");
      e.mutable_margin()->set_minor_units(amount / 5);
      e.mutable_margin()->set_currency("CNY");
      orders[e.event_id()] = {id, amount};
      feed.revenue[id] += amount;
    }
    ++feed.ledger_events;
    unique.emplace_back(":credit.ledger", EntryOf(e, e.event_id()));
  }
  feed.entries = unique;
  for (const auto& e : unique) {
    if (rng() % 4 == 0) feed.entries.push_back(e);
  }
  std::shuffle(feed.entries.begin(), feed.entries.end(), rng);
  return feed;
}

// ABC by customer count without a hysteresis band: ranks by revenue (descending, then id);
// A = the first ceil(a %), B up to ceil(b %); zero revenue is C.
std::map<std::string, std::string> Expected(const std::map<std::string, int64_t>& revenues,
                                            int a_percent, int b_percent) {
  std::vector<std::pair<int64_t, std::string>> order;
  for (const auto& [id, revenue] : revenues) order.emplace_back(-revenue, id);
  std::sort(order.begin(), order.end());
  const size_t n = order.size();
  const size_t a = (n * a_percent + 99) / 100;
  const size_t b = std::max(a, (n * b_percent + 99) / 100);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    out[order[i].second] = order[i].first >= 0 ? "C" : i < a ? "A" : i < b ? "B" : "C";
  }
  return out;
}

struct Outcome {
  std::string tier, gate, label;
  int score = 0;
  bool operator==(const Outcome& o) const {
    return tier == o.tier && gate == o.gate && label == o.label && score == o.score;
  }
};

// A fresh schema and key prefix with `n` replicas on them.
class Cluster {
 public:
  explicit Cluster(int n)
      : prefix_(testing::UniqueName("rep")),
        log_dir_(std::filesystem::temp_directory_path() / testing::UniqueName("tw_replicas")),
        redis_(testing::NewRedisClient()) {
    std::filesystem::create_directories(log_dir_);
    for (int i = 0; i < n; ++i) Add();
  }
  ~Cluster() {
    replicas_.clear();  // SIGTERM each
    std::vector<std::string> keys;
    auto found = redis_->Command({"KEYS", prefix_ + ":*"});
    if (found.ok()) {
      for (const auto& k : found->elements) (void)redis_->Command({"DEL", k.str});
    }
    std::error_code ignored;
    std::filesystem::remove_all(log_dir_, ignored);
  }

  Replica& Add() {
    replicas_.push_back(std::make_unique<Replica>(schema_.name(), prefix_, log_dir_.string(),
                                                  static_cast<int>(replicas_.size())));
    return *replicas_.back();
  }
  std::vector<std::unique_ptr<Replica>>& replicas() { return replicas_; }
  postgres::PgPool& pool() { return schema_.pool(); }

  bool AllReady() {
    return WaitFor(
        [&] {
          for (auto& r : replicas_) {
            if (r->alive() && !r->Ready()) return false;
          }
          return true;
        },
        milliseconds(30000));
  }

  // The writer's term and its process (nullptr until one is elected and ready).
  std::pair<int64_t, Replica*> Writer() {
    int64_t epoch = 0;
    std::string holder;
    (void)pool().Transact([&](pqxx::work& tx) {
      const pqxx::result r = tx.exec("SELECT epoch, holder FROM writer WHERE id = 1");
      if (!r.empty()) {
        epoch = r[0][0].as<int64_t>();
        holder = r[0][1].as<std::string>();
      }
      return absl::OkStatus();
    });
    int pid = 0;
    if (const size_t dash = holder.rfind('-');
        dash == std::string::npos || !absl::SimpleAtoi(holder.substr(dash + 1), &pid)) {
      return {epoch, nullptr};
    }
    for (auto& r : replicas_) {
      if (r->alive() && r->pid() == pid) return {epoch, r.get()};
    }
    return {epoch, nullptr};
  }
  Replica* Standby() {
    Replica* writer = Writer().second;
    for (auto& r : replicas_) {
      if (r->alive() && r.get() != writer) return r.get();
    }
    return nullptr;
  }

  void Publish(const Feed& feed, size_t from, size_t to) {
    for (size_t i = from; i < to && i < feed.entries.size(); ++i) {
      const auto& [suffix, entry] = feed.entries[i];
      auto id = redis_->XAdd(prefix_ + suffix, "*", entry.fields);
      ASSERT_TRUE(id.ok()) << id.status();
    }
  }

  int64_t Count(const std::string& table) {
    int64_t n = -1;
    (void)pool().Transact([&](pqxx::work& tx) {
      n = tx.exec("SELECT count(*) FROM " + tx.quote_name(table))[0][0].as<int64_t>();
      return absl::OkStatus();
    });
    return n;
  }

  int64_t Pending(const std::string& suffix) {
    auto reply = redis_->Command({"XPENDING", prefix_ + suffix, "classification"});
    if (!reply.ok() || reply->elements.empty()) return -1;
    return reply->elements[0].integer;
  }

  // Every event applied: all ledger events and customers stored, every customer tiered,
  // nothing pending.
  bool Settled(const Feed& feed) {
    return WaitFor(
        [&] {
          return Count("ledger_entries") == feed.ledger_events &&
                 Count("customers") == kCustomers && Count("tiers") == kCustomers &&
                 Pending(":credit.ledger") == 0 && Pending(":profile.customer_changed") == 0;
        },
        milliseconds(60000));
  }

  std::map<std::string, Outcome> Outcomes() {
    std::map<std::string, Outcome> out;
    (void)pool().Transact([&](pqxx::work& tx) {
      for (const store::StoredTier& t : store::AllTiers(tx)) {
        out[t.tier.customer_id()] = {t.tier.tier(), t.gate, t.tier.label(), t.tier.score()};
      }
      return absl::OkStatus();
    });
    return out;
  }
  std::map<std::string, std::string> Tiers() {
    std::map<std::string, std::string> out;
    for (const auto& [id, o] : Outcomes()) out[id] = o.tier;
    return out;
  }

  std::string Logs() {
    std::string out;
    for (auto& r : replicas_) absl::StrAppend(&out, "---- replica ", r->pid(), "\n", r->Log());
    return out;
  }

 private:
  testing::TestSchema schema_{"rep"};
  const std::string prefix_;
  const std::filesystem::path log_dir_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// Creates `rule_set` through `via` and activates it through `activate_via`, then follows the
// activation's job to its end; the version.
int64_t Activate(Replica& via, Replica& activate_via, v1::RuleSet rule_set) {
  v1::CreateRuleSetRequest create;
  *create.mutable_rule_set() = std::move(rule_set);
  v1::RuleSet created;
  grpc::Status s = via.rules().CreateRuleSet(Context().get(), create, &created);
  EXPECT_TRUE(s.ok()) << s.error_message();
  v1::ActivateRuleSetRequest activate;
  activate.set_version(created.version());
  v1::ActivateRuleSetResponse active;
  s = activate_via.rules().ActivateRuleSet(Context().get(), activate, &active);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // It returns at once with the job the writer runs; that job ends done.
  EXPECT_EQ(active.job().rule_set_version(), created.version());
  v1::Job job = active.job();
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::GetJobRequest get;
        get.set_id(active.job().id());
        return activate_via.tiers().GetJob(Context().get(), get, &job).ok() &&
               job.state() == "done";
      },
      milliseconds(30000)))
      << job.DebugString();
  return created.version();
}

v1::RuleSet Abc(int a_percent, int b_percent) {
  v1::RuleSet rs = DefaultRuleSet();
  rs.set_name(absl::StrCat("ABC ", a_percent, "/", b_percent, " without a band"));
  rs.mutable_pareto()->set_a_percent(a_percent);
  rs.mutable_pareto()->set_b_percent(b_percent);
  rs.mutable_gates()->set_hysteresis_percent(0);
  return rs;
}

// GetRuleSet(0) of every live replica.
std::set<int64_t> ActiveVersions(Cluster& cluster) {
  std::set<int64_t> versions;
  for (auto& r : cluster.replicas()) {
    if (!r->alive()) continue;
    v1::GetRuleSetRequest request;
    v1::RuleSet rs;
    const grpc::Status s = r->rules().GetRuleSet(Context().get(), request, &rs);
    versions.insert(s.ok() ? rs.version() : -1);
  }
  return versions;
}

// The run of `n` replicas; the outcomes they settle on.
std::map<std::string, Outcome> RunReplicas(int n, const Feed& feed) {
  Cluster cluster(n);
  EXPECT_TRUE(cluster.AllReady()) << cluster.Logs();
  EXPECT_TRUE(WaitFor([&] { return cluster.Writer().second != nullptr; }, milliseconds(20000)))
      << cluster.Logs();
  Replica* writer = cluster.Writer().second;
  if (writer == nullptr) return {};
  Replica* other = n > 1 ? cluster.Standby() : writer;
  // Activated through a standby: every replica answers the new version at once.
  const int64_t version = Activate(*other, *other, Abc(5, 20));
  EXPECT_EQ(ActiveVersions(cluster), std::set<int64_t>{version});

  cluster.Publish(feed, 0, feed.entries.size());
  EXPECT_TRUE(cluster.Settled(feed)) << cluster.Logs();
  const auto outcomes = cluster.Outcomes();
  EXPECT_EQ(cluster.Tiers(), Expected(feed.revenue, 5, 20));
  // Exactly one writer all along.
  EXPECT_EQ(cluster.Writer().first, 1);

  // A full reclassification asked of a standby changes nothing.
  v1::StartFullReclassificationRequest start;
  v1::Job job;
  grpc::Status s = other->tiers().StartFullReclassification(Context().get(), start, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::GetJobRequest get;
        get.set_id(job.id());
        return other->tiers().GetJob(Context().get(), get, &job).ok() && job.state() == "done";
      },
      milliseconds(30000)))
      << job.DebugString();
  EXPECT_EQ(job.changed(), 0);

  // Another rule set activated through a standby takes effect on every customer.
  const int64_t wider = Activate(*other, *other, Abc(10, 30));
  EXPECT_EQ(ActiveVersions(cluster), std::set<int64_t>{wider});
  EXPECT_TRUE(WaitFor([&] { return cluster.Tiers() == Expected(feed.revenue, 10, 30); },
                      milliseconds(20000)))
      << cluster.Logs();
  return outcomes;
}

TEST(ReplicasTest, TwoAndThreeReplicasGiveTheTiersOfOne) {
  const Feed feed = MakeFeed(41, time::NowMicros());
  const auto one = RunReplicas(1, feed);
  ASSERT_EQ(one.size(), static_cast<size_t>(kCustomers));
  std::map<std::string, int> counts;
  for (const auto& [id, o] : one) ++counts[o.tier];
  ASSERT_EQ(counts["A"], 15);
  ASSERT_EQ(counts["B"], 45);
  for (int n : {2, 3}) {
    const auto many = RunReplicas(n, feed);
    EXPECT_TRUE(many == one) << n << " replicas disagree with one";
  }
}

TEST(ReplicasTest, TheWriterKilledMidFeedIsReplacedAndTheTiersStayRight) {
  const Feed feed = MakeFeed(43, time::NowMicros());
  Cluster cluster(3);
  ASSERT_TRUE(cluster.AllReady()) << cluster.Logs();
  ASSERT_TRUE(WaitFor([&] { return cluster.Writer().second != nullptr; }, milliseconds(20000)));
  Replica* standby = cluster.Standby();
  ASSERT_NE(standby, nullptr);
  const int64_t version = Activate(*standby, *standby, Abc(5, 20));
  EXPECT_EQ(ActiveVersions(cluster), std::set<int64_t>{version});

  // A third of the feed applied, the next third on its way when the writer dies.
  const size_t third = feed.entries.size() / 3;
  cluster.Publish(feed, 0, third);
  ASSERT_TRUE(WaitFor([&] { return cluster.Count("ledger_entries") > 0; }, milliseconds(20000)));
  auto [epoch, writer] = cluster.Writer();
  ASSERT_NE(writer, nullptr);
  cluster.Publish(feed, third, 2 * third);
  const auto killed_at = steady_clock::now();
  writer->Kill(SIGKILL);
  // Takeover: a new term, held by a live replica, which has loaded its state and consumes.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [now_epoch, now_writer] = cluster.Writer();
        return now_epoch > epoch && now_writer != nullptr;
      },
      milliseconds(20000)))
      << cluster.Logs();
  const auto elected_ms =
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - killed_at).count();
  cluster.Publish(feed, 2 * third, feed.entries.size());
  ASSERT_TRUE(cluster.Settled(feed)) << cluster.Logs();
  std::printf("writer SIGKILLed mid-feed: new writer elected after %lld ms\n",
              static_cast<long long>(elected_ms));
  RecordProperty("takeover_ms", static_cast<int>(elected_ms));
  EXPECT_LT(elected_ms, 10000);
  EXPECT_EQ(cluster.Tiers(), Expected(feed.revenue, 5, 20));

  // The new writer applies a rule set activated through the remaining standby.
  Replica* other = cluster.Standby();
  ASSERT_NE(other, nullptr);
  const int64_t wider = Activate(*other, *other, Abc(10, 30));
  EXPECT_EQ(ActiveVersions(cluster), std::set<int64_t>{wider});
  EXPECT_TRUE(WaitFor([&] { return cluster.Tiers() == Expected(feed.revenue, 10, 30); },
                      milliseconds(20000)));

  // A pin asked of the standby is applied by the writer and answered.
  const std::string pinned = cluster.Outcomes().begin()->first;
  v1::PinTierRequest pin;
  pin.set_customer_id(pinned);
  pin.set_tier("K");
  pin.set_reason("strategic account");
  time::SetTimestamp(time::NowMicros() + 30 * kDay, pin.mutable_expire_time());
  v1::Tier tier;
  const grpc::Status s = other->tiers().PinTier(Context().get(), pin, &tier);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(tier.tier(), "K");
  EXPECT_TRUE(tier.pinned());
  EXPECT_EQ(cluster.Outcomes()[pinned].tier, "K");
}

}  // namespace
}  // namespace tierwise::classification
