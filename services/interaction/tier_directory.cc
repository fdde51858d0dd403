#include "services/interaction/tier_directory.h"

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/log/log.h"
#include "common/redis/stream_names.h"
#include "common/status/status.h"

namespace tierwise::interaction {

ClassificationDirectory::ClassificationDirectory(std::shared_ptr<grpc::Channel> channel,
                                                 DirectoryOptions options)
    : stub_(classification::v1::ClassificationService::NewStub(channel)),
      options_(std::move(options)) {}

std::unique_ptr<grpc::ClientContext> ClassificationDirectory::Context(
    const std::string& request_id) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options_.deadline);
  client::Authorize(*context, options_.token, request_id);
  return context;
}

std::string TierCacheKeyPrefix(const std::string& redis_prefix) {
  return cache_keys::TierPrefix(redis_prefix);
}

absl::StatusOr<std::string> ClassificationDirectory::CurrentTier(const std::string& customer_id,
                                                                 const std::string& request_id) {
  redis::TrackedCache* cache = options_.tier_cache;
  if (cache == nullptr) return FetchTier(customer_id, request_id);
  const std::string key = options_.tier_key_prefix + customer_id;
  if (std::optional<std::string> cached = cache->Lookup(key)) return *std::move(cached);
  // Reserved before asking: if classification writes the tier while the call is in flight,
  // the answer is not kept (the next record asks again).
  const uint64_t ticket = cache->Reserve(key);
  absl::StatusOr<std::string> tier = FetchTier(customer_id, request_id);
  if (tier.ok()) cache->Fill(key, ticket, *tier);
  return tier;
}

absl::StatusOr<std::string> ClassificationDirectory::FetchTier(const std::string& customer_id,
                                                               const std::string& request_id) {
  classification::v1::GetTierRequest request;
  request.set_customer_id(customer_id);
  classification::v1::Tier tier;
  const grpc::Status status = stub_->GetTier(Context(request_id).get(), request, &tier);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::string();
  if (!status.ok()) return status::FromGrpcStatus(status);
  return tier.tier();
}

absl::StatusOr<ServicePolicy> ClassificationDirectory::Policy(const std::string& request_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (policy_.has_value() &&
        std::chrono::steady_clock::now() - fetched_at_ < options_.policy_ttl) {
      return *policy_;
    }
  }
  ServicePolicy fetched;
  const grpc::Status status = stub_->GetServicePolicy(
      Context(request_id).get(), classification::v1::GetServicePolicyRequest(), &fetched);
  std::lock_guard<std::mutex> lock(mu_);
  if (status.ok()) {
    policy_ = std::move(fetched);
    fetched_at_ = std::chrono::steady_clock::now();
    return *policy_;
  }
  if (policy_.has_value()) {
    log::Warn("interaction.policy_stale", {{"error", status.error_message()}});
    return *policy_;
  }
  return absl::UnavailableError("the service policy is not available from classification: " +
                                status.error_message());
}

}  // namespace tierwise::interaction
