#ifndef TIERWISE_COMMON_REDIS_STREAM_NAMES_H_
#define TIERWISE_COMMON_REDIS_STREAM_NAMES_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// The Redis streams Tierwise services talk through, and the one cache key two services share,
// in one place. Every key is
// `<prefix>:<owning service>.<topic>` (prefix: --redis_prefix, default "tierwise"); the owner
// is the only writer (through its outbox), the others read with a consumer group named after
// themselves.
namespace tierwise::streams {

// profile → everyone: CustomerChanged (created, updated, owner moved, erased).
inline std::string CustomerChanged(absl::string_view prefix) {
  return absl::StrCat(prefix, ":profile.customer_changed");
}
// credit → classification: LedgerEvent per applied fact.
inline std::string Ledger(absl::string_view prefix) {
  return absl::StrCat(prefix, ":credit.ledger");
}
// interaction → classification: InteractionEvent (logged, corrected, complaints).
inline std::string InteractionEvents(absl::string_view prefix) {
  return absl::StrCat(prefix, ":interaction.events");
}
// classification → interaction (and anyone): TierChanged.
inline std::string TierChanged(absl::string_view prefix) {
  return absl::StrCat(prefix, ":classification.tier_changed");
}
// Entries a service's consumers gave up on (after max deliveries), with the error.
inline std::string DeadLetter(absl::string_view prefix, absl::string_view service) {
  return absl::StrCat(prefix, ":", service, ".dead_letter");
}

}  // namespace tierwise::streams

// The tier cache classification writes and interaction reads (Redis strings of a serialized
// Tier, one per customer): "<prefix>:tier:<customer_id>".
namespace tierwise::cache_keys {

inline std::string TierPrefix(absl::string_view prefix) { return absl::StrCat(prefix, ":tier:"); }
inline std::string Tier(absl::string_view prefix, absl::string_view customer_id) {
  return absl::StrCat(prefix, ":tier:", customer_id);
}

}  // namespace tierwise::cache_keys

#endif  // TIERWISE_COMMON_REDIS_STREAM_NAMES_H_
