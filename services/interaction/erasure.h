#ifndef TIERWISE_SERVICES_INTERACTION_ERASURE_H_
#define TIERWISE_SERVICES_INTERACTION_ERASURE_H_

#include <string>

#include "tierwise/interaction/v1/interaction.pb.h"

// What erasure (CustomerChanged ERASED) does to the stored records of a customer, and what an
// audit row may say about a change. No storage here.
//
// Scrubbing keeps the facts reports are built from — ids, versions, times, channel,
// satisfaction, contact role, flags, tier and its source, status and SLA times, the principals
// that wrote them — and replaces every other text with kErasedText (empty text stays empty).
// Fields are kept by name, so a text field added later is scrubbed unless it is added to the
// kept ones; unknown fields (written by a newer version) are dropped. Scrubbing twice changes
// nothing the second time.
namespace tierwise::interaction {

inline constexpr char kErasedText[] = "[erased]";

// Returns whether the record changed.
bool ScrubInteraction(v1::Interaction& record);
bool ScrubComplaint(v1::Complaint& complaint);

// The fields a caller may write whose values differ, comma-separated in field order
// ("summary, conclusion"): what an audit row of a correction names instead of the values.
std::string ChangedWritableFields(const v1::Interaction& before, const v1::Interaction& after);

}  // namespace tierwise::interaction

#endif  // TIERWISE_SERVICES_INTERACTION_ERASURE_H_
