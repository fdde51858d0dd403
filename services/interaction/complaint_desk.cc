// The complaint half of InteractionDesk: complaints with SLA clocks per tier (seed 002: respond
// within 24 h, solve within 48 h, "needs attention" until closed). A breach is recorded once —
// by a late response or resolution, or by the periodic sweep — stamped with the moment the
// deadline passed, and announced once as a ComplaintChanged event.
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ids/ids.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/outbox/outbox.h"
#include "common/paging/page_token.h"
#include "common/status/macros.h"
#include "common/status/status.h"
#include "common/time/micros.h"
#include "services/interaction/desk_support.h"
#include "services/interaction/interaction_desk.h"
#include "services/interaction/interaction_rules.h"
#include "services/interaction/interaction_store.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::interaction {
namespace {

using events::v1::ComplaintChange;

metrics::CounterFamily& SlaBreaches() {
  static auto& family = metrics::Registry::Default().RegisterCounter(
      "tierwise_sla_breaches_total", "complaint SLA breaches recorded, by kind", {"kind"});
  return family;
}

Micros At(const google::protobuf::Timestamp& ts) { return time::ToMicros(ts); }

// Records the breaches the complaint has as of `now` and not yet recorded; returns them.
std::vector<ComplaintChange> RecordBreaches(v1::Complaint& c, Micros now) {
  std::vector<ComplaintChange> changes;
  const Micros responded = c.has_responded_at() ? At(c.responded_at()) : now;
  if (!c.has_response_breached_at() && Breached(At(c.response_due_at()), responded)) {
    *c.mutable_response_breached_at() = c.response_due_at();
    changes.push_back(events::v1::COMPLAINT_CHANGE_RESPONSE_SLA_BREACHED);
  }
  const Micros resolved = c.has_resolved_at() ? At(c.resolved_at()) : now;
  if (!c.has_resolution_breached_at() && Breached(At(c.resolution_due_at()), resolved)) {
    *c.mutable_resolution_breached_at() = c.resolution_due_at();
    changes.push_back(events::v1::COMPLAINT_CHANGE_RESOLUTION_SLA_BREACHED);
  }
  return changes;
}

void EnqueueChanges(pqxx::work& tx, const std::string& stream, const v1::Complaint& c,
                    const std::vector<ComplaintChange>& changes, Micros now) {
  for (ComplaintChange change : changes) {
    events::v1::ComplaintChanged e;
    e.set_event_id(ids::NewUuid());
    e.set_complaint_id(c.id());
    e.set_customer_id(c.customer_id());
    e.set_change(change);
    e.set_version(c.version());
    *e.mutable_opened_at() = c.opened_at();
    e.set_open(c.status() != v1::COMPLAINT_STATUS_RESOLVED);
    e.set_response_breached(c.has_response_breached_at());
    e.set_resolution_breached(c.has_resolution_breached_at());
    time::SetTimestamp(now, e.mutable_changed_at());
    e.set_owner(c.owner());
    e.set_tier(c.tier());
    outbox::Enqueue(tx, {.stream = stream,
                         .type = e.GetDescriptor()->full_name(),
                         .event_id = e.event_id(),
                         .payload = e.SerializeAsString()});
  }
}

void CountBreaches(const std::vector<ComplaintChange>& changes) {
  for (ComplaintChange change : changes) {
    if (change == events::v1::COMPLAINT_CHANGE_RESPONSE_SLA_BREACHED) {
      SlaBreaches().WithLabels({"response"}).Increment();
    } else if (change == events::v1::COMPLAINT_CHANGE_RESOLUTION_SLA_BREACHED) {
      SlaBreaches().WithLabels({"resolution"}).Increment();
    }
  }
}

absl::Status CheckText(const std::string& text, absl::string_view field) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return status::InvalidArgument(field, "is required");
  }
  if (text.size() > 8000) return status::InvalidArgument(field, "must be at most 8000 bytes");
  return absl::OkStatus();
}

}  // namespace

