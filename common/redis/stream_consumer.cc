#include "common/redis/stream_consumer.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace tierwise::redis {

namespace {
constexpr int kDeadLetterMaxLen = 100000;
}  // namespace

bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsAborted(status) ||
         absl::IsDeadlineExceeded(status) || absl::IsResourceExhausted(status);
}

std::vector<StreamEntry> ParseStreamEntries(const Reply& entries) {
  std::vector<StreamEntry> out;
  if (entries.type != Reply::Type::kArray) return out;
  for (const Reply& e : entries.elements) {
    if (e.type != Reply::Type::kArray || e.elements.size() != 2) continue;
    StreamEntry entry;
    entry.id = e.elements[0].str;
    const auto& kv = e.elements[1].elements;  // nil for entries deleted meanwhile
    for (size_t i = 0; i + 1 < kv.size(); i += 2)
      entry.fields.emplace_back(kv[i].str, kv[i + 1].str);
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

// Blocking reads must not trip the command timeout.
RedisOptions ForBlockingReads(RedisOptions redis, const ConsumerOptions& options) {
  redis.command_timeout =
      std::max(redis.command_timeout, options.block + std::chrono::milliseconds(2000));
  return redis;
}

}  // namespace

StreamConsumer::StreamConsumer(RedisOptions redis, ConsumerOptions options, Handler handler)
    : client_(ForBlockingReads(std::move(redis), options)),
      options_(std::move(options)),
      handler_(std::move(handler)) {}

StreamConsumer::StreamConsumer(RedisOptions redis, ConsumerOptions options,
                               BatchHandler batch_handler)
    : client_(ForBlockingReads(std::move(redis), options)),
      options_(std::move(options)),
      handler_([this](const StreamEntry& entry) { return batch_handler_({entry}); }),
      batch_handler_(std::move(batch_handler)) {}

StreamConsumer::~StreamConsumer() { Stop(); }

absl::Status StreamConsumer::EnsureGroup() {
  TW_ASSIGN_OR_RETURN(auto r, client_.Command({"XGROUP", "CREATE", options_.stream, options_.group,
                                               "0", "MKSTREAM"}));
  if (r.type == Reply::Type::kError && r.str.find("BUSYGROUP") == std::string::npos) {
    return absl::InternalError(absl::StrCat("XGROUP CREATE: ", r.str));
  }
  return absl::OkStatus();
}

void StreamConsumer::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    bool group_ready = false;
    constexpr std::chrono::milliseconds kFirstBackoff(250), kMaxBackoff(10000);
    std::chrono::milliseconds backoff = kFirstBackoff;
    int failures = 0;
    while (!stop_) {
      absl::Status failed;
      if (!group_ready) {
        failed = EnsureGroup();
        group_ready = failed.ok();
      }
      if (group_ready) {
        absl::StatusOr<int> handled = PollOnce();
        failed = handled.status();
        if (absl::StrContains(failed.message(), "NOGROUP")) group_ready = false;
      }
      if (failed.ok()) {
        if (failures > 0) {
          log::Info("stream.recovered", {{"stream", options_.stream}, {"failed_rounds", failures}});
        }
        failures = 0;
        backoff = kFirstBackoff;
        continue;
      }
      ++failures;
      retry_own_pending_ = true;
      log::Warn("stream.poll_failed", {{"stream", options_.stream},
                                       {"attempt", failures},
                                       {"transient", IsTransient(failed)},
                                       {"retry_in_ms", backoff.count()},
                                       {"error", failed.ToString()}});
      Pause(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  });
}

