#include "services/credit/credit_desk.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids/ids.h"
#include "common/paging/page_token.h"
#include "common/status/macros.h"
#include "common/status/status.h"

namespace tierwise::credit {
namespace {

using auth::Role;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
// ListOpenItems used to return every item: its default page is large.
constexpr int kDefaultItemPageSize = 500;
constexpr int kMaxItemPageSize = 1000;
constexpr size_t kMaxBatch = 5000;
constexpr size_t kMaxReason = 500;

Actor ActorOf(const auth::CallContext& call) {
  return {call.principal.name, std::string(auth::RoleName(call.principal.role)), call.request_id};
}

absl::StatusOr<std::string> Reason(const std::string& reason, const char* field) {
  const std::string trimmed(absl::StripAsciiWhitespace(reason));
  if (trimmed.empty()) return status::InvalidArgument(field, "is required");
  if (trimmed.size() > kMaxReason) {
    return status::InvalidArgument(field, absl::StrCat("at most ", kMaxReason, " bytes"));
  }
  return trimmed;
}

type::v1::Money Money(int64_t minor, const std::string& currency) {
  type::v1::Money m;
  m.set_minor_units(minor);
  m.set_currency(currency);
  return m;
}

absl::Status CheckLimit(const type::v1::Money& m, const char* field, const std::string& currency) {
  if (m.minor_units() < 0) {
    return status::InvalidArgument(absl::StrCat(field, ".minor_units"), "must not be negative");
  }
  if (m.minor_units() > kMaxDocumentMinorUnits) {
    return status::InvalidArgument(absl::StrCat(field, ".minor_units"), AboveMaximum());
  }
  if (m.currency() != currency) {
    return status::InvalidArgument(absl::StrCat(field, ".currency"),
                                   absl::StrCat("the account is kept in ", currency));
  }
  return absl::OkStatus();
}

absl::Status CheckTermsInput(const v1::PaymentTerms& t, const char* field) {
  if (!v1::PaymentTermsType_IsValid(t.type())) {
    return status::InvalidArgument(absl::StrCat(field, ".type"), "is not a known value");
  }
  if (t.net_days() < 0 || t.net_days() > 365) {
    return status::InvalidArgument(absl::StrCat(field, ".net_days"), "must be within 0..365");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::CreditAccount> BuildAccountView(const AccountRow& a, const Ledger& ledger,
                                                   Micros now, const BusinessCalendar& calendar) {
  TW_ASSIGN_OR_RETURN(Position position, PositionAt(ledger, now, calendar));
  const Position& p = position;
  v1::CreditAccount v;
  v.set_customer_id(a.customer_id);
  v.set_currency(a.currency);
  v.set_rating(a.rating);
  v.set_score(a.score);
  for (const auto& f : a.factors) *v.add_factors() = f;
  *v.mutable_credit_limit() = Money(a.credit_limit, a.currency);
  *v.mutable_terms() = FromTerms(a.terms);
  v.set_status(a.on_hold ? v1::ACCOUNT_STATUS_ON_HOLD : v1::ACCOUNT_STATUS_ACTIVE);
  v.set_hold_reason(a.hold_reason);
  v.set_hold_automatic(a.hold_automatic);
  *v.mutable_exposure() = Money(p.exposure(), a.currency);
  *v.mutable_open_receivables() = Money(p.open_receivables, a.currency);
  *v.mutable_open_orders() = Money(p.open_orders, a.currency);
  // Both are ≥ 0 (PositionAt checked the exposure): the difference cannot pass int64.
  *v.mutable_available_credit() = Money(a.credit_limit - p.exposure(), a.currency);
  *v.mutable_overdue_amount() = Money(p.overdue_amount, a.currency);
  v.set_max_days_overdue(p.max_days_overdue);
  auto* aging = v.mutable_aging();
  *aging->mutable_current() = Money(p.aging.current, a.currency);
  *aging->mutable_days_1_30() = Money(p.aging.days_1_30, a.currency);
  *aging->mutable_days_31_60() = Money(p.aging.days_31_60, a.currency);
  *aging->mutable_days_61_90() = Money(p.aging.days_61_90, a.currency);
  *aging->mutable_days_over_90() = Money(p.aging.days_over_90, a.currency);
  v.set_dso_days(p.dso_days);
  v.set_on_time_ratio_permille(p.on_time_permille.value_or(-1));
  *v.mutable_unapplied_credit() = Money(ledger.unapplied, a.currency);
  SetTimestamp(now, v.mutable_as_of());
  if (a.rated_at != 0) SetTimestamp(a.rated_at, v.mutable_rated_at());
  v.set_events_applied(a.events_applied);
  return v;
}

absl::StatusOr<v1::CreditAccount> CreditDesk::View(const AccountSnapshot& s, Micros now) const {
  return BuildAccountView(s.account, s.ledger, now, store_.calendar());
}

absl::StatusOr<AccountSnapshot> CreditDesk::Load(const std::string& customer_id,
                                                 const char* field) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(customer_id, field));
  return store_.Snapshot(customer_id);
}

absl::Status CreditDesk::CheckScope(const auth::CallContext& call, const std::string& customer_id,
                                    const char* field) {
  if (call.principal.role != Role::kSalesRep) return absl::OkStatus();
  TW_ASSIGN_OR_RETURN(std::string owner, store_.OwnerOf(customer_id));
  if (owner != call.principal.name) {
    return absl::PermissionDeniedError(absl::StrCat(field, ": customer ", customer_id,
                                                    " is not one of this sales rep's customers"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AccountSnapshot> CreditDesk::LoadInScope(const auth::CallContext& call,
                                                        const std::string& customer_id,
                                                        const char* field) {
  TW_ASSIGN_OR_RETURN(AccountSnapshot s, Load(customer_id, field));
  TW_RETURN_IF_ERROR(CheckScope(call, customer_id, field));
  return s;
}

absl::StatusOr<std::vector<v1::IngestResult>> CreditDesk::Ingest(
    const auth::CallContext& call, const std::vector<const v1::LedgerEventInput*>& events) {
  if (events.size() > kMaxBatch) {
    return status::InvalidArgument("events", absl::StrCat("at most ", kMaxBatch, " per message"));
  }
  std::vector<v1::IngestResult> results(events.size());
  std::vector<ValidEvent> valid;
  std::vector<size_t> positions;
  for (size_t i = 0; i < events.size(); ++i) {
    absl::StatusOr<ValidEvent> e = ValidateEvent(*events[i], static_cast<int>(i));
    if (!e.ok()) {
      v1::IngestResult& r = results[i];
      r.set_index(static_cast<int>(i));
      r.set_outcome(v1::INGEST_OUTCOME_REJECTED);
      const auto violations = status::FieldViolations(e.status());
      r.set_error_field(violations.empty() ? "" : violations[0].field);
      r.set_error_message(std::string(e.status().message()));
      const v1::LedgerEventInput& in = *events[i];
      r.set_event_id(in.has_order()          ? in.order().event_id()
                     : in.has_cancellation() ? in.cancellation().event_id()
                                             : in.payment().event_id());
      continue;
    }
    positions.push_back(i);
    valid.push_back(std::move(*e));
  }
  if (!valid.empty()) {
    // A deadlock between two feeds touching the same customers aborts one; retry it.
    absl::StatusOr<std::vector<v1::IngestResult>> stored;
    for (int attempt = 0; attempt < 3; ++attempt) {
      stored = store_.Ingest(valid);
      if (!absl::IsAborted(stored.status())) break;
    }
    if (!stored.ok()) return stored.status();
    for (size_t k = 0; k < positions.size(); ++k) results[positions[k]] = std::move((*stored)[k]);
    if (published_) published_();
  }
  (void)call;
  return results;
}

absl::StatusOr<v1::IngestResult> CreditDesk::IngestOne(const auth::CallContext& call,
                                                       const v1::LedgerEventInput& event) {
  TW_RETURN_IF_ERROR(ValidateEvent(event, 0).status());
  TW_ASSIGN_OR_RETURN(std::vector<v1::IngestResult> results, Ingest(call, {&event}));
  v1::IngestResult r = results[0];
  if (r.outcome() == v1::INGEST_OUTCOME_REJECTED) {
    return status::InvalidArgument(r.error_field(), r.error_message());
  }
  return r;
}

absl::StatusOr<v1::ListParkedEventsResponse> CreditDesk::ListParked(
    const auth::CallContext& call, const v1::ListParkedEventsRequest& req) {
  TW_ASSIGN_OR_RETURN(int size, paging::PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  const std::string fingerprint = paging::Fingerprint(req);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(req.page_token(), fingerprint, 1));
  const std::string after = cursor.empty() ? "" : cursor[0];
  TW_ASSIGN_OR_RETURN(v1::ListParkedEventsResponse page,
                      store_.ListParked(req.external_ref(), after, size + 1));
  if (page.events_size() > size) {
    page.mutable_events()->RemoveLast();
    page.set_next_page_token(
        paging::EncodeToken(fingerprint, {page.events(page.events_size() - 1).event_id()}));
  }
  (void)call;
  return page;
}

absl::StatusOr<v1::CreditAccount> CreditDesk::GetAccount(const auth::CallContext& call,
                                                         const v1::GetCreditAccountRequest& req) {
  TW_ASSIGN_OR_RETURN(AccountSnapshot s, LoadInScope(call, req.customer_id(), "customer_id"));
  return View(s, clock_());
}

absl::StatusOr<v1::ListOpenItemsResponse> CreditDesk::ListOpenItems(
    const auth::CallContext& call, const v1::ListOpenItemsRequest& req) {
  TW_ASSIGN_OR_RETURN(int size,
                      paging::PageSize(req.page_size(), kDefaultItemPageSize, kMaxItemPageSize));
  const std::string fingerprint = paging::Fingerprint(req);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(req.page_token(), fingerprint, 2));
  FactKey after;
  if (!cursor.empty() && !absl::SimpleAtoi(cursor[0], &after.occurred_at)) {
    return status::InvalidArgument("page_token", "is not a token from this list");
  }
  if (!cursor.empty()) after.event_id = cursor[1];
  // The snapshot checks the id and the scope and builds a ledger from before the stored state.
  TW_ASSIGN_OR_RETURN(AccountSnapshot s, LoadInScope(call, req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(std::vector<Item> items,
                      store_.ListItems(req.customer_id(), req.include_settled(), after, size + 1));
  const bool more = static_cast<int>(items.size()) > size;
  if (more) items.pop_back();
  const Micros now = clock_();
  const std::string& currency = s.account.currency;
  v1::ListOpenItemsResponse out;
  for (const Item& item : items) {
    v1::OpenItem* o = out.add_items();
    o->set_order_no(item.order_no);
    o->set_product_line(item.product_line);
    SetTimestamp(item.invoiced_at, o->mutable_invoiced_at());
    SetTimestamp(item.due_date, o->mutable_due_date());
    *o->mutable_original_amount() = Money(item.original, currency);
    *o->mutable_cancelled_amount() = Money(item.cancelled, currency);
    *o->mutable_paid_amount() = Money(item.paid, currency);
    *o->mutable_balance() = Money(item.balance(), currency);
    o->set_days_overdue(DaysOverdue(item, now, store_.calendar()));
    for (const auto& p : item.payments) o->add_applied_payments(p);
    o->set_invoiced(item.invoiced_at <= now);
  }
  if (more) {
    const Item& last = items.back();
    out.set_next_page_token(
        paging::EncodeToken(fingerprint, {absl::StrCat(last.occurred_at), last.event_id}));
  }
  return out;
}

absl::StatusOr<v1::CheckCreditResponse> CreditDesk::Check(const auth::CallContext& call,
                                                          const v1::CheckCreditRequest& req) {
  TW_ASSIGN_OR_RETURN(AccountSnapshot s, LoadInScope(call, req.customer_id(), "customer_id"));
  if (req.order_amount().minor_units() <= 0) {
    return status::InvalidArgument("order_amount.minor_units", "must be positive");
  }
  if (req.order_amount().minor_units() > kMaxDocumentMinorUnits) {
    return status::InvalidArgument("order_amount.minor_units", AboveMaximum());
  }
  if (req.order_amount().currency() != s.account.currency) {
    return status::InvalidArgument("order_amount.currency",
                                   absl::StrCat("the account is kept in ", s.account.currency));
  }
  const v1::CreditPolicy* policy = &s.policy;
  const Micros now = clock_();
  AccountState state{s.account.credit_limit, s.account.on_hold, s.account.hold_reason,
                     s.account.rating, s.account.currency};
  // A position that cannot be computed (a sum past int64) blocks the order: no figure, no
  // credit. The response then has no available_after and no account.
  const absl::StatusOr<Position> position = PositionAt(s.ledger, now, store_.calendar());
  const CheckOutcome outcome =
      position.ok() ? CheckCredit(state, *position, req.order_amount().minor_units(), *policy)
                    : BlockedOutOfRange(state, position.status());
  v1::CheckCreditResponse out;
  out.set_decision(outcome.decision);
  for (const auto& r : outcome.reasons) out.add_reasons(r);
  if (outcome.available_after.has_value()) {
    *out.mutable_available_after() = Money(*outcome.available_after, s.account.currency);
  }
  if (position.ok()) {
    TW_ASSIGN_OR_RETURN(v1::CreditAccount view, View(s, now));
    *out.mutable_account() = std::move(view);
  }
  return out;
}

absl::StatusOr<v1::CreditAccount> CreditDesk::SetTerms(const auth::CallContext& call,
                                                       const v1::SetCreditTermsRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(std::string reason, Reason(req.reason(), "reason"));
  if (!req.has_credit_limit() && !req.has_terms()) {
    return status::InvalidArgument("credit_limit", "credit_limit or terms is required");
  }
  if (req.has_terms()) {
    TW_RETURN_IF_ERROR(CheckTermsInput(req.terms(), "terms"));
    if (req.terms().type() == v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) {
      return status::InvalidArgument("terms.type", "is required");
    }
  }
  TW_ASSIGN_OR_RETURN(AccountSnapshot s,
                      store_.ChangeAccount(req.customer_id(), "SET_TERMS", reason, ActorOf(call),
                                           [&](AccountRow& a) -> absl::Status {
                                             if (req.has_credit_limit()) {
                                               TW_RETURN_IF_ERROR(CheckLimit(
                                                   req.credit_limit(), "credit_limit", a.currency));
                                               a.credit_limit = req.credit_limit().minor_units();
                                             }
                                             if (req.has_terms()) a.terms = ToTerms(req.terms());
                                             return absl::OkStatus();
                                           }));
  if (published_) published_();
  return View(s, clock_());
}

absl::StatusOr<v1::CreditAccount> CreditDesk::PlaceHold(const auth::CallContext& call,
                                                        const v1::PlaceHoldRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(std::string reason, Reason(req.reason(), "reason"));
  TW_ASSIGN_OR_RETURN(
      AccountSnapshot s,
      store_.ChangeAccount(
          req.customer_id(), "PLACE_HOLD", reason, ActorOf(call), [&](AccountRow& a) {
            a.on_hold = true;
            a.hold_automatic = false;  // a manual hold is never released automatically
            a.hold_reason = absl::StrCat("manual: ", reason);
            return absl::OkStatus();
          }));
  return View(s, clock_());
}

absl::StatusOr<v1::CreditAccount> CreditDesk::ReleaseHold(const auth::CallContext& call,
                                                          const v1::ReleaseHoldRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(std::string reason, Reason(req.reason(), "reason"));
  TW_ASSIGN_OR_RETURN(
      AccountSnapshot s,
      store_.ChangeAccount(req.customer_id(), "RELEASE_HOLD", reason, ActorOf(call),
                           [&](AccountRow& a) -> absl::Status {
                             if (!a.on_hold)
                               return absl::FailedPreconditionError("the account is not on hold");
                             a.on_hold = false;
                             a.hold_automatic = false;
                             a.hold_reason.clear();
                             return absl::OkStatus();
                           }));
  return View(s, clock_());
}

absl::StatusOr<v1::LimitApplication> CreditDesk::Submit(
    const auth::CallContext& call, const v1::SubmitLimitApplicationRequest& req) {
  TW_ASSIGN_OR_RETURN(AccountSnapshot s, Load(req.customer_id(), "customer_id"));
  TW_RETURN_IF_ERROR(CheckLimit(req.requested_limit(), "requested_limit", s.account.currency));
  TW_RETURN_IF_ERROR(CheckTermsInput(req.requested_terms(), "requested_terms"));
  TW_ASSIGN_OR_RETURN(std::string justification, Reason(req.justification(), "justification"));
  TW_RETURN_IF_ERROR(CheckScope(call, req.customer_id(), "customer_id"));
  const Micros now = clock_();
  v1::LimitApplication a;
  a.set_id(ids::NewUuid());
  a.set_customer_id(req.customer_id());
  *a.mutable_requested_limit() = req.requested_limit();
  *a.mutable_requested_terms() = req.requested_terms();
  a.set_justification(justification);
  a.set_applicant(call.principal.name);
  SetTimestamp(now, a.mutable_submitted_at());
  a.set_state(v1::APPLICATION_STATE_PENDING);
  const BusinessCalendar& calendar = store_.calendar();
  // No suggestion when the account's figures pass int64 (the application still goes in).
  if (absl::StatusOr<Position> position = PositionAt(s.ledger, now, calendar); position.ok()) {
    const Rating rating = RateAccount(s.ledger, *position, now, calendar, s.policy);
    if (absl::StatusOr<int64_t> suggested = SuggestedLimit(s.ledger, rating, now, calendar);
        suggested.ok()) {
      *a.mutable_suggested_limit() = Money(*suggested, s.account.currency);
    }
  }
  TW_RETURN_IF_ERROR(store_.InsertApplication(a, ActorOf(call)));
  return a;
}

absl::StatusOr<v1::LimitApplication> CreditDesk::Decide(
    const auth::CallContext& call, const v1::DecideLimitApplicationRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.application_id(), "application_id"));
  if (req.action() == v1::DECISION_ACTION_UNSPECIFIED ||
      !v1::DecisionAction_IsValid(req.action())) {
    return status::InvalidArgument("action", "must be APPROVE, APPROVE_WITH_AMOUNT or REJECT");
  }
  TW_ASSIGN_OR_RETURN(std::string reason, Reason(req.reason(), "reason"));
  TW_ASSIGN_OR_RETURN(v1::LimitApplication a, store_.GetApplication(req.application_id()));
  if (a.applicant() == call.principal.name) {
    return absl::PermissionDeniedError("the applicant cannot decide their own application");
  }
  if (a.state() != v1::APPLICATION_STATE_PENDING) {
    return absl::FailedPreconditionError("the application was already decided");
  }
  switch (req.action()) {
    case v1::DECISION_ACTION_APPROVE:
      // Submitted before the maximum existed: it cannot become a limit as it is.
      if (a.requested_limit().minor_units() > kMaxDocumentMinorUnits) {
        return absl::FailedPreconditionError(
            absl::StrCat("the requested limit ", AboveMaximum(), "; use APPROVE_WITH_AMOUNT"));
      }
      a.set_state(v1::APPLICATION_STATE_APPROVED);
      *a.mutable_approved_limit() = a.requested_limit();
      break;
    case v1::DECISION_ACTION_APPROVE_WITH_AMOUNT:
      TW_RETURN_IF_ERROR(
          CheckLimit(req.approved_limit(), "approved_limit", a.requested_limit().currency()));
      a.set_state(v1::APPLICATION_STATE_APPROVED);
      *a.mutable_approved_limit() = req.approved_limit();
      break;
    default:
      a.set_state(v1::APPLICATION_STATE_REJECTED);
  }
  a.set_decided_by(call.principal.name);
  a.set_decision_reason(reason);
  SetTimestamp(clock_(), a.mutable_decided_at());
  TW_RETURN_IF_ERROR(store_.DecideApplication(a, ActorOf(call)));
  return a;
}

absl::StatusOr<v1::ListLimitApplicationsResponse> CreditDesk::ListApplications(
    const auth::CallContext& call, const v1::ListLimitApplicationsRequest& req) {
  if (!req.customer_id().empty()) {
    TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
    TW_RETURN_IF_ERROR(CheckScope(call, req.customer_id(), "customer_id"));
  }
  // A rep's list without a customer is of their own customers.
  const std::string owner = call.principal.role == Role::kSalesRep ? call.principal.name : "";
  if (!v1::ApplicationState_IsValid(req.state())) {
    return status::InvalidArgument("state", "is not a known value");
  }
  TW_ASSIGN_OR_RETURN(int size, paging::PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  const std::string fingerprint = paging::Fingerprint(req);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(req.page_token(), fingerprint, 2));
  int64_t after_submitted = 0;
  std::string after_id;
  if (!cursor.empty()) {
    if (!absl::SimpleAtoi(cursor[0], &after_submitted) || !ids::IsUuid(cursor[1])) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
    after_id = cursor[1];
  }
  TW_ASSIGN_OR_RETURN(std::vector<v1::LimitApplication> rows,
                      store_.ListApplications(req.customer_id(), req.state(), after_submitted,
                                              after_id, size + 1, owner));
  v1::ListLimitApplicationsResponse out;
  const bool more = static_cast<int>(rows.size()) > size;
  if (more) rows.pop_back();
  for (auto& a : rows) *out.add_applications() = std::move(a);
  if (more) {
    const v1::LimitApplication& last = out.applications(out.applications_size() - 1);
    out.set_next_page_token(
        paging::EncodeToken(fingerprint, {absl::StrCat(ToMicros(last.submitted_at())), last.id()}));
  }
  return out;
}

absl::StatusOr<v1::ListCollectionsResponse> CreditDesk::ListCollections(
    const auth::CallContext& call, const v1::ListCollectionsRequest& req) {
  TW_ASSIGN_OR_RETURN(int size, paging::PageSize(req.page_size(), kDefaultPageSize, kMaxPageSize));
  const std::string fingerprint = paging::Fingerprint(req);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(req.page_token(), fingerprint, 2));
  Micros after_due = 0;
  std::string after_customer;
  if (!cursor.empty()) {
    if (!absl::SimpleAtoi(cursor[0], &after_due) || !ids::IsUuid(cursor[1])) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
    after_customer = cursor[1];
  }
  TW_ASSIGN_OR_RETURN(
      CollectionsPage page,
      store_.ListCollections(after_due, after_customer, size,
                             call.principal.role == Role::kSalesRep ? call.principal.name : ""));
  v1::ListCollectionsResponse out;
  for (auto& e : page.entries) *out.add_entries() = std::move(e);
  if (page.more) {
    const auto& last = out.entries(out.entries_size() - 1);
    out.set_next_page_token(
        paging::EncodeToken(fingerprint, {absl::StrCat(page.last_due), last.customer_id()}));
  }
  return out;
}

absl::StatusOr<v1::CreditPolicy> CreditDesk::GetPolicy(const auth::CallContext& call) {
  (void)call;
  return store_.GetPolicy();
}

absl::StatusOr<v1::CreditPolicy> CreditDesk::UpdatePolicy(
    const auth::CallContext& call, const v1::UpdateCreditPolicyRequest& req) {
  TW_RETURN_IF_ERROR(ValidatePolicy(req.policy(), "policy"));
  return store_.UpdatePolicy(req.policy(), ActorOf(call));
}

absl::StatusOr<v1::VerifyLedgerResponse> CreditDesk::VerifyLedger(
    const auth::CallContext& call, const v1::VerifyLedgerRequest& req) {
  TW_RETURN_IF_ERROR(ids::CheckUuid(req.customer_id(), "customer_id"));
  TW_ASSIGN_OR_RETURN(LedgerCheck check,
                      store_.VerifyLedger(req.customer_id(), req.repair(), ActorOf(call)));
  v1::VerifyLedgerResponse out;
  out.set_matched(check.matched);
  out.set_difference(check.difference);
  out.set_repaired(check.repaired);
  if (check.repaired && published_) published_();
  return out;
}

}  // namespace tierwise::credit