void RegisterComplaintMetrics() {
  // Both series exist from the start at 0, so increase() in alert rules sees the first breach.
  SlaBreaches().WithLabels({"response"});
  SlaBreaches().WithLabels({"resolution"});
}

absl::StatusOr<v1::Complaint> InteractionDesk::OpenComplaint(
    const auth::CallContext& call, const v1::OpenComplaintRequest& request) {
  const Micros now = options_.clock();
  const v1::Complaint& in = request.complaint();
  TW_RETURN_IF_ERROR(ValidateNewComplaint(in, now, "complaint"));
  if (request.request_id().size() > 128) {
    return status::InvalidArgument("request_id", "must be at most 128 characters");
  }
  // Tier and policy come from classification, outside the transaction. Without them the
  // default clocks (24 h / 48 h) apply.
  absl::StatusOr<std::string> tier = tiers_.CurrentTier(in.customer_id(), call.request_id);
  absl::StatusOr<ServicePolicy> policy = tiers_.Policy(call.request_id);
  const std::string key = RequestKey(call, request.request_id());
  v1::Complaint out;
  std::vector<ComplaintChange> breaches;
  TW_RETURN_IF_ERROR(pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    if (!key.empty()) {
      if (std::optional<v1::Complaint> prior = store::FindComplaintByKey(tx, key)) {
        out = std::move(*prior);
        breaches.clear();
        return absl::OkStatus();
      }
    }
    TW_ASSIGN_OR_RETURN(
        store::KnownCustomer customer,
        AccessCustomer(tx, call, in.customer_id(), "complaint.customer_id", /*for_write=*/true));
    out.Clear();
    out.set_id(ids::NewUuid());
    out.set_customer_id(in.customer_id());
    out.set_owner(customer.owner);
    out.set_tier(tier.ok() ? *tier : store::LastKnownTier(tx, in.customer_id()));
    out.set_status(v1::COMPLAINT_STATUS_OPEN);
    out.set_subject(in.subject());
    out.set_description(in.description());
    time::SetTimestamp(now, out.mutable_opened_at());
    const Micros received = in.has_received_at() ? At(in.received_at()) : now;
    time::SetTimestamp(received, out.mutable_received_at());
    const SlaClock sla =
        ComplaintSla(received, policy.ok() ? PolicyFor(*policy, out.tier()) : nullptr);
    time::SetTimestamp(sla.response_due, out.mutable_response_due_at());
    time::SetTimestamp(sla.resolution_due, out.mutable_resolution_due_at());
    out.set_needs_attention(true);
    out.set_opened_by(call.principal.name);
    out.set_version(1);
    breaches = RecordBreaches(out, now);
    store::InsertComplaint(tx, out, key);
    // The fields given, never their text.
    store::Audit(tx, AuditOf(call, "open", "complaint", out.id(), out.customer_id(),
                             out.description().empty() ? "fields: subject"
                                                       : "fields: subject, description"));
    std::vector<ComplaintChange> changes = {events::v1::COMPLAINT_CHANGE_OPENED};
    changes.insert(changes.end(), breaches.begin(), breaches.end());
    EnqueueChanges(tx, options_.events_stream, out, changes, now);
    return absl::OkStatus();
  }));
  CountBreaches(breaches);
  Publish();
  return out;
}

