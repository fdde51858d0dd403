#include "common/outbox/outbox.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/postgres/text_array.h"
#include "common/status/macros.h"

namespace tierwise::outbox {
namespace {

struct Row {
  int64_t id;
  Message message;
};

}  // namespace

postgres::Migration TableMigration() {
  return {900, "outbox",
          "CREATE TABLE outbox ("
          " id bigserial PRIMARY KEY,"
          " stream text NOT NULL,"
          " type text NOT NULL,"
          " event_id text NOT NULL UNIQUE,"
          " payload bytea NOT NULL,"
          " created_at timestamptz NOT NULL DEFAULT now(),"
          " published_at timestamptz);"
          "CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;"};
}

std::string InsertSql(int first) {
  return absl::StrCat("INSERT INTO outbox (stream, type, event_id, payload) VALUES ($", first,
                      ", $", first + 1, ", $", first + 2, ", $", first + 3, ")");
}

void Enqueue(pqxx::work& tx, const Message& message) {
  static const std::string kSql = InsertSql(1);
  postgres::Prepared(tx, "outbox_enqueue", kSql, message.stream, message.type, message.event_id,
                     pqxx::binarystring(message.payload.data(), message.payload.size()));
}

void EnqueueAll(pqxx::work& tx, const std::vector<Message>& messages) {
  if (messages.empty()) return;
  if (messages.size() == 1) return Enqueue(tx, messages.front());
  std::vector<std::string> streams, types, event_ids, payloads;
  for (const Message& m : messages) {
    streams.push_back(m.stream);
    types.push_back(m.type);
    event_ids.push_back(m.event_id);
    payloads.push_back(absl::BytesToHexString(m.payload));  // no bytea[] literal escaping
  }
  tx.exec_params(
      "INSERT INTO outbox (stream, type, event_id, payload)"
      " SELECT s, t, e, decode(p, 'hex') FROM unnest($1::text[], $2::text[], $3::text[],"
      " $4::text[]) WITH ORDINALITY AS u(s, t, e, p, n) ORDER BY n",
      postgres::ToTextArray(streams), postgres::ToTextArray(types),
      postgres::ToTextArray(event_ids), postgres::ToTextArray(payloads));
}

Relay::Relay(postgres::PgPool& pool, redis::RedisClient& redis, RelayOptions options)
    : pool_(pool), redis_(redis), options_(options) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Relay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Relay::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Relay::Loop() {
  auto last_cleanup = std::chrono::steady_clock::now();
  auto last_trim = std::chrono::steady_clock::now();
  int failures = 0;
  while (true) {
    absl::StatusOr<int> published = PublishOnce();
    std::chrono::milliseconds wait = options_.poll_interval;
    if (!published.ok()) {
      // Backs off while PostgreSQL or Redis is away: one line per attempt, at most every 10 s.
      ++failures;
      wait = std::min(options_.poll_interval * (1 << std::min(failures, 6)),
                      std::max(options_.poll_interval, std::chrono::milliseconds(10000)));
      log::Warn("outbox.publish_failed", {{"schema", pool_.options().schema},
                                          {"attempt", failures},
                                          {"retry_in_ms", wait.count()},
                                          {"error", published.status().ToString()}});
    } else if (failures > 0) {
      log::Info("outbox.recovered",
                {{"schema", pool_.options().schema}, {"failed_rounds", failures}});
      failures = 0;
    }
    const bool more = published.ok() && *published == options_.batch_size;
    const auto now = std::chrono::steady_clock::now();
    if (published.ok() && now - last_cleanup > std::chrono::minutes(10)) {
      last_cleanup = now;
      absl::Status cleaned = pool_.Transact([&](pqxx::work& tx) {
        tx.exec_params("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1)",
                       static_cast<int>(options_.retention.count()));
        return absl::OkStatus();
      });
      if (!cleaned.ok()) log::Warn("outbox.cleanup_failed", {{"error", cleaned.ToString()}});
    }
    if (published.ok() && now - last_trim > options_.trim_interval) {
      last_trim = now;
      absl::StatusOr<int64_t> trimmed = TrimStreams();
      if (!trimmed.ok()) {
        log::Warn("outbox.trim_failed", {{"error", trimmed.status().ToString()}});
      } else if (*trimmed > 0) {
        log::Info("outbox.trimmed", {{"entries", *trimmed}});
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!more) {
      cv_.wait_for(lock, wait, [&] { return stop_ || (wake_ && failures == 0); });
    }
    wake_ = false;
    if (stop_) break;
  }
  // Drain what is committed so a graceful stop leaves nothing behind that could be sent now.
  (void)PublishOnce();
}

namespace {

// Stream ids compare as (milliseconds, sequence).
std::pair<uint64_t, uint64_t> ParseStreamId(const std::string& id) {
  const auto dash = id.find('-');
  uint64_t ms = 0, seq = 0;
  (void)absl::SimpleAtoi(id.substr(0, dash), &ms);
  if (dash != std::string::npos) (void)absl::SimpleAtoi(id.substr(dash + 1), &seq);
  return {ms, seq};
}

}  // namespace

absl::StatusOr<int64_t> Relay::TrimStreams() {
  std::set<std::string> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams = streams_;
  }
  const uint64_t now_ms =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  const uint64_t retention_ms = static_cast<uint64_t>(options_.stream_retention.count());
  // Retention 0: no age condition (not "older than now", which would race with the clock).
  const std::pair<uint64_t, uint64_t> by_age = {
      retention_ms == 0 ? UINT64_MAX : (now_ms > retention_ms ? now_ms - retention_ms : 0), 0};
  int64_t removed = 0;
  for (const std::string& stream : streams) {
    TW_ASSIGN_OR_RETURN(redis::Reply groups, redis_.Command({"XINFO", "GROUPS", stream}));
    if (groups.type != redis::Reply::Type::kArray || groups.elements.empty()) continue;
    // The oldest entry some group still needs: its oldest pending entry, else the entry after
    // its last delivered one (XTRIM MINID keeps ids >= the threshold).
    std::optional<std::pair<uint64_t, uint64_t>> needed;
    for (const redis::Reply& group : groups.elements) {
      std::string name, last_delivered;
      int64_t pending = 0;
      for (size_t i = 0; i + 1 < group.elements.size(); i += 2) {
        const std::string& key = group.elements[i].str;
        if (key == "name") name = group.elements[i + 1].str;
        if (key == "last-delivered-id") last_delivered = group.elements[i + 1].str;
        if (key == "pending") pending = group.elements[i + 1].integer;
      }
      std::pair<uint64_t, uint64_t> first_needed = ParseStreamId(last_delivered);
      first_needed.second += 1;
      if (pending > 0) {
        TW_ASSIGN_OR_RETURN(redis::Reply summary, redis_.Command({"XPENDING", stream, name}));
        if (summary.type != redis::Reply::Type::kArray || summary.elements.size() < 2 ||
            summary.elements[1].is_nil()) {
          continue;  // cannot tell: this group keeps the stream as is
        }
        first_needed = std::min(first_needed, ParseStreamId(summary.elements[1].str));
      }
      needed = needed ? std::min(*needed, first_needed) : first_needed;
    }
    if (!needed) continue;
    const std::pair<uint64_t, uint64_t> threshold = std::min(*needed, by_age);
    if (threshold.first == 0 && threshold.second == 0) continue;
    TW_ASSIGN_OR_RETURN(redis::Reply trimmed,
                        redis_.Command({"XTRIM", stream, "MINID",
                                        absl::StrCat(threshold.first, "-", threshold.second)}));
    if (trimmed.type == redis::Reply::Type::kError) {
      return absl::InternalError(absl::StrCat("XTRIM: ", trimmed.str));
    }
    removed += trimmed.integer;
  }
  return removed;
}

namespace {

// Adds a run of rows to one stream, each only if its event_id was not added before (a dedup
// key per event, kept for a day), atomically on the Redis side. KEYS: stream, dedup keys;
// ARGV: ttl seconds, then (type, event_id, payload) per row. Returns how many were added.
constexpr char kPublishScript[] = R"lua(
local added = 0
for i = 2, #KEYS do
  local base = 2 + (i - 2) * 3
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('XADD', KEYS[1], '*', 'type', ARGV[base], 'event_id', ARGV[base + 1],
                'payload', ARGV[base + 2])
    redis.call('SET', KEYS[i], '1', 'EX', ARGV[1])
    added = added + 1
  end
end
return added
)lua";

constexpr int kDedupSeconds = 86400;

}  // namespace

