#include "services/credit/credit_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/outbox/outbox.h"
#include "common/postgres/bytea.h"
#include "common/postgres/text_array.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::credit {
namespace {

constexpr char kAccountColumns[] =
    "customer_id::text, currency, credit_limit, terms_type, net_days, on_hold, hold_reason,"
    " hold_automatic, rating, score, factors,"
    " coalesce((extract(epoch from rated_at) * 1000000)::bigint, 0), events_applied";

AccountRow RowToAccount(const pqxx::row& r) {
  AccountRow a;
  a.customer_id = r[0].as<std::string>();
  a.currency = r[1].as<std::string>();
  a.credit_limit = r[2].as<int64_t>();
  a.terms.type = static_cast<Terms::Type>(r[3].as<int>());
  a.terms.net_days = r[4].as<int>();
  a.on_hold = r[5].as<bool>();
  a.hold_reason = r[6].as<std::string>();
  a.hold_automatic = r[7].as<bool>();
  a.rating = r[8].as<std::string>();
  a.score = r[9].as<int>();
  if (!r[10].is_null()) {
    v1::CreditAccount holder;
    if (holder.ParseFromString(pqxx::binarystring(r[10]).str())) {
      a.factors.assign(holder.factors().begin(), holder.factors().end());
    }
  }
  a.rated_at = r[11].as<int64_t>();
  a.events_applied = r[12].as<int64_t>();
  return a;
}

absl::StatusOr<v1::CreditPolicy> LoadPolicy(pqxx::work& tx) {
  const pqxx::result r = tx.exec("SELECT payload, version FROM policy WHERE id = 1");
  if (r.empty()) {
    v1::CreditPolicy p = DefaultPolicy();
    p.set_version(0);
    return p;
  }
  v1::CreditPolicy p;
  if (!p.ParseFromString(pqxx::binarystring(r[0][0]).str())) {
    return absl::InternalError("stored credit policy does not parse");
  }
  p.set_version(r[0][1].as<int>());
  return p;
}

// Creates the account with the policy's defaults when missing and locks it.
AccountRow LockAccount(pqxx::work& tx, const std::string& customer_id,
                       const v1::CreditPolicy& policy) {
  const Terms terms = ToTerms(policy.default_terms());
  tx.exec_params(
      "INSERT INTO accounts (customer_id, currency, credit_limit, terms_type, net_days)"
      " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO NOTHING",
      customer_id, policy.default_limit().currency(), policy.default_limit().minor_units(),
      static_cast<int>(terms.type), terms.net_days);
  return RowToAccount(tx.exec_params1(
      absl::StrCat("SELECT ", kAccountColumns, " FROM accounts WHERE customer_id = $1 FOR UPDATE"),
      customer_id));
}

Ledger LoadLedger(pqxx::work& tx, const std::string& customer_id, const Terms& terms) {
  std::vector<Fact> facts;
  for (const auto& row :
       tx.exec_params("SELECT payload FROM ledger_facts WHERE customer_id = $1", customer_id)) {
    v1::LedgerEventInput input;
    if (input.ParseFromString(pqxx::binarystring(row[0]).str())) facts.push_back(ToFact(input));
  }
  return Replay(std::move(facts), terms);
}

// LockAccount of several customers: two statements, rows locked in customer_id order (the
// order every writer takes, so two batches cannot deadlock).
std::map<std::string, AccountRow> LockAccounts(pqxx::work& tx, const std::set<std::string>& ids,
                                               const v1::CreditPolicy& policy) {
  std::map<std::string, AccountRow> out;
  if (ids.empty()) return out;
  const std::string array = postgres::ToTextArray({ids.begin(), ids.end()});
  const Terms terms = ToTerms(policy.default_terms());
  tx.exec_params(
      "INSERT INTO accounts (customer_id, currency, credit_limit, terms_type, net_days)"
      " SELECT id, $2, $3, $4, $5 FROM unnest($1::uuid[]) AS u(id) ORDER BY id"
      " ON CONFLICT (customer_id) DO NOTHING",
      array, policy.default_limit().currency(), policy.default_limit().minor_units(),
      static_cast<int>(terms.type), terms.net_days);
  for (const auto& r :
       tx.exec_params(absl::StrCat("SELECT ", kAccountColumns,
                                   " FROM accounts WHERE customer_id = ANY($1::uuid[])"
                                   " ORDER BY customer_id FOR UPDATE"),
                      array)) {
    AccountRow a = RowToAccount(r);
    out.emplace(a.customer_id, std::move(a));
  }
  return out;
}

// LoadLedger of several accounts in one statement.
std::map<std::string, Ledger> LoadLedgers(pqxx::work& tx,
                                          const std::map<std::string, AccountRow>& accounts,
                                          const std::set<std::string>& ids) {
  std::map<std::string, std::vector<Fact>> facts;
  for (const auto& row : tx.exec_params("SELECT customer_id::text, payload FROM ledger_facts WHERE "
                                        "customer_id = ANY($1::uuid[])",
                                        postgres::ToTextArray({ids.begin(), ids.end()}))) {
    v1::LedgerEventInput input;
    if (input.ParseFromString(pqxx::binarystring(row[1]).str())) {
      facts[row[0].as<std::string>()].push_back(ToFact(input));
    }
  }
  std::map<std::string, Ledger> out;
  for (const std::string& id : ids) {
    out.emplace(id, Replay(std::move(facts[id]), accounts.at(id).terms));
  }
  return out;
}

// An account rated from its replayed ledger, before it is stored.
struct Rerated {
  const AccountRow* account;
  Position position;
  int64_t facts = 0;
};

// Rates `account` from `ledger` at `now` and moves its automatic hold; adds the LedgerEvents of
// `applied` (with the new figures) to *messages. No SQL: SaveRatings stores the result.
Rerated Rerate(AccountRow& account, const Ledger& ledger, const v1::CreditPolicy& policy,
               Micros now, const std::vector<const v1::LedgerEventInput*>& applied,
               const std::string& stream, std::vector<outbox::Message>* messages) {
  // Figures past int64 (thousands of maximal documents, or facts stored before the maximum
  // existed) cannot be rated: the account keeps its last rating and goes on automatic hold
  // until the ledger is repaired; its stored position is empty so collections and the hold
  // sweep do not act on wrapped numbers.
  const absl::StatusOr<Position> computed = PositionAt(ledger, now);
  const Position position = computed.ok() ? *computed : Position{};
  Rating rating{account.rating, account.score, account.factors};
  if (computed.ok()) rating = RateAccount(ledger, position, now, policy);
  // Automatic holds come and go with the overdue position; manual holds stay until released.
  const bool hold_due = !computed.ok() || AutoHoldDue(position, policy);
  if (!computed.ok() && (!account.on_hold || account.hold_automatic)) {
    account.on_hold = true;
    account.hold_automatic = true;
    account.hold_reason = absl::StrCat("automatic: ", computed.status().message());
  } else if (hold_due && !account.on_hold) {
    account.on_hold = true;
    account.hold_automatic = true;
    account.hold_reason =
        absl::StrCat("automatic: ", position.max_days_overdue, " days overdue (policy ",
                     policy.auto_hold_days_overdue(), ")");
  } else if (!hold_due && account.on_hold && account.hold_automatic) {
    account.on_hold = false;
    account.hold_automatic = false;
    account.hold_reason.clear();
  }
  account.rating = rating.grade;
  account.score = rating.score;
  account.factors = rating.factors;
  account.rated_at = now;
  account.events_applied = ledger.facts;
  for (const v1::LedgerEventInput* input : applied) {
    events::v1::LedgerEvent event;
    const Fact fact = ToFact(*input);
    event.set_event_id(fact.event_id);
    event.set_customer_id(account.customer_id);
    SetTimestamp(fact.occurred_at, event.mutable_occurred_at());
    event.set_credit_rating(rating.grade);
    event.set_on_time_payment_ratio(position.on_time_permille.value_or(-1) / 1000.0);
    switch (input->event_case()) {
      case v1::LedgerEventInput::kOrder:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_ORDER);
        event.set_document_no(input->order().order_no());
        *event.mutable_amount() = input->order().amount();
        event.mutable_margin()->set_minor_units(std::get<OrderFact>(fact.body).margin);
        event.mutable_margin()->set_currency(input->order().amount().currency());
        event.set_product_line(input->order().product_line());
        break;
      case v1::LedgerEventInput::kCancellation:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_CANCELLATION);
        event.set_document_no(input->cancellation().order_no());
        *event.mutable_amount() = input->cancellation().amount();
        break;
      case v1::LedgerEventInput::kPayment:
        event.set_kind(events::v1::LEDGER_EVENT_KIND_PAYMENT);
        event.set_document_no(input->payment().payment_no());
        *event.mutable_amount() = input->payment().amount();
        break;
      default:
        break;
    }
    messages->push_back({stream, event.GetTypeName(), absl::StrCat("ledger:", fact.event_id),
                         event.SerializeAsString()});
  }
  return {&account, position, ledger.facts};
}

