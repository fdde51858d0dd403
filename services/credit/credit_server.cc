#include "services/credit/credit_server.h"

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/redis/stream_names.h"
#include "common/server/consumers.h"
#include "common/status/macros.h"
#include "common/time/micros.h"
#include "tierwise/credit/v1/credit.grpc.pb.h"
#include "tierwise/events/v1/events.pb.h"

namespace tierwise::credit {
namespace {

Micros Now() { return time::NowMicros(); }

int& IngestIdleTimeoutSeconds() {
  static int seconds = 120;
  return seconds;
}

}  // namespace

std::string LedgerStream(const std::string& redis_prefix) { return streams::Ledger(redis_prefix); }

absl::Status HandleCustomerChanged(CreditStore& store, const redis::StreamEntry& entry) {
  events::v1::CustomerChanged event;
  if (entry.Field("type") != "tierwise.events.v1.CustomerChanged" ||
      !event.ParseFromString(entry.Field("payload")) || event.customer_id().empty()) {
    return absl::InvalidArgumentError("not a CustomerChanged event");
  }
  // Versions order the profile's changes; a redelivered or older event changes nothing.
  TW_ASSIGN_OR_RETURN(int applied, store.CustomerKnown(event.customer_id(), event.external_ref(),
                                                       event.owner(), event.version()));
  if (applied > 0) {
    log::Info("credit.unparked", {{"customer_id", event.customer_id()}, {"events", applied}});
  }
  return absl::OkStatus();
}

CreditServer::CreditServer(server::ServiceDeps& deps, CreditStore::Clock clock)
    : store(deps.pool, LedgerStream(deps.config.redis_prefix), clock, deps.calendar),
      desk(store, clock, [&relay = deps.relay] { relay.Wake(); }),
      ingest_authorizer(deps.tokens, LedgerIngestRoleTable()),
      credit_authorizer(deps.tokens, CreditRoleTable()),
      ingest_service(desk, ingest_authorizer),
      credit_service(desk, credit_authorizer) {}

server::ServiceDefinition CreditDefinition() {
  return {
      .name = "credit",
      .default_port = 50053,
      .migrations = Migrations(),
      .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
        auto credit = std::make_shared<CreditServer>(deps, Now);
        credit->ingest_service.set_idle_timeout(std::chrono::seconds(IngestIdleTimeoutSeconds()));
        server::ServiceBundle bundle;
        TW_ASSIGN_OR_RETURN(
            auto consumer,
            server::StartConsumer(deps, "credit",
                                  {.stream = streams::CustomerChanged(deps.config.redis_prefix),
                                   .handler =
                                       [credit](const redis::StreamEntry& entry) {
                                         return HandleCustomerChanged(credit->store, entry);
                                       }},
                                  bundle));
        auto sweep = std::make_shared<server::PeriodicTask>(
            "credit.hold_sweep", std::chrono::seconds(60), [credit]() -> absl::Status {
              // Accounts from before the stored ledger state are built, 200 per short
              // transaction (the feeds of other customers go on meanwhile).
              int total = 0;
              for (int round = 0; round < 50; ++round) {
                TW_ASSIGN_OR_RETURN(int built, credit->store.BackfillLedgers(200));
                total += built;
                if (built < 200) break;
              }
              if (total > 0) log::Info("credit.ledgers_built", {{"accounts", total}});
              TW_ASSIGN_OR_RETURN(int changed, credit->store.SweepHolds());
              if (changed > 0) log::Info("credit.auto_holds", {{"changed", changed}});
              return absl::OkStatus();
            });
        bundle.services.emplace_back(&credit->ingest_service,
                                     v1::LedgerIngestService::service_full_name());
        bundle.services.emplace_back(&credit->credit_service,
                                     v1::CreditService::service_full_name());
        // The consumer and the sweep hold the server by shared_ptr, so it outlives them.
        bundle.keep_alive.push_back(credit);
        bundle.keep_alive.push_back(sweep);
        return bundle;
      },
      .register_flags =
          [](config::ConfigParser& parser) {
            parser.AddInt("ingest_idle_timeout_s", &IngestIdleTimeoutSeconds(), 120,
                          "an IngestEvents stream that sends nothing for this long ends "
                          "with DEADLINE_EXCEEDED",
                          1, 86400);
          }};
}

}  // namespace tierwise::credit
