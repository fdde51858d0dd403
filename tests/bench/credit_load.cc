// tierwise-bench-credit: ingestion and credit-check load driver for a running credit service.
//
// Setup: creates --customers customers through the profile service (external_ref
// BENCH-<run-id>-<i>, admin token) and waits until the credit service has learnt them from the
// CustomerChanged stream (GetCreditAccount stops answering NOT_FOUND). Then, in --scenarios order:
//
//   ingest  For each of --batch_sizes (default 1, 100, 1000 events per message): --streams
//           IngestEvents streams, each with one batch in flight (write → matching response),
//           for --warmup_s unmeasured and --duration_s measured (or exactly --events events).
//           Events are orders and payments (each payment settles its order) for random
//           customers, named by external_ref, with event ids unique to the run; the service
//           commits before it answers, so every answered event is durable. Then the baseline:
//           the same rows (event_id, customer, kind, document_no, amount, currency,
//           occurred_at, payload bytes) written straight into PostgreSQL (--pg_uri) by as many
//           writer threads as streams, one transaction per batch, into a scratch table in
//           schema bench_baseline_<run-id>, which is dropped at the end. multirow = one
//           multi-row INSERT per batch (values quoted by libpqxx); per_row = one parameterised
//           INSERT per row (--baseline=multirow,per_row).
//   check   CheckCredit for a random customer and order amount, --concurrency calls in flight,
//           next to grpc.health.v1.Health/Check on the credit server.
//   depth   Whether history costs reads: --depth_customers customers per --depth_facts length
//           (default 10 and 5,000 facts) get five years of orders, all paid but the last two,
//           through IngestEvents; then CheckCredit and GetCreditAccount on each group next to
//           the health check, and the long history's calls/s over the short one's.
//
// Output: a table per scenario — events/s and per-batch p50/p99/max latency with the ratio
// service/baseline; calls/s and p50/p90/p99/max with the ratio to the health check — and with
// --json one JSON object per row. --cpu_pids=credit=PID,postgres=PID (local processes; a
// postmaster counts with its backends) adds the CPU each used per measured event.
// Exit code: 0 every call and event succeeded, 1 some failed, 2 the run could not start.
//
// Example, against the local stack (see run_credit_bench.sh):
//   tierwise-bench-credit --profile_addr=127.0.0.1:50051 --credit_addr=127.0.0.1:50053
//       --admin_token=$TIERWISE_ADMIN_TOKEN --erp_token=$TIERWISE_ERP_ADAPTER_TOKEN
//       --pg_uri=$TIERWISE_PG_URI --customers=200 --duration_s=10

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/bench_common.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"
#include "tierwise/profile/v1/profile.grpc.pb.h"

ABSL_FLAG(std::string, profile_addr, "",
          "profile service host:port (default: $TIERWISE_PROFILE_ADDR, else 127.0.0.1:50051)");
ABSL_FLAG(std::string, credit_addr, "",
          "credit service host:port (default: $TIERWISE_CREDIT_ADDR, else 127.0.0.1:50053)");
ABSL_FLAG(std::string, admin_token, "",
          "creates the customers and calls CheckCredit (default: $TIERWISE_ADMIN_TOKEN)");
ABSL_FLAG(std::string, erp_token, "",
          "feeds IngestEvents (default: $TIERWISE_ERP_ADAPTER_TOKEN, else --admin_token)");
ABSL_FLAG(std::string, pg_uri, "",
          "PostgreSQL of the raw INSERT baseline (default: $TIERWISE_PG_URI; none: no baseline)");
ABSL_FLAG(int64_t, customers, 200, "customers to create through the profile service");
ABSL_FLAG(int32_t, seed_concurrency, 16, "CreateCustomer calls in flight while creating them");
ABSL_FLAG(double, known_timeout_s, 60,
          "wait at most this long for the credit service to know the new customers");
ABSL_FLAG(std::string, scenarios, "ingest,check,depth",
          "comma-separated, run in this order: ingest (IngestEvents and the baseline), check "
          "(CheckCredit and the health check), depth (CheckCredit and GetCreditAccount for "
          "short and long histories)");
ABSL_FLAG(std::string, batch_sizes, "1,100,1000", "events per message / per baseline transaction");
ABSL_FLAG(int32_t, streams, 4,
          "IngestEvents streams (and baseline writer threads), one batch in flight each");
ABSL_FLAG(double, duration_s, 10, "measured seconds per batch size and per check scenario");
ABSL_FLAG(int64_t, events, 0,
          "when > 0: measure this many events per batch size (whole batches) instead of "
          "--duration_s");
ABSL_FLAG(double, max_phase_s, 600, "with --events: stop a batch size after this many seconds");
ABSL_FLAG(double, warmup_s, 1, "unmeasured seconds before each measurement");
ABSL_FLAG(std::string, baseline, "multirow",
          "baselines to run: multirow, per_row (comma-separated; empty: none)");
ABSL_FLAG(int32_t, concurrency, 16, "CheckCredit / health calls in flight");
ABSL_FLAG(int32_t, channels, 4, "channels (TCP connections) the unary calls are spread over");
ABSL_FLAG(int32_t, deadline_ms, 10000, "deadline of every unary call and of every batch");
ABSL_FLAG(double, connect_timeout_s, 5, "give up when a server is not reachable by then");
ABSL_FLAG(std::string, health_service, "", "service name sent in Health/Check");
ABSL_FLAG(std::string, cpu_pids, "",
          "name=pid,... of local processes whose CPU (with their descendants) is shown per "
          "measured event, e.g. credit=1234,postgres=987 (the postmaster)");
ABSL_FLAG(bool, json, false, "also print one JSON object per row");
ABSL_FLAG(std::string, depth_facts, "10,5000",
          "depth scenario: ledger lengths (facts per customer, even numbers) to compare");
ABSL_FLAG(int32_t, depth_customers, 8, "depth scenario: customers per ledger length");