namespace {

enum class Step { kRespond, kResolve };

// Respond and resolve share their frame: lock, check access and state, change, record
// breaches, audit, announce.
absl::StatusOr<v1::Complaint> AdvanceComplaint(postgres::PgPool& pool,
                                               const auth::CallContext& call, const std::string& id,
                                               const std::string& text, Step step, Micros now,
                                               const std::string& stream,
                                               std::vector<ComplaintChange>* breaches) {
  if (!ids::IsUuid(id)) return status::InvalidArgument("id", "must be a UUID");
  TW_RETURN_IF_ERROR(CheckText(text, step == Step::kRespond ? "response" : "resolution"));
  return pool.Transact<v1::Complaint>([&](pqxx::work& tx) -> absl::StatusOr<v1::Complaint> {
    std::optional<v1::Complaint> c = store::FindComplaint(tx, id, false);
    if (!c.has_value()) return absl::NotFoundError(absl::StrCat("complaint ", id));
    // The customer first, then the complaint (the order an erasure takes them in), read again
    // under the lock. An erased customer's complaints take no new text.
    if (IsRep(call)) {
      TW_RETURN_IF_ERROR(
          AccessCustomer(tx, call, c->customer_id(), "id", /*for_write=*/true).status());
    } else if (std::optional<store::KnownCustomer> customer =
                   store::FindCustomer(tx, c->customer_id(), /*for_write=*/true);
               customer.has_value() && customer->erased) {
      return absl::FailedPreconditionError(
          absl::StrCat("id: complaint ", id, " belongs to an erased customer"));
    }
    c = store::FindComplaint(tx, id, true);
    if (!c.has_value()) return absl::NotFoundError(absl::StrCat("complaint ", id));
    if (c->status() == v1::COMPLAINT_STATUS_RESOLVED) {
      return absl::FailedPreconditionError(absl::StrCat("id: complaint ", id, " is resolved"));
    }
    std::vector<ComplaintChange> changes;
    if (step == Step::kRespond) {
      if (c->status() != v1::COMPLAINT_STATUS_OPEN) {
        return absl::FailedPreconditionError(
            absl::StrCat("id: complaint ", id, " was already responded to"));
      }
      c->set_status(v1::COMPLAINT_STATUS_RESPONDED);
      time::SetTimestamp(now, c->mutable_responded_at());
      c->set_response(text);
      changes.push_back(events::v1::COMPLAINT_CHANGE_RESPONDED);
    } else {
      // A resolution is also the first response when none was given.
      if (!c->has_responded_at()) time::SetTimestamp(now, c->mutable_responded_at());
      c->set_status(v1::COMPLAINT_STATUS_RESOLVED);
      time::SetTimestamp(now, c->mutable_resolved_at());
      c->set_resolution(text);
      c->set_needs_attention(false);
      changes.push_back(events::v1::COMPLAINT_CHANGE_RESOLVED);
    }
    *breaches = RecordBreaches(*c, now);
    changes.insert(changes.begin(), breaches->begin(), breaches->end());
    c->set_version(c->version() + 1);
    store::UpdateComplaint(tx, *c);
    store::Audit(tx, AuditOf(call, step == Step::kRespond ? "respond" : "resolve", "complaint", id,
                             c->customer_id(),
                             step == Step::kRespond ? "fields: response" : "fields: resolution"));
    EnqueueChanges(tx, stream, *c, changes, now);
    return *c;
  });
}

}  // namespace

absl::StatusOr<v1::Complaint> InteractionDesk::RespondToComplaint(
    const auth::CallContext& call, const v1::RespondToComplaintRequest& request) {
  std::vector<ComplaintChange> breaches;
  absl::StatusOr<v1::Complaint> c =
      AdvanceComplaint(pool_, call, request.id(), request.response(), Step::kRespond,
                       options_.clock(), options_.events_stream, &breaches);
  if (c.ok()) {
    CountBreaches(breaches);
    Publish();
  }
  return c;
}

absl::StatusOr<v1::Complaint> InteractionDesk::ResolveComplaint(
    const auth::CallContext& call, const v1::ResolveComplaintRequest& request) {
  std::vector<ComplaintChange> breaches;
  absl::StatusOr<v1::Complaint> c =
      AdvanceComplaint(pool_, call, request.id(), request.resolution(), Step::kResolve,
                       options_.clock(), options_.events_stream, &breaches);
  if (c.ok()) {
    CountBreaches(breaches);
    Publish();
  }
  return c;
}

