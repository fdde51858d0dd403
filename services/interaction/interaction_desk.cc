#include "services/interaction/interaction_desk.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/log/log.h"
#include "common/outbox/outbox.h"
#include "common/paging/page_token.h"
#include "common/status/macros.h"
#include "common/status/status.h"
#include "common/time/micros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/interaction/desk_support.h"
#include "services/interaction/erasure.h"
#include "services/interaction/interaction_rules.h"
#include "services/interaction/interaction_store.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::interaction {
namespace {

using auth::Role;

outbox::Message InteractionEvent(const std::string& stream, const v1::Interaction& in) {
  events::v1::InteractionLogged e;
  e.set_event_id(ids::NewUuid());
  e.set_interaction_id(in.id());
  e.set_customer_id(in.customer_id());
  *e.mutable_occurred_at() = in.occurred_at();
  e.set_channel(in.channel());
  e.set_satisfaction(in.satisfaction());
  e.set_corrects(in.corrects());
  e.set_late_entry(in.late_entry());
  e.set_owner(in.owner());
  return {.stream = stream,
          .type = e.GetDescriptor()->full_name(),
          .event_id = e.event_id(),
          .payload = e.SerializeAsString()};
}

// Copies what the caller may write; everything output-only is set by the server.
void CopyWritable(const v1::Interaction& in, v1::Interaction* out) {
  out->set_customer_id(in.customer_id());
  *out->mutable_occurred_at() = in.occurred_at();
  out->set_channel(in.channel());
  out->set_summary(in.summary());
  out->set_satisfaction(in.satisfaction());
  out->set_contact_name(in.contact_name());
  out->set_contact_role(in.contact_role());
  out->set_owner(in.owner());
  out->set_special_items(in.special_items());
  out->set_conclusion(in.conclusion());
  if (in.has_next_follow_up_date()) *out->mutable_next_follow_up_date() = in.next_follow_up_date();
  out->set_purchase_intent(in.purchase_intent());
  out->set_executive_contact(in.executive_contact());
}

struct ErasureCounts {
  int interactions = 0;  // record versions whose text was scrubbed
  int complaints = 0;
  int request_keys = 0;
  int audit_details = 0;
};

// Scrubs the free text of every version of the customer's records, of its complaints and of its
// audit details, in the transaction that records the event. The customer's row is locked
// first: writers of its records lock it too (FOR NO KEY UPDATE), so a record written alongside is
// either refused (the customer is deleted) or committed before and scrubbed here. The erasure
// is audited once, by the principal the event names. Returns whether the customer was not
// erased before.
bool EraseCustomerText(pqxx::work& tx, const events::v1::CustomerChanged& e, Micros now,
                       ErasureCounts* counts) {
  const std::string& id = e.customer_id();
  *counts = {};  // the transaction may run again on a fresh connection
  const bool first = store::MarkErased(tx, id, now);
  for (v1::Interaction& record : store::LockInteractionPayloads(tx, id)) {
    if (ScrubInteraction(record)) {
      store::ReplaceInteractionPayload(tx, record);
      ++counts->interactions;
    }
  }
  for (v1::Complaint& complaint : store::LockComplaints(tx, id)) {
    if (ScrubComplaint(complaint)) {
      store::UpdateComplaint(tx, complaint);
      ++counts->complaints;
    }
  }
  counts->request_keys = store::ClearRequestKeys(tx, id);
  counts->audit_details = store::ScrubAuditDetails(tx, id);
  const int changed =
      counts->interactions + counts->complaints + counts->request_keys + counts->audit_details;
  if (first || changed > 0) {
    store::Audit(
        tx, {.customer_id = id,
             .action = "erase",
             .actor = e.actor().empty() ? "system" : e.actor(),
             .actor_role = "system",
             .entity = "customer",
             .entity_id = id,
             .note = absl::StrCat("scrubbed ", counts->interactions, " record versions, ",
                                  counts->complaints, " complaints, ", counts->request_keys,
                                  " request keys, ", counts->audit_details, " audit details")});
  }
  return first;
}

}  // namespace

InteractionDesk::InteractionDesk(postgres::PgPool& pool, TierDirectory& tiers, DeskOptions options)
    : pool_(pool), tiers_(tiers), options_(std::move(options)) {
  RegisterComplaintMetrics();
}

void InteractionDesk::Publish() const {
  if (options_.published) options_.published();
}

