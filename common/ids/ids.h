#ifndef TIERWISE_COMMON_IDS_IDS_H_
#define TIERWISE_COMMON_IDS_IDS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tierwise::ids {

// A random (version 4) UUID in canonical lowercase form. Thread-safe.
std::string NewUuid();

// True for the canonical 8-4-4-4-12 hexadecimal form (any case).
bool IsUuid(absl::string_view text);

// A request's id field: INVALID_ARGUMENT naming `field` when empty ("is required") or not a UUID
// ("must be a UUID"), with the field violation attached (common/status).
absl::Status CheckUuid(absl::string_view id, absl::string_view field);

}  // namespace tierwise::ids

#endif  // TIERWISE_COMMON_IDS_IDS_H_