// Stores the rating and hold state of each rerated account, in one statement.
void SaveRatings(pqxx::work& tx, const std::vector<Rerated>& rerated, Micros now) {
  if (rerated.empty()) return;
  std::vector<std::string> ids, ratings, factors, reasons;
  std::vector<int64_t> scores, oldest_due, overdue, max_days, facts;
  std::vector<bool> on_hold, automatic;
  for (const Rerated& r : rerated) {
    const AccountRow& a = *r.account;
    ids.push_back(a.customer_id);
    ratings.push_back(a.rating);
    scores.push_back(a.score);
    v1::CreditAccount holder;
    for (const auto& f : a.factors) *holder.add_factors() = f;
    factors.push_back(absl::BytesToHexString(holder.SerializeAsString()));
    on_hold.push_back(a.on_hold);
    reasons.push_back(a.hold_reason);
    automatic.push_back(a.hold_automatic);
    oldest_due.push_back(r.position.oldest_open_due);
    overdue.push_back(r.position.overdue_amount);
    max_days.push_back(r.position.max_days_overdue);
    facts.push_back(r.facts);
  }
  tx.exec_params(
      "UPDATE accounts a SET rating = u.rating, score = u.score,"
      " factors = decode(u.factors, 'hex'), rated_at = to_timestamp($12::double precision / 1e6),"
      " on_hold = u.on_hold, hold_reason = u.reason, hold_automatic = u.auto,"
      " oldest_open_due = CASE WHEN u.due = 0 THEN NULL"
      " ELSE to_timestamp(u.due::double precision / 1e6) END, overdue_amount = u.overdue,"
      " max_days_overdue = u.max_days, events_applied = u.facts, updated_at = now()"
      " FROM unnest($1::uuid[], $2::text[], $3::integer[], $4::text[], $5::boolean[], $6::text[],"
      " $7::boolean[], $8::bigint[], $9::bigint[], $10::integer[], $11::bigint[])"
      " AS u(id, rating, score, factors, on_hold, reason, auto, due, overdue, max_days, facts)"
      " WHERE a.customer_id = u.id",
      postgres::ToTextArray(ids), postgres::ToTextArray(ratings), postgres::ToIntArray(scores),
      postgres::ToTextArray(factors), postgres::ToBoolArray(on_hold),
      postgres::ToTextArray(reasons), postgres::ToBoolArray(automatic),
      postgres::ToIntArray(oldest_due), postgres::ToIntArray(overdue),
      postgres::ToIntArray(max_days), postgres::ToIntArray(facts), now);
}

