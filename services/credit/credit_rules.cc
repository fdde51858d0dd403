#include "services/credit/credit_rules.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace tierwise::credit {

v1::CreditPolicy DefaultPolicy() {
  v1::CreditPolicy p;
  p.set_weight_on_time_ratio(40);
  p.set_weight_max_days_overdue(30);
  p.set_weight_tenure(10);
  p.set_weight_overdue_share(20);
  p.set_min_score_aaa(90);
  p.set_min_score_aa(80);
  p.set_min_score_a(70);
  p.set_min_score_bbb(60);
  p.set_min_score_bb(50);
  p.set_min_score_b(40);
  p.set_auto_hold_days_overdue(90);
  p.set_block_days_overdue(60);
  p.set_warning_band_percent(10);
  p.set_min_rating("");
  p.mutable_default_limit()->set_minor_units(100000LL * 100);
  p.mutable_default_limit()->set_currency("CNY");
  p.mutable_default_terms()->set_type(v1::PAYMENT_TERMS_TYPE_NET_DAYS);
  p.mutable_default_terms()->set_net_days(30);
  return p;
}

const std::vector<std::string>& Ratings() {
  static const auto* const kRatings =
      new std::vector<std::string>{"AAA", "AA", "A", "BBB", "BB", "B", "C"};
  return *kRatings;
}

int RatingRank(const std::string& rating) {
  const auto& r = Ratings();
  auto it = std::find(r.begin(), r.end(), rating);
  return it == r.end() ? -1 : static_cast<int>(it - r.begin());
}

absl::Status ValidatePolicy(const v1::CreditPolicy& p, const std::string& prefix) {
  status::ViolationList v;
  const auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  const int weights[] = {p.weight_on_time_ratio(), p.weight_max_days_overdue(), p.weight_tenure(),
                         p.weight_overdue_share()};
  const char* weight_names[] = {"weight_on_time_ratio", "weight_max_days_overdue", "weight_tenure",
                                "weight_overdue_share"};
  int sum = 0;
  for (int i = 0; i < 4; ++i) {
    if (weights[i] < 0 || weights[i] > 100) v.Add(f(weight_names[i]), "must be within 0..100");
    sum += weights[i];
  }
  if (sum != 100)
    v.Add(f("weight_on_time_ratio"), absl::StrCat("weights must sum to 100, not ", sum));
  const int thresholds[] = {p.min_score_aaa(), p.min_score_aa(), p.min_score_a(),
                            p.min_score_bbb(), p.min_score_bb(), p.min_score_b()};
  const char* threshold_names[] = {"min_score_aaa", "min_score_aa", "min_score_a",
                                   "min_score_bbb", "min_score_bb", "min_score_b"};
  for (int i = 0; i < 6; ++i) {
    if (thresholds[i] < 1 || thresholds[i] > 100) {
      v.Add(f(threshold_names[i]), "must be within 1..100");
    } else if (i > 0 && thresholds[i] >= thresholds[i - 1]) {
      v.Add(f(threshold_names[i]),
            absl::StrCat("must be below ", threshold_names[i - 1], " (", thresholds[i - 1], ")"));
    }
  }
  if (p.auto_hold_days_overdue() < 0 || p.auto_hold_days_overdue() > 3650) {
    v.Add(f("auto_hold_days_overdue"), "must be within 0..3650");
  }
  if (p.block_days_overdue() < 0 || p.block_days_overdue() > 3650) {
    v.Add(f("block_days_overdue"), "must be within 0..3650");
  }
  if (p.warning_band_percent() < 0 || p.warning_band_percent() > 100) {
    v.Add(f("warning_band_percent"), "must be within 0..100");
  }
  if (!p.min_rating().empty() && RatingRank(p.min_rating()) < 0) {
    v.Add(f("min_rating"), "must be one of AAA, AA, A, BBB, BB, B, C or empty");
  }
  if (p.default_limit().minor_units() < 0) {
    v.Add(f("default_limit.minor_units"), "must not be negative");
  } else if (p.default_limit().minor_units() > kMaxDocumentMinorUnits) {
    v.Add(f("default_limit.minor_units"), AboveMaximum());
  }
  if (p.default_limit().currency().size() != 3)
    v.Add(f("default_limit.currency"), "must be an ISO 4217 code");
  const auto& t = p.default_terms();
  if (!v1::PaymentTermsType_IsValid(t.type()) || t.type() == v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) {
    v.Add(f("default_terms.type"), "must be PREPAID, NET_DAYS or MONTHLY_STATEMENT");
  }
  if (t.net_days() < 0 || t.net_days() > 365)
    v.Add(f("default_terms.net_days"), "must be within 0..365");
  return v.ToStatus();
}

