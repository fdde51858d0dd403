#ifndef TIERWISE_SERVICES_CLI_DEMO_LEDGER_H_
#define TIERWISE_SERVICES_CLI_DEMO_LEDGER_H_

#include <cstdint>
#include <vector>

#include "absl/time/civil_time.h"
#include "services/cli/demo_data.h"
#include "tierwise/credit/v1/credit.pb.h"

// A deterministic ERP ledger for the demo customers (see demo_data.h): orders with margins,
// product lines and payment terms, payments — most customers pay on time, some late, some
// slowly, a few leave orders unpaid for good (so that some items are 90+ days overdue) — and a
// few cancellations and partial returns. Amounts are integer minor units (CNY).
//
// Everything about one month of one customer is drawn from (seed, customer, month) alone, and
// event ids name them with the seed ("demo-42-ERP-C00001-202603-o2" for the second order of
// March 2026, "...-o2-p1" its first payment, "...-o2-c" its cancellation), so that:
//   - the same options give the same events, byte for byte;
//   - a later --end only adds events (the ones that have happened since) and never changes an
//     earlier one, so a ledger pushed daily behaves like a live ERP feed, and a rerun is
//     entirely duplicates;
//   - another seed gives another ledger, with other ids and document numbers
//     (SO-42-202603-00001-2, RC-..., CX-... cancellations, RT-... returns).
// Prospects and former customers have no ledger, dormant ones order rarely.
namespace tierwise::demo {

struct DemoLedgerOptions {
  uint64_t seed = 42;   // the same seed as `demo load` gives matching customers
  int customers = 200;  // ERP-C00001 .. ERP-C<customers>
  int months = 12;      // calendar months up to and including the month of `end`
  absl::CivilDay end;   // nothing after this day (UTC) is included
};

// The events of demo customer `index` (1-based; `customer` is GenerateDemoCustomers' entry for
// it), sorted by (occurred_at, event_id).
std::vector<tierwise::credit::v1::LedgerEventInput> GenerateCustomerLedger(
    const DemoLedgerOptions& options, const DemoCustomer& customer, int index);

// Every customer's events, customer after customer.
std::vector<tierwise::credit::v1::LedgerEventInput> GenerateDemoLedger(
    const DemoLedgerOptions& options);

}  // namespace tierwise::demo

#endif  // TIERWISE_SERVICES_CLI_DEMO_LEDGER_H_
