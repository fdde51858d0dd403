#ifndef TIERWISE_SERVICES_INTERACTION_TIER_DIRECTORY_H_
#define TIERWISE_SERVICES_INTERACTION_TIER_DIRECTORY_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/redis/tracked_cache.h"
#include "services/interaction/follow_up_plan.h"
#include "tierwise/classification/v1/classification.grpc.pb.h"

// What the interaction service asks the classification service over gRPC: a customer's tier
// at this moment (stamped on every record) and the per-tier service policy (follow-up cadences
// and complaint SLAs). The caller's request id travels with each call.
namespace tierwise::interaction {

class TierDirectory {
 public:
  virtual ~TierDirectory() = default;
  // The customer's current tier ("" if it has none yet); an error when classification does
  // not answer in time.
  virtual absl::StatusOr<std::string> CurrentTier(const std::string& customer_id,
                                                  const std::string& request_id) = 0;
  // The service policy, cached for a while; when classification does not answer, the last
  // copy fetched. UNAVAILABLE only if none was ever fetched.
  virtual absl::StatusOr<ServicePolicy> Policy(const std::string& request_id) = 0;
};

struct DirectoryOptions {
  std::string token;  // the interaction service's own credential for classification
  std::chrono::milliseconds deadline{500};
  std::chrono::seconds policy_ttl{60};
  // Tiers kept in process, coherent with classification's tier cache in Redis the way
  // classification's own copy is (redis::TrackedCache: Redis reports every write of a key
  // under tier_key_prefix, i.e. every tier classification writes through): a customer whose
  // tier was asked before and has not changed since needs no call. null: every CurrentTier
  // calls GetTier. Must outlive the directory.
  redis::TrackedCache* tier_cache = nullptr;
  std::string tier_key_prefix;  // TierCacheKeyPrefix(redis_prefix)
};

// Where classification writes each customer's tier through: <redis_prefix>:tier:<customer id>.
std::string TierCacheKeyPrefix(const std::string& redis_prefix);

class ClassificationDirectory : public TierDirectory {
 public:
  ClassificationDirectory(std::shared_ptr<grpc::Channel> channel, DirectoryOptions options);

  absl::StatusOr<std::string> CurrentTier(const std::string& customer_id,
                                          const std::string& request_id) override;
  absl::StatusOr<ServicePolicy> Policy(const std::string& request_id) override;

 private:
  std::unique_ptr<grpc::ClientContext> Context(const std::string& request_id) const;
  absl::StatusOr<std::string> FetchTier(const std::string& customer_id,
                                        const std::string& request_id);

  std::unique_ptr<classification::v1::ClassificationService::Stub> stub_;
  const DirectoryOptions options_;
  std::mutex mu_;
  std::optional<ServicePolicy> policy_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point fetched_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_TIER_DIRECTORY_H_
