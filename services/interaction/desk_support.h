#ifndef TIERWISE_SERVICES_INTERACTION_DESK_SUPPORT_H_
#define TIERWISE_SERVICES_INTERACTION_DESK_SUPPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/auth/auth.h"
#include "services/interaction/interaction_store.h"

// What the record and complaint halves of InteractionDesk share: access checks, audit rows and
// idempotency keys.
namespace tierwise::interaction {

inline bool IsRep(const auth::CallContext& call) {
  return call.principal.role == auth::Role::kSalesRep;
}

store::AuditEntry AuditOf(const auth::CallContext& call, std::string action, std::string entity,
                          std::string entity_id, std::string customer_id, std::string detail = "");

// The customer must be known and not deleted (NOT_FOUND); a sales rep may only touch their own
// (PERMISSION_DENIED). `field` names the request field in the message. `for_write`: the call
// writes the customer's records or plan, and locks the customer's row (FOR NO KEY UPDATE) to
// the end of the transaction, so an erasure waits for it or it waits for the erasure, and two
// writers of the customer's plan take turns (only inside a transaction; reads pass a Read's
// nontransaction).
absl::StatusOr<store::KnownCustomer> AccessCustomer(pqxx::transaction_base& tx,
                                                    const auth::CallContext& call,
                                                    const std::string& customer_id,
                                                    absl::string_view field,
                                                    bool for_write = false);

// The stored idempotency key of a client request id: per principal, "" when none was given.
std::string RequestKey(const auth::CallContext& call, const std::string& request_id);

// Registers the complaint SLA metrics (tierwise_sla_breaches_total{kind}) before any breach.
void RegisterComplaintMetrics();

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_DESK_SUPPORT_H_
