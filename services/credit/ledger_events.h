#ifndef TIERWISE_SERVICES_CREDIT_LEDGER_EVENTS_H_
#define TIERWISE_SERVICES_CREDIT_LEDGER_EVENTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/time/micros.h"
#include "services/credit/ledger.h"
#include "tierwise/credit/v1/credit.pb.h"

// The ERP's events as the ledger sees them: validation (field paths such as
// "order.amount.minor_units") and conversion to ledger facts. No I/O.
namespace tierwise::credit {

enum class FactKind { kOrder = 1, kCancellation = 2, kPayment = 3 };

// An event that passed validation, with what storage needs to index it.
struct ValidEvent {
  int index = 0;  // position in the request
  std::string event_id;
  std::string customer_key;  // external_ref, or customer_id when given
  bool key_is_customer_id = false;
  FactKind kind = FactKind::kOrder;
  std::string document_no;
  int64_t amount = 0;
  std::string currency;
  Micros occurred_at = 0;
  v1::LedgerEventInput input;
};

// INVALID_ARGUMENT naming the first bad field (with every violation in the details). Every
// amount (order amount, margin and cost, cancellation and payment amount) is within
// 0..kMaxDocumentMinorUnits, e.g. "order.amount.minor_units: exceeds the maximum of
// 1000000000000000 minor units".
absl::StatusOr<ValidEvent> ValidateEvent(const v1::LedgerEventInput& input, int index);

// The ledger fact an (already validated) event stands for.
Fact ToFact(const v1::LedgerEventInput& input);

Terms ToTerms(const v1::PaymentTerms& terms);
v1::PaymentTerms FromTerms(const Terms& terms);

using time::SetTimestamp;
using time::ToMicros;

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_LEDGER_EVENTS_H_
