#include "common/redis/stream_consumer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace tierwise::redis {

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
  auto r = client_.Command({"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
  if (!r.ok()) return r.status();
  if (r->type == Reply::Type::kError && r->str.find("BUSYGROUP") == std::string::npos) {
    return absl::InternalError(absl::StrCat("XGROUP CREATE: ", r->str));
  }
  return absl::OkStatus();
}

void StreamConsumer::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    bool group_ready = false;
    while (!stop_) {
      if (!group_ready) {
        absl::Status s = EnsureGroup();
        group_ready = s.ok();
        if (!group_ready) {
          log::Warn("stream.group_failed", {{"stream", options_.stream}, {"error", s.ToString()}});
          std::this_thread::sleep_for(std::chrono::seconds(1));
          continue;
        }
      }
      absl::StatusOr<int> handled = PollOnce();
      if (!handled.ok()) {
        log::Warn("stream.poll_failed",
                  {{"stream", options_.stream}, {"error", handled.status().ToString()}});
        if (absl::StrContains(handled.status().message(), "NOGROUP")) group_ready = false;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
  });
}

void StreamConsumer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> StreamConsumer::DeliveryCount(const std::string& id) {
  auto r = client_.Command({"XPENDING", options_.stream, options_.group, id, id, "1"});
  if (!r.ok()) return r.status();
  if (r->type != Reply::Type::kArray || r->elements.empty()) return 0;
  const Reply& item = r->elements[0];
  if (item.type != Reply::Type::kArray || item.elements.size() < 4) return 0;
  return item.elements[3].integer;
}

absl::StatusOr<int> StreamConsumer::Handle(const std::vector<StreamEntry>& entries) {
  if (!batch_handler_ || entries.size() < 2) return HandleOneByOne(entries);
  absl::Status s = batch_handler_(entries);
  if (!s.ok()) {
    // Someone in the batch fails (or the store does): find out who, one at a time.
    log::Warn("stream.batch_failed", {{"stream", options_.stream},
                                      {"entries", static_cast<int64_t>(entries.size())},
                                      {"error", s.ToString()}});
    return HandleOneByOne(entries);
  }
  std::vector<std::string> ack = {"XACK", options_.stream, options_.group};
  for (const StreamEntry& entry : entries) ack.push_back(entry.id);
  auto acked = client_.Command(ack);
  if (!acked.ok()) return acked.status();
  return static_cast<int>(entries.size());
}

absl::StatusOr<int> StreamConsumer::HandleOneByOne(const std::vector<StreamEntry>& entries) {
  int ok = 0;
  for (const StreamEntry& entry : entries) {
    absl::Status s = handler_(entry);
    if (s.ok()) {
      ++ok;
    } else {
      absl::StatusOr<int64_t> deliveries = DeliveryCount(entry.id);
      if (deliveries.ok() && *deliveries < options_.max_deliveries) {
        log::Warn("stream.handler_failed", {{"stream", options_.stream},
                                            {"id", entry.id},
                                            {"deliveries", *deliveries},
                                            {"error", s.ToString()}});
        continue;  // stays pending; reclaimed and retried later
      }
      std::vector<std::pair<std::string, std::string>> fields = entry.fields;
      fields.emplace_back("dead_letter_error", s.ToString());
      fields.emplace_back("dead_letter_source", absl::StrCat(options_.stream, "/", entry.id));
      auto added = client_.XAdd(options_.dead_letter_stream, "*", fields);
      if (!added.ok()) return added.status();
      ++dead_lettered_;
      log::Error("stream.dead_letter",
                 {{"stream", options_.stream}, {"id", entry.id}, {"error", s.ToString()}});
    }
    auto ack = client_.Command({"XACK", options_.stream, options_.group, entry.id});
    if (!ack.ok()) return ack.status();
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
  // Entries a dead (or failing) consumer left pending.
  auto claimed = client_.Command({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                                  absl::StrCat(options_.reclaim_idle.count()), "0-0", "COUNT",
                                  absl::StrCat(options_.batch_size)});
  if (!claimed.ok()) return claimed.status();
  if (claimed->type == Reply::Type::kError) return absl::InternalError(claimed->str);
  if (claimed->type == Reply::Type::kArray && claimed->elements.size() >= 2) {
    auto done = Handle(ParseStreamEntries(claimed->elements[1]));
    if (!done.ok()) return done.status();
    handled += *done;
  }
  auto r = client_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                            absl::StrCat(options_.batch_size), "BLOCK",
                            absl::StrCat(options_.block.count()), "STREAMS", options_.stream, ">"});
  if (!r.ok()) return r.status();
  if (r->type == Reply::Type::kError) return absl::InternalError(r->str);
  if (r->type == Reply::Type::kArray) {
    for (const Reply& stream : r->elements) {
      if (stream.type == Reply::Type::kArray && stream.elements.size() == 2) {
        auto done = Handle(ParseStreamEntries(stream.elements[1]));
        if (!done.ok()) return done.status();
        handled += *done;
      }
    }
  }
  return handled;
}

}  // namespace tierwise::redis