namespace tierwise::bench {
namespace {

namespace credit = ::tierwise::credit::v1;
namespace health = ::grpc::health::v1;
namespace profile = ::tierwise::profile::v1;

constexpr int kMaxBatch = 5000;  // the service's limit per message
constexpr size_t kMinBatchesForTrend = 10;

std::atomic<bool> g_interrupted{false};

extern "C" void OnSignal(int) { g_interrupted.store(true); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

constexpr const char* kProductLines[] = {"cement", "steel", "glass", "timber", "pipes", "tiles"};

// One order / one payment settling an order, as the ERP adapter sends them.
struct Document {
  std::string event_id;
  std::string external_ref;
  std::string number;    // order_no / payment_no
  std::string order_no;  // payments: the order paid
  int64_t amount = 0;
  std::string currency;
  uint64_t bits = 0;  // picks the product line
  int64_t at_us = 0;
};

void SetTime(int64_t us, google::protobuf::Timestamp* ts) {
  ts->set_seconds(us / 1000000);
  ts->set_nanos(static_cast<int32_t>(us % 1000000) * 1000);
}

credit::LedgerEventInput OrderInput(const Document& d) {
  credit::LedgerEventInput input;
  credit::OrderEvent& o = *input.mutable_order();
  o.set_event_id(d.event_id);
  o.set_external_ref(d.external_ref);
  o.set_order_no(d.number);
  o.mutable_amount()->set_minor_units(d.amount);
  o.mutable_amount()->set_currency(d.currency);
  o.mutable_cost()->set_minor_units(d.amount / 10 * 8);
  o.mutable_cost()->set_currency(d.currency);
  o.set_product_line(kProductLines[(d.bits >> 32) % std::size(kProductLines)]);
  SetTime(d.at_us, o.mutable_occurred_at());
  return input;
}

credit::LedgerEventInput PaymentInput(const Document& d) {
  credit::LedgerEventInput input;
  credit::PaymentEvent& p = *input.mutable_payment();
  p.set_event_id(d.event_id);
  p.set_external_ref(d.external_ref);
  p.set_payment_no(d.number);
  p.mutable_amount()->set_minor_units(d.amount);
  p.mutable_amount()->set_currency(d.currency);
  p.set_order_no(d.order_no);
  SetTime(d.at_us, p.mutable_occurred_at());
  return input;
}

// Orders and payments for random customers: a customer's events alternate order, payment of that
// order (same amount), order, ... so ledgers stay realistic (items open, then settled) whatever
// order the streams deliver them in. Event ids are <prefix>-<run-id>-<n>. Thread-safe.
class EventSource {
 public:
  EventSource(std::string prefix, std::string run_id, std::vector<std::string> customer_refs,
              std::string currency)
      : prefix_(std::move(prefix)),
        run_id_(std::move(run_id)),
        refs_(std::move(customer_refs)),
        currency_(std::move(currency)),
        sequence_(std::make_unique<std::atomic<int64_t>[]>(refs_.size())) {}

  credit::LedgerEventInput Next(Rng& rng) {
    std::uniform_int_distribution<size_t> pick(0, refs_.size() - 1);
    const size_t c = pick(rng);
    const int64_t s = sequence_[c].fetch_add(1, std::memory_order_relaxed);
    const int64_t n = next_id_.fetch_add(1, std::memory_order_relaxed);
    const int64_t order = s / 2;
    const uint64_t bits =
        SplitMix64((static_cast<uint64_t>(c) << 40) ^ static_cast<uint64_t>(order));
    const int64_t amount = 1000 + static_cast<int64_t>(bits % 5000000);  // 10.00 .. 50,009.99
    const std::string order_no = absl::StrCat("SO-", run_id_, "-", c, "-", order);
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string event_id = absl::StrCat(prefix_, "-", run_id_, "-", n);
    if (s % 2 == 0) {
      return OrderInput({event_id, refs_[c], order_no, "", amount, currency_, bits, now});
    }
    return PaymentInput({event_id, refs_[c], absl::StrCat("RC-", run_id_, "-", c, "-", order),
                         order_no, amount, currency_, bits, now});
  }

 private:
  const std::string prefix_;
  const std::string run_id_;
  const std::vector<std::string> refs_;
  const std::string currency_;
  std::unique_ptr<std::atomic<int64_t>[]> sequence_;  // events so far, per customer
  std::atomic<int64_t> next_id_{0};
};

// The columns the service stores per event (and the baseline writes).
struct Row {
  std::string event_id;
  std::string customer;
  int kind = 0;  // 1 order, 3 payment (the service's numbering)
  std::string document_no;
  int64_t amount = 0;
  std::string currency;
  int64_t occurred_at_us = 0;
  std::string payload;  // the serialized LedgerEventInput
};

Row ToRow(const credit::LedgerEventInput& input) {
  Row row;
  const google::protobuf::Timestamp* ts = nullptr;
  if (input.has_order()) {
    const credit::OrderEvent& o = input.order();
    row = {o.event_id(), o.external_ref(),         1,
           o.order_no(), o.amount().minor_units(), o.amount().currency()};
    ts = &o.occurred_at();
  } else {
    const credit::PaymentEvent& p = input.payment();
    row = {p.event_id(),   p.external_ref(),         3,
           p.payment_no(), p.amount().minor_units(), p.amount().currency()};
    ts = &p.occurred_at();
  }
  row.occurred_at_us = ts->seconds() * 1000000 + ts->nanos() / 1000;
  row.payload = input.SerializeAsString();
  return row;
}

// ---------------------------------------------------------------------------------------------
// CPU of local processes
// ---------------------------------------------------------------------------------------------

// CPU seconds each probe used between two Sample()s; -1 when a process could not be read.
class CpuMeter {
 public:
  explicit CpuMeter(std::vector<CpuProbe> probes) : probes_(std::move(probes)) {}
  const std::vector<CpuProbe>& probes() const { return probes_; }
  std::vector<double> Sample() const { return SampleCpu(probes_); }
  static std::vector<double> Delta(const std::vector<double>& from, const std::vector<double>& to) {
    return CpuDelta(from, to);
  }

 private:
  std::vector<CpuProbe> probes_;
};

// ---------------------------------------------------------------------------------------------
// Ingestion phases
// ---------------------------------------------------------------------------------------------

// When a phase measures and when it stops. Batches that start inside the window are measured.
struct PhasePlan {
  Clock::time_point measure_from;
  Clock::time_point stop;        // no batch starts after this
  std::atomic<int64_t>* budget;  // --events mode: events still to measure; else null
};

// Claims the next batch; returns false when the phase is over. Sets `measured`.
bool NextBatch(const PhasePlan& plan, int batch_size, bool& measured) {
  const Clock::time_point now = Clock::now();
  if (g_interrupted.load() || now >= plan.stop) return false;
  measured = now >= plan.measure_from;
  if (measured && plan.budget != nullptr && plan.budget->fetch_sub(batch_size) <= 0) return false;
  return true;
}

struct IngestTally {
  LoadResult batches;  // one record per batch: status and write → response latency
  int64_t events = 0;  // events in measured batches that were answered
  int64_t applied = 0;
  int64_t parked = 0;
  int64_t rejected = 0;
  int64_t duplicates = 0;
  std::string first_problem;                       // first event not simply APPLIED
  std::vector<std::pair<double, int64_t>> starts;  // (start s after measure_from, events)
  Clock::time_point last_finish{};

  int64_t EventErrors() const { return events - applied; }

  void Merge(IngestTally&& other) {
    batches.Merge(std::move(other.batches));
    events += other.events;
    applied += other.applied;
    parked += other.parked;
    rejected += other.rejected;
    duplicates += other.duplicates;
    if (first_problem.empty()) first_problem = other.first_problem;
    starts.insert(starts.end(), other.starts.begin(), other.starts.end());
    last_finish = std::max(last_finish, other.last_finish);
  }
};

struct IngestRow {
  std::string side;  // service, baseline_multirow, baseline_per_row
  int batch_size = 0;
  std::string note;  // why skipped (empty when run)
  IngestTally tally;
  double elapsed_s = 0;
  std::vector<double> cpu_s;  // per CpuProbe during the measured window

  double EventsPerSecond() const {
    return elapsed_s > 0 ? static_cast<double>(tally.events) / elapsed_s : 0;
  }
  // Events/s of the second half of the window over the first: < 1 means it slowed down. NaN
  // with too few batches to tell.
  double Trend() const {
    if (elapsed_s <= 0 || tally.starts.size() < kMinBatchesForTrend) return std::nan("");
    int64_t first = 0, second = 0;
    for (const auto& [at, n] : tally.starts) (at < elapsed_s / 2 ? first : second) += n;
    return first > 0 ? static_cast<double>(second) / static_cast<double>(first) : 0;
  }
};

// One IngestEvents stream: writes a batch, waits for its response, repeats until the plan ends.
void RunStream(credit::LedgerIngestService::Stub& stub, const std::string& token,
               EventSource& source, int batch_size, const PhasePlan& plan,
               Clock::time_point stream_deadline, uint64_t seed, IngestTally& out) {
  grpc::ClientContext context;
  client::Authorize(context, token);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           stream_deadline - Clock::now()));
  std::unique_ptr<
      grpc::ClientReaderWriter<credit::IngestEventsRequest, credit::IngestEventsResponse>>
      stream = stub.IngestEvents(&context);
  Rng rng(seed);
  bool measured = false;
  bool broken = false;
  Clock::time_point broken_start{};
  while (NextBatch(plan, batch_size, measured)) {
    credit::IngestEventsRequest request;
    for (int i = 0; i < batch_size; ++i) *request.add_events() = source.Next(rng);
    const Clock::time_point start = Clock::now();
    credit::IngestEventsResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) {
      broken = measured;
      broken_start = start;
      break;
    }
    const Clock::time_point end = Clock::now();
    if (!measured) continue;
    out.batches.Record(grpc::Status::OK, end - start);
    out.starts.emplace_back(Seconds(start - plan.measure_from), batch_size);
    out.last_finish = std::max(out.last_finish, end);
    out.events += batch_size;
    for (const credit::IngestResult& r : response.results()) {
      const bool ok = r.outcome() == credit::INGEST_OUTCOME_APPLIED && !r.duplicate();
      if (ok) ++out.applied;
      if (r.outcome() == credit::INGEST_OUTCOME_PARKED) ++out.parked;
      if (r.outcome() == credit::INGEST_OUTCOME_REJECTED) ++out.rejected;
      if (r.duplicate()) ++out.duplicates;
      if (!ok && out.first_problem.empty()) {
        out.first_problem = absl::StrCat(credit::IngestOutcome_Name(r.outcome()),
                                         r.duplicate() ? " (duplicate)" : "", " ", r.error_field(),
                                         " ", r.error_message());
      }
    }
    if (response.results_size() != batch_size && out.first_problem.empty()) {
      out.first_problem =
          absl::StrCat(response.results_size(), " results for ", batch_size, " events");
    }
  }
  if (!broken) stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (broken) {
    // The batch in flight when the stream broke counts as one failed batch.
    out.batches.Record(
        status.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "stream ended without a response")
                    : status,
        Clock::now() - broken_start);
    out.last_finish = std::max(out.last_finish, Clock::now());
  } else if (!status.ok()) {
    out.batches.Record(status, Clock::duration::zero());
  }
}

