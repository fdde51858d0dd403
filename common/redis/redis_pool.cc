#include "common/redis/redis_pool.h"

#include <algorithm>
#include <utility>

namespace tierwise::redis {
namespace {

std::vector<std::unique_ptr<RedisClient>> MakeClients(const RedisOptions& options, int size) {
  std::vector<std::unique_ptr<RedisClient>> clients;
  for (int i = 0; i < std::max(1, size); ++i) {
    clients.push_back(std::make_unique<RedisClient>(options));
  }
  return clients;
}

}  // namespace

RedisPool::RedisPool(RedisOptions options, int size) : clients_(MakeClients(options, size)) {
  for (const auto& c : clients_) idle_.push_back(c.get());
}

absl::StatusOr<Reply> RedisPool::Command(const std::vector<std::string>& args) {
  RedisClient* client = nullptr;
  {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); });
    // LIFO: the most recently used connection is the one most likely to be open already.
    client = idle_.back();
    idle_.pop_back();
  }
  absl::StatusOr<Reply> reply = client->Command(args);
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(client);
  }
  freed_.notify_one();
  return reply;
}

}  // namespace tierwise::redis
