#include "services/classification/classification_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/ids/ids.h"
#include "common/server/rpc.h"
#include "common/status/macros.h"
#include "common/status/status.h"

namespace tierwise::classification {
namespace {

using auth::Role;
using server::ServeRpc;

Actor ActorOf(const auth::CallContext& c) {
  return {c.principal.name, std::string(auth::RoleName(c.principal.role)), c.request_id};
}

absl::Status CheckId(const std::string& id, const char* field) {
  if (id.empty()) return status::InvalidArgument(field, "is required");
  if (!ids::IsUuid(id)) return status::InvalidArgument(field, "must be a UUID");
  return absl::OkStatus();
}

template <typename Fn>
absl::Status InTx(postgres::PgPool& pool, Fn&& fn) {
  return pool.Transact([&](pqxx::work& tx) -> absl::Status { return fn(tx); });
}

absl::Status ValidateServicePolicy(const v1::ServicePolicy& p) {
  status::ViolationList v;
  std::set<std::string> tiers;
  for (int i = 0; i < p.tiers_size(); ++i) {
    const auto& t = p.tiers(i);
    const std::string field = absl::StrCat("policy.tiers[", i, "]");
    if (TierRank(t.tier()) < 0 || !tiers.insert(t.tier()).second) {
      v.Add(field + ".tier", "must be K, A, B, C or D, once each");
    }
    if (t.visit_interval_days() <= 0 || t.visit_interval_days() > 366) {
      v.Add(field + ".visit_interval_days", "must be within 1..366");
    }
    if (t.executive_interval_days() < 0 || t.executive_interval_days() > 366) {
      v.Add(field + ".executive_interval_days", "must be within 0..366");
    }
    if (t.pool_after_days() < 0 || t.pool_after_days() > 3660) {
      v.Add(field + ".pool_after_days", "must be within 0..3660");
    }
    if (t.pool_after_days() > 0 && (t.pool_interval_days() <= 0 || t.pool_interval_days() > 366)) {
      v.Add(field + ".pool_interval_days", "must be within 1..366 when pool_after_days is set");
    }
    if (t.response_sla_hours() <= 0) v.Add(field + ".response_sla_hours", "must be positive");
    if (t.resolution_sla_hours() < t.response_sla_hours()) {
      v.Add(field + ".resolution_sla_hours", "must not be shorter than the response SLA");
    }
  }
  if (p.tiers_size() == 0) v.Add("policy.tiers", "are required");
  return v.ToStatus();
}

}  // namespace

auth::RoleTable RuleSetRoleTable() {
  const auth::Roles readers = {Role::kAdmin, Role::kManager, Role::kFinance, Role::kViewer};
  return {{"CreateRuleSet", {Role::kAdmin, Role::kManager}},
          {"GetRuleSet", readers},
          {"ListRuleSets", readers},
          {"ActivateRuleSet", {Role::kAdmin, Role::kManager}},
          {"SimulateRuleSet", readers}};
}

auth::RoleTable ClassificationRoleTable() {
  const auth::Roles back_office = {Role::kAdmin, Role::kManager};
  return {{"GetTier", auth::Roles::All()},
          {"BatchGetTiers", auth::Roles::All()},
          {"ListCustomersByTier", auth::Roles::All()},
          {"GetTierHistory", auth::Roles::All()},
          {"PinTier", back_office},
          {"UnpinTier", back_office},
          {"Reclassify", back_office},
          {"StartFullReclassification", back_office},
          {"GetJob", back_office},
          {"GetServicePolicy", auth::Roles::All()},
          {"UpdateServicePolicy", {Role::kAdmin}}};
}

// ---- RuleSetService ----

grpc::Status RuleSetService::CreateRuleSet(grpc::ServerContext* context,
                                           const v1::CreateRuleSetRequest* request,
                                           v1::RuleSet* response) {
  return ServeRpc(authorizer_, context, "CreateRuleSet", response,
                  [&](const auth::CallContext& c) -> absl::StatusOr<v1::RuleSet> {
                    TW_RETURN_IF_ERROR(ValidateRuleSet(request->rule_set(), "rule_set"));
                    return engine_.CreateRuleSet(request->rule_set(), ActorOf(c));
                  });
}

grpc::Status RuleSetService::GetRuleSet(grpc::ServerContext* context,
                                        const v1::GetRuleSetRequest* request,
                                        v1::RuleSet* response) {
  return ServeRpc(authorizer_, context, "GetRuleSet", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::RuleSet> {
                    if (request->version() < 0) {
                      return status::InvalidArgument("version", "must not be negative");
                    }
                    std::optional<v1::RuleSet> rs;
                    TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
                      rs = store::LoadRuleSet(tx, request->version());
                      return absl::OkStatus();
                    }));
                    if (!rs.has_value()) return absl::NotFoundError("no such rule set");
                    return *rs;
                  });
}