// ---------------------------------------------------------------------------------------------
// Depth scenario: customers with long and short histories
// ---------------------------------------------------------------------------------------------

// Five years of one customer's history in `facts` events (an even number >= 4): orders spread
// evenly up to today, each paid in full half a step later, except the last two orders, which stay
// open. Sent in time order over one IngestEvents stream, 1,000 events per message. Returns how
// many were APPLIED; `problem` says why not all were.
int64_t FeedHistory(credit::LedgerIngestService::Stub& stub, const std::string& token,
                    const std::string& run_id, const std::string& ref, size_t index, int facts,
                    const std::string& currency, std::string* problem) {
  constexpr int64_t kSpanUs = 5LL * 365 * 86400 * 1000000;
  const int orders = facts / 2 + 1;
  const int64_t step = kSpanUs / orders;
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::vector<credit::LedgerEventInput> events;
  for (int i = 0; i < orders; ++i) {
    const int64_t at = now_us - kSpanUs + static_cast<int64_t>(i) * step;
    const uint64_t bits =
        SplitMix64((static_cast<uint64_t>(index) << 40) ^ static_cast<uint64_t>(i));
    const int64_t amount = 1000 + static_cast<int64_t>(bits % 5000000);
    const std::string order_no = absl::StrCat("HO-", run_id, "-", index, "-", i);
    const std::string prefix = absl::StrCat("HE-", run_id, "-", index, "-");
    events.push_back(
        OrderInput({absl::StrCat(prefix, "o", i), ref, order_no, "", amount, currency, bits, at}));
    if (i >= orders - 2) continue;
    events.push_back(PaymentInput({absl::StrCat(prefix, "p", i), ref,
                                   absl::StrCat("HR-", run_id, "-", index, "-", i), order_no,
                                   amount, currency, bits, at + step / 2}));
  }
  grpc::ClientContext context;
  client::Authorize(context, token);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(300));
  auto stream = stub.IngestEvents(&context);
  int64_t applied = 0;
  for (size_t from = 0; from < events.size(); from += 1000) {
    credit::IngestEventsRequest request;
    for (size_t i = from; i < std::min(events.size(), from + 1000); ++i) {
      *request.add_events() = events[i];
    }
    credit::IngestEventsResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) break;
    for (const credit::IngestResult& r : response.results()) {
      if (r.outcome() == credit::INGEST_OUTCOME_APPLIED && !r.duplicate()) {
        ++applied;
      } else if (problem->empty()) {
        *problem = absl::StrCat(credit::IngestOutcome_Name(r.outcome()), " ", r.error_field(), " ",
                                r.error_message());
      }
    }
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (!status.ok() && problem->empty()) *problem = status.error_message();
  return applied;
}

std::string LiteralTime(int64_t micros) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

constexpr char kBaselineColumns[] =
    "(event_id, customer, kind, document_no, amount, currency, occurred_at, payload)";

// One baseline writer: a transaction per batch, either one multi-row INSERT with quoted values
// or one parameterised INSERT per row.
void RunWriter(pqxx::connection& conn, const std::string& table, bool multirow, EventSource& source,
               int batch_size, const PhasePlan& plan, uint64_t seed, IngestTally& out) {
  Rng rng(seed);
  bool measured = false;
  const std::string insert_one = absl::StrCat(
      "INSERT INTO ", table, " ", kBaselineColumns,
      " VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::double precision / 1e6), $8)");
  while (NextBatch(plan, batch_size, measured)) {
    std::vector<Row> rows;
    rows.reserve(static_cast<size_t>(batch_size));
    for (int i = 0; i < batch_size; ++i) rows.push_back(ToRow(source.Next(rng)));
    std::string sql;
    if (multirow) {
      sql = absl::StrCat("INSERT INTO ", table, " ", kBaselineColumns, " VALUES ");
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        absl::StrAppend(&sql, i ? ",(" : "(", conn.quote(r.event_id), ",", conn.quote(r.customer),
                        ",", r.kind, ",", conn.quote(r.document_no), ",", r.amount, ",",
                        conn.quote(r.currency), ",", conn.quote(LiteralTime(r.occurred_at_us)), ",",
                        conn.quote_raw(reinterpret_cast<const unsigned char*>(r.payload.data()),
                                       r.payload.size()),
                        ")");
      }
    }
    const Clock::time_point start = Clock::now();
    grpc::Status status;
    try {
      pqxx::work tx(conn);
      if (multirow) {
        tx.exec(sql);
      } else {
        for (const Row& r : rows) {
          tx.exec_params(insert_one, r.event_id, r.customer, r.kind, r.document_no, r.amount,
                         r.currency, r.occurred_at_us,
                         pqxx::binarystring(r.payload.data(), r.payload.size()));
        }
      }
      tx.commit();
    } catch (const pqxx::broken_connection& e) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, e.what());
    } catch (const std::exception& e) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, e.what());
    }
    const Clock::time_point end = Clock::now();
    if (measured || !status.ok()) {
      out.batches.Record(status, end - start);
      out.last_finish = std::max(out.last_finish, end);
    }
    if (!status.ok()) break;
    if (!measured) continue;
    out.starts.emplace_back(Seconds(start - plan.measure_from), batch_size);
    out.events += batch_size;
    out.applied += batch_size;
  }
}

// Runs `workers` copies of `work` (given their index and seed) for one plan, samples CPU at the
// start of the measured window and at the end, and fills `row`.
void RunPhase(int workers, const std::function<void(int, uint64_t, IngestTally&)>& work,
              const PhasePlan& plan, const CpuMeter& cpu, IngestRow& row) {
  std::vector<IngestTally> tallies(static_cast<size_t>(workers));
  std::vector<std::thread> threads;
  std::random_device random_device;
  for (int w = 0; w < workers; ++w) {
    const uint64_t seed = (static_cast<uint64_t>(random_device()) << 32) ^ random_device();
    threads.emplace_back([&, w, seed] { work(w, seed, tallies[static_cast<size_t>(w)]); });
  }
  std::this_thread::sleep_until(plan.measure_from);
  const std::vector<double> cpu_from = cpu.Sample();
  for (std::thread& thread : threads) thread.join();
  row.cpu_s = CpuMeter::Delta(cpu_from, cpu.Sample());
  for (IngestTally& tally : tallies) row.tally.Merge(std::move(tally));
  row.tally.batches.Finish();
  row.elapsed_s = row.tally.last_finish > plan.measure_from
                      ? Seconds(row.tally.last_finish - plan.measure_from)
                      : 0;
}