absl::StatusOr<v1::Interaction> InteractionDesk::Log(const auth::CallContext& call,
                                                     const v1::LogInteractionRequest& request) {
  const Micros now = options_.clock();
  const v1::Interaction& in = request.interaction();
  TW_RETURN_IF_ERROR(ValidateInteraction(in, now, call.principal.role == Role::kAdmin,
                                         "interaction", options_.calendar));
  if (request.request_id().size() > 128) {
    return status::InvalidArgument("request_id", "must be at most 128 characters");
  }
  if (IsRep(call) && !in.owner().empty() && in.owner() != call.principal.name) {
    return absl::PermissionDeniedError("interaction.owner: a sales rep logs only as themselves");
  }
  // The tier at this moment, from classification; asked before the transaction so no
  // connection is held across the call.
  absl::StatusOr<std::string> tier = tiers_.CurrentTier(in.customer_id(), call.request_id);
  if (!tier.ok()) {
    log::Warn("interaction.tier_unavailable",
              {{"customer_id", in.customer_id()}, {"error", tier.status().message()}});
  }
  // The plan is replanned with the record; the policy is cached, so usually this asks nobody.
  const absl::StatusOr<ServicePolicy> policy = tiers_.Policy(call.request_id);
  const std::string key = RequestKey(call, request.request_id());
  v1::Interaction out;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (!key.empty()) {
      if (std::optional<v1::Interaction> prior = store::FindInteractionByKey(tx, key)) {
        out = std::move(*prior);
        return absl::OkStatus();
      }
    }
    TW_ASSIGN_OR_RETURN(
        store::KnownCustomer customer,
        AccessCustomer(tx, call, in.customer_id(), "interaction.customer_id", /*for_write=*/true));
    out.Clear();
    CopyWritable(in, &out);
    out.set_id(ids::NewUuid());
    out.set_root_id(out.id());
    out.set_version(1);
    if (out.owner().empty()) out.set_owner(call.principal.name);
    const Micros recorded = in.has_recorded_at() ? time::ToMicros(in.recorded_at()) : now;
    time::SetTimestamp(recorded, out.mutable_recorded_at());
    out.set_late_entry(IsLateEntry(time::ToMicros(in.occurred_at()), recorded));
    out.set_recorded_by(call.principal.name);
    if (tier.ok()) {
      out.set_tier(*tier);
      out.set_tier_source(v1::TIER_SOURCE_CLASSIFICATION);
    } else {
      out.set_tier(customer.tier);  // the last TierChanged seen, read with the customer
      out.set_tier_source(out.tier().empty() ? v1::TIER_SOURCE_UNKNOWN
                                             : v1::TIER_SOURCE_LAST_KNOWN);
    }
    // One statement for the record, its audit row, its event and the contact state; the plan
    // from what it returns and the customer's row read above.
    PlanCustomer planned{.customer_id = customer.customer_id,
                         .external_ref = customer.external_ref,
                         .owner = customer.owner,
                         .tier = customer.tier,
                         .tier_since = customer.tier_since,
                         .known_at = customer.known_at};
    planned.contacts =
        store::LogInteraction(tx, out, key,
                              AuditOf(call, "log", "interaction", out.id(), out.customer_id(),
                                      in.has_recorded_at() ? "recorded_at back-filled" : ""),
                              InteractionEvent(options_.events_stream, out));
    std::vector<PlanCustomer> plan_customers;
    if (!customer.former) plan_customers.push_back(std::move(planned));
    ReplanLoaded(tx, {out.customer_id()}, plan_customers, policy.ok() ? &*policy : nullptr);
    return absl::OkStatus();
  }));
  Publish();
  return out;
}

absl::StatusOr<v1::Interaction> InteractionDesk::Get(const auth::CallContext& call,
                                                     const std::string& id) {
  if (!ids::IsUuid(id)) return status::InvalidArgument("id", "must be a UUID");
  // Statements without a transaction block: the record, the rep's access check and then the
  // audit row, committed on its own before the record is returned (no audit row, no data).
  return pool_.Read<v1::Interaction>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::Interaction> {
        std::optional<v1::Interaction> found = store::FindInteraction(tx, id, false);
        if (!found.has_value()) return absl::NotFoundError(absl::StrCat("interaction ", id));
        if (IsRep(call)) {
          TW_RETURN_IF_ERROR(AccessCustomer(tx, call, found->customer_id(), "id").status());
        }
        store::Audit(tx, AuditOf(call, "read", "interaction", id, found->customer_id()));
        return *found;
      });
}