grpc::Status RuleSetService::ListRuleSets(grpc::ServerContext* context,
                                          const v1::ListRuleSetsRequest* request,
                                          v1::ListRuleSetsResponse* response) {
  return ServeRpc(authorizer_, context, "ListRuleSets", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::ListRuleSetsResponse> {
                    v1::ListRuleSetsResponse out;
                    TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
                      for (auto& rs : store::ListRuleSets(tx)) *out.add_rule_sets() = std::move(rs);
                      return absl::OkStatus();
                    }));
                    return out;
                  });
}

grpc::Status RuleSetService::ActivateRuleSet(grpc::ServerContext* context,
                                             const v1::ActivateRuleSetRequest* request,
                                             v1::ActivateRuleSetResponse* response) {
  return ServeRpc(authorizer_, context, "ActivateRuleSet", response,
                  [&](const auth::CallContext& c) -> absl::StatusOr<v1::ActivateRuleSetResponse> {
                    if (request->version() <= 0) {
                      return status::InvalidArgument("version", "is required");
                    }
                    TW_ASSIGN_OR_RETURN(Activation activation,
                                        writer_.ActivateRuleSet(request->version(), ActorOf(c)));
                    v1::ActivateRuleSetResponse out;
                    *out.mutable_rule_set() = std::move(activation.rule_set);
                    *out.mutable_job() = std::move(activation.job);
                    return out;
                  });
}

grpc::Status RuleSetService::SimulateRuleSet(grpc::ServerContext* context,
                                             const v1::SimulateRuleSetRequest* request,
                                             v1::SimulateRuleSetResponse* response) {
  return ServeRpc(authorizer_, context, "SimulateRuleSet", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::SimulateRuleSetResponse> {
                    v1::RuleSet candidate;
                    if (request->has_rule_set()) {
                      TW_RETURN_IF_ERROR(ValidateRuleSet(request->rule_set(), "rule_set"));
                      candidate = request->rule_set();
                    } else {
                      std::optional<v1::RuleSet> rs;
                      TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
                        rs = store::LoadRuleSet(tx, request->version());
                        return absl::OkStatus();
                      }));
                      if (!rs.has_value())
                        return status::InvalidArgument("version", "no such rule set");
                      candidate = *rs;
                    }
                    const int samples =
                        request->sample_size() <= 0 ? 20 : std::min(request->sample_size(), 500);
                    return engine_.Simulate(candidate, samples);
                  });
}

// ---- ClassificationService ----

grpc::Status ClassificationService::GetTier(grpc::ServerContext* context,
                                            const v1::GetTierRequest* request, v1::Tier* response) {
  return ServeRpc(authorizer_, context, "GetTier", response,
                  [&](const auth::CallContext& c) { return desk_.GetTier(c, *request); });
}

grpc::Status ClassificationService::BatchGetTiers(grpc::ServerContext* context,
                                                  const v1::BatchGetTiersRequest* request,
                                                  v1::BatchGetTiersResponse* response) {
  return ServeRpc(authorizer_, context, "BatchGetTiers", response,
                  [&](const auth::CallContext& c) { return desk_.BatchGetTiers(c, *request); });
}

grpc::Status ClassificationService::ListCustomersByTier(
    grpc::ServerContext* context, const v1::ListCustomersByTierRequest* request,
    v1::ListCustomersByTierResponse* response) {
  return ServeRpc(authorizer_, context, "ListCustomersByTier", response,
                  [&](const auth::CallContext& c) { return desk_.ListByTier(c, *request); });
}

grpc::Status ClassificationService::GetTierHistory(grpc::ServerContext* context,
                                                   const v1::GetTierHistoryRequest* request,
                                                   v1::GetTierHistoryResponse* response) {
  return ServeRpc(authorizer_, context, "GetTierHistory", response,
                  [&](const auth::CallContext& c) { return desk_.History(c, *request); });
}

