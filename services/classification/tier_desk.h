#ifndef TIERWISE_SERVICES_CLASSIFICATION_TIER_DESK_H_
#define TIERWISE_SERVICES_CLASSIFICATION_TIER_DESK_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "common/postgres/pool.h"
#include "services/classification/tier_engine.h"
#include "tierwise/classification/v1/classification.pb.h"

// Who reads which tiers, and how much of them (the data scope, as profile's FULL view):
// - A sales rep reads the factors and the history only of the customers they own (the owner
//   the profile service announced): GetTier and BatchGetTiers give another rep's customer its
//   plain tier without factors, GetTierHistory answers PERMISSION_DENIED for it (NOT_FOUND for
//   a customer the profile never announced), ListCustomersByTier lists only their own.
// - viewer and erp_adapter never see the revenue or margin factors (REVENUE_12M, MARGIN_12M):
//   those entries are left out of every tier and tier change they read.
// - admin, manager and finance read everything.
// Validates the requests; reads go through TierEngine (the cached tier) and the store.
// Thread-safe.
namespace tierwise::classification {

// Leaves out of `tier` / `change` what `role` may not see of any customer (the revenue and margin
// factors for viewer and erp_adapter).
void StripForRole(auth::Role role, v1::Tier& tier);
void StripForRole(auth::Role role, v1::TierChange& change);

class TierDesk {
 public:
  TierDesk(TierEngine& engine, postgres::PgPool& pool) : engine_(engine), pool_(pool) {}

  absl::StatusOr<v1::Tier> GetTier(const auth::CallContext& call, const v1::GetTierRequest& req);
  absl::StatusOr<v1::BatchGetTiersResponse> BatchGetTiers(const auth::CallContext& call,
                                                          const v1::BatchGetTiersRequest& req);
  absl::StatusOr<v1::ListCustomersByTierResponse> ListByTier(
      const auth::CallContext& call, const v1::ListCustomersByTierRequest& req);
  absl::StatusOr<v1::GetTierHistoryResponse> History(const auth::CallContext& call,
                                                     const v1::GetTierHistoryRequest& req);

 private:
  TierEngine& engine_;
  postgres::PgPool& pool_;
};

}  // namespace tierwise::classification

#endif  // TIERWISE_SERVICES_CLASSIFICATION_TIER_DESK_H_
