#include "services/classification/tier_desk.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/paging/page_token.h"
#include "common/status/macros.h"
#include "common/status/status.h"

namespace tierwise::classification {
namespace {

using auth::Role;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr int kMaxBatch = 1000;

bool IsRep(const auth::CallContext& call) { return call.principal.role == Role::kSalesRep; }

// The factors that tell a customer's revenue or margin (names as ScoreCustomer writes them).
bool IsFinancialFactor(const v1::FactorContribution& f) {
  return f.factor() == "REVENUE_12M" || f.factor() == "MARGIN_12M";
}

template <typename Factors>
void RemoveFinancialFactors(Factors* factors) {
  factors->erase(std::remove_if(factors->begin(), factors->end(), IsFinancialFactor),
                 factors->end());
}

// The tier as `call` may see it, given who owns the customer (nullopt: not announced).
void Present(const auth::CallContext& call, const std::optional<std::string>& owner,
             v1::Tier& tier) {
  if (IsRep(call) && owner != call.principal.name) {
    tier.clear_factors();  // another rep's customer: the plain tier only
    return;
  }
  StripForRole(call.principal.role, tier);
}

}  // namespace

void StripForRole(auth::Role role, v1::Tier& tier) {
  if (role == Role::kViewer || role == Role::kErpAdapter) {
    RemoveFinancialFactors(tier.mutable_factors());
  }
}

void StripForRole(auth::Role role, v1::TierChange& change) {
  if (role == Role::kViewer || role == Role::kErpAdapter) {
    RemoveFinancialFactors(change.mutable_factors());
  }
}

absl::StatusOr<v1::Tier> TierDesk::GetTier(const auth::CallContext& call,
                                           const v1::GetTierRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  // The hot path (cache) first; only a rep's call needs the owner from PostgreSQL.
  TW_ASSIGN_OR_RETURN(v1::Tier tier, engine_.GetTier(req.customer_id()));
  std::optional<std::string> owner;
  if (IsRep(call)) {
    TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      owner = store::OwnerOf(tx, req.customer_id());
      return absl::OkStatus();
    }));
  }
  Present(call, owner, tier);
  return tier;
}

absl::StatusOr<v1::BatchGetTiersResponse> TierDesk::BatchGetTiers(
    const auth::CallContext& call, const v1::BatchGetTiersRequest& req) {
  if (req.customer_ids_size() > kMaxBatch) {
    return status::InvalidArgument("customer_ids", "at most 1,000");
  }
  for (int i = 0; i < req.customer_ids_size(); ++i) {
    if (!ids::IsUuid(req.customer_ids(i))) {
      return status::InvalidArgument(absl::StrCat("customer_ids[", i, "]"), "must be a UUID");
    }
  }
  std::map<std::string, std::string> owners;
  if (IsRep(call) && req.customer_ids_size() > 0) {
    TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      owners = store::OwnersOf(tx, {req.customer_ids().begin(), req.customer_ids().end()});
      return absl::OkStatus();
    }));
  }
  v1::BatchGetTiersResponse out;
  for (const std::string& id : req.customer_ids()) {
    absl::StatusOr<v1::Tier> t = engine_.GetTier(id);
    if (absl::IsNotFound(t.status())) continue;
    if (!t.ok()) return t.status();
    std::optional<std::string> owner;
    if (auto it = owners.find(absl::AsciiStrToLower(id)); it != owners.end()) owner = it->second;
    Present(call, owner, *t);
    *out.add_tiers() = std::move(*t);
  }
  return out;
}

absl::StatusOr<v1::ListCustomersByTierResponse> TierDesk::ListByTier(
    const auth::CallContext& call, const v1::ListCustomersByTierRequest& req) {
  if (TierRank(req.tier()) < 0) return status::InvalidArgument("tier", "must be K, A, B, C or D");
  TW_ASSIGN_OR_RETURN(const int size,
                      paging::PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  std::string after;
  if (!req.page_token().empty() &&
      (!absl::WebSafeBase64Unescape(req.page_token(), &after) || !ids::IsUuid(after))) {
    return status::InvalidArgument("page_token", "is not a token from this list");
  }
  // A rep's list is of their own customers.
  const std::string owner = IsRep(call) ? call.principal.name : "";
  v1::ListCustomersByTierResponse out;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    for (auto& t : store::ListByTier(tx, req.tier(), after, size + 1, owner)) {
      StripForRole(call.principal.role, t);
      *out.add_tiers() = std::move(t);
    }
    return absl::OkStatus();
  }));
  if (out.tiers_size() > size) {
    out.mutable_tiers()->RemoveLast();
    out.set_next_page_token(
        absl::WebSafeBase64Escape(out.tiers(out.tiers_size() - 1).customer_id()));
  }
  return out;
}

absl::StatusOr<v1::GetTierHistoryResponse> TierDesk::History(const auth::CallContext& call,
                                                             const v1::GetTierHistoryRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(const int size,
                      paging::PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  int64_t before = 0;
  if (!req.page_token().empty()) {
    std::string raw;
    if (!absl::WebSafeBase64Unescape(req.page_token(), &raw) || !absl::SimpleAtoi(raw, &before)) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
  }
  v1::GetTierHistoryResponse out;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (IsRep(call)) {
      const std::optional<std::string> owner = store::OwnerOf(tx, req.customer_id());
      if (!owner.has_value()) {
        return absl::NotFoundError(
            absl::StrCat("customer_id: customer ", req.customer_id(), " is not known"));
      }
      if (*owner != call.principal.name) {
        return absl::PermissionDeniedError(
            absl::StrCat("customer_id: customer ", req.customer_id(),
                         " is not one of this sales rep's customers"));
      }
    }
    for (auto& c : store::LoadHistory(tx, req.customer_id(), before, size + 1)) {
      StripForRole(call.principal.role, c);
      *out.add_changes() = std::move(c);
    }
    return absl::OkStatus();
  }));
  if (out.changes_size() > size) {
    out.mutable_changes()->RemoveLast();
    out.set_next_page_token(
        absl::WebSafeBase64Escape(absl::StrCat(out.changes(out.changes_size() - 1).id())));
  }
  return out;
}

}  // namespace tierwise::classification