// Rebuilds the customer's ledger, stores rating and hold state, and announces `applied`.
void Recompute(pqxx::work& tx, AccountRow& account, const v1::CreditPolicy& policy, Micros now,
               const std::vector<const v1::LedgerEventInput*>& applied, const std::string& stream) {
  std::vector<outbox::Message> messages;
  SaveRatings(tx,
              {Rerate(account, LoadLedger(tx, account.customer_id, account.terms), policy, now,
                      applied, stream, &messages)},
              now);
  outbox::EnqueueAll(tx, messages);
}

v1::IngestResult Result(const ValidEvent& e, v1::IngestOutcome outcome, bool duplicate,
                        const std::string& customer_id) {
  v1::IngestResult r;
  r.set_index(e.index);
  r.set_event_id(e.event_id);
  r.set_outcome(outcome);
  r.set_duplicate(duplicate);
  r.set_customer_id(customer_id);
  return r;
}

}  // namespace

absl::StatusOr<v1::CreditPolicy> CreditStore::GetPolicy() {
  return pool_.Transact<v1::CreditPolicy>(
      [](pqxx::work& tx) -> absl::StatusOr<v1::CreditPolicy> { return LoadPolicy(tx); });
}

absl::StatusOr<v1::CreditPolicy> CreditStore::UpdatePolicy(const v1::CreditPolicy& policy,
                                                           const Actor& actor) {
  return pool_.Transact<v1::CreditPolicy>([&](pqxx::work& tx) -> absl::StatusOr<v1::CreditPolicy> {
    absl::StatusOr<v1::CreditPolicy> current = LoadPolicy(tx);
    if (!current.ok()) return current.status();
    v1::CreditPolicy stored = policy;
    stored.set_version(current->version() + 1);
    SetTimestamp(clock_(), stored.mutable_update_time());
    stored.set_updated_by(actor.name);
    tx.exec_params(
        "INSERT INTO policy (id, payload, version, updated_by) VALUES (1, $1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET payload = $1, version = $2, updated_by = $3,"
        " updated_at = now()",
        postgres::Bytes(stored.SerializeAsString()), stored.version(), actor.name);
    tx.exec_params(
        "INSERT INTO audit_log (action, actor, actor_role, request_id, note)"
        " VALUES ('UPDATE_POLICY', $1, $2, $3, $4)",
        actor.name, actor.role, actor.request_id, absl::StrCat("version ", stored.version()));
    return stored;
  });
}

