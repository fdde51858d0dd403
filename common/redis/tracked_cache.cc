#include "common/redis/tracked_cache.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace tierwise::redis {
namespace {

constexpr size_t kMaxShards = 16;
// Per shard; past it the shard's in-flight Fills are refused wholesale (see Shard::floor).
constexpr size_t kMaxTombstones = 1024;
constexpr char kInvalidateChannel[] = "__redis__:invalidate";
// How often the reading thread wakes up to notice Stop().
constexpr std::chrono::milliseconds kPollInterval{200};
// A connection silent this long is PINGed; one that does not answer is taken as lost, since
// an undetected dead connection would mean missed invalidations.
constexpr std::chrono::milliseconds kIdlePing{1000};
constexpr std::chrono::milliseconds kMinPingTimeout{2000};
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

struct ContextDeleter {
  void operator()(redisContext* ctx) const { redisFree(ctx); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string_view AsView(const redisReply& r) { return std::string_view(r.str, r.len); }

// Runs one command on a connection not (yet) in subscribe mode.
absl::StatusOr<ReplyPtr> Command(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (reply == nullptr) return absl::UnavailableError(absl::StrCat("redis: ", ctx->errstr));
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(absl::StrCat(args[0], " ", args.size() > 1 ? args[1] : "",
                                                      ": ", std::string(reply->str, reply->len)));
  }
  return reply;
}

}  // namespace

TrackedCache::TrackedCache(RedisOptions options, std::string key_prefix, size_t capacity)
    : options_(std::move(options)),
      prefix_(std::move(key_prefix)),
      // Fewer shards than entries would let per-shard capacities round up past `capacity`.
      shards_(std::clamp<size_t>(capacity, 1, kMaxShards)) {
  const size_t n = shards_.size();
  for (size_t i = 0; i < n; ++i) shards_[i].capacity = capacity / n + (i < capacity % n ? 1 : 0);
}

TrackedCache::~TrackedCache() { Stop(); }

void TrackedCache::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void TrackedCache::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool TrackedCache::Cacheable(const std::string& key) const {
  return absl::StartsWith(key, prefix_);
}

TrackedCache::Shard& TrackedCache::ShardFor(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

std::optional<std::string> TrackedCache::Lookup(const std::string& key) {
  if (!coherent() || !Cacheable(key)) {
    bypass_misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) {
    ++shard.misses;
    return std::nullopt;
  }
  ++shard.hits;
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  return it->second->value;
}

uint64_t TrackedCache::Reserve(const std::string& key) {
  if (!Cacheable(key)) return 0;
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  return ++shard.seq;
}

void TrackedCache::Fill(const std::string& key, uint64_t ticket, std::string value) {
  if (ticket == 0 || !Cacheable(key)) return;
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  // Checked under the shard lock: LoseCoherence() clears each shard (under its lock) only
  // after clearing the flag, so a value stored here while the flag was still set is removed.
  if (!coherent() || ticket <= shard.floor || shard.capacity == 0) return;
  if (auto t = shard.tombstones.find(key); t != shard.tombstones.end() && t->second > ticket) {
    return;
  }
  if (auto it = shard.index.find(key); it != shard.index.end()) {
    it->second->value = std::move(value);
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return;
  }
  if (shard.index.size() >= shard.capacity) {
    shard.index.erase(shard.lru.back().key);
    shard.lru.pop_back();
  }
  shard.lru.push_front(Node{key, std::move(value)});
  shard.index.emplace(shard.lru.front().key, shard.lru.begin());
}

absl::StatusOr<std::optional<std::string>> TrackedCache::GetOrFetch(
    const std::string& key,
    const std::function<absl::StatusOr<std::optional<std::string>>()>& fetch) {
  if (std::optional<std::string> cached = Lookup(key)) return cached;
  const uint64_t ticket = Reserve(key);
  absl::StatusOr<std::optional<std::string>> fetched = fetch();
  if (fetched.ok() && fetched->has_value()) Fill(key, ticket, **fetched);
  return fetched;
}

void TrackedCache::Invalidate(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    if (Cacheable(key)) DropKey(key);
  }
}

void TrackedCache::DropKey(std::string_view key) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (auto it = shard.index.find(key); it != shard.index.end()) {
    auto node = it->second;
    shard.index.erase(it);
    shard.lru.erase(node);
  }
  if (shard.tombstones.size() >= kMaxTombstones) {
    shard.tombstones.clear();
    shard.floor = ++shard.seq;
    return;
  }
  shard.tombstones[std::string(key)] = ++shard.seq;
}

