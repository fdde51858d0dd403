#include "services/credit/ledger_events.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/status/status.h"
#include "services/credit/credit_rules.h"

namespace tierwise::credit {
namespace {

constexpr size_t kMaxIdLength = 128;
// Events older than 2000 or more than a day ahead of the server clock are suspicious enough
// to reject rather than to rate on.
constexpr int64_t kMinSeconds = 946684800;  // 2000-01-01

bool IsCurrency(const std::string& c) {
  if (c.size() != 3) return false;
  for (char ch : c) {
    if (!absl::ascii_isupper(ch)) return false;
  }
  return true;
}

void CheckText(const std::string& value, const std::string& field, bool required,
               status::ViolationList& v) {
  if (value.empty()) {
    if (required) v.Add(field, "is required");
    return;
  }
  if (value.size() > kMaxIdLength) v.Add(field, absl::StrCat("at most ", kMaxIdLength, " bytes"));
  for (unsigned char c : value) {
    if (c < 0x20) {
      v.Add(field, "must not contain control characters");
      break;
    }
  }
}

void CheckCustomer(const std::string& customer_id, const std::string& external_ref,
                   const std::string& prefix, status::ViolationList& v) {
  if (customer_id.empty() && external_ref.empty()) {
    v.Add(prefix + ".external_ref", "is required (or customer_id)");
  }
  if (!customer_id.empty() && !ids::IsUuid(customer_id)) {
    v.Add(prefix + ".customer_id", "must be a UUID");
  }
  CheckText(external_ref, prefix + ".external_ref", false, v);
}

void CheckMoney(const type::v1::Money& m, bool present, const std::string& field, bool required,
                bool positive, status::ViolationList& v) {
  if (!present) {
    if (required) v.Add(field, "is required");
    return;
  }
  if (positive ? m.minor_units() <= 0 : m.minor_units() < 0) {
    v.Add(field + ".minor_units", positive ? "must be positive" : "must not be negative");
  } else if (m.minor_units() > kMaxDocumentMinorUnits) {
    // Larger amounts would let the account's sums pass int64 (see ledger.h).
    v.Add(field + ".minor_units", AboveMaximum());
  }
  if (!IsCurrency(m.currency())) v.Add(field + ".currency", "must be an ISO 4217 code such as CNY");
}

void CheckTime(const google::protobuf::Timestamp& ts, bool present, const std::string& field,
               bool required, status::ViolationList& v) {
  if (!present) {
    if (required) v.Add(field, "is required");
    return;
  }
  if (ts.seconds() < kMinSeconds || ts.seconds() > 4102444800 || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    v.Add(field, "must be a time between 2000 and 2100");
  }
}

void CheckTerms(const v1::PaymentTerms& t, const std::string& field, status::ViolationList& v) {
  if (!v1::PaymentTermsType_IsValid(t.type())) v.Add(field + ".type", "is not a known value");
  if (t.net_days() < 0 || t.net_days() > 365) v.Add(field + ".net_days", "must be within 0..365");
}

}  // namespace

Terms ToTerms(const v1::PaymentTerms& t) {
  Terms out;
  out.net_days = t.net_days();
  switch (t.type()) {
    case v1::PAYMENT_TERMS_TYPE_PREPAID:
      out.type = Terms::Type::kPrepaid;
      break;
    case v1::PAYMENT_TERMS_TYPE_NET_DAYS:
      out.type = Terms::Type::kNetDays;
      break;
    case v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT:
      out.type = Terms::Type::kMonthlyStatement;
      break;
    default:
      out.type = Terms::Type::kUnspecified;
  }
  return out;
}

v1::PaymentTerms FromTerms(const Terms& t) {
  v1::PaymentTerms out;
  out.set_net_days(t.net_days);
  switch (t.type) {
    case Terms::Type::kPrepaid:
      out.set_type(v1::PAYMENT_TERMS_TYPE_PREPAID);
      break;
    case Terms::Type::kNetDays:
      out.set_type(v1::PAYMENT_TERMS_TYPE_NET_DAYS);
      break;
    case Terms::Type::kMonthlyStatement:
      out.set_type(v1::PAYMENT_TERMS_TYPE_MONTHLY_STATEMENT);
      break;
    case Terms::Type::kUnspecified:
      break;
  }
  return out;
}

absl::StatusOr<ValidEvent> ValidateEvent(const v1::LedgerEventInput& input, int index) {
  status::ViolationList v;
  ValidEvent e;
  e.index = index;
  e.input = input;
  std::string customer_id, external_ref;
  switch (input.event_case()) {
    case v1::LedgerEventInput::kOrder: {
      const v1::OrderEvent& o = input.order();
      CheckText(o.event_id(), "order.event_id", true, v);
      CheckCustomer(o.customer_id(), o.external_ref(), "order", v);
      CheckText(o.order_no(), "order.order_no", true, v);
      CheckMoney(o.amount(), o.has_amount(), "order.amount", true, true, v);
      CheckMoney(o.margin(), o.has_margin(), "order.margin", false, false, v);
      CheckMoney(o.cost(), o.has_cost(), "order.cost", false, false, v);
      if (o.has_margin() && o.margin().minor_units() > o.amount().minor_units()) {
        v.Add("order.margin.minor_units", "must not exceed the amount");
      }
      if (o.has_cost() && o.cost().minor_units() > o.amount().minor_units()) {
        v.Add("order.cost.minor_units", "must not exceed the amount");
      }
      for (const auto* m : {&o.margin(), &o.cost()}) {
        if (!m->currency().empty() && m->currency() != o.amount().currency()) {
          v.Add(m == &o.margin() ? "order.margin.currency" : "order.cost.currency",
                "must match order.amount.currency");
        }
      }
      CheckText(o.product_line(), "order.product_line", false, v);
      CheckTime(o.occurred_at(), o.has_occurred_at(), "order.occurred_at", true, v);
      CheckTime(o.due_date(), o.has_due_date(), "order.due_date", false, v);
      CheckTime(o.invoiced_at(), o.has_invoiced_at(), "order.invoiced_at", false, v);
      CheckTerms(o.terms(), "order.terms", v);
      e.event_id = o.event_id();
      customer_id = o.customer_id();
      external_ref = o.external_ref();
      e.kind = FactKind::kOrder;
      e.document_no = o.order_no();
      e.amount = o.amount().minor_units();
      e.currency = o.amount().currency();
      e.occurred_at = ToMicros(o.occurred_at());
      break;
    }
    case v1::LedgerEventInput::kCancellation: {
      const v1::CancellationEvent& c = input.cancellation();
      CheckText(c.event_id(), "cancellation.event_id", true, v);
      CheckCustomer(c.customer_id(), c.external_ref(), "cancellation", v);
      CheckText(c.document_no(), "cancellation.document_no", true, v);
      CheckText(c.order_no(), "cancellation.order_no", true, v);
      CheckMoney(c.amount(), c.has_amount(), "cancellation.amount", false, true, v);
      CheckTime(c.occurred_at(), c.has_occurred_at(), "cancellation.occurred_at", true, v);
      e.event_id = c.event_id();
      customer_id = c.customer_id();
      external_ref = c.external_ref();
      e.kind = FactKind::kCancellation;
      e.document_no = c.document_no();
      e.amount = c.amount().minor_units();
      e.currency = c.amount().currency();
      e.occurred_at = ToMicros(c.occurred_at());
      break;
    }
    case v1::LedgerEventInput::kPayment: {
      const v1::PaymentEvent& p = input.payment();
      CheckText(p.event_id(), "payment.event_id", true, v);
      CheckCustomer(p.customer_id(), p.external_ref(), "payment", v);
      CheckText(p.payment_no(), "payment.payment_no", true, v);
      CheckMoney(p.amount(), p.has_amount(), "payment.amount", true, true, v);
      CheckText(p.order_no(), "payment.order_no", false, v);
      CheckTime(p.occurred_at(), p.has_occurred_at(), "payment.occurred_at", true, v);
      e.event_id = p.event_id();
      customer_id = p.customer_id();
      external_ref = p.external_ref();
      e.kind = FactKind::kPayment;
      e.document_no = p.payment_no();
      e.amount = p.amount().minor_units();
      e.currency = p.amount().currency();
      e.occurred_at = ToMicros(p.occurred_at());
      break;
    }
    case v1::LedgerEventInput::EVENT_NOT_SET:
      v.Add("event", "one of order, cancellation or payment is required");
  }
  if (!v.empty()) return v.ToStatus();
  e.key_is_customer_id = !customer_id.empty();
  e.customer_key = e.key_is_customer_id ? absl::AsciiStrToLower(customer_id) : external_ref;
  return e;
}

Fact ToFact(const v1::LedgerEventInput& input) {
  Fact f;
  switch (input.event_case()) {
    case v1::LedgerEventInput::kOrder: {
      const v1::OrderEvent& o = input.order();
      f.event_id = o.event_id();
      f.occurred_at = ToMicros(o.occurred_at());
      OrderFact order;
      order.order_no = o.order_no();
      order.amount = o.amount().minor_units();
      order.margin = o.has_margin() ? o.margin().minor_units()
                     : o.has_cost() ? o.amount().minor_units() - o.cost().minor_units()
                                    : 0;
      order.product_line = o.product_line();
      order.invoiced_at = o.has_invoiced_at() ? ToMicros(o.invoiced_at()) : 0;
      order.due_date = o.has_due_date() ? ToMicros(o.due_date()) : 0;
      order.terms = ToTerms(o.terms());
      f.body = std::move(order);
      break;
    }
    case v1::LedgerEventInput::kCancellation: {
      const v1::CancellationEvent& c = input.cancellation();
      f.event_id = c.event_id();
      f.occurred_at = ToMicros(c.occurred_at());
      f.body =
          CancellationFact{c.document_no(), c.order_no(), c.amount().minor_units(), c.is_return()};
      break;
    }
    case v1::LedgerEventInput::kPayment: {
      const v1::PaymentEvent& p = input.payment();
      f.event_id = p.event_id();
      f.occurred_at = ToMicros(p.occurred_at());
      f.body = PaymentFact{p.payment_no(), p.amount().minor_units(), p.order_no()};
      break;
    }
    case v1::LedgerEventInput::EVENT_NOT_SET:
      break;
  }
  return f;
}

}  // namespace tierwise::credit