absl::StatusOr<std::vector<v1::IngestResult>> CreditStore::Ingest(
    const std::vector<ValidEvent>& events) {
  const Micros now = clock_();
  return pool_.Transact<std::vector<v1::IngestResult>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::IngestResult>> {
        absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
        if (!policy.ok()) return policy.status();
        std::vector<v1::IngestResult> results(events.size());
        std::vector<bool> done(events.size(), false);
        // 1. Repeated event ids: answer with the first outcome.
        std::map<std::string, std::pair<int, std::string>> seen;
        {
          std::vector<std::string> ids;
          for (const ValidEvent& e : events) ids.push_back(e.event_id);
          const std::string array = postgres::ToTextArray(ids);
          for (const auto& row :
               tx.exec_params("SELECT event_id, first_outcome, coalesce(customer_id::text, '')"
                              " FROM ledger_facts WHERE event_id = ANY($1::text[])",
                              array)) {
            seen[row[0].as<std::string>()] = {row[1].as<int>(), row[2].as<std::string>()};
          }
        }
        // 2. Resolve customers (by id or external_ref, one statement each) and lock their
        // accounts in a fixed order (no deadlocks).
        std::set<std::string> by_id, by_ref;
        for (size_t i = 0; i < events.size(); ++i) {
          const ValidEvent& e = events[i];
          if (auto it = seen.find(e.event_id); it != seen.end()) {
            results[i] = Result(e, static_cast<v1::IngestOutcome>(it->second.first), true,
                                it->second.second);
            done[i] = true;
            continue;
          }
          (e.key_is_customer_id ? by_id : by_ref).insert(e.customer_key);
        }
        // (key is a customer_id, customer_key) → customer_id
        std::map<std::pair<bool, std::string>, std::string> resolved;
        if (!by_id.empty() || !by_ref.empty()) {
          for (const auto& r : tx.exec_params(
                   "SELECT true, customer_id::text, customer_id::text FROM known_customers"
                   " WHERE customer_id = ANY($1::uuid[])"
                   " UNION ALL SELECT false, external_ref, customer_id::text FROM known_customers"
                   " WHERE external_ref = ANY($2::text[])",
                   postgres::ToTextArray({by_id.begin(), by_id.end()}),
                   postgres::ToTextArray({by_ref.begin(), by_ref.end()}))) {
            resolved[{r[0].as<bool>(), r[1].as<std::string>()}] = r[2].as<std::string>();
          }
        }
        const auto customer_of = [&resolved](const ValidEvent& e) {
          // customer_id::text is lower case; a UUID may arrive in upper case.
          const auto it = resolved.find(
              {e.key_is_customer_id,
               e.key_is_customer_id ? absl::AsciiStrToLower(e.customer_key) : e.customer_key});
          return it != resolved.end() ? it->second : std::string();
        };
        std::set<std::string> customers;
        for (size_t i = 0; i < events.size(); ++i) {
          if (!done[i] && !customer_of(events[i]).empty()) customers.insert(customer_of(events[i]));
        }
        std::map<std::string, AccountRow> accounts = LockAccounts(tx, customers, *policy);

        // 3. Store the new facts, in one statement.
        std::map<std::string, size_t> first_in_batch;
        std::vector<std::pair<size_t, size_t>> repeats;  // (position, first position)
        std::vector<size_t> to_store;
        std::vector<v1::IngestOutcome> outcomes(events.size());
        for (size_t i = 0; i < events.size(); ++i) {
          if (done[i]) continue;
          const ValidEvent& e = events[i];
          if (auto it = first_in_batch.find(e.event_id); it != first_in_batch.end()) {
            repeats.emplace_back(i, it->second);
            continue;
          }
          first_in_batch[e.event_id] = i;
          const std::string customer_id = customer_of(e);
          if (!customer_id.empty() && !e.currency.empty() &&
              e.currency != accounts[customer_id].currency) {
            v1::IngestResult r = Result(e, v1::INGEST_OUTCOME_REJECTED, false, customer_id);
            r.set_error_field(absl::StrCat(e.kind == FactKind::kOrder          ? "order"
                                           : e.kind == FactKind::kCancellation ? "cancellation"
                                                                               : "payment",
                                           ".amount.currency"));
            r.set_error_message(
                absl::StrCat("the account is kept in ", accounts[customer_id].currency));
            results[i] = r;
            continue;
          }
          outcomes[i] =
              customer_id.empty() ? v1::INGEST_OUTCOME_PARKED : v1::INGEST_OUTCOME_APPLIED;
          to_store.push_back(i);
        }
        std::set<std::string> stored;
        if (!to_store.empty()) {
          std::vector<std::string> ids, keys, customer_ids, documents, currencies, payloads;
          std::vector<int64_t> kinds, amounts, times, codes;
          for (size_t i : to_store) {
            const ValidEvent& e = events[i];
            ids.push_back(e.event_id);
            keys.push_back(e.customer_key);
            customer_ids.push_back(customer_of(e));
            kinds.push_back(static_cast<int>(e.kind));
            documents.push_back(e.document_no);
            amounts.push_back(e.amount);
            currencies.push_back(e.currency);
            times.push_back(e.occurred_at);
            payloads.push_back(absl::BytesToHexString(e.input.SerializeAsString()));
            codes.push_back(static_cast<int>(outcomes[i]));
          }
          for (const auto& r : tx.exec_params(
                   "INSERT INTO ledger_facts (event_id, customer_key, customer_id, kind,"
                   " document_no, amount, currency, occurred_at, payload, applied_at,"
                   " first_outcome)"
                   " SELECT ev, key, NULLIF(cid, '')::uuid, kind, doc, amount, cur,"
                   " to_timestamp(at::double precision / 1e6), decode(payload, 'hex'),"
                   " CASE WHEN cid = '' THEN NULL ELSE now() END, outcome"
                   " FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[],"
                   " $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::integer[])"
                   " AS u(ev, key, cid, kind, doc, amount, cur, at, payload, outcome)"
                   " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                   postgres::ToTextArray(ids), postgres::ToTextArray(keys),
                   postgres::ToTextArray(customer_ids), postgres::ToIntArray(kinds),
                   postgres::ToTextArray(documents), postgres::ToIntArray(amounts),
                   postgres::ToTextArray(currencies), postgres::ToIntArray(times),
                   postgres::ToTextArray(payloads), postgres::ToIntArray(codes))) {
            stored.insert(r[0].as<std::string>());
          }
        }
        std::map<std::string, std::vector<const v1::LedgerEventInput*>> applied;
        for (size_t i : to_store) {
          const ValidEvent& e = events[i];
          if (stored.count(e.event_id) == 0) {
            // Another client stored it between our check and this insert: it won.
            const pqxx::row first = tx.exec_params1(
                "SELECT first_outcome, coalesce(customer_id::text, '') FROM ledger_facts"
                " WHERE event_id = $1",
                e.event_id);
            results[i] = Result(e, static_cast<v1::IngestOutcome>(first[0].as<int>()), true,
                                first[1].as<std::string>());
            continue;
          }
          const std::string customer_id = customer_of(e);
          results[i] = Result(e, outcomes[i], false, customer_id);
          if (!customer_id.empty()) applied[customer_id].push_back(&e.input);
        }
        for (const auto& [i, first] : repeats) {
          results[i] = results[first];
          results[i].set_index(events[i].index);
          results[i].set_duplicate(true);
        }
        // 4. Rebuild each touched ledger once; store the ratings and announce the events in one
        // statement each.
        std::set<std::string> touched;
        for (const auto& [customer_id, inputs] : applied) touched.insert(customer_id);
        const std::map<std::string, Ledger> ledgers = LoadLedgers(tx, accounts, touched);
        std::vector<Rerated> rerated;
        std::vector<outbox::Message> messages;
        for (auto& [customer_id, inputs] : applied) {
          rerated.push_back(Rerate(accounts[customer_id], ledgers.at(customer_id), *policy, now,
                                   inputs, ledger_stream_, &messages));
        }
        SaveRatings(tx, rerated, now);
        outbox::EnqueueAll(tx, messages);
        return results;
      });
}

