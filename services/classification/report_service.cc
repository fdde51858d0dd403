#include "services/classification/report_service.h"

#include <algorithm>
#include <map>

#include "common/server/rpc.h"
#include "common/status/macros.h"
#include "common/status/status.h"
#include "services/classification/classification_store.h"
#include "services/classification/customer_metrics.h"
#include "services/classification/tier_rules.h"

namespace tierwise::classification {
namespace {

using auth::Role;
using server::ServeRpc;

struct Snapshot {
  std::map<std::string, std::string> tiers;  // customer → tier at the time ("" none)
  std::map<std::string, int64_t> revenue;    // customer → trailing 12-month revenue then
};

absl::StatusOr<Snapshot> SnapshotAt(postgres::PgPool& pool, Micros at, bool current_tiers,
                                    const time::BusinessCalendar& calendar) {
  Snapshot s;
  TW_RETURN_IF_ERROR(pool.Transact([&](pqxx::work& tx) -> absl::Status {
    s.tiers = store::TiersAt(tx, current_tiers ? 0 : at);
    for (const std::string& id : store::AllCustomers(tx)) {
      s.revenue[id] = ComputeMetrics(store::LoadLedger(tx, id), at, calendar).revenue_12m;
    }
    return absl::OkStatus();
  }));
  return s;
}

absl::StatusOr<Micros> TimeOf(const google::protobuf::Timestamp& ts, bool present,
                              const char* field, Micros now) {
  if (!present) return now;
  const Micros t = store::ToMicros(ts);
  if (t <= 0 || t > now) return status::InvalidArgument(field, "must be a time in the past");
  return t;
}

}  // namespace

auth::RoleTable ReportRoleTable() {
  const auth::Roles readers = {Role::kAdmin, Role::kManager, Role::kSalesRep, Role::kFinance,
                               Role::kViewer};
  return {{"GetTierDistribution", readers},
          {"GetTransitionMatrix", readers},
          {"GetParetoCurve", readers}};
}

grpc::Status ReportService::GetTierDistribution(grpc::ServerContext* context,
                                                const v1::GetTierDistributionRequest* request,
                                                v1::GetTierDistributionResponse* response) {
  return ServeRpc(authorizer_, context, "GetTierDistribution", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::GetTierDistributionResponse> {
                    const Micros now = clock_();
                    TW_ASSIGN_OR_RETURN(
                        Micros at, TimeOf(request->as_of(), request->has_as_of(), "as_of", now));
                    TW_ASSIGN_OR_RETURN(Snapshot s,
                                        SnapshotAt(pool_, at, !request->has_as_of(), calendar_));
                    // rank → (customers, revenue); money summed in 128 bits, reported clamped.
                    std::map<int, std::pair<int64_t, absl::int128>> by_tier;
                    absl::int128 total = 0;
                    for (const auto& [id, tier] : s.tiers) {
                      const int64_t revenue = s.revenue.count(id) ? s.revenue.at(id) : 0;
                      by_tier[TierRank(tier)].first += 1;
                      by_tier[TierRank(tier)].second += revenue;
                      total += revenue;
                    }
                    v1::GetTierDistributionResponse out;
                    for (const auto& [rank, counts] : by_tier) {
                      v1::TierShare* share = out.add_tiers();
                      share->set_tier(rank >= 0 ? Tiers()[rank] : "?");
                      share->set_customers(counts.first);
                      share->mutable_revenue()->set_minor_units(ClampToInt64(counts.second));
                      share->mutable_revenue()->set_currency("CNY");
                      share->set_revenue_share_permille(
                          total > 0 ? static_cast<int32_t>(counts.second * 1000 / total) : 0);
                    }
                    out.set_customers(static_cast<int64_t>(s.tiers.size()));
                    out.mutable_revenue()->set_minor_units(ClampToInt64(total));
                    out.mutable_revenue()->set_currency("CNY");
                    store::SetTimestamp(at, out.mutable_as_of());
                    return out;
                  });
}

grpc::Status ReportService::GetTransitionMatrix(grpc::ServerContext* context,
                                                const v1::GetTransitionMatrixRequest* request,
                                                v1::GetTransitionMatrixResponse* response) {
  return ServeRpc(
      authorizer_, context, "GetTransitionMatrix", response,
      [&](const auth::CallContext&) -> absl::StatusOr<v1::GetTransitionMatrixResponse> {
        const Micros now = clock_();
        if (!request->has_from_time()) return status::InvalidArgument("from_time", "is required");
        TW_ASSIGN_OR_RETURN(Micros from, TimeOf(request->from_time(), true, "from_time", now));
        TW_ASSIGN_OR_RETURN(Micros to,
                            TimeOf(request->to_time(), request->has_to_time(), "to_time", now));
        if (to < from) return status::InvalidArgument("to_time", "must not be before from_time");
        TW_ASSIGN_OR_RETURN(Snapshot before, SnapshotAt(pool_, from, false, calendar_));
        TW_ASSIGN_OR_RETURN(Snapshot after,
                            SnapshotAt(pool_, to, !request->has_to_time(), calendar_));
        v1::GetTransitionMatrixResponse out;
        std::map<std::pair<std::string, std::string>, int64_t> matrix;
        std::map<std::string, std::pair<int64_t, int64_t>> churn;  // tier → (customers, churned)
        for (const auto& [id, tier] : after.tiers) {
          auto it = before.tiers.find(id);
          const std::string from_tier = it == before.tiers.end() ? "" : it->second;
          ++matrix[{from_tier, tier}];
          if (from_tier.empty()) continue;
          const int r0 = TierRank(from_tier), r1 = TierRank(tier);
          if (r1 < r0) {
            out.set_upgrades(out.upgrades() + 1);
          } else if (r1 > r0) {
            out.set_downgrades(out.downgrades() + 1);
          } else {
            out.set_unchanged(out.unchanged() + 1);
          }
        }
        for (const auto& [id, tier] : before.tiers) {
          auto& c = churn[tier];
          ++c.first;
          const bool had = before.revenue.count(id) && before.revenue.at(id) > 0;
          const bool has = after.revenue.count(id) && after.revenue.at(id) > 0;
          if (had && !has) ++c.second;
        }
        for (const auto& [cell, count] : matrix) {
          v1::Transition* t = out.add_transitions();
          t->set_from_tier(cell.first);
          t->set_to_tier(cell.second);
          t->set_customers(count);
        }
        for (const auto& [tier, c] : churn) {
          v1::ChurnShare* share = out.add_churn();
          share->set_tier(tier);
          share->set_customers(c.first);
          share->set_churned(c.second);
        }
        return out;
      });
}

grpc::Status ReportService::GetParetoCurve(grpc::ServerContext* context,
                                           const v1::GetParetoCurveRequest* request,
                                           v1::GetParetoCurveResponse* response) {
  return ServeRpc(authorizer_, context, "GetParetoCurve", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::GetParetoCurveResponse> {
                    if (request->points() < 0 || request->points() > 100) {
                      return status::InvalidArgument("points", "must be within 0..100");
                    }
                    const int points = request->points() == 0 ? 20 : request->points();
                    TW_ASSIGN_OR_RETURN(Snapshot s, SnapshotAt(pool_, clock_(), true, calendar_));
                    std::vector<int64_t> revenues;
                    absl::int128 total = 0;
                    for (const auto& [id, r] : s.revenue) {
                      revenues.push_back(r);
                      total += r;
                    }
                    std::sort(revenues.rbegin(), revenues.rend());
                    v1::GetParetoCurveResponse out;
                    out.set_customers(static_cast<int64_t>(revenues.size()));
                    const size_t n = revenues.size();
                    absl::int128 cumulative = 0;
                    size_t taken = 0;
                    for (int p = 1; p <= points && n > 0; ++p) {
                      const size_t upto = (n * p + points - 1) / points;  // ceil(n × p / points)
                      while (taken < upto) cumulative += revenues[taken++];
                      v1::ParetoPoint* point = out.add_points();
                      point->set_customer_share_permille(static_cast<int32_t>(taken * 1000 / n));
                      point->set_revenue_share_permille(
                          total > 0 ? static_cast<int32_t>(cumulative * 1000 / total) : 0);
                    }
                    return out;
                  });
}

}  // namespace tierwise::classification