absl::StatusOr<v1::ListInteractionsResponse> InteractionDesk::List(
    const auth::CallContext& call, const v1::ListInteractionsRequest& request) {
  status::ViolationList v;
  if (!request.customer_id().empty() && !ids::IsUuid(request.customer_id())) {
    v.Add("customer_id", "must be a UUID");
  }
  if (!v1::Channel_IsValid(request.channel())) v.Add("channel", "is not a known channel");
  if (request.has_from_time() && request.has_to_time() &&
      time::ToMicros(request.from_time()) >= time::ToMicros(request.to_time())) {
    v.Add("to_time", "must be after from_time");
  }
  if (!v.empty()) return v.ToStatus();
  TW_ASSIGN_OR_RETURN(int page_size, paging::PageSize(request.page_size(), 50, 500));

  store::InteractionFilter filter{
      .customer_id = request.customer_id(),
      .owner = request.owner(),
      .from = request.has_from_time() ? time::ToMicros(request.from_time()) : 0,
      .to = request.has_to_time() ? time::ToMicros(request.to_time()) : 0,
      .channel = request.channel(),
      .include_superseded = request.include_superseded(),
      .limit = page_size + 1};
  if (IsRep(call)) {
    // A rep lists their own customers' records: by customer (checked below) or by owner = self.
    if (!filter.owner.empty() && filter.owner != call.principal.name) {
      return absl::PermissionDeniedError("owner: a sales rep lists only their own records");
    }
    if (filter.customer_id.empty()) filter.owner = call.principal.name;
  } else if (filter.customer_id.empty() && filter.owner.empty()) {
    return status::InvalidArgument("customer_id", "customer_id or owner is required");
  }
  const std::string fingerprint = paging::Fingerprint(request);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(request.page_token(), fingerprint, 2));
  if (!cursor.empty()) {
    if (!absl::SimpleAtoi(cursor[0], &filter.after_occurred) || !ids::IsUuid(cursor[1])) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
    filter.after_id = cursor[1];
  }
  // As Get: the page, then its audit row committed on its own before the page is returned.
  return pool_.Read<v1::ListInteractionsResponse>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::ListInteractionsResponse> {
        if (IsRep(call) && !filter.customer_id.empty()) {
          TW_RETURN_IF_ERROR(AccessCustomer(tx, call, filter.customer_id, "customer_id").status());
        }
        std::vector<v1::Interaction> rows = store::ListInteractions(tx, filter);
        v1::ListInteractionsResponse response;
        const bool more = static_cast<int>(rows.size()) > page_size;
        if (more) rows.pop_back();
        if (more) {
          const v1::Interaction& last = rows.back();
          response.set_next_page_token(paging::EncodeToken(
              fingerprint, {absl::StrCat(time::ToMicros(last.occurred_at())), last.id()}));
        }
        for (auto& r : rows) *response.add_interactions() = std::move(r);
        store::Audit(tx, AuditOf(call, "list", "interaction",
                                 filter.customer_id.empty() ? filter.owner : filter.customer_id,
                                 filter.customer_id,
                                 absl::StrCat(response.interactions_size(), " records")));
        return response;
      });
}

