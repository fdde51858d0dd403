#include "services/cli/demo_ledger.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/cli/demo_random.h"
#include "services/cli/ledger_import.h"

namespace tierwise::demo {
namespace {

namespace v1 = ::tierwise::credit::v1;
namespace pb = ::tierwise::profile::v1;

// Keeps the ledger's draws apart from the customer generator's for the same seed.
constexpr uint64_t kLedgerSalt = 0x4C45444745520001ULL;

constexpr std::array<absl::string_view, 4> kProductLines = {"industrial-equipment", "spare-parts",
                                                            "consumables", "services"};

// How a customer pays.
enum class Payer {
  kOnTime,     // by the due date
  kLate,       // often a few weeks late
  kSlow,       // one to four months late
  kDefaulter,  // pays a third of the orders, late; the rest never
};

struct Profile {
  bool has_ledger = false;
  int order_percent = 0;  // chance of ordering in a month
  int max_orders = 1;     // orders in a month when ordering
  int64_t base_yuan = 0;  // typical order size
  Payer payer = Payer::kOnTime;
  v1::PaymentTerms terms;
  int first_line = 0;  // the product lines bought: [first_line, first_line + lines)
  int lines = 1;
  int named_payment_percent = 80;  // payments that name their order
};

v1::PaymentTerms Terms(v1::PaymentTermsType type, int net_days = 0) {
  v1::PaymentTerms terms;
  terms.set_type(type);
  terms.set_net_days(net_days);
  return terms;
}

bool HasTag(const pb::Customer& customer, absl::string_view tag) {
  return std::find(customer.tags().begin(), customer.tags().end(), tag) != customer.tags().end();
}

Profile MakeProfile(uint64_t seed, const DemoCustomer& demo, int index) {
  Random random(MixSeed(seed ^ kLedgerSalt, static_cast<uint64_t>(index)));
  const pb::Customer& customer = demo.customer;
  Profile p;
  // Draw everything first, so that a profile's fields never shift each other's draws.
  const int activity = random.Between(55, 95);
  const int orders = random.Between(1, 3);
  const size_t size_tier = random.Weighted({40, 33, 19, 8});
  const int size_point = random.Between(0, 1000);
  const size_t payer_draw = random.Weighted({64, 20, 9, 7});
  const size_t government_payer_draw = random.Weighted({50, 35, 15});
  const size_t terms_draw = random.Weighted({8, 42, 10, 12, 18, 10});
  const size_t government_terms_draw = random.Weighted({50, 30, 20});
  const bool individual_prepaid = random.Percent(70);
  p.first_line = random.Between(0, 3);
  p.lines = random.Between(1, 3);
  p.named_payment_percent = random.Between(60, 95);

  switch (customer.lifecycle_stage()) {
    case pb::LIFECYCLE_STAGE_ACTIVE:
      p.has_ledger = true;
      p.order_percent = activity;
      p.max_orders = HasTag(customer, "key-account") ? orders + 1 : orders;
      break;
    case pb::LIFECYCLE_STAGE_DORMANT:
      p.has_ledger = true;
      p.order_percent = 10;
      p.max_orders = 1;
      break;
    default:  // prospects have not bought yet, former customers have left
      return p;
  }

  static constexpr int64_t kTierLow[] = {3000, 20000, 80000, 300000};
  static constexpr int64_t kTierHigh[] = {20000, 80000, 300000, 1200000};
  size_t tier = size_tier;
  if (HasTag(customer, "key-account")) tier = std::max<size_t>(tier, 2);
  p.base_yuan = kTierLow[tier] + (kTierHigh[tier] - kTierLow[tier]) * size_point / 1000;

  static constexpr Payer kPayers[] = {Payer::kOnTime, Payer::kLate, Payer::kSlow,
                                      Payer::kDefaulter};
  p.payer = kPayers[payer_draw];
  const std::array<v1::PaymentTerms, 6> kTerms = {
      Terms(v1::PAYMENT_TERMS_TYPE_PREPAID),
      Terms(v1::PAYMENT_TERMS_TYPE_NET_DAYS, 30),
      Terms(v1::PAYMENT_TERMS_TYPE_NET_DAYS, 45),
      Terms(v1::PAYMENT_TERMS_TYPE_NET_DAYS, 60),
      Terms(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT),
      Terms(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT, 15)};
  p.terms = kTerms[terms_draw];

  switch (customer.nature()) {
    case pb::NATURE_GOVERNMENT:
      // Budget-bound: slow sometimes, but they do pay.
      p.payer = kPayers[government_payer_draw];
      p.terms = std::array<v1::PaymentTerms, 3>{
          Terms(v1::PAYMENT_TERMS_TYPE_NET_DAYS, 60),
          Terms(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT),
          Terms(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT, 30)}[government_terms_draw];
      break;
    case pb::NATURE_INDIVIDUAL:
      p.base_yuan = 1000 + 7000 * size_point / 1000;
      p.max_orders = 1;
      p.terms = individual_prepaid ? Terms(v1::PAYMENT_TERMS_TYPE_PREPAID)
                                   : Terms(v1::PAYMENT_TERMS_TYPE_NET_DAYS, 30);
      break;
    default:
      break;
  }
  return p;
}

google::protobuf::Timestamp At(absl::CivilDay day, int hour) {
  const absl::Time time = absl::FromCivil(
      absl::CivilSecond(day.year(), day.month(), day.day(), hour, 0, 0), absl::UTCTimeZone());
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

tierwise::type::v1::Money Cny(int64_t minor_units) {
  tierwise::type::v1::Money money;
  money.set_minor_units(minor_units);
  money.set_currency("CNY");
  return money;
}

// The day an invoice falls due, as the credit service computes it (UTC).
absl::CivilDay DueDay(absl::CivilDay invoiced, const v1::PaymentTerms& terms) {
  switch (terms.type()) {
    case v1::PAYMENT_TERMS_TYPE_NET_DAYS:
      return invoiced + terms.net_days();
    case v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT:
      // The end of the month after the invoice's, plus the extra days.
      return absl::CivilDay(absl::CivilMonth(invoiced) + 2) - 1 + terms.net_days();
    default:
      return invoiced;
  }
}

// Orders at 10:00 and payments at 09:00 Beijing time (02:00 and 01:00 UTC): a payment on the
// due day is in time.
constexpr int kOrderHour = 2;
constexpr int kPaymentHour = 1;

class MonthGenerator {
 public:
  MonthGenerator(const DemoLedgerOptions& options, const Profile& profile, const std::string& ref,
                 int index, absl::CivilMonth month, std::vector<v1::LedgerEventInput>* out)
      : random_(MixSeed(MixSeed(options.seed ^ kLedgerSalt, static_cast<uint64_t>(index)),
                        static_cast<uint64_t>(month.year() * 12 + month.month()))),
        seed_(options.seed),
        profile_(profile),
        ref_(ref),
        index_(index),
        month_(month),
        last_day_(options.end),
        out_(out) {}

  void Generate() {
    // Draws happen whatever --end is, so that the month's content never depends on it.
    if (!random_.Percent(profile_.order_percent)) return;
    const int count = random_.Between(1, profile_.max_orders);
    std::vector<int> days;
    for (int k = 0; k < count; ++k) days.push_back(random_.Between(1, 28));
    std::sort(days.begin(), days.end());
    for (int k = 0; k < count; ++k) Order(k + 1, absl::CivilDay(month_) + (days[k] - 1));
  }

 private:
  // Ids and document numbers carry the seed: the ledgers of two seeds never share an event
  // or an order number, so pushing both gives two coherent ledgers rather than a mix.
  std::string Id(int order, absl::string_view suffix) const {
    return absl::StrFormat("demo-%d-%s-%04d%02d-o%d%s", seed_, ref_, month_.year(), month_.month(),
                           order, suffix);
  }
  std::string Number(absl::string_view prefix, int order, absl::string_view suffix = "") const {
    return absl::StrFormat("%s-%d-%04d%02d-%05d-%d%s", prefix, seed_, month_.year(), month_.month(),
                           index_, order, suffix);
  }

  void Emit(v1::LedgerEventInput event, absl::CivilDay day) {
    if (day > last_day_) return;  // has not happened yet
    out_->push_back(std::move(event));
  }

  void Order(int k, absl::CivilDay day) {
    // Amount: the customer's typical order +-50 %, some with fen.
    const int64_t yuan = profile_.base_yuan * random_.Between(50, 150) / 100;
    const int64_t amount = yuan * 100 + (random_.Percent(30) ? random_.Between(1, 99) : 0);
    const int64_t margin = amount * random_.Between(8, 35) / 100;
    const int line = (profile_.first_line + random_.Between(0, profile_.lines - 1)) %
                     static_cast<int>(kProductLines.size());
    const int invoice_delay = random_.Percent(20) ? random_.Between(2, 12) : 0;
    const size_t change = random_.Weighted({92, 4, 4});  // none, cancelled, partly returned
    const int cancel_delay = random_.Between(1, 5);
    const int return_delay = random_.Between(5, 20);
    const int return_percent = random_.Between(10, 40);
    const absl::CivilDay invoiced = day + invoice_delay;
    const absl::CivilDay due = DueDay(invoiced, profile_.terms);

    const std::string order_no = Number("SO", k);
    v1::LedgerEventInput order_event;
    v1::OrderEvent* order = order_event.mutable_order();
    order->set_event_id(Id(k, ""));
    order->set_external_ref(ref_);
    order->set_order_no(order_no);
    *order->mutable_amount() = Cny(amount);
    *order->mutable_margin() = Cny(margin);
    order->set_product_line(std::string(kProductLines[static_cast<size_t>(line)]));
    *order->mutable_occurred_at() = At(day, kOrderHour);
    *order->mutable_terms() = profile_.terms;
    if (invoice_delay > 0) *order->mutable_invoiced_at() = At(invoiced, kOrderHour);
    Emit(std::move(order_event), day);

    int64_t payable = amount;
    if (change == 1 || change == 2) {
      const bool is_return = change == 2;
      const absl::CivilDay when = is_return ? invoiced + return_delay : day + cancel_delay;
      v1::LedgerEventInput cancel_event;
      v1::CancellationEvent* cancel = cancel_event.mutable_cancellation();
      cancel->set_event_id(Id(k, "-c"));
      cancel->set_external_ref(ref_);
      cancel->set_document_no(Number(is_return ? "RT" : "CX", k));
      cancel->set_order_no(order_no);
      cancel->set_is_return(is_return);
      if (is_return) {
        const int64_t returned = amount * return_percent / 100;
        *cancel->mutable_amount() = Cny(returned);
        payable -= returned;
      } else {
        payable = 0;  // the whole order: nothing to pay
      }
      *cancel->mutable_occurred_at() = At(when, kOrderHour);
      Emit(std::move(cancel_event), when);
    }
    Pay(k, order_no, payable, invoiced, due);
  }

  void Pay(int k, const std::string& order_no, int64_t payable, absl::CivilDay invoiced,
           absl::CivilDay due) {
    // Draw everything up front (see Generate).
    const int early = random_.Between(0, 7);
    const bool late_this_time = random_.Percent(60);
    const int late_days = random_.Between(3, 40);
    const int slow_days = random_.Between(20, 110);
    const bool defaulter_pays = random_.Percent(35);
    const int defaulter_days = random_.Between(10, 60);
    const bool split = random_.Percent(15);
    const int first_share = random_.Between(30, 70);
    const int first_gap = random_.Between(5, 20);
    const bool named = random_.Percent(profile_.named_payment_percent);
    if (payable <= 0) return;

    absl::CivilDay paid;
    switch (profile_.payer) {
      case Payer::kOnTime:
        paid = std::max(invoiced, due - early);
        break;
      case Payer::kLate:
        paid = late_this_time ? due + late_days : std::max(invoiced, due - early);
        break;
      case Payer::kSlow:
        paid = due + slow_days;
        break;
      case Payer::kDefaulter:
        if (!defaulter_pays) return;
        paid = due + defaulter_days;
        break;
    }
    std::vector<std::pair<int64_t, absl::CivilDay>> parts;
    if (split) {
      const int64_t first = payable * first_share / 100;
      parts.emplace_back(first, std::max(invoiced, paid - first_gap));
      parts.emplace_back(payable - first, paid);
    } else {
      parts.emplace_back(payable, paid);
    }
    for (size_t p = 0; p < parts.size(); ++p) {
      const std::string part = absl::StrCat("-", p + 1);
      v1::LedgerEventInput payment_event;
      v1::PaymentEvent* payment = payment_event.mutable_payment();
      payment->set_event_id(Id(k, absl::StrCat("-p", p + 1)));
      payment->set_external_ref(ref_);
      payment->set_payment_no(Number("RC", k, part));
      *payment->mutable_amount() = Cny(parts[p].first);
      if (named) payment->set_order_no(order_no);
      *payment->mutable_occurred_at() = At(parts[p].second, kPaymentHour);
      Emit(std::move(payment_event), parts[p].second);
    }
  }

  Random random_;
  const uint64_t seed_;
  const Profile& profile_;
  const std::string& ref_;
  const int index_;
  const absl::CivilMonth month_;
  const absl::CivilDay last_day_;
  std::vector<v1::LedgerEventInput>* out_;
};

const google::protobuf::Timestamp& OccurredAt(const v1::LedgerEventInput& event) {
  switch (event.event_case()) {
    case v1::LedgerEventInput::kOrder:
      return event.order().occurred_at();
    case v1::LedgerEventInput::kCancellation:
      return event.cancellation().occurred_at();
    default:
      return event.payment().occurred_at();
  }
}

}  // namespace

std::vector<v1::LedgerEventInput> GenerateCustomerLedger(const DemoLedgerOptions& options,
                                                         const DemoCustomer& customer, int index) {
  std::vector<v1::LedgerEventInput> events;
  const Profile profile = MakeProfile(options.seed, customer, index);
  if (!profile.has_ledger || options.months <= 0) return events;
  const std::string& ref = customer.customer.external_ref();
  const absl::CivilMonth last(options.end);
  for (absl::CivilMonth month = last - (options.months - 1); month <= last; ++month) {
    MonthGenerator(options, profile, ref, index, month, &events).Generate();
  }
  std::sort(events.begin(), events.end(),
            [](const v1::LedgerEventInput& a, const v1::LedgerEventInput& b) {
              const auto& ta = OccurredAt(a);
              const auto& tb = OccurredAt(b);
              if (ta.seconds() != tb.seconds()) return ta.seconds() < tb.seconds();
              if (ta.nanos() != tb.nanos()) return ta.nanos() < tb.nanos();
              return tierwise::cli::EventIdOf(a) < tierwise::cli::EventIdOf(b);
            });
  return events;
}

std::vector<v1::LedgerEventInput> GenerateDemoLedger(const DemoLedgerOptions& options) {
  std::vector<v1::LedgerEventInput> events;
  const std::vector<DemoCustomer> customers =
      GenerateDemoCustomers(options.seed, options.customers);
  for (size_t i = 0; i < customers.size(); ++i) {
    std::vector<v1::LedgerEventInput> own =
        GenerateCustomerLedger(options, customers[i], static_cast<int>(i) + 1);
    std::move(own.begin(), own.end(), std::back_inserter(events));
  }
  return events;
}

}  // namespace tierwise::demo