absl::StatusOr<int> Relay::PublishOnce() {
  int published = 0;
  absl::Status redis_status;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    published = 0;
    redis_status = absl::OkStatus();
    const bool leader = tx.exec_params1("SELECT pg_try_advisory_xact_lock(hashtext($1))",
                                        absl::StrCat("tierwise.outbox.", pool_.options().schema))[0]
                            .as<bool>();
    if (!leader) return absl::OkStatus();
    std::vector<Row> rows;
    for (const auto& r : tx.exec_params("SELECT id, stream, type, event_id, payload FROM outbox"
                                        " WHERE published_at IS NULL ORDER BY id LIMIT $1",
                                        options_.batch_size)) {
      pqxx::binarystring payload(r["payload"]);
      rows.push_back({r["id"].as<int64_t>(),
                      {r["stream"].as<std::string>(), r["type"].as<std::string>(),
                       r["event_id"].as<std::string>(), payload.str()}});
    }
    // Consecutive rows of one stream go in one script call, in id order. A row relayed before
    // a crash (its outbox row still unmarked) is skipped by its dedup key: exactly once.
    std::vector<int64_t> done;
    for (size_t start = 0; start < rows.size();) {
      size_t end = start;
      while (end < rows.size() && rows[end].message.stream == rows[start].message.stream) ++end;
      std::vector<std::string> args = {"EVAL", kPublishScript, absl::StrCat(end - start + 1),
                                       rows[start].message.stream};
      for (size_t i = start; i < end; ++i) {
        args.push_back(
            absl::StrCat(rows[i].message.stream, ":published:", rows[i].message.event_id));
      }
      args.push_back(absl::StrCat(kDedupSeconds));
      for (size_t i = start; i < end; ++i) {
        args.push_back(rows[i].message.type);
        args.push_back(rows[i].message.event_id);
        args.push_back(rows[i].message.payload);
      }
      absl::StatusOr<redis::Reply> reply = redis_.Command(args);
      if (reply.ok() && reply->type == redis::Reply::Type::kError) {
        reply = absl::InternalError(absl::StrCat("outbox publish: ", reply->str));
      }
      if (!reply.ok()) {
        redis_status = reply.status();
        break;
      }
      for (size_t i = start; i < end; ++i) done.push_back(rows[i].id);
      start = end;
    }
    if (!done.empty()) {
      std::string ids = "{";
      for (size_t i = 0; i < done.size(); ++i) absl::StrAppend(&ids, i ? "," : "", done[i]);
      ids += "}";
      tx.exec_params("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids);
    }
    published = static_cast<int>(done.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < done.size(); ++i) streams_.insert(rows[i].message.stream);
    }
    return absl::OkStatus();  // commits what reached Redis; the rest stays for the next round
  }));
  if (!redis_status.ok() && published == 0) return redis_status;
  return published;
}

absl::StatusOr<int64_t> Relay::Backlog() {
  return pool_.Transact<int64_t>([](pqxx::work& tx) -> absl::StatusOr<int64_t> {
    return tx.exec("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0].as<int64_t>();
  });
}

}  // namespace tierwise::outbox