absl::StatusOr<v1::Interaction> InteractionDesk::Correct(
    const auth::CallContext& call, const v1::CorrectInteractionRequest& request) {
  const Micros now = options_.clock();
  status::ViolationList v;
  if (!ids::IsUuid(request.id())) v.Add("id", "must be a UUID");
  if (request.reason().find_first_not_of(" \t\r\n") == std::string::npos) {
    v.Add("reason", "is required");
  } else if (request.reason().size() > 1000) {
    v.Add("reason", "must be at most 1000 bytes");
  }
  if (!v.empty()) return v.ToStatus();
  const absl::StatusOr<ServicePolicy> policy = tiers_.Policy(call.request_id);
  // The corrected record keeps the original's customer: fill it in before validating.
  v1::Interaction in = request.interaction();
  v1::Interaction out;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    std::optional<v1::Interaction> old = store::FindInteraction(tx, request.id(), false);
    if (!old.has_value()) return absl::NotFoundError(absl::StrCat("interaction ", request.id()));
    if (in.customer_id().empty()) in.set_customer_id(old->customer_id());
    if (in.customer_id() != old->customer_id()) {
      return status::InvalidArgument("interaction.customer_id", "cannot change in a correction");
    }
    TW_RETURN_IF_ERROR(ValidateInteraction(in, now, false, "interaction", options_.calendar));
    auto already_corrected = [&] {
      return absl::FailedPreconditionError(
          absl::StrCat("id: interaction ", request.id(), " was already corrected by ",
                       old->superseded_by(), "; correct the current version"));
    };
    if (!old->superseded_by().empty()) return already_corrected();
    // The customer first, then the record (the order an erasure takes them in), read again
    // under the lock.
    TW_ASSIGN_OR_RETURN(store::KnownCustomer customer,
                        AccessCustomer(tx, call, old->customer_id(), "id", /*for_write=*/true));
    old = store::FindInteraction(tx, request.id(), true);
    if (!old.has_value()) return absl::NotFoundError(absl::StrCat("interaction ", request.id()));
    if (!old->superseded_by().empty()) return already_corrected();
    if (IsRep(call) && old->recorded_by() != call.principal.name) {
      return absl::PermissionDeniedError("id: a sales rep corrects only records they entered");
    }
    out.Clear();
    CopyWritable(in, &out);
    if (out.owner().empty()) out.set_owner(old->owner());
    if (IsRep(call) && out.owner() != old->owner()) {
      return absl::PermissionDeniedError("interaction.owner: a sales rep cannot reassign");
    }
    out.set_id(ids::NewUuid());
    out.set_root_id(old->root_id());
    out.set_version(old->version() + 1);
    out.set_corrects(old->id());
    out.set_correction_reason(request.reason());
    time::SetTimestamp(now, out.mutable_recorded_at());
    // The record was entered when the first version was; a correction does not make it late.
    out.set_late_entry(old->late_entry());
    out.set_tier(old->tier());
    out.set_tier_source(old->tier_source());
    out.set_recorded_by(call.principal.name);
    store::InsertInteraction(tx, out, "");
    store::MarkSuperseded(tx, old->id(), out.id());
    store::RefreshContactState(tx, out.customer_id());
    Replan(tx, {out.customer_id()}, policy.ok() ? &*policy : nullptr);
    // Which fields changed, never their values nor the reason (both are in the record).
    const std::string changed = ChangedWritableFields(*old, out);
    store::Audit(
        tx, AuditOf(call, "correct", "interaction", out.id(), out.customer_id(),
                    changed.empty() ? absl::StrCat("corrects ", old->id())
                                    : absl::StrCat("corrects ", old->id(), "; fields: ", changed)));
    outbox::Enqueue(tx, InteractionEvent(options_.events_stream, out));
    return absl::OkStatus();
  }));
  Publish();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Follow-up plans
// ---------------------------------------------------------------------------------------------

absl::StatusOr<v1::ListFollowUpsResponse> InteractionDesk::ListDue(
    const auth::CallContext& call, const v1::ListDueFollowUpsRequest& request) {
  status::ViolationList v;
  const int64_t from = DayOfDate(request.from_date());
  const int64_t to = DayOfDate(request.to_date());
  if (from < 0) v.Add("from_date", "is required (a valid date)");
  if (to < 0) v.Add("to_date", "is required (a valid date)");
  if (from >= 0 && to >= 0 && (to < from || to - from > 366)) {
    v.Add("to_date", "must be on or after from_date, within 366 days");
  }
  if (!v.empty()) return v.ToStatus();
  return ListPlan(call, {request.owners().begin(), request.owners().end()}, from, to, -1,
                  request.page_size(), paging::Fingerprint(request), request.page_token());
}

absl::StatusOr<v1::ListFollowUpsResponse> InteractionDesk::ListOverdue(
    const auth::CallContext& call, const v1::ListOverdueFollowUpsRequest& request) {
  // Today in the business calendar: a follow-up due on day D is overdue from local 00:00 of D+1.
  int64_t as_of = LocalDayOf(options_.calendar, options_.clock());
  if (request.has_as_of()) {
    as_of = DayOfDate(request.as_of());
    if (as_of < 0) return status::InvalidArgument("as_of", "is not a valid date");
  }
  // Every due day before as_of; day numbers of valid dates are far above this floor.
  constexpr int64_t kEarliestDay = -1'000'000;
  return ListPlan(call, {request.owners().begin(), request.owners().end()}, kEarliestDay, as_of - 1,
                  as_of, request.page_size(), paging::Fingerprint(request), request.page_token());
}