// The baseline's scratch schema, dropped when this goes out of scope.
class ScratchSchema {
 public:
  static std::unique_ptr<ScratchSchema> Create(const std::string& uri, const std::string& run_id,
                                               std::string* error) {
    const std::string schema =
        absl::StrCat("bench_baseline_", absl::StrReplaceAll(run_id, {{"-", "_"}}));
    try {
      pqxx::connection conn(uri);
      pqxx::work tx(conn);
      tx.exec(absl::StrCat("CREATE SCHEMA ", schema));
      tx.exec(absl::StrCat(
          "CREATE TABLE ", schema,
          ".ledger_facts (event_id text PRIMARY KEY, customer text NOT NULL,"
          " kind smallint NOT NULL, document_no text NOT NULL, amount bigint NOT NULL,"
          " currency text NOT NULL, occurred_at timestamptz NOT NULL, payload bytea NOT NULL)"));
      tx.commit();
    } catch (const std::exception& e) {
      *error = e.what();
      return nullptr;
    }
    return std::unique_ptr<ScratchSchema>(new ScratchSchema(uri, schema));
  }

  ~ScratchSchema() {
    try {
      pqxx::connection conn(uri_);
      pqxx::work tx(conn);
      tx.exec(absl::StrCat("DROP SCHEMA IF EXISTS ", schema_, " CASCADE"));
      tx.commit();
      std::fprintf(stderr, "dropped scratch schema %s\n", schema_.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: could not drop scratch schema %s: %s\n", schema_.c_str(),
                   e.what());
    }
  }

  const std::string& schema() const { return schema_; }
  std::string table() const { return absl::StrCat(schema_, ".ledger_facts"); }

 private:
  ScratchSchema(std::string uri, std::string schema)
      : uri_(std::move(uri)), schema_(std::move(schema)) {}
  const std::string uri_;
  const std::string schema_;
};

// ---------------------------------------------------------------------------------------------
// Check scenario
// ---------------------------------------------------------------------------------------------

struct CheckRow {
  std::string scenario;  // health_check, check_credit
  LoadResult result;
  std::vector<double> cpu_s;
  // check_credit only
  int64_t approved = 0;
  int64_t warned = 0;
  int64_t blocked = 0;
  int64_t ledger_events = 0;  // sum of events_applied over successful checks
  int depth = 0;              // depth scenario: facts per customer of the called accounts
};

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

std::string Ratio(double a, double b) { return b > 0 ? absl::StrFormat("%.3f", a / b) : "-"; }
std::string JsonRatio(double a, double b) {
  return b > 0 ? absl::StrFormat("%.3f", a / b) : "null";
}

const IngestRow* ServiceRow(const std::vector<IngestRow>& rows, int batch_size) {
  for (const IngestRow& row : rows) {
    if (row.side == "service" && row.batch_size == batch_size && row.note.empty()) return &row;
  }
  return nullptr;
}

// The service row's events/s over this baseline row's (the service's share of raw PostgreSQL).
std::string ServiceVsBaseline(const std::vector<IngestRow>& rows, const IngestRow& row, bool json) {
  const IngestRow* service = ServiceRow(rows, row.batch_size);
  if (row.side == "service" || service == nullptr || !row.note.empty()) return json ? "null" : "-";
  return json ? JsonRatio(service->EventsPerSecond(), row.EventsPerSecond())
              : Ratio(service->EventsPerSecond(), row.EventsPerSecond());
}

void PrintIngestTable(const std::vector<IngestRow>& rows, const CpuMeter& cpu) {
  std::printf("%-18s %6s %8s %9s %7s %10s %9s %9s %9s %7s %9s\n", "ingest", "batch", "batches",
              "events", "errors", "events/s", "p50 ms", "p99 ms", "max ms", "2nd/1st", "svc/base");
  for (const IngestRow& row : rows) {
    if (!row.note.empty()) {
      std::printf("%-18s %6d skipped: %s\n", row.side.c_str(), row.batch_size, row.note.c_str());
      continue;
    }
    const IngestTally& t = row.tally;
    const LoadResult& b = t.batches;
    const double trend = row.Trend();
    std::printf("%-18s %6d %8lld %9lld %7lld %10.1f %9s %9s %9s %7s %9s\n", row.side.c_str(),
                row.batch_size, static_cast<long long>(b.calls), static_cast<long long>(t.events),
                static_cast<long long>(b.errors + t.EventErrors()), row.EventsPerSecond(),
                Ms(b.PercentileMs(0.50)).c_str(), Ms(b.PercentileMs(0.99)).c_str(),
                Ms(b.PercentileMs(1.0)).c_str(),
                std::isnan(trend) ? "-" : absl::StrFormat("%.2f", trend).c_str(),
                ServiceVsBaseline(rows, row, false).c_str());
  }
  for (const IngestRow& row : rows) {
    const IngestTally& t = row.tally;
    for (const auto& [code, count] : t.batches.error_codes) {
      std::printf("  %s batch %d: %lld batches failed with %s (first: %s)\n", row.side.c_str(),
                  row.batch_size, static_cast<long long>(count), CodeName(code).c_str(),
                  JsonString(t.batches.first_error.at(code)).c_str());
    }
    if (t.EventErrors() > 0) {
      std::printf(
          "  %s batch %d: %lld events not applied (parked %lld, rejected %lld, "
          "duplicate %lld; first: %s)\n",
          row.side.c_str(), row.batch_size, static_cast<long long>(t.EventErrors()),
          static_cast<long long>(t.parked), static_cast<long long>(t.rejected),
          static_cast<long long>(t.duplicates), JsonString(t.first_problem).c_str());
    }
  }
  if (cpu.probes().empty()) return;
  std::printf("\n%-18s %6s", "CPU µs per event", "batch");
  for (const CpuProbe& probe : cpu.probes()) std::printf(" %12s", probe.name.c_str());
  std::printf("   (and %% of one core)\n");
  for (const IngestRow& row : rows) {
    if (!row.note.empty() || row.tally.events == 0) continue;
    std::printf("%-18s %6d", row.side.c_str(), row.batch_size);
    for (double s : row.cpu_s) {
      if (s < 0) {
        std::printf(" %12s", "?");
        continue;
      }
      std::printf(" %12s",
                  absl::StrFormat("%.1f (%.0f%%)", s * 1e6 / static_cast<double>(row.tally.events),
                                  row.elapsed_s > 0 ? 100 * s / row.elapsed_s : 0)
                      .c_str());
    }
    std::printf("\n");
  }
}

double HealthRate(const std::vector<CheckRow>& rows) {
  for (const CheckRow& row : rows) {
    if (row.scenario == "health_check") return row.result.CallsPerSecond();
  }
  return 0;
}