absl::StatusOr<std::string> CreditStore::OwnerOf(const std::string& customer_id) {
  return pool_.Transact<std::string>([&](pqxx::work& tx) -> absl::StatusOr<std::string> {
    const pqxx::result r =
        tx.exec_params("SELECT owner FROM known_customers WHERE customer_id = $1", customer_id);
    if (r.empty())
      return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
    return r[0][0].as<std::string>();
  });
}

absl::StatusOr<int> CreditStore::CustomerKnown(const std::string& customer_id,
                                               const std::string& announced_ref,
                                               const std::string& owner, int64_t version) {
  const Micros now = clock_();
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    tx.exec_params(
        "INSERT INTO known_customers (customer_id, external_ref, owner, version)"
        " VALUES ($1, NULLIF($2, ''), $3, $4) ON CONFLICT (customer_id) DO UPDATE"
        " SET external_ref = EXCLUDED.external_ref, owner = EXCLUDED.owner,"
        " version = EXCLUDED.version WHERE known_customers.version < EXCLUDED.version",
        customer_id, announced_ref, owner, version);
    // Parked events match the code the customer has now, not the one a stale event named.
    const pqxx::row stored = tx.exec_params1(
        "SELECT coalesce(external_ref, '') FROM known_customers WHERE customer_id = $1",
        customer_id);
    const std::string external_ref = stored[0].as<std::string>();
    absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
    if (!policy.ok()) return policy.status();
    const pqxx::result parked = tx.exec_params(
        "SELECT event_id FROM ledger_facts WHERE customer_id IS NULL"
        " AND (customer_key = $1 OR (customer_key = $2 AND $2 <> ''))",
        customer_id, external_ref);
    if (parked.empty()) return 0;
    AccountRow account = LockAccount(tx, customer_id, *policy);
    std::vector<v1::LedgerEventInput> inputs;
    for (const auto& row :
         tx.exec_params("UPDATE ledger_facts SET customer_id = $1::uuid, applied_at = now()"
                        " WHERE customer_id IS NULL AND (customer_key = $3"
                        " OR (customer_key = $2 AND $2 <> '')) RETURNING payload",
                        customer_id, external_ref, customer_id)) {
      v1::LedgerEventInput input;
      if (input.ParseFromString(pqxx::binarystring(row[0]).str())) inputs.push_back(input);
    }
    std::vector<const v1::LedgerEventInput*> applied;
    for (const auto& input : inputs) applied.push_back(&input);
    Recompute(tx, account, *policy, now, applied, ledger_stream_);
    return static_cast<int>(inputs.size());
  });
}