absl::StatusOr<v1::ListFollowUpsResponse> InteractionDesk::ListPlan(
    const auth::CallContext& call, std::vector<std::string> owners, int64_t from_day,
    int64_t to_day, int64_t overdue_as_of, int requested_page_size, const std::string& fingerprint,
    const std::string& page_token) {
  if (IsRep(call)) {
    for (const std::string& o : owners) {
      if (o != call.principal.name) {
        return absl::PermissionDeniedError("owners: a sales rep sees only their own plan");
      }
    }
    owners = {call.principal.name};
  }
  for (size_t i = 0; i < owners.size(); ++i) {
    if (owners[i].empty() || owners[i].size() > 64) {
      return status::InvalidArgument(absl::StrCat("owners[", i, "]"), "must be 1..64 bytes");
    }
  }
  if (owners.size() > 100) return status::InvalidArgument("owners", "at most 100 owners");
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  TW_ASSIGN_OR_RETURN(int page_size, paging::PageSize(requested_page_size, 100, 1000));
  TW_ASSIGN_OR_RETURN(std::vector<std::string> decoded,
                      paging::DecodeToken(page_token, fingerprint, 3));
  store::PlanPageQuery query{.owners = std::move(owners),
                             .from_day = from_day,
                             .to_day = to_day,
                             .now = options_.clock(),
                             .limit = page_size + 1};
  if (!decoded.empty()) {
    const std::vector<std::string>& cursor = decoded;
    if (!absl::SimpleAtoi(cursor[0], &query.after_day) || !ids::IsUuid(cursor[1]) ||
        !absl::SimpleAtoi(cursor[2], &query.after_kind)) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
    query.after_customer = cursor[1];
  }
  // One statement: no transaction block.
  TW_ASSIGN_OR_RETURN(
      std::vector<v1::FollowUp> rows,
      pool_.Read<std::vector<v1::FollowUp>>(
          [&](pqxx::nontransaction& tx) -> absl::StatusOr<std::vector<v1::FollowUp>> {
            return store::ListPlanPage(tx, query);
          }));
  v1::ListFollowUpsResponse response;
  const bool more = static_cast<int>(rows.size()) > page_size;
  if (more) rows.pop_back();
  for (v1::FollowUp& f : rows) {
    if (overdue_as_of >= 0) {
      f.set_days_overdue(static_cast<int32_t>(overdue_as_of - DayOfDate(f.due_date())));
    }
    *response.add_follow_ups() = std::move(f);
  }
  if (more) {
    const v1::FollowUp& last = response.follow_ups(response.follow_ups_size() - 1);
    response.set_next_page_token(paging::EncodeToken(
        fingerprint, {absl::StrCat(DayOfDate(last.due_date())), last.customer_id(),
                      absl::StrCat(static_cast<int>(last.kind()))}));
  }
  return response;
}

std::string InteractionDesk::PolicyFingerprint(const ServicePolicy& policy) const {
  // Due days depend on the calendar too: a new business time zone replans everyone.
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  policy.SerializeToCodedStream(&coded);
  coded.Trim();
  return paging::FingerprintBytes(absl::StrCat(options_.calendar.name(), "\n", bytes));
}

void InteractionDesk::Replan(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                             const ServicePolicy* policy) const {
  ReplanLoaded(tx, customer_ids, store::LoadPlanCustomersById(tx, customer_ids), policy);
}

void InteractionDesk::ReplanLoaded(pqxx::work& tx, const std::vector<std::string>& customer_ids,
                                   const std::vector<PlanCustomer>& customers,
                                   const ServicePolicy* policy) const {
  if (policy == nullptr) {
    // Customers that left lose their plan at once; the others keep the rows they have until
    // ReplanStale plans them with a policy.
    std::vector<std::string> gone;
    for (const std::string& id : customer_ids) {
      if (std::none_of(customers.begin(), customers.end(),
                       [&](const PlanCustomer& c) { return c.customer_id == id; })) {
        gone.push_back(id);
      }
    }
    if (!gone.empty()) store::ReplacePlans(tx, gone, {}, "");
    store::MarkPlansStale(tx, customer_ids);
    return;
  }
  std::vector<store::PlanWrite> plans;
  plans.reserve(customers.size());
  for (const PlanCustomer& c : customers) {
    store::PlanWrite plan{
        .customer_id = c.customer_id, .owner = c.owner, .external_ref = c.external_ref};
    if (const TierPolicy* p = PolicyFor(*policy, c.tier); p != nullptr) {
      plan.rows = PlanToStore(c, *p, options_.calendar);
    }
    plans.push_back(std::move(plan));
  }
  store::ReplacePlans(tx, customer_ids, plans, PolicyFingerprint(*policy));
}

