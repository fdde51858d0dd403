#include "services/interaction/interaction_server.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/client/channel.h"
#include "common/log/log.h"
#include "common/redis/stream_consumer.h"
#include "common/redis/stream_names.h"
#include "common/server/consumers.h"
#include "common/server/periodic_task.h"
#include "common/status/macros.h"
#include "common/time/micros.h"

namespace tierwise::interaction {
namespace {

Micros Now() { return time::NowMicros(); }

struct Flags {
  std::string classification_addr;
  std::string classification_token;
  std::string classification_ca_file;
  std::string classification_cert;  // this service's client certificate (mutual TLS)
  std::string classification_key;
  int sla_sweep_interval_s = 30;
  int plan_sweep_interval_s = 30;
  int tier_cache_entries = 100000;
};

Flags& flags() {
  static Flags f;
  return f;
}

// The TLS flags as error messages name them, with their environment variables.
client::TlsFileNames ClassificationTlsFlags() {
  auto name = [](const char* flag) {
    return absl::StrCat("--", flag, " (", config::ConfigParser::EnvName(flag), ")");
  };
  return {.ca_file = name("classification_ca_file"),
          .cert_file = name("classification_cert"),
          .key_file = name("classification_key")};
}

}  // namespace

std::string EventsStream(const std::string& redis_prefix) {
  return streams::InteractionEvents(redis_prefix);
}

InteractionServer::InteractionServer(server::ServiceDeps& deps,
                                     std::shared_ptr<TierDirectory> tiers,
                                     std::function<Micros()> clock)
    : directory(std::move(tiers)),
      desk(deps.pool, *directory,
           {.events_stream = EventsStream(deps.config.redis_prefix),
            .clock = std::move(clock),
            .published = [&relay = deps.relay] { relay.Wake(); },
            .calendar = deps.calendar}),
      authorizer(deps.tokens, InteractionRoleTable()),
      service(desk, authorizer) {}

server::ServiceDefinition InteractionDefinition() {
  return {
      .name = "interaction",
      .default_port = 50052,
      .migrations = Migrations(),
      .build = [](server::ServiceDeps& deps) -> absl::StatusOr<server::ServiceBundle> {
        const Flags& f = flags();
        // The tokens file holds digests only, so this service's own credential is given apart.
        const std::string& token = f.classification_token;
        if (token.empty()) {
          return absl::FailedPreconditionError(
              "no credential for the classification service: set --classification_token "
              "(TIERWISE_CLASSIFICATION_TOKEN) to a token that classification's tokens file "
              "grants (e.g. \"svc.interaction viewer sha256:...\")");
        }
        // The files are read now: a missing or unreadable one stops the binary here, naming
        // its flag, rather than failing every call to classification later.
        TW_ASSIGN_OR_RETURN(auto channel, client::OpenChannel({.address = f.classification_addr,
                                                               .ca_file = f.classification_ca_file,
                                                               .cert_file = f.classification_cert,
                                                               .key_file = f.classification_key},
                                                              ClassificationTlsFlags()));
        // Tiers stamped on records come from an in-process copy of classification's tier
        // cache, kept coherent by Redis client tracking; only unknown tiers are asked for.
        std::shared_ptr<redis::TrackedCache> tier_cache;
        if (f.tier_cache_entries > 0) {
          tier_cache = std::make_shared<redis::TrackedCache>(
              deps.redis.options(), TierCacheKeyPrefix(deps.config.redis_prefix),
              static_cast<size_t>(f.tier_cache_entries));
          tier_cache->Start();
        }
        auto directory = std::make_shared<ClassificationDirectory>(
            channel,
            DirectoryOptions{.token = token,
                             .tier_cache = tier_cache.get(),
                             .tier_key_prefix = TierCacheKeyPrefix(deps.config.redis_prefix)});
        auto svc = std::make_shared<InteractionServer>(deps, directory, Now);
        server::ServiceBundle bundle;
        const std::string& prefix = deps.config.redis_prefix;
        TW_ASSIGN_OR_RETURN(auto customers,
                            server::StartConsumer(deps, "interaction",
                                                  {.stream = streams::CustomerChanged(prefix),
                                                   .handler =
                                                       [svc](const redis::StreamEntry& e) {
                                                         return svc->desk.OnCustomerChanged(e);
                                                       }},
                                                  bundle));
        TW_ASSIGN_OR_RETURN(auto tiers,
                            server::StartConsumer(deps, "interaction",
                                                  {.stream = streams::TierChanged(prefix),
                                                   .handler =
                                                       [svc](const redis::StreamEntry& e) {
                                                         return svc->desk.OnTierChanged(e);
                                                       }},
                                                  bundle));
        auto sweep = std::make_shared<server::PeriodicTask>(
            "interaction.sla_sweep", std::chrono::seconds(f.sla_sweep_interval_s),
            [svc]() -> absl::Status {
              TW_RETURN_IF_ERROR(svc->desk.SweepBreaches().status());
              return absl::OkStatus();
            });
        // Stored follow-up plans catch up with a new service policy (and plan customers that
        // changed while no policy was at hand).
        auto replan = std::make_shared<server::PeriodicTask>(
            "interaction.plan_sweep", std::chrono::seconds(f.plan_sweep_interval_s),
            [svc]() -> absl::Status {
              absl::StatusOr<int> replanned = svc->desk.ReplanStale();
              return replanned.ok() ? absl::OkStatus() : replanned.status();
            });
        bundle.services.emplace_back(&svc->service, v1::InteractionService::service_full_name());
        // Consumers and the sweep hold the server by shared_ptr, so it outlives them.
        bundle.keep_alive.push_back(svc);
        if (tier_cache != nullptr) bundle.keep_alive.push_back(tier_cache);
        bundle.keep_alive.push_back(sweep);
        bundle.keep_alive.push_back(replan);
        return bundle;
      },
      .register_flags =
          [](config::ConfigParser& parser) {
            Flags& f = flags();
            parser.AddString("classification_addr", &f.classification_addr, "127.0.0.1:50054",
                             "host:port of the classification service (tiers, service policy)");
            parser.AddString("classification_token", &f.classification_token, "",
                             "bearer token presented to classification (required; its digest "
                             "is in classification's tokens file)");
            parser.AddString("classification_ca_file", &f.classification_ca_file, "",
                             "CA bundle to reach classification over TLS (empty = plaintext)");
            parser.AddString("classification_cert", &f.classification_cert, "",
                             "client certificate chain (PEM) presented to classification "
                             "(mutual TLS; needs --classification_ca_file)");
            parser.AddString("classification_key", &f.classification_key, "",
                             "private key (PEM) of --classification_cert");
            parser.AddInt("sla_sweep_interval_s", &f.sla_sweep_interval_s, 30,
                          "seconds between sweeps that record complaint SLA breaches", 1, 3600);
            parser.AddInt("tier_cache_entries", &f.tier_cache_entries, 100000,
                          "customers' tiers kept in process (coherent through Redis client "
                          "tracking) for stamping records; 0 = ask classification every time",
                          0, 10000000);
            parser.AddInt("plan_sweep_interval_s", &f.plan_sweep_interval_s, 30,
                          "seconds between passes that replan follow-ups under a new service "
                          "policy",
                          1, 3600);
          }};
}

}  // namespace tierwise::interaction