absl::StatusOr<AccountSnapshot> CreditStore::Snapshot(const std::string& customer_id) {
  return pool_.Transact<AccountSnapshot>([&](pqxx::work& tx) -> absl::StatusOr<AccountSnapshot> {
    pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT ", kAccountColumns, " FROM accounts WHERE customer_id = $1"),
        customer_id);
    AccountSnapshot snapshot;
    if (r.empty()) {
      if (tx.exec_params("SELECT 1 FROM known_customers WHERE customer_id = $1", customer_id)
              .empty()) {
        return absl::NotFoundError(absl::StrCat("no credit account for customer ", customer_id));
      }
      absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
      if (!policy.ok()) return policy.status();
      snapshot.account = LockAccount(tx, customer_id, *policy);
    } else {
      snapshot.account = RowToAccount(r[0]);
    }
    snapshot.ledger = LoadLedger(tx, customer_id, snapshot.account.terms);
    return snapshot;
  });
}

absl::StatusOr<AccountSnapshot> CreditStore::ChangeAccount(
    const std::string& customer_id, const std::string& action, const std::string& note,
    const Actor& actor, const std::function<absl::Status(AccountRow&)>& change) {
  const Micros now = clock_();
  return pool_.Transact<AccountSnapshot>([&](pqxx::work& tx) -> absl::StatusOr<AccountSnapshot> {
    if (tx.exec_params("SELECT 1 FROM known_customers WHERE customer_id = $1", customer_id)
            .empty()) {
      return absl::NotFoundError(absl::StrCat("customer ", customer_id, " is not known"));
    }
    absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
    if (!policy.ok()) return policy.status();
    AccountSnapshot snapshot;
    snapshot.account = LockAccount(tx, customer_id, *policy);
    if (absl::Status s = change(snapshot.account); !s.ok()) return s;
    const AccountRow& a = snapshot.account;
    tx.exec_params(
        "UPDATE accounts SET credit_limit = $2, terms_type = $3, net_days = $4, on_hold = $5,"
        " hold_reason = $6, hold_automatic = $7, updated_at = now() WHERE customer_id = $1",
        customer_id, a.credit_limit, static_cast<int>(a.terms.type), a.terms.net_days, a.on_hold,
        a.hold_reason, a.hold_automatic);
    tx.exec_params(
        "INSERT INTO audit_log (customer_id, action, actor, actor_role, request_id, note)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        customer_id, action, actor.name, actor.role, actor.request_id, note);
    // Terms change due dates: rebuild so the stored rating and holds follow.
    Recompute(tx, snapshot.account, *policy, now, {}, ledger_stream_);
    snapshot.ledger = LoadLedger(tx, customer_id, snapshot.account.terms);
    return snapshot;
  });
}

absl::StatusOr<v1::ListParkedEventsResponse> CreditStore::ListParked(
    const std::string& external_ref, const std::string& after_event_id, int limit) {
  return pool_.Transact<v1::ListParkedEventsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListParkedEventsResponse> {
        v1::ListParkedEventsResponse out;
        for (const auto& r : tx.exec_params(
                 "SELECT event_id, customer_key, kind, document_no, amount, currency,"
                 " (extract(epoch from received_at) * 1000000)::bigint FROM ledger_facts"
                 " WHERE customer_id IS NULL AND ($1 = '' OR customer_key = $1) AND event_id > $2"
                 " ORDER BY event_id LIMIT $3",
                 external_ref, after_event_id, limit)) {
          v1::ParkedEvent* e = out.add_events();
          e->set_event_id(r[0].as<std::string>());
          e->set_customer_key(r[1].as<std::string>());
          const int kind = r[2].as<int>();
          e->set_kind(kind == 1 ? "order" : kind == 2 ? "cancellation" : "payment");
          e->set_document_no(r[3].as<std::string>());
          e->mutable_amount()->set_minor_units(r[4].as<int64_t>());
          e->mutable_amount()->set_currency(r[5].as<std::string>());
          SetTimestamp(r[6].as<int64_t>(), e->mutable_received_at());
        }
        return out;
      });
}

