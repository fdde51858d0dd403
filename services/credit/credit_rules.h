#ifndef TIERWISE_SERVICES_CREDIT_CREDIT_RULES_H_
#define TIERWISE_SERVICES_CREDIT_CREDIT_RULES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/credit/ledger.h"
#include "tierwise/credit/v1/credit.pb.h"

// The credit policy's rules: the rating model (资信等级), automatic holds and the credit check.
// Pure functions over a ledger position; the policy is data (tierwise.credit.v1.CreditPolicy).
namespace tierwise::credit {

// Weights 40/30/10/20; AAA ≥ 90, AA ≥ 80, A ≥ 70, BBB ≥ 60, BB ≥ 50, B ≥ 40, else C; hold after
// 90 days overdue; block beyond 60; warn in the last 10 % of the limit; 100,000.00 CNY net 30.
v1::CreditPolicy DefaultPolicy();

// INVALID_ARGUMENT naming the field: weights in 0..100 summing to 100, thresholds strictly
// decreasing within 1..100, days and band in range, a known min_rating, a valid default limit.
absl::Status ValidatePolicy(const v1::CreditPolicy& policy, const std::string& prefix);

// Ratings from best to worst.
const std::vector<std::string>& Ratings();
// Position of a rating in Ratings() (0 = AAA), or -1 when unknown.
int RatingRank(const std::string& rating);

struct Rating {
  std::string grade;
  int score = 0;
  std::vector<v1::RatingFactor> factors;
};

// Scores payment behaviour (on-time ratio, worst days overdue, overdue share of receivables)
// and tenure (since the first order) and maps the score to a grade.
// Tenure counts local days of `calendar`.
Rating RateAccount(const Ledger& ledger, const Position& position, Micros now,
                   const BusinessCalendar& calendar, const v1::CreditPolicy& policy);

// Whether the policy's automatic hold applies at this position.
bool AutoHoldDue(const Position& position, const v1::CreditPolicy& policy);

struct AccountState {
  int64_t credit_limit = 0;
  bool on_hold = false;
  std::string hold_reason;
  std::string rating;
  std::string currency;
};

struct CheckOutcome {
  v1::CreditDecision decision = v1::CREDIT_DECISION_APPROVED;
  std::vector<std::string> reasons;
  // limit - exposure after the order; nullopt when that passes int64 (the check then blocks).
  std::optional<int64_t> available_after;
};

// Every reason to block (ON_HOLD, OVER_LIMIT, OVERDUE, RATING_TOO_LOW, OUT_OF_RANGE) or warn
// (NEAR_LIMIT, OVERDUE_ITEMS) an order of `amount` on this account. The arithmetic is done in
// 128 bits: an exposure after the order beyond int64 blocks (OVER_LIMIT and OUT_OF_RANGE), it
// never wraps into an approval.
CheckOutcome CheckCredit(const AccountState& account, const Position& position, int64_t amount,
                         const v1::CreditPolicy& policy);

// The check when the account's position cannot be computed (PositionAt failed with `why`):
// BLOCKED with an OUT_OF_RANGE reason, plus ON_HOLD when the account is on hold.
CheckOutcome BlockedOutOfRange(const AccountState& account, const absl::Status& why);

// A limit suggestion from behaviour: 3 months of recent sales scaled by the score, rounded
// down to 1,000.00 and at most kMaxDocumentMinorUnits. FAILED_PRECONDITION when the sales sum
// passes int64.
// Recent = invoiced on the last 90 local days, today included.
absl::StatusOr<int64_t> SuggestedLimit(const Ledger& ledger, const Rating& rating, Micros now,
                                       const BusinessCalendar& calendar);

// The violation text for an amount above kMaxDocumentMinorUnits:
// "exceeds the maximum of 1000000000000000 minor units".
std::string AboveMaximum();

// "1234.56" from 123456 minor units.
std::string FormatMinor(int64_t minor);

}  // namespace tierwise::credit

#endif  // TIERWISE_SERVICES_CREDIT_CREDIT_RULES_H_