void StreamConsumer::Pause(std::chrono::milliseconds pause) {
  const auto until = std::chrono::steady_clock::now() + pause;
  while (!stop_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
}

void StreamConsumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void StreamConsumer::ForgetDelivery(const std::vector<StreamEntry>& entries) {
  if (entries.empty()) return;
  // Our entries' counts in one call (ids come in stream order), then one XCLAIM per count.
  auto r =
      client_.Command({"XPENDING", options_.stream, options_.group, entries.front().id,
                       entries.back().id, absl::StrCat(entries.size() + 1), options_.consumer});
  if (!r.ok() || r->type != Reply::Type::kArray) return;  // Redis is down: nothing to undo
  std::map<int64_t, std::vector<std::string>> by_count;
  for (const Reply& item : r->elements) {
    if (item.type != Reply::Type::kArray || item.elements.size() < 4) continue;
    by_count[std::max<int64_t>(item.elements[3].integer - 1, 0)].push_back(item.elements[0].str);
  }
  for (auto& [count, ids] : by_count) {
    std::vector<std::string> args = {"XCLAIM", options_.stream, options_.group, options_.consumer,
                                     "0"};
    args.insert(args.end(), ids.begin(), ids.end());
    args.insert(args.end(), {"RETRYCOUNT", absl::StrCat(count), "JUSTID"});
    (void)client_.Command(args);
  }
}

absl::StatusOr<int64_t> StreamConsumer::DeliveryCount(const std::string& id) {
  TW_ASSIGN_OR_RETURN(auto r,
                      client_.Command({"XPENDING", options_.stream, options_.group, id, id, "1"}));
  if (r.type != Reply::Type::kArray || r.elements.empty()) return 0;
  const Reply& item = r.elements[0];
  if (item.type != Reply::Type::kArray || item.elements.size() < 4) return 0;
  return item.elements[3].integer;
}

absl::StatusOr<int> StreamConsumer::Handle(const std::vector<StreamEntry>& entries) {
  if (!batch_handler_ || entries.size() < 2) return HandleOneByOne(entries);
  absl::Status s = batch_handler_(entries);
  if (IsTransient(s)) {
    ++transient_failures_;
    retry_own_pending_ = true;
    ForgetDelivery(entries);
    return s;
  }
  if (!s.ok()) {
    // Someone in the batch fails (or the store does): find out who, one at a time.
    log::Warn("stream.batch_failed", {{"stream", options_.stream},
                                      {"entries", static_cast<int64_t>(entries.size())},
                                      {"error", s.ToString()}});
    return HandleOneByOne(entries);
  }
  std::vector<std::string> ack = {"XACK", options_.stream, options_.group};
  for (const StreamEntry& entry : entries) ack.push_back(entry.id);
  TW_RETURN_IF_ERROR(client_.Command(ack).status());
  return static_cast<int>(entries.size());
}

absl::StatusOr<int> StreamConsumer::HandleOneByOne(const std::vector<StreamEntry>& entries) {
  int ok = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const StreamEntry& entry = entries[i];
    absl::Status s = handler_(entry);
    if (IsTransient(s)) {
      // Not this entry's fault: leave it and the rest of the round pending, uncounted.
      ++transient_failures_;
      retry_own_pending_ = true;
      ForgetDelivery(std::vector<StreamEntry>(entries.begin() + static_cast<std::ptrdiff_t>(i),
                                              entries.end()));
      return s;
    }
    if (s.ok()) {
      ++ok;
    } else {
      TW_ASSIGN_OR_RETURN(int64_t deliveries,
                          DeliveryCount(entry.id));  // Redis gone: decide next round
      if (deliveries < options_.max_deliveries) {
        log::Warn("stream.handler_failed", {{"stream", options_.stream},
                                            {"id", entry.id},
                                            {"deliveries", deliveries},
                                            {"error", s.ToString()}});
        continue;  // stays pending; reclaimed and retried later
      }
      std::vector<std::pair<std::string, std::string>> fields = entry.fields;
      fields.emplace_back("dead_letter_error", s.ToString());
      fields.emplace_back("dead_letter_source", absl::StrCat(options_.stream, "/", entry.id));
      // Capped, so that dead letters (copies of entries) do not keep data in Redis forever.
      std::vector<std::string> add = {"XADD", options_.dead_letter_stream,     "MAXLEN",
                                      "~",    absl::StrCat(kDeadLetterMaxLen), "*"};
      for (auto& [key, value] : fields) add.insert(add.end(), {key, value});
      TW_ASSIGN_OR_RETURN(auto added, client_.Command(add));
      if (added.type == Reply::Type::kError) {
        return absl::InternalError(absl::StrCat("XADD dead letter: ", added.str));
      }
      ++dead_lettered_;
      log::Error("stream.dead_letter",
                 {{"stream", options_.stream}, {"id", entry.id}, {"error", s.ToString()}});
    }
    TW_RETURN_IF_ERROR(
        client_.Command({"XACK", options_.stream, options_.group, entry.id}).status());
  }
  return ok;
}