absl::StatusOr<std::vector<v1::CollectionEntry>> CreditStore::ListCollections(
    Micros after_due, const std::string& after_customer, int limit, const std::string& owner) {
  const Micros now = clock_();
  // Candidates by the stored oldest open due date; figures recomputed at `now`.
  absl::StatusOr<std::vector<std::string>> candidates = pool_.Transact<std::vector<std::string>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> ids;
        for (const auto& r : tx.exec_params(
                 "SELECT customer_id::text FROM accounts WHERE oldest_open_due IS NOT NULL"
                 " AND oldest_open_due < to_timestamp($1::double precision / 1e6)"
                 " AND (oldest_open_due, customer_id) > (to_timestamp($2::double precision / 1e6),"
                 " NULLIF($3, '')::uuid) IS NOT FALSE"
                 " AND ($5 = '' OR customer_id IN"
                 " (SELECT customer_id FROM known_customers WHERE owner = $5))"
                 " ORDER BY oldest_open_due, customer_id LIMIT $4",
                 now - kDay, after_due, after_customer, limit, owner)) {
          ids.push_back(r[0].as<std::string>());
        }
        return ids;
      });
  if (!candidates.ok()) return candidates.status();
  std::vector<v1::CollectionEntry> out;
  for (const std::string& id : *candidates) {
    absl::StatusOr<AccountSnapshot> snapshot = Snapshot(id);
    if (!snapshot.ok()) return snapshot.status();
    const absl::StatusOr<Position> position = PositionAt(snapshot->ledger, now);
    if (!position.ok()) return position.status();  // never a wrapped overdue amount
    const Position& p = *position;
    if (p.overdue_amount <= 0) continue;
    v1::CollectionEntry e;
    e.set_customer_id(id);
    e.mutable_overdue_amount()->set_minor_units(p.overdue_amount);
    e.mutable_overdue_amount()->set_currency(snapshot->account.currency);
    e.set_max_days_overdue(p.max_days_overdue);
    SetTimestamp(p.oldest_open_due, e.mutable_oldest_due_date());
    e.set_overdue_items(p.overdue_items);
    e.set_on_hold(snapshot->account.on_hold);
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<int> CreditStore::SweepHolds() {
  const Micros now = clock_();
  return pool_.Transact<int>([&](pqxx::work& tx) -> absl::StatusOr<int> {
    absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
    if (!policy.ok()) return policy.status();
    if (policy->auto_hold_days_overdue() == 0) return 0;
    int changed = 0;
    for (const auto& r : tx.exec_params(
             "SELECT customer_id::text FROM accounts WHERE NOT on_hold AND oldest_open_due <"
             " to_timestamp($1::double precision / 1e6) ORDER BY customer_id LIMIT 1000",
             now - static_cast<Micros>(policy->auto_hold_days_overdue()) * kDay)) {
      AccountRow account = LockAccount(tx, r[0].as<std::string>(), *policy);
      const bool before = account.on_hold;
      Recompute(tx, account, *policy, now, {}, ledger_stream_);
      if (account.on_hold != before) ++changed;
    }
    return changed;
  });
}

absl::Status CreditStore::InsertApplication(const v1::LimitApplication& a, const Actor& actor) {
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO limit_applications (id, customer_id, payload, state, applicant, submitted_at)"
        " VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1e6))",
        a.id(), a.customer_id(), postgres::Bytes(a.SerializeAsString()),
        static_cast<int>(a.state()), a.applicant(), ToMicros(a.submitted_at()));
    tx.exec_params(
        "INSERT INTO audit_log (customer_id, action, actor, actor_role, request_id, note)"
        " VALUES ($1, 'SUBMIT_LIMIT_APPLICATION', $2, $3, $4, $5)",
        a.customer_id(), actor.name, actor.role, actor.request_id, a.id());
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::LimitApplication> CreditStore::GetApplication(const std::string& id) {
  return pool_.Transact<v1::LimitApplication>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::LimitApplication> {
        const pqxx::result r =
            tx.exec_params("SELECT payload FROM limit_applications WHERE id = $1", id);
        if (r.empty()) return absl::NotFoundError(absl::StrCat("application ", id, " not found"));
        v1::LimitApplication a;
        a.ParseFromString(pqxx::binarystring(r[0][0]).str());
        return a;
      });
}