void TrackedCache::ClearAll() {
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.index.clear();
    shard.lru.clear();
    shard.tombstones.clear();
    shard.floor = shard.seq;
  }
}

void TrackedCache::LoseCoherence() {
  tracking_id_.store(-1, std::memory_order_release);
  if (coherent_.exchange(false, std::memory_order_acq_rel)) {
    coherence_losses_.fetch_add(1, std::memory_order_relaxed);
  }
  ClearAll();
}

size_t TrackedCache::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.index.size();
  }
  return n;
}

uint64_t TrackedCache::hits() const {
  uint64_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.hits;
  }
  return n;
}

uint64_t TrackedCache::misses() const {
  uint64_t n = bypass_misses_.load(std::memory_order_relaxed);
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.misses;
  }
  return n;
}

bool TrackedCache::WaitForStop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  return stop_cv_.wait_for(lock, timeout, [this] { return stop_.load(); });
}

void TrackedCache::Run() {
  std::chrono::milliseconds backoff = kMinBackoff;
  int failures = 0;
  while (!stop_.load()) {
    bool became_coherent = false;
    const absl::Status status = RunSession(&became_coherent);
    LoseCoherence();
    if (stop_.load()) break;
    if (became_coherent) {
      backoff = kMinBackoff;
      failures = 0;
    }
    // Once per outage at warning level: a Redis that stays down would otherwise flood the log.
    log::Write(failures == 0 ? log::Level::kWarn : log::Level::kDebug, "tracked_cache.not_coherent",
               {{"prefix", prefix_},
                {"error", status.ToString()},
                {"retry_ms", static_cast<int64_t>(backoff.count())}});
    ++failures;
    if (WaitForStop(backoff)) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  LoseCoherence();
}

absl::Status TrackedCache::RunSession(bool* became_coherent) {
  ContextPtr ctx(redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                         ToTimeval(options_.connect_timeout)));
  if (ctx == nullptr) return absl::UnavailableError("redis connect: out of memory");
  if (ctx->err != 0) return absl::UnavailableError(absl::StrCat("redis connect: ", ctx->errstr));
  redisSetTimeout(ctx.get(), ToTimeval(options_.command_timeout));
  redisEnableKeepAlive(ctx.get());
  if (!options_.password.empty()) {
    if (auto r = Command(ctx.get(), {"AUTH", options_.password}); !r.ok()) {
      return absl::UnavailableError("redis AUTH failed");
    }
  }
  TW_RETURN_IF_ERROR(Command(ctx.get(), {"CLIENT", "SETNAME", kConnectionName}).status());
  TW_ASSIGN_OR_RETURN(auto id_reply, Command(ctx.get(), {"CLIENT", "ID"}));
  if (id_reply->type != REDIS_REPLY_INTEGER) return absl::InternalError("CLIENT ID: not an id");
  const int64_t id = id_reply->integer;
  // Redirecting to itself (Redis 7 accepts it) keeps tracking and delivery on one connection,
  // so losing that connection is the only way to lose invalidations.
  std::vector<std::string> tracking = {"CLIENT",   "TRACKING",       "on",
                                       "REDIRECT", absl::StrCat(id), "BCAST"};
  if (!prefix_.empty()) {
    tracking.push_back("PREFIX");
    tracking.push_back(prefix_);
  }
  TW_RETURN_IF_ERROR(Command(ctx.get(), tracking).status());
  // In RESP2 invalidations reach a connection only in subscribe mode: any sent before this
  // confirmation are lost, hence the clear below.
  TW_ASSIGN_OR_RETURN(auto sub, Command(ctx.get(), {"SUBSCRIBE", kInvalidateChannel}));
  if (sub->type != REDIS_REPLY_ARRAY || sub->elements < 1 ||
      AsView(*sub->element[0]) != "subscribe") {
    return absl::InternalError("SUBSCRIBE: unexpected reply");
  }
  ClearAll();
  tracking_id_.store(id, std::memory_order_release);
  coherent_.store(true, std::memory_order_release);
  *became_coherent = true;
  log::Info("tracked_cache.coherent", {{"prefix", prefix_}, {"client_id", id}});
  return ReadInvalidations(ctx.get());
}