grpc::Status ClassificationService::PinTier(grpc::ServerContext* context,
                                            const v1::PinTierRequest* request, v1::Tier* response) {
  return ServeRpc(
      authorizer_, context, "PinTier", response,
      [&](const auth::CallContext& c) -> absl::StatusOr<v1::Tier> {
        TW_RETURN_IF_ERROR(CheckId(request->customer_id(), "customer_id"));
        if (TierRank(request->tier()) < 0) {
          return status::InvalidArgument("tier", "must be K, A, B, C or D");
        }
        const std::string reason(absl::StripAsciiWhitespace(request->reason()));
        if (reason.empty() || reason.size() > 500) {
          return status::InvalidArgument("reason", "is required (at most 500 bytes)");
        }
        const Micros expires = store::ToMicros(request->expire_time());
        if (!request->has_expire_time() || expires <= clock_()) {
          return status::InvalidArgument("expire_time", "is required and in the future");
        }
        return writer_.Pin(request->customer_id(), request->tier(), reason, expires, ActorOf(c));
      });
}

grpc::Status ClassificationService::UnpinTier(grpc::ServerContext* context,
                                              const v1::UnpinTierRequest* request,
                                              v1::Tier* response) {
  return ServeRpc(authorizer_, context, "UnpinTier", response,
                  [&](const auth::CallContext& c) -> absl::StatusOr<v1::Tier> {
                    TW_RETURN_IF_ERROR(CheckId(request->customer_id(), "customer_id"));
                    return writer_.Unpin(request->customer_id(), request->reason(), ActorOf(c));
                  });
}

grpc::Status ClassificationService::Reclassify(grpc::ServerContext* context,
                                               const v1::ReclassifyRequest* request,
                                               v1::Tier* response) {
  return ServeRpc(authorizer_, context, "Reclassify", response,
                  [&](const auth::CallContext& c) -> absl::StatusOr<v1::Tier> {
                    TW_RETURN_IF_ERROR(CheckId(request->customer_id(), "customer_id"));
                    return writer_.Reclassify(request->customer_id(), ActorOf(c));
                  });
}

grpc::Status ClassificationService::StartFullReclassification(
    grpc::ServerContext* context, const v1::StartFullReclassificationRequest* request,
    v1::Job* response) {
  return ServeRpc(authorizer_, context, "StartFullReclassification", response,
                  [&](const auth::CallContext& c) {
                    return writer_.StartFullReclassification("RECLASSIFY", ActorOf(c));
                  });
}

grpc::Status ClassificationService::GetJob(grpc::ServerContext* context,
                                           const v1::GetJobRequest* request, v1::Job* response) {
  return ServeRpc(authorizer_, context, "GetJob", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::Job> {
                    TW_RETURN_IF_ERROR(CheckId(request->id(), "id"));
                    return jobs_.Get(request->id());
                  });
}

grpc::Status ClassificationService::GetServicePolicy(grpc::ServerContext* context,
                                                     const v1::GetServicePolicyRequest* request,
                                                     v1::ServicePolicy* response) {
  return ServeRpc(authorizer_, context, "GetServicePolicy", response,
                  [&](const auth::CallContext&) -> absl::StatusOr<v1::ServicePolicy> {
                    std::optional<v1::ServicePolicy> p;
                    TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
                      p = store::LoadServicePolicy(tx);
                      return absl::OkStatus();
                    }));
                    return p.value_or(DefaultServicePolicy());
                  });
}

grpc::Status ClassificationService::UpdateServicePolicy(
    grpc::ServerContext* context, const v1::UpdateServicePolicyRequest* request,
    v1::ServicePolicy* response) {
  return ServeRpc(authorizer_, context, "UpdateServicePolicy", response,
                  [&](const auth::CallContext& c) -> absl::StatusOr<v1::ServicePolicy> {
                    TW_RETURN_IF_ERROR(ValidateServicePolicy(request->policy()));
                    v1::ServicePolicy p = request->policy();
                    TW_RETURN_IF_ERROR(InTx(pool_, [&](pqxx::work& tx) {
                      std::optional<v1::ServicePolicy> current = store::LoadServicePolicy(tx);
                      p.set_version(current ? current->version() + 1 : 1);
                      p.set_updated_by(c.principal.name);
                      store::SetTimestamp(clock_(), p.mutable_update_time());
                      store::SaveServicePolicy(tx, p);
                      postgres::WriteAudit(
                          tx, AuditOf(ActorOf(c), "policy.update", "", "service_policy",
                                      absl::StrCat(p.version()), {"tiers"}));
                      return absl::OkStatus();
                    }));
                    return p;
                  });
}

}  // namespace tierwise::classification