namespace {

v1::RatingFactor Factor(std::string name, std::string value, int points, int weight) {
  v1::RatingFactor f;
  f.set_name(std::move(name));
  f.set_value(std::move(value));
  f.set_points(points);
  f.set_weight(weight);
  f.set_contribution(points * weight);  // scaled by 100; divided once when summing
  return f;
}

}  // namespace

Rating RateAccount(const Ledger& ledger, const Position& position, Micros now,
                   const BusinessCalendar& calendar, const v1::CreditPolicy& policy) {
  Rating r;
  // On-time payment ratio (付款及时率): without history, a neutral 60.
  const int on_time_points =
      position.on_time_permille.has_value() ? *position.on_time_permille / 10 : 60;
  r.factors.push_back(Factor("on_time_ratio",
                             position.on_time_permille.has_value()
                                 ? absl::StrFormat("%d.%d%%", *position.on_time_permille / 10,
                                                   *position.on_time_permille % 10)
                                 : "no items due in 12 months",
                             on_time_points, policy.weight_on_time_ratio()));
  const int d = position.max_days_overdue;
  const int overdue_points = d == 0 ? 100 : d <= 30 ? 70 : d <= 60 ? 40 : d <= 90 ? 20 : 0;
  r.factors.push_back(Factor("max_days_overdue", absl::StrCat(d, " days"), overdue_points,
                             policy.weight_max_days_overdue()));
  const int64_t tenure_days =
      ledger.first_order_at == 0 ? 0 : calendar.DaysBetween(ledger.first_order_at, now);
  const int tenure_points = tenure_days < 180    ? 30
                            : tenure_days < 365  ? 50
                            : tenure_days < 730  ? 70
                            : tenure_days < 1095 ? 85
                                                 : 100;
  r.factors.push_back(
      Factor("tenure", absl::StrCat(tenure_days, " days"), tenure_points, policy.weight_tenure()));
  // In 128 bits: overdue × 1000 passes int64 from about 9.2 × 10^15 minor units.
  const int share_permille = position.open_receivables > 0
                                 ? static_cast<int>(absl::int128(position.overdue_amount) * 1000 /
                                                    position.open_receivables)
                                 : 0;
  r.factors.push_back(Factor("overdue_share",
                             absl::StrFormat("%d.%d%%", share_permille / 10, share_permille % 10),
                             100 - share_permille / 10, policy.weight_overdue_share()));
  int total = 0;
  for (auto& f : r.factors) {
    total += f.contribution();
    f.set_contribution(f.contribution() / 100);
  }
  r.score = total / 100;
  const int thresholds[] = {policy.min_score_aaa(), policy.min_score_aa(), policy.min_score_a(),
                            policy.min_score_bbb(), policy.min_score_bb(), policy.min_score_b()};
  r.grade = Ratings().back();  // "C" unless a threshold is met
  for (int i = 0; i < 6; ++i) {
    if (r.score >= thresholds[i]) {
      r.grade = Ratings()[i];
      break;
    }
  }
  return r;
}

bool AutoHoldDue(const Position& position, const v1::CreditPolicy& policy) {
  return policy.auto_hold_days_overdue() > 0 &&
         position.max_days_overdue >= policy.auto_hold_days_overdue();
}

std::string FormatMinor(int64_t minor) {
  const bool negative = minor < 0;
  const uint64_t abs = negative ? -static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  return absl::StrFormat("%s%d.%02d", negative ? "-" : "", abs / 100, abs % 100);
}