absl::Status CreditStore::DecideApplication(const v1::LimitApplication& a, const Actor& actor) {
  const Micros now = clock_();
  return pool_.Transact([&](pqxx::work& tx) -> absl::Status {
    const pqxx::result r = tx.exec_params(
        "UPDATE limit_applications SET payload = $2, state = $3 WHERE id = $1 AND state = $4",
        a.id(), postgres::Bytes(a.SerializeAsString()), static_cast<int>(a.state()),
        static_cast<int>(v1::APPLICATION_STATE_PENDING));
    if (r.affected_rows() != 1) {
      return absl::FailedPreconditionError("the application was already decided");
    }
    tx.exec_params(
        "INSERT INTO audit_log (customer_id, action, actor, actor_role, request_id, note)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        a.customer_id(),
        a.state() == v1::APPLICATION_STATE_APPROVED ? "APPROVE_LIMIT_APPLICATION"
                                                    : "REJECT_LIMIT_APPLICATION",
        actor.name, actor.role, actor.request_id, a.decision_reason());
    if (a.state() == v1::APPLICATION_STATE_APPROVED) {
      absl::StatusOr<v1::CreditPolicy> policy = LoadPolicy(tx);
      if (!policy.ok()) return policy.status();
      AccountRow account = LockAccount(tx, a.customer_id(), *policy);
      account.credit_limit = a.approved_limit().minor_units();
      if (a.requested_terms().type() != v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) {
        account.terms = ToTerms(a.requested_terms());
      }
      tx.exec_params(
          "UPDATE accounts SET credit_limit = $2, terms_type = $3, net_days = $4,"
          " updated_at = now() WHERE customer_id = $1",
          a.customer_id(), account.credit_limit, static_cast<int>(account.terms.type),
          account.terms.net_days);
      Recompute(tx, account, *policy, now, {}, ledger_stream_);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<v1::LimitApplication>> CreditStore::ListApplications(
    const std::string& customer_id, int state, Micros before_submitted, int limit,
    const std::string& owner) {
  return pool_.Transact<std::vector<v1::LimitApplication>>(
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<v1::LimitApplication>> {
        std::vector<v1::LimitApplication> out;
        for (const auto& r : tx.exec_params(
                 "SELECT payload FROM limit_applications WHERE ($1 = '' OR customer_id = "
                 "NULLIF($1, '')::uuid) AND ($2 = 0 OR state = $2) AND ($3::bigint = 0 OR"
                 " submitted_at < to_timestamp($3::double precision / 1e6))"
                 " AND ($5 = '' OR customer_id IN"
                 " (SELECT customer_id FROM known_customers WHERE owner = $5))"
                 " ORDER BY submitted_at DESC, id LIMIT $4",
                 customer_id, state, before_submitted, limit, owner)) {
          v1::LimitApplication a;
          a.ParseFromString(pqxx::binarystring(r[0]).str());
          out.push_back(std::move(a));
        }
        return out;
      });
}

}  // namespace tierwise::credit