void StreamConsumer::RefreshGroupInfo() {
  auto r = client_.Command({"XINFO", "GROUPS", options_.stream});
  if (!r.ok() || r->type != Reply::Type::kArray) return;
  for (const Reply& group : r->elements) {
    if (group.type != Reply::Type::kArray) continue;
    bool ours = false;
    int64_t pending = 0, lag = 0;
    for (size_t i = 0; i + 1 < group.elements.size(); i += 2) {
      const std::string& key = group.elements[i].str;
      const Reply& value = group.elements[i + 1];
      if (key == "name") ours = value.str == options_.group;
      if (key == "pending") pending = value.integer;
      if (key == "lag") lag = value.integer;  // nil when Redis cannot tell
    }
    if (ours) {
      pending_ = pending;
      lag_ = lag;
    }
  }
}

absl::StatusOr<int> StreamConsumer::PollOnce() {
  int handled = 0;
  RefreshGroupInfo();
  if (retry_own_pending_) {
    // What a transient failure left pending to us, before anything new (keeps the order).
    TW_ASSIGN_OR_RETURN(
        auto own,
        client_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                         absl::StrCat(options_.batch_size), "STREAMS", options_.stream, "0"}));
    if (own.type == Reply::Type::kError) return absl::InternalError(own.str);
    std::vector<StreamEntry> entries;
    if (own.type == Reply::Type::kArray && !own.elements.empty() &&
        own.elements[0].type == Reply::Type::kArray && own.elements[0].elements.size() == 2) {
      entries = ParseStreamEntries(own.elements[0].elements[1]);
    }
    if (entries.empty()) {
      retry_own_pending_ = false;
    } else {
      TW_ASSIGN_OR_RETURN(auto done, Handle(entries));
      // Entries that failed for good (not transient) stay pending until reclaimed; stop
      // re-reading our history once a round made no progress on it.
      if (done == 0) retry_own_pending_ = false;
      return done;
    }
  }
  // Entries a dead (or failing) consumer left pending.
  TW_ASSIGN_OR_RETURN(
      auto claimed, client_.Command({"XAUTOCLAIM", options_.stream, options_.group,
                                     options_.consumer, absl::StrCat(options_.reclaim_idle.count()),
                                     "0-0", "COUNT", absl::StrCat(options_.batch_size)}));
  if (claimed.type == Reply::Type::kError) return absl::InternalError(claimed.str);
  if (claimed.type == Reply::Type::kArray && claimed.elements.size() >= 2) {
    std::vector<StreamEntry> reclaimed = ParseStreamEntries(claimed.elements[1]);
    if (!reclaimed.empty()) {
      log::Info("stream.reclaimed", {{"stream", options_.stream},
                                     {"entries", static_cast<int64_t>(reclaimed.size())},
                                     {"idle_ms", options_.reclaim_idle.count()}});
    }
    TW_ASSIGN_OR_RETURN(auto done, Handle(reclaimed));
    handled += done;
  }
  TW_ASSIGN_OR_RETURN(
      auto r,
      client_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                       absl::StrCat(options_.batch_size), "BLOCK",
                       absl::StrCat(options_.block.count()), "STREAMS", options_.stream, ">"}));
  if (r.type == Reply::Type::kError) return absl::InternalError(r.str);
  if (r.type == Reply::Type::kArray) {
    for (const Reply& stream : r.elements) {
      if (stream.type == Reply::Type::kArray && stream.elements.size() == 2) {
        TW_ASSIGN_OR_RETURN(auto done, Handle(ParseStreamEntries(stream.elements[1])));
        handled += done;
      }
    }
  }
  return handled;
}

}  // namespace tierwise::redis