void PrintCheckTable(const std::vector<CheckRow>& rows, const CpuMeter& cpu) {
  // Each row is compared with the health check measured last before it (each scenario
  // measures its own).
  double health_rate = HealthRate(rows);
  std::printf("%-20s %9s %7s %10s %9s %9s %9s %9s %9s\n", "scenario", "calls", "errors", "calls/s",
              "p50 ms", "p90 ms", "p99 ms", "max ms", "vs health");
  for (const CheckRow& row : rows) {
    const LoadResult& r = row.result;
    if (row.scenario == "health_check") health_rate = r.CallsPerSecond();
    std::printf("%-20s %9lld %7lld %10.1f %9s %9s %9s %9s %9s\n", row.scenario.c_str(),
                static_cast<long long>(r.calls), static_cast<long long>(r.errors),
                r.CallsPerSecond(), Ms(r.PercentileMs(0.50)).c_str(),
                Ms(r.PercentileMs(0.90)).c_str(), Ms(r.PercentileMs(0.99)).c_str(),
                Ms(r.PercentileMs(1.0)).c_str(), Ratio(r.CallsPerSecond(), health_rate).c_str());
  }
  for (const CheckRow& row : rows) {
    for (const auto& [code, count] : row.result.error_codes) {
      std::printf("  %s: %lld x %s (first: %s)\n", row.scenario.c_str(),
                  static_cast<long long>(count), CodeName(code).c_str(),
                  JsonString(row.result.first_error.at(code)).c_str());
    }
    if (row.scenario == "check_credit") {
      const int64_t ok = row.approved + row.warned + row.blocked;
      std::printf(
          "  check_credit: approved %lld, with warning %lld, blocked %lld; ledger of %.1f "
          "events per checked account on average\n",
          static_cast<long long>(row.approved), static_cast<long long>(row.warned),
          static_cast<long long>(row.blocked),
          ok > 0 ? static_cast<double>(row.ledger_events) / static_cast<double>(ok) : 0.0);
    }
  }
  // Depth rows: the same call on the longest history over the shortest (1 = history costs
  // nothing).
  for (const CheckRow& deep : rows) {
    if (deep.depth == 0) continue;
    const std::string call = deep.scenario.substr(0, deep.scenario.find('@'));
    const CheckRow* shallow = nullptr;
    for (const CheckRow& row : rows) {
      if (row.depth > 0 && row.depth < deep.depth &&
          row.scenario.substr(0, row.scenario.find('@')) == call &&
          (shallow == nullptr || row.depth < shallow->depth)) {
        shallow = &row;
      }
    }
    if (shallow == nullptr) continue;
    std::printf("  %s: %d facts per customer at %s x the calls/s of %d facts (p50 %s vs %s ms)\n",
                call.c_str(), deep.depth,
                Ratio(deep.result.CallsPerSecond(), shallow->result.CallsPerSecond()).c_str(),
                shallow->depth, Ms(deep.result.PercentileMs(0.50)).c_str(),
                Ms(shallow->result.PercentileMs(0.50)).c_str());
  }
  if (cpu.probes().empty()) return;
  std::printf("\n%-18s", "CPU µs per call");
  for (const CpuProbe& probe : cpu.probes()) std::printf(" %12s", probe.name.c_str());
  std::printf("   (and %% of one core)\n");
  for (const CheckRow& row : rows) {
    if (row.result.calls == 0) continue;
    std::printf("%-18s", row.scenario.c_str());
    for (double s : row.cpu_s) {
      if (s < 0) {
        std::printf(" %12s", "?");
        continue;
      }
      std::printf(" %12s",
                  absl::StrFormat("%.1f (%.0f%%)", s * 1e6 / static_cast<double>(row.result.calls),
                                  row.result.elapsed_s > 0 ? 100 * s / row.result.elapsed_s : 0)
                      .c_str());
    }
    std::printf("\n");
  }
}