absl::StatusOr<int> InteractionDesk::ReplanStale(int batch) {
  std::lock_guard<std::mutex> lock(sweep_mu_);
  TW_ASSIGN_OR_RETURN(ServicePolicy policy, tiers_.Policy(""));
  const std::string fingerprint = PolicyFingerprint(policy);
  // A policy this process has not caught up with yet: every customer planned under another
  // one; otherwise only those marked stale (an index scan that finds nothing most of the time).
  const bool everyone = fingerprint != caught_up_policy_;
  std::string after;
  int replanned = 0;
  for (;;) {
    std::vector<std::string> ids;
    TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
      ids = store::LockStalePlans(tx, fingerprint, after, !everyone, batch);
      if (!ids.empty()) Replan(tx, ids, &policy);
      return absl::OkStatus();
    }));
    replanned += static_cast<int>(ids.size());
    if (static_cast<int>(ids.size()) < batch) break;
    after = ids.back();
  }
  if (everyone) {
    caught_up_policy_ = fingerprint;
    log::Info("interaction.plans_caught_up", {{"replanned", replanned}});
  }
  return replanned;
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

absl::Status InteractionDesk::OnCustomerChanged(const redis::StreamEntry& entry) {
  events::v1::CustomerChanged e;
  if (entry.Field("type") != "tierwise.events.v1.CustomerChanged" ||
      !e.ParseFromString(entry.Field("payload")) || !ids::IsUuid(e.customer_id())) {
    return absl::InvalidArgumentError("not a CustomerChanged event");
  }
  const bool deleted = e.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_DELETED ||
                       e.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_ERASED;
  const Micros known_at = e.has_create_time()   ? time::ToMicros(e.create_time())
                          : e.has_occurred_at() ? time::ToMicros(e.occurred_at())
                                                : options_.clock();
  const bool erased = e.change_type() == events::v1::CUSTOMER_CHANGE_TYPE_ERASED;
  const Micros now = options_.clock();
  const absl::StatusOr<ServicePolicy> policy = tiers_.Policy("");
  ErasureCounts counts;
  bool first_erasure = false;
  absl::Status status = pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    // Lifecycle stage 4 is tierwise.profile.v1.LIFECYCLE_STAGE_FORMER.
    store::UpsertCustomer(
        tx, {e.customer_id(), e.external_ref(), e.owner(), deleted, e.lifecycle_stage() == 4},
        e.version(), known_at);
    // Erasure is final whatever the event's version; repeated on every delivery, where it
    // finds nothing left to change.
    if (erased) first_erasure = EraseCustomerText(tx, e, now, &counts);
    // A new owner or external ref, or the customer leaving (deleted, erased, former).
    Replan(tx, {e.customer_id()}, policy.ok() ? &*policy : nullptr);
    return absl::OkStatus();
  });
  if (status.ok() && erased) {
    log::Info("interaction.customer_erased", {{"customer_id", e.customer_id()},
                                              {"first_delivery", first_erasure},
                                              {"record_versions", counts.interactions},
                                              {"complaints", counts.complaints},
                                              {"audit_details", counts.audit_details}});
  }
  return status;
}

absl::Status InteractionDesk::OnTierChanged(const redis::StreamEntry& entry) {
  events::v1::TierChanged e;
  if (entry.Field("type") != "tierwise.events.v1.TierChanged" ||
      !e.ParseFromString(entry.Field("payload")) || !ids::IsUuid(e.customer_id()) ||
      !e.has_changed_at()) {
    return absl::InvalidArgumentError("not a TierChanged event");
  }
  const absl::StatusOr<ServicePolicy> policy = tiers_.Policy("");
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    // The customer's row first (as every writer of its plan takes it), then its tier.
    store::FindCustomer(tx, e.customer_id(), /*for_write=*/true);
    if (store::UpsertTier(tx, e.customer_id(), e.tier(), time::ToMicros(e.changed_at()))) {
      log::Debug("interaction.plan_tier", {{"customer_id", e.customer_id()}, {"tier", e.tier()}});
      Replan(tx, {e.customer_id()}, policy.ok() ? &*policy : nullptr);
    }
    return absl::OkStatus();
  });
}

}  // namespace tierwise::interaction