absl::Status TrackedCache::ReadInvalidations(redisContext* ctx) {
  using Clock = std::chrono::steady_clock;
  const auto ping_timeout = std::max(options_.command_timeout, kMinPingTimeout);
  Clock::time_point last_read = Clock::now();
  std::optional<Clock::time_point> ping_sent;
  while (!stop_.load()) {
    // One read can bring several messages.
    for (;;) {
      void* raw = nullptr;
      if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) {
        return absl::InternalError(absl::StrCat("redis: ", ctx->errstr));
      }
      if (raw == nullptr) break;
      ReplyPtr reply(static_cast<redisReply*>(raw));
      HandleMessage(*reply);
    }
    pollfd pfd{ctx->fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(kPollInterval.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    const Clock::time_point now = Clock::now();
    if (ready == 0) {
      if (ping_sent.has_value()) {
        if (now - *ping_sent > ping_timeout) return absl::UnavailableError("redis: PING timeout");
      } else if (now - last_read > kIdlePing) {
        // PING is allowed in RESP2 subscribe mode; its answer is ["pong", ""].
        if (redisAppendCommand(ctx, "PING") != REDIS_OK) {
          return absl::UnavailableError(absl::StrCat("redis: ", ctx->errstr));
        }
        int done = 0;
        while (done == 0) {
          if (redisBufferWrite(ctx, &done) != REDIS_OK) {
            return absl::UnavailableError(absl::StrCat("redis: ", ctx->errstr));
          }
        }
        ping_sent = now;
      }
      continue;
    }
    // Readable (or closed): this read does not block.
    if (redisBufferRead(ctx) != REDIS_OK) {
      return absl::UnavailableError(absl::StrCat("redis: ", ctx->errstr));
    }
    last_read = now;
    ping_sent.reset();
  }
  return absl::OkStatus();
}

void TrackedCache::HandleMessage(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) return;  // e.g. ["pong", ""]
  const redisReply& kind = *reply.element[0];
  const redisReply& channel = *reply.element[1];
  const redisReply& payload = *reply.element[2];
  if (kind.type != REDIS_REPLY_STRING || AsView(kind) != "message" ||
      channel.type != REDIS_REPLY_STRING || AsView(channel) != kInvalidateChannel) {
    return;
  }
  switch (payload.type) {
    case REDIS_REPLY_NIL:  // FLUSHALL / FLUSHDB
      invalidations_.fetch_add(1, std::memory_order_relaxed);
      ClearAll();
      break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < payload.elements; ++i) {
        const redisReply& key = *payload.element[i];
        if (key.type != REDIS_REPLY_STRING) continue;
        DropKey(AsView(key));
        invalidations_.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    case REDIS_REPLY_STRING:  // not sent by Redis 6/7 in RESP2, but unambiguous
      DropKey(AsView(payload));
      invalidations_.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
}

}  // namespace tierwise::redis
