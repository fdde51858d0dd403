#include "services/classification/tier_cache.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/redis/stream_names.h"
#include "common/time/micros.h"

namespace tierwise::classification {
namespace {

// Writes the tier only if it is newer (by evaluation time) than what the cache holds, so a
// delayed write from another replica or thread cannot replace a newer tier.
constexpr char kCacheWriteScript[] = R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'p', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

}  // namespace

TierCache::TierCache(redis::RedisClient& redis, std::string redis_prefix, redis::RedisPool* reads,
                     redis::TrackedCache* local)
    : redis_(redis), prefix_(std::move(redis_prefix)), reads_(reads), local_(local) {}

std::string TierCache::Key(const std::string& customer_id) const {
  return cache_keys::Tier(prefix_, customer_id);
}

void TierCache::Write(const std::vector<v1::Tier>& tiers) {
  (void)DropMissedWrites("");
  // Pipelined in chunks: one round trip per chunk, not per tier (a full reclassification may
  // write many).
  constexpr size_t kChunk = 256;
  for (size_t start = 0; start < tiers.size(); start += kChunk) {
    const size_t end = std::min(tiers.size(), start + kChunk);
    std::vector<std::vector<std::string>> commands;
    commands.reserve(end - start);
    for (size_t i = start; i < end; ++i) {
      const v1::Tier& t = tiers[i];
      commands.push_back({"EVAL", kCacheWriteScript, "1", Key(t.customer_id()),
                          absl::StrCat(time::ToMicros(t.evaluated_at())), t.SerializeAsString(),
                          "86400"});
    }
    // Best effort: PostgreSQL is the truth and GetTier falls back to it. A failed write is
    // remembered and its entry dropped once Redis answers again, as a Redis that comes back
    // with its data would serve the old tier otherwise.
    absl::StatusOr<std::vector<redis::Reply>> r = redis_.Pipeline(commands);
    if (local_ != nullptr) {
      // Our own readers see the new tiers at once, not when Redis's invalidation arrives.
      std::vector<std::string> keys;
      keys.reserve(end - start);
      for (size_t i = start; i < end; ++i) keys.push_back(Key(tiers[i].customer_id()));
      local_->Invalidate(keys);
    }
    std::vector<std::string> missed;
    for (size_t i = start; i < end; ++i) {
      if (!r.ok() || (*r)[i - start].type == redis::Reply::Type::kError) {
        missed.push_back(tiers[i].customer_id());
      }
    }
    if (!missed.empty()) {
      std::lock_guard<std::mutex> lock(missed_mu_);
      missed_writes_.insert(missed.begin(), missed.end());
      any_missed_ = true;
    }
  }
}

bool TierCache::DropMissedWrites(const std::string& customer_id) {
  if (!any_missed_.load()) return false;
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(missed_mu_);
    ids.assign(missed_writes_.begin(), missed_writes_.end());
  }
  bool was_missed = false;
  constexpr size_t kChunk = 500;
  for (size_t start = 0; start < ids.size(); start += kChunk) {
    const size_t end = std::min(ids.size(), start + kChunk);
    std::vector<std::string> del = {"DEL"};
    for (size_t i = start; i < end; ++i) del.push_back(Key(ids[i]));
    absl::StatusOr<redis::Reply> r = redis_.Command(del);
    if (!r.ok() || r->type == redis::Reply::Type::kError) break;  // still away: later
    std::lock_guard<std::mutex> lock(missed_mu_);
    for (size_t i = start; i < end; ++i) {
      was_missed = was_missed || ids[i] == customer_id;
      missed_writes_.erase(ids[i]);
    }
    any_missed_ = !missed_writes_.empty();
  }
  return was_missed;
}

void TierCache::Remove(const std::string& customer_id) {
  (void)redis_.Command({"DEL", Key(customer_id)});
  if (local_ != nullptr) local_->Invalidate({Key(customer_id)});
}

TierCache::Found TierCache::Read(const std::string& customer_id) {
  Found out;
  const std::string key = Key(customer_id);
  uint64_t ticket = 0;
  if (local_ != nullptr) {
    if (std::optional<std::string> held = local_->Lookup(key); held.has_value()) {
      v1::Tier t;
      if (t.ParseFromString(*held)) {
        ++hits_;
        out.tier = std::move(t);
        out.redis_answered = true;
        return out;
      }
    }
    ticket = local_->Reserve(key);  // before the read: a write meanwhile refuses the fill
  }
  const std::vector<std::string> hget = {"HGET", key, "p"};
  absl::StatusOr<redis::Reply> cached =
      reads_ != nullptr ? reads_->Command(hget) : redis_.Command(hget);
  out.redis_answered = cached.ok();
  // Redis answers: what it missed while it was away goes first (see Write).
  const bool missed = cached.ok() && DropMissedWrites(customer_id);
  if (cached.ok() && !missed && cached->type == redis::Reply::Type::kString) {
    v1::Tier t;
    if (t.ParseFromString(cached->str)) {
      ++hits_;
      if (local_ != nullptr) local_->Fill(key, ticket, std::move(cached->str));
      out.tier = std::move(t);
      return out;
    }
  }
  ++misses_;
  return out;
}

}  // namespace tierwise::classification