absl::StatusOr<v1::Complaint> InteractionDesk::GetComplaint(const auth::CallContext& call,
                                                            const std::string& id) {
  if (!ids::IsUuid(id)) return status::InvalidArgument("id", "must be a UUID");
  // Reads only (the complaint, then a rep's access check): no transaction block.
  return pool_.Read<v1::Complaint>([&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::Complaint> {
    std::optional<v1::Complaint> c = store::FindComplaint(tx, id, false);
    if (!c.has_value()) return absl::NotFoundError(absl::StrCat("complaint ", id));
    if (IsRep(call)) {
      TW_RETURN_IF_ERROR(AccessCustomer(tx, call, c->customer_id(), "id").status());
    }
    return *c;
  });
}

absl::StatusOr<v1::ListComplaintsResponse> InteractionDesk::ListComplaints(
    const auth::CallContext& call, const v1::ListComplaintsRequest& request) {
  if (!v1::ComplaintFilter_IsValid(request.filter())) {
    return status::InvalidArgument("filter", "is not a known filter");
  }
  if (!request.customer_id().empty() && !ids::IsUuid(request.customer_id())) {
    return status::InvalidArgument("customer_id", "must be a UUID");
  }
  TW_ASSIGN_OR_RETURN(int page_size, paging::PageSize(request.page_size(), 50, 500));
  store::ComplaintQuery query{.filter = request.filter(),
                              .owner = request.owner(),
                              .customer_id = request.customer_id(),
                              .limit = page_size + 1};
  if (IsRep(call)) {
    if (!query.owner.empty() && query.owner != call.principal.name) {
      return absl::PermissionDeniedError("owner: a sales rep lists only their own complaints");
    }
    if (query.customer_id.empty()) query.owner = call.principal.name;
  }
  const std::string fingerprint = paging::Fingerprint(request);
  TW_ASSIGN_OR_RETURN(std::vector<std::string> cursor,
                      paging::DecodeToken(request.page_token(), fingerprint, 2));
  if (!cursor.empty()) {
    if (!absl::SimpleAtoi(cursor[0], &query.after_opened) || !ids::IsUuid(cursor[1])) {
      return status::InvalidArgument("page_token", "is not a token from this list");
    }
    query.after_id = cursor[1];
  }
  // Reads only: no transaction block.
  return pool_.Read<v1::ListComplaintsResponse>(
      [&](pqxx::nontransaction& tx) -> absl::StatusOr<v1::ListComplaintsResponse> {
        if (IsRep(call) && !query.customer_id.empty()) {
          TW_RETURN_IF_ERROR(AccessCustomer(tx, call, query.customer_id, "customer_id").status());
        }
        std::vector<v1::Complaint> rows = store::ListComplaints(tx, query);
        v1::ListComplaintsResponse response;
        if (static_cast<int>(rows.size()) > page_size) {
          rows.pop_back();
          response.set_next_page_token(paging::EncodeToken(
              fingerprint, {absl::StrCat(At(rows.back().opened_at())), rows.back().id()}));
        }
        for (auto& r : rows) *response.add_complaints() = std::move(r);
        return response;
      });
}

absl::StatusOr<int> InteractionDesk::SweepBreaches() {
  int recorded = 0;
  for (;;) {
    const Micros now = options_.clock();
    std::vector<ComplaintChange> all;
    TW_ASSIGN_OR_RETURN(int batch, pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
      all.clear();
      std::vector<v1::Complaint> due = store::LockUnrecordedBreaches(tx, now, 100);
      for (v1::Complaint& c : due) {
        std::vector<ComplaintChange> changes = RecordBreaches(c, now);
        if (changes.empty()) continue;
        c.set_version(c.version() + 1);
        store::UpdateComplaint(tx, c);
        store::Audit(tx, {.customer_id = c.customer_id(),
                          .action = "sla_breach",
                          .actor = "system",
                          .actor_role = "system",
                          .entity = "complaint",
                          .entity_id = c.id()});
        EnqueueChanges(tx, options_.events_stream, c, changes, now);
        all.insert(all.end(), changes.begin(), changes.end());
      }
      return static_cast<int>(due.size());
    }));
    CountBreaches(all);
    recorded += static_cast<int>(all.size());
    if (!all.empty()) Publish();
    if (batch < 100) break;
  }
  if (recorded > 0) log::Info("interaction.sla_breaches", {{"recorded", recorded}});
  return recorded;
}

}  // namespace tierwise::interaction