std::string JsonCpu(const CpuMeter& cpu, const std::vector<double>& seconds, int64_t units) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < cpu.probes().size() && i < seconds.size(); ++i) {
    parts.push_back(absl::StrCat(
        JsonString(cpu.probes()[i].name), ":{\"cpu_s\":",
        seconds[i] < 0 ? "null" : absl::StrFormat("%.3f", seconds[i]), ",\"us_per_unit\":",
        seconds[i] < 0 || units == 0
            ? "null"
            : absl::StrFormat("%.1f", seconds[i] * 1e6 / static_cast<double>(units)),
        "}"));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

struct RunInfo {
  std::string run_id;
  std::string credit_addr;
  int64_t customers = 0;
  int streams = 0;
  int concurrency = 0;
  double duration_s = 0;
  int64_t events = 0;
  double warmup_s = 0;
};

std::string JsonHead(const std::string& scenario, const RunInfo& info) {
  return absl::StrCat("{\"scenario\":", JsonString(scenario),
                      ",\"run_id\":", JsonString(info.run_id),
                      ",\"addr\":", JsonString(info.credit_addr), ",\"customers\":", info.customers,
                      ",\"warmup_s\":", info.warmup_s);
}

void PrintJson(const std::vector<IngestRow>& ingest, const std::vector<CheckRow>& checks,
               const CpuMeter& cpu, const RunInfo& info) {
  for (const IngestRow& row : ingest) {
    std::string line =
        absl::StrCat(JsonHead("ingest", info), ",\"side\":", JsonString(row.side),
                     ",\"batch_size\":", row.batch_size, ",\"streams\":", info.streams,
                     ",\"duration_s\":", info.duration_s, ",\"events_target\":", info.events);
    if (!row.note.empty()) {
      absl::StrAppend(&line, ",\"skipped\":", JsonString(row.note), "}");
      std::printf("%s\n", line.c_str());
      continue;
    }
    const IngestTally& t = row.tally;
    std::vector<std::string> codes;
    for (const auto& [code, count] : t.batches.error_codes) {
      codes.push_back(absl::StrCat(JsonString(CodeName(code)), ":", count));
    }
    absl::StrAppend(&line, ",\"batches\":", t.batches.calls, ",\"batch_errors\":", t.batches.errors,
                    ",\"events\":", t.events, ",\"events_applied\":", t.applied,
                    ",\"events_parked\":", t.parked, ",\"events_rejected\":", t.rejected,
                    ",\"events_duplicate\":", t.duplicates,
                    ",\"elapsed_s\":", absl::StrFormat("%.3f", row.elapsed_s),
                    ",\"events_per_s\":", absl::StrFormat("%.1f", row.EventsPerSecond()),
                    ",\"batch_p50_ms\":", JsonMs(t.batches.PercentileMs(0.50)),
                    ",\"batch_p99_ms\":", JsonMs(t.batches.PercentileMs(0.99)),
                    ",\"batch_max_ms\":", JsonMs(t.batches.PercentileMs(1.0)),
                    ",\"second_vs_first_half\":",
                    std::isnan(row.Trend()) ? "null" : absl::StrFormat("%.3f", row.Trend()),
                    ",\"service_vs_baseline\":", ServiceVsBaseline(ingest, row, true),
                    ",\"error_codes\":{", absl::StrJoin(codes, ","), "}");
    if (!cpu.probes().empty()) {
      absl::StrAppend(&line, ",\"cpu_per_event\":", JsonCpu(cpu, row.cpu_s, t.events));
    }
    std::printf("%s}\n", line.c_str());
  }
  double health_rate = HealthRate(checks);
  for (const CheckRow& row : checks) {
    const LoadResult& r = row.result;
    if (row.scenario == "health_check") health_rate = r.CallsPerSecond();
    std::vector<std::string> codes;
    for (const auto& [code, count] : r.error_codes) {
      codes.push_back(absl::StrCat(JsonString(CodeName(code)), ":", count));
    }
    std::string line = absl::StrCat(
        JsonHead(row.scenario, info), ",\"concurrency\":", info.concurrency,
        ",\"duration_s\":", info.duration_s, ",\"calls\":", r.calls, ",\"errors\":", r.errors,
        ",\"calls_per_s\":", absl::StrFormat("%.1f", r.CallsPerSecond()),
        ",\"p50_ms\":", JsonMs(r.PercentileMs(0.50)), ",\"p90_ms\":", JsonMs(r.PercentileMs(0.90)),
        ",\"p99_ms\":", JsonMs(r.PercentileMs(0.99)), ",\"max_ms\":", JsonMs(r.PercentileMs(1.0)),
        ",\"vs_health\":", JsonRatio(r.CallsPerSecond(), health_rate), ",\"error_codes\":{",
        absl::StrJoin(codes, ","), "}");
    if (row.scenario == "check_credit") {
      absl::StrAppend(&line, ",\"approved\":", row.approved,
                      ",\"approved_with_warning\":", row.warned, ",\"blocked\":", row.blocked,
                      ",\"ledger_events_sum\":", row.ledger_events);
    }
    if (!cpu.probes().empty()) {
      absl::StrAppend(&line, ",\"cpu_per_call\":", JsonCpu(cpu, row.cpu_s, r.calls));
    }
    std::printf("%s}\n", line.c_str());
  }
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

struct KnownCustomer {
  std::string id;
  std::string external_ref;
};

// Polls GetCreditAccount until every customer is known to the credit service or `timeout`
// passes; returns the known ones and the account currency (of the first) in `currency`.
std::vector<KnownCustomer> WaitKnown(credit::CreditService::Stub& stub,
                                     const CallSettings& settings,
                                     const std::vector<SeededCustomer>& created,
                                     absl::Duration timeout, std::string* currency) {
  const Clock::time_point begin = Clock::now();
  const Clock::time_point give_up = begin + absl::ToChronoNanoseconds(timeout);
  std::vector<SeededCustomer> pending = created;
  std::vector<KnownCustomer> known;
  grpc::Status last_error;
  while (!pending.empty() && !g_interrupted.load()) {
    std::vector<SeededCustomer> still;
    for (const SeededCustomer& c : pending) {
      grpc::ClientContext context;
      settings.Apply(context);
      credit::GetCreditAccountRequest request;
      request.set_customer_id(c.id);
      credit::CreditAccount account;
      const grpc::Status status = stub.GetCreditAccount(&context, request, &account);
      if (status.ok()) {
        if (currency->empty()) *currency = account.currency();
        known.push_back({c.id, c.external_ref});
        continue;
      }
      if (status.error_code() != grpc::StatusCode::NOT_FOUND) last_error = status;
      still.push_back(c);
    }
    pending = std::move(still);
    if (pending.empty() || Clock::now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("credit      knows %zu of %zu customers after %.1f s\n", known.size(), created.size(),
              Seconds(Clock::now() - begin));
  if (!pending.empty() && !last_error.ok()) {
    std::printf("  GetCreditAccount: %s: %s\n", CodeName(last_error.error_code()).c_str(),
                last_error.error_message().c_str());
  }
  return known;
}

std::optional<std::vector<int>> ParseBatchSizes(const std::string& text) {
  std::vector<int> sizes;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int size = 0;
    if (!absl::SimpleAtoi(part, &size) || size < 1 || size > kMaxBatch) return std::nullopt;
    sizes.push_back(size);
  }
  if (sizes.empty()) return std::nullopt;
  return sizes;
}

int Main() {
  const std::string profile_addr = !absl::GetFlag(FLAGS_profile_addr).empty()
                                       ? absl::GetFlag(FLAGS_profile_addr)
                                       : EnvOr("TIERWISE_PROFILE_ADDR", "127.0.0.1:50051");
  const std::string credit_addr = !absl::GetFlag(FLAGS_credit_addr).empty()
                                      ? absl::GetFlag(FLAGS_credit_addr)
                                      : EnvOr("TIERWISE_CREDIT_ADDR", "127.0.0.1:50053");
  const std::string admin_token = !absl::GetFlag(FLAGS_admin_token).empty()
                                      ? absl::GetFlag(FLAGS_admin_token)
                                      : EnvOr("TIERWISE_ADMIN_TOKEN", "");
  const std::string erp_token = !absl::GetFlag(FLAGS_erp_token).empty()
                                    ? absl::GetFlag(FLAGS_erp_token)
                                    : EnvOr("TIERWISE_ERP_ADAPTER_TOKEN", admin_token);
  const std::string pg_uri = !absl::GetFlag(FLAGS_pg_uri).empty() ? absl::GetFlag(FLAGS_pg_uri)
                                                                  : EnvOr("TIERWISE_PG_URI", "");
  const int64_t customers = absl::GetFlag(FLAGS_customers);
  const int streams = absl::GetFlag(FLAGS_streams);
  const double duration_s = absl::GetFlag(FLAGS_duration_s);
  const int64_t events_target = absl::GetFlag(FLAGS_events);
  const double warmup_s = absl::GetFlag(FLAGS_warmup_s);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int channels = absl::GetFlag(FLAGS_channels);
  const int deadline_ms = absl::GetFlag(FLAGS_deadline_ms);

  const std::vector<std::string> scenarios =
      absl::StrSplit(absl::GetFlag(FLAGS_scenarios), ',', absl::SkipWhitespace());
  for (const std::string& scenario : scenarios) {
    if (scenario != "ingest" && scenario != "check" && scenario != "depth") {
      std::fprintf(stderr, "error: unknown scenario %s (known: ingest,check,depth)\n",
                   scenario.c_str());
      return 2;
    }
  }
  const std::vector<std::string> baselines =
      absl::StrSplit(absl::GetFlag(FLAGS_baseline), ',', absl::SkipWhitespace());
  for (const std::string& baseline : baselines) {
    if (baseline != "multirow" && baseline != "per_row") {
      std::fprintf(stderr, "error: unknown baseline %s (known: multirow,per_row)\n",
                   baseline.c_str());
      return 2;
    }
  }
  const std::optional<std::vector<int>> batch_sizes =
      ParseBatchSizes(absl::GetFlag(FLAGS_batch_sizes));
  if (!batch_sizes) {
    std::fprintf(stderr, "error: --batch_sizes must be comma-separated numbers in 1..%d\n",
                 kMaxBatch);
    return 2;
  }
  const std::optional<std::vector<CpuProbe>> probes = ParseCpuProbes(absl::GetFlag(FLAGS_cpu_pids));
  if (!probes) {
    std::fprintf(stderr, "error: --cpu_pids must look like credit=1234,postgres=987\n");
    return 2;
  }
  if (customers < 1 || streams < 1 || concurrency < 1 || channels < 1 || deadline_ms < 1 ||
      duration_s <= 0 || warmup_s < 0 || events_target < 0 ||
      absl::GetFlag(FLAGS_seed_concurrency) < 1 || absl::GetFlag(FLAGS_max_phase_s) <= 0) {
    std::fprintf(stderr,
                 "error: need --customers, --streams, --concurrency, --channels, "
                 "--seed_concurrency, --deadline_ms >= 1, --duration_s, --max_phase_s > 0, "
                 "--warmup_s, --events >= 0\n");
    return 2;
  }
  if (admin_token.empty()) {
    std::fprintf(stderr, "error: no admin token (--admin_token or $TIERWISE_ADMIN_TOKEN)\n");
    return 2;
  }
  std::vector<int> depths;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_depth_facts), ',', absl::SkipWhitespace())) {
    int facts = 0;
    if (!absl::SimpleAtoi(part, &facts) || facts < 4 || facts % 2 != 0 || facts > 1000000) {
      std::fprintf(stderr, "error: --depth_facts needs even numbers from 4 to 1000000\n");
      return 2;
    }
    depths.push_back(facts);
  }
  const bool depth_wanted =
      std::find(scenarios.begin(), scenarios.end(), "depth") != scenarios.end();
  const int depth_customers = absl::GetFlag(FLAGS_depth_customers);
  const int64_t reserved =
      depth_wanted ? static_cast<int64_t>(depths.size()) * std::max(depth_customers, 0) : 0;
  if (depth_wanted && (depth_customers < 1 || customers <= reserved)) {
    std::fprintf(stderr,
                 "error: the depth scenario needs --depth_customers >= 1 and --customers above "
                 "%lld (the customers with a history of their own)\n",
                 static_cast<long long>(reserved));
    return 2;
  }
  const bool ingest_wanted =
      std::find(scenarios.begin(), scenarios.end(), "ingest") != scenarios.end();
  const bool baseline_wanted = ingest_wanted && !baselines.empty();

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  const std::string run_id = NewRunId();
  const absl::Duration deadline = absl::Milliseconds(deadline_ms);
  const CallSettings admin{admin_token, deadline};
  const CpuMeter cpu(*probes);
  std::printf("run         %s\n", run_id.c_str());
  std::printf("servers     profile %s, credit %s\n", profile_addr.c_str(), credit_addr.c_str());
  std::fflush(stdout);

  const absl::Duration connect_timeout = absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s));
  std::vector<std::shared_ptr<grpc::Channel>> profile_channels =
      OpenChannels(profile_addr, channels);
  std::vector<std::shared_ptr<grpc::Channel>> credit_channels =
      OpenChannels(credit_addr, std::max(channels, streams));
  if (!WaitConnected(profile_channels, profile_addr, connect_timeout) ||
      !WaitConnected(credit_channels, credit_addr, connect_timeout)) {
    return 2;
  }
  std::vector<std::unique_ptr<profile::CustomerProfileService::Stub>> profile_stubs;
  std::vector<profile::CustomerProfileService::Stub*> profile_stub_ptrs;
  for (const auto& channel : profile_channels) {
    profile_stubs.push_back(profile::CustomerProfileService::NewStub(channel));
    profile_stub_ptrs.push_back(profile_stubs.back().get());
  }
  std::vector<std::unique_ptr<credit::CreditService::Stub>> credit_stubs;
  std::vector<std::unique_ptr<credit::LedgerIngestService::Stub>> ingest_stubs;
  std::vector<std::unique_ptr<health::Health::Stub>> health_stubs;
  for (const auto& channel : credit_channels) {
    credit_stubs.push_back(credit::CreditService::NewStub(channel));
    ingest_stubs.push_back(credit::LedgerIngestService::NewStub(channel));
    health_stubs.push_back(health::Health::NewStub(channel));
  }

  // The baseline's scratch schema goes first: a bad --pg_uri should fail before the seeding.
  std::unique_ptr<ScratchSchema> scratch;
  std::string baseline_note;
  if (baseline_wanted) {
    if (pg_uri.empty()) {
      baseline_note = "no --pg_uri";
    } else {
      std::string error;
      scratch = ScratchSchema::Create(pg_uri, run_id, &error);
      if (scratch == nullptr) {
        std::fprintf(stderr, "error: cannot create the baseline's scratch schema: %s\n",
                     error.c_str());
        return 2;
      }
      std::printf("baseline    table %s (the 8 columns, primary key event_id, no other index)\n",
                  scratch->table().c_str());
    }
  }

  const SeedOutcome seeded =
      SeedCustomers(profile_stub_ptrs, admin, run_id, customers,
                    absl::GetFlag(FLAGS_seed_concurrency), absl::Seconds(120));
  bool failed = static_cast<int64_t>(seeded.created.size()) < customers;
  if (seeded.created.empty()) return 2;
  std::string currency;
  const std::vector<KnownCustomer> known =
      WaitKnown(*credit_stubs[0], admin, seeded.created,
                absl::Seconds(absl::GetFlag(FLAGS_known_timeout_s)), &currency);
  if (known.empty()) {
    std::fprintf(stderr,
                 "error: the credit service knows none of the new customers; does it "
                 "share --redis_prefix with the profile service?\n");
    return 2;
  }
  failed = failed || known.size() < seeded.created.size();
  if (currency.empty()) currency = "CNY";
  // The depth scenario's customers (the last ones) get histories of their own; the random feeds
  // and checks use the others.
  const size_t reserved_from = known.size() > static_cast<size_t>(reserved)
                                   ? known.size() - static_cast<size_t>(reserved)
                                   : known.size();
  const std::vector<KnownCustomer> history_customers(
      known.begin() + static_cast<ptrdiff_t>(reserved_from), known.end());
  std::vector<std::string> refs;
  for (size_t i = 0; i < reserved_from; ++i) refs.push_back(known[i].external_ref);
  std::printf("\n");
  std::fflush(stdout);

  RunInfo info{run_id,        credit_addr, static_cast<int64_t>(known.size()),
               streams,       concurrency, duration_s,
               events_target, warmup_s};
  std::vector<IngestRow> ingest_rows;
  std::vector<CheckRow> check_rows;
  EventSource service_events("EV", run_id, refs, currency);
  EventSource baseline_events("BL", run_id, refs, currency);
  const absl::Duration warmup = absl::Seconds(warmup_s);
  const absl::Duration duration = absl::Seconds(duration_s);

  for (const std::string& scenario : scenarios) {
    if (g_interrupted.load()) break;
    if (scenario == "ingest") {
      for (int batch_size : *batch_sizes) {
        // Each side gets the same plan shape: warm-up, then a window or an event budget.
        auto plan_for = [&](std::atomic<int64_t>& budget) {
          const Clock::time_point begin = Clock::now();
          PhasePlan plan;
          plan.measure_from = begin + absl::ToChronoNanoseconds(warmup);
          plan.stop =
              plan.measure_from +
              absl::ToChronoNanoseconds(
                  events_target > 0 ? absl::Seconds(absl::GetFlag(FLAGS_max_phase_s)) : duration);
          budget.store(events_target);
          plan.budget = events_target > 0 ? &budget : nullptr;
          return plan;
        };
        std::atomic<int64_t> budget{0};
        {
          if (g_interrupted.load()) break;
          std::fprintf(stderr, "ingest: service, batch %d\n", batch_size);
          IngestRow row{"service", batch_size};
          const PhasePlan plan = plan_for(budget);
          const Clock::time_point stream_deadline =
              plan.stop + std::chrono::milliseconds(deadline_ms);
          RunPhase(
              streams,
              [&](int w, uint64_t seed, IngestTally& out) {
                RunStream(*ingest_stubs[static_cast<size_t>(w) % ingest_stubs.size()], erp_token,
                          service_events, batch_size, plan, stream_deadline, seed, out);
              },
              plan, cpu, row);
          ingest_rows.push_back(std::move(row));
        }
        for (const std::string& baseline : baselines) {
          if (g_interrupted.load()) break;
          IngestRow row{absl::StrCat("baseline_", baseline), batch_size};
          if (scratch == nullptr) {
            row.note = baseline_note;
            ingest_rows.push_back(std::move(row));
            continue;
          }
          std::fprintf(stderr, "ingest: baseline %s, batch %d\n", baseline.c_str(), batch_size);
          std::vector<std::unique_ptr<pqxx::connection>> connections;
          try {
            for (int w = 0; w < streams; ++w) {
              connections.push_back(std::make_unique<pqxx::connection>(pg_uri));
            }
          } catch (const std::exception& e) {
            row.note = absl::StrCat("cannot connect: ", e.what());
            ingest_rows.push_back(std::move(row));
            failed = true;
            continue;
          }
          const PhasePlan plan = plan_for(budget);
          const std::string table = scratch->table();
          const bool multirow = baseline == "multirow";
          RunPhase(
              streams,
              [&](int w, uint64_t seed, IngestTally& out) {
                RunWriter(*connections[static_cast<size_t>(w)], table, multirow, baseline_events,
                          batch_size, plan, seed, out);
              },
              plan, cpu, row);
          ingest_rows.push_back(std::move(row));
        }
      }
    } else if (scenario == "check") {
      const std::string health_service = absl::GetFlag(FLAGS_health_service);
      const size_t queues = std::min<size_t>(static_cast<size_t>(channels), credit_stubs.size());
      for (const std::string name : {"health_check", "check_credit"}) {
        if (g_interrupted.load()) break;
        std::fprintf(stderr, "running %s\n", name.c_str());
        CheckRow row;
        row.scenario = name;
        std::atomic<int64_t> approved{0}, warned{0}, blocked{0}, ledger_events{0};
        StartFn start;
        if (name == "health_check") {
          start = [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
            if (g_interrupted.load()) return false;
            health::HealthCheckRequest request;
            request.set_service(health_service);
            StartUnary(*health_stubs[channel], &health::Health::Stub::PrepareAsyncCheck,
                       std::move(request), admin, cq);
            return true;
          };
        } else {
          start = [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
            if (g_interrupted.load()) return false;
            std::uniform_int_distribution<size_t> pick(0, reserved_from - 1);
            std::uniform_int_distribution<int64_t> amount(10000, 20000000);  // 100 .. 200,000
            credit::CheckCreditRequest request;
            request.set_customer_id(known[pick(rng)].id);
            request.mutable_order_amount()->set_minor_units(amount(rng));
            request.mutable_order_amount()->set_currency(currency);
            StartUnary(
                *credit_stubs[channel], &credit::CreditService::Stub::PrepareAsyncCheckCredit,
                std::move(request), admin, cq,
                [&](const grpc::Status& status, const credit::CheckCreditResponse& r) {
                  if (!status.ok()) return;
                  switch (r.decision()) {
                    case credit::CREDIT_DECISION_APPROVED:
                      approved.fetch_add(1, std::memory_order_relaxed);
                      break;
                    case credit::CREDIT_DECISION_APPROVED_WITH_WARNING:
                      warned.fetch_add(1, std::memory_order_relaxed);
                      break;
                    default:
                      blocked.fetch_add(1, std::memory_order_relaxed);
                  }
                  ledger_events.fetch_add(r.account().events_applied(), std::memory_order_relaxed);
                });
            return true;
          };
        }
        // CPU over the measured window: sampled when warm-up ends and after the last call.
        std::vector<double> cpu_from;
        std::thread sampler([&] {
          std::this_thread::sleep_for(absl::ToChronoNanoseconds(warmup));
          cpu_from = cpu.Sample();
        });
        row.result = RunLoad(start, queues, concurrency, warmup, duration);
        sampler.join();
        row.cpu_s = CpuMeter::Delta(cpu_from, cpu.Sample());
        row.approved = approved.load();
        row.warned = warned.load();
        row.blocked = blocked.load();
        row.ledger_events = ledger_events.load();
        check_rows.push_back(std::move(row));
      }
    } else if (scenario == "depth") {
      // Histories first: depth_customers customers per ledger length, each fed its own years.
      std::vector<std::vector<std::string>> ids_by_depth(depths.size());
      for (size_t d = 0; d < depths.size() && !g_interrupted.load(); ++d) {
        std::fprintf(stderr, "depth: feeding %d customers %d facts each\n", depth_customers,
                     depths[d]);
        for (int k = 0; k < depth_customers; ++k) {
          const size_t index = d * static_cast<size_t>(depth_customers) + static_cast<size_t>(k);
          const KnownCustomer& c = history_customers[index];
          std::string problem;
          const int64_t applied = FeedHistory(*ingest_stubs[0], erp_token, run_id, c.external_ref,
                                              index, depths[d], currency, &problem);
          if (applied != depths[d]) {
            std::fprintf(stderr, "depth: %s got %lld of %d events applied (%s)\n",
                         c.external_ref.c_str(), static_cast<long long>(applied), depths[d],
                         problem.c_str());
            failed = true;
          }
          ids_by_depth[d].push_back(c.id);
        }
      }
      const std::string health_service = absl::GetFlag(FLAGS_health_service);
      const size_t queues = std::min<size_t>(static_cast<size_t>(channels), credit_stubs.size());
      auto measure = [&](const std::string& name, int depth, StartFn start) {
        std::fprintf(stderr, "running %s\n", name.c_str());
        CheckRow row;
        row.scenario = name;
        row.depth = depth;
        std::vector<double> cpu_from;
        std::thread sampler([&] {
          std::this_thread::sleep_for(absl::ToChronoNanoseconds(warmup));
          cpu_from = cpu.Sample();
        });
        row.result = RunLoad(std::move(start), queues, concurrency, warmup, duration);
        sampler.join();
        row.cpu_s = CpuMeter::Delta(cpu_from, cpu.Sample());
        check_rows.push_back(std::move(row));
      };
      if (!g_interrupted.load()) {
        measure("health_check", 0, [&](size_t channel, Rng&, grpc::CompletionQueue& cq) {
          if (g_interrupted.load()) return false;
          health::HealthCheckRequest request;
          request.set_service(health_service);
          StartUnary(*health_stubs[channel], &health::Health::Stub::PrepareAsyncCheck,
                     std::move(request), admin, cq);
          return true;
        });
      }
      for (size_t d = 0; d < depths.size() && !g_interrupted.load(); ++d) {
        const std::vector<std::string>& ids = ids_by_depth[d];
        measure(absl::StrCat("check_credit@", depths[d]), depths[d],
                [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
                  if (g_interrupted.load()) return false;
                  std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
                  std::uniform_int_distribution<int64_t> amount(10000, 20000000);
                  credit::CheckCreditRequest request;
                  request.set_customer_id(ids[pick(rng)]);
                  request.mutable_order_amount()->set_minor_units(amount(rng));
                  request.mutable_order_amount()->set_currency(currency);
                  StartUnary(*credit_stubs[channel],
                             &credit::CreditService::Stub::PrepareAsyncCheckCredit,
                             std::move(request), admin, cq);
                  return true;
                });
        if (g_interrupted.load()) break;
        measure(absl::StrCat("get_account@", depths[d]), depths[d],
                [&](size_t channel, Rng& rng, grpc::CompletionQueue& cq) {
                  if (g_interrupted.load()) return false;
                  std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
                  credit::GetCreditAccountRequest request;
                  request.set_customer_id(ids[pick(rng)]);
                  StartUnary(*credit_stubs[channel],
                             &credit::CreditService::Stub::PrepareAsyncGetCreditAccount,
                             std::move(request), admin, cq);
                  return true;
                });
      }
    }
  }

  if (!ingest_rows.empty()) {
    std::printf(
        "ingestion: %d streams / writer threads, one batch in flight each, %s per batch "
        "size after %g s warm-up; latency = write → response (commit)\n",
        streams,
        events_target > 0 ? absl::StrCat(events_target, " events").c_str()
                          : absl::StrCat(duration_s, " s").c_str(),
        warmup_s);
    PrintIngestTable(ingest_rows, cpu);
    std::printf("\n");
  }
  if (!check_rows.empty()) {
    std::printf("checks: %d calls in flight over %zu channels, %g s after %g s warm-up\n",
                concurrency, std::min<size_t>(static_cast<size_t>(channels), credit_stubs.size()),
                duration_s, warmup_s);
    PrintCheckTable(check_rows, cpu);
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("\n");
    PrintJson(ingest_rows, check_rows, cpu, info);
  }
  std::fflush(stdout);
  if (g_interrupted.load()) {
    std::fprintf(stderr, "interrupted\n");
    failed = true;
  }
  for (const IngestRow& row : ingest_rows) {
    if (row.tally.batches.errors > 0 || row.tally.EventErrors() > 0) failed = true;
  }
  for (const CheckRow& row : check_rows) {
    if (row.result.errors > 0) failed = true;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace tierwise::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures IngestEvents (against a raw PostgreSQL INSERT baseline) and CheckCredit of a "
      "running Tierwise credit service.\nExample: tierwise-bench-credit "
      "--admin_token=$TIERWISE_ADMIN_TOKEN --erp_token=$TIERWISE_ERP_ADAPTER_TOKEN "
      "--pg_uri=$TIERWISE_PG_URI");
  return tierwise::bench::RunDriver(argc, argv, tierwise::bench::Main);
}