CheckOutcome CheckCredit(const AccountState& account, const Position& position, int64_t amount,
                         const v1::CreditPolicy& policy) {
  CheckOutcome out;
  bool blocked = false;
  bool warn = false;
  // 128 bits: exposure (up to int64) + amount must not wrap into something under the limit.
  const absl::int128 exposure_after = absl::int128(position.exposure()) + amount;
  const absl::int128 available_after = absl::int128(account.credit_limit) - exposure_after;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const bool representable = exposure_after <= kMax && available_after >= -kMax;
  if (representable) out.available_after = static_cast<int64_t>(available_after);
  if (account.on_hold) {
    blocked = true;
    out.reasons.push_back(absl::StrCat("ON_HOLD: ", account.hold_reason));
  }
  if (!representable) {
    blocked = true;
    out.reasons.push_back(absl::StrCat("OVER_LIMIT: exposure after the order passes ",
                                       FormatMinor(kMax), " > limit ",
                                       FormatMinor(account.credit_limit), " ", account.currency));
    out.reasons.push_back(
        "OUT_OF_RANGE: the exposure after the order passes the int64 range of minor units");
  } else if (exposure_after > account.credit_limit) {
    blocked = true;
    out.reasons.push_back(absl::StrCat(
        "OVER_LIMIT: exposure after the order ", FormatMinor(static_cast<int64_t>(exposure_after)),
        " > limit ", FormatMinor(account.credit_limit), " ", account.currency));
  } else if (account.credit_limit > 0 &&
             exposure_after * 100 >
                 absl::int128(account.credit_limit) * (100 - policy.warning_band_percent())) {
    warn = true;
    out.reasons.push_back(absl::StrCat(
        "NEAR_LIMIT: exposure after the order ", FormatMinor(static_cast<int64_t>(exposure_after)),
        " is within ", policy.warning_band_percent(), "% of the limit"));
  }
  if (position.max_days_overdue > policy.block_days_overdue()) {
    blocked = true;
    out.reasons.push_back(absl::StrCat("OVERDUE: ", position.max_days_overdue,
                                       " days overdue > policy ", policy.block_days_overdue()));
  } else if (position.overdue_amount > 0) {
    warn = true;
    out.reasons.push_back(absl::StrCat("OVERDUE_ITEMS: ", FormatMinor(position.overdue_amount),
                                       " overdue up to ", position.max_days_overdue, " days"));
  }
  if (!policy.min_rating().empty() &&
      RatingRank(account.rating) > RatingRank(policy.min_rating())) {
    blocked = true;
    out.reasons.push_back(
        absl::StrCat("RATING_TOO_LOW: ", account.rating, " is below ", policy.min_rating()));
  }
  out.decision = blocked ? v1::CREDIT_DECISION_BLOCKED
                 : warn  ? v1::CREDIT_DECISION_APPROVED_WITH_WARNING
                         : v1::CREDIT_DECISION_APPROVED;
  return out;
}

CheckOutcome BlockedOutOfRange(const AccountState& account, const absl::Status& why) {
  CheckOutcome out;
  out.decision = v1::CREDIT_DECISION_BLOCKED;
  if (account.on_hold) out.reasons.push_back(absl::StrCat("ON_HOLD: ", account.hold_reason));
  out.reasons.push_back(absl::StrCat("OUT_OF_RANGE: ", why.message()));
  return out;
}

absl::StatusOr<int64_t> SuggestedLimit(const Ledger& ledger, const Rating& rating, Micros now,
                                       const BusinessCalendar& calendar) {
  int64_t sales_90 = 0;
  const auto too_large = [] {
    return absl::FailedPreconditionError(
        "the sales of the last 90 days pass the int64 range of minor units");
  };
  if (ledger.windows.has_value()) {
    if (ledger.windows->sales_out_of_range) return too_large();
    sales_90 = ledger.windows->sales_90;
  } else {
    const absl::CivilDay today = calendar.DayOf(now);
    for (const Item& item : ledger.items) {
      const int64_t age = today - calendar.DayOf(item.invoiced_at);
      if (age >= 0 && age < 90 && !AddChecked(sales_90, item.net())) return too_large();
    }
  }
  const absl::int128 suggestion =
      std::min<absl::int128>(absl::int128(sales_90) * rating.score / 100, kMaxDocumentMinorUnits);
  return static_cast<int64_t>(suggestion) / 100000 * 100000;  // whole thousands of the unit
}

std::string AboveMaximum() {
  return absl::StrCat("exceeds the maximum of ", kMaxDocumentMinorUnits, " minor units");
}

}  // namespace tierwise::credit
