#ifndef TIERWISE_SERVICES_CLI_DEMO_INTERACTIONS_H_
#define TIERWISE_SERVICES_CLI_DEMO_INTERACTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tierwise/interaction/v1/interaction.pb.h"
#include "tierwise/profile/v1/profile.pb.h"

// A deterministic year of follow-up records (沟通记录) and a few complaints for the demo
// customers (see demo_data.h), shaped by each customer's tier the way the seeds' maintenance
// policy asks: A — on-site visits monthly and an executive contact every quarter; B — calls
// monthly, a satisfaction survey half-yearly; C — mail monthly. Each with some mix of other
// channels, short Chinese business summaries and conclusions, satisfaction mostly 3–5,
// purchase intent now and then, agreed next follow-up dates on some records. Historical records
// carry `recorded_at` (the admin back-fill): a few hours after the contact, and for about 5 %
// more than 24 h after it, so that the service flags them late. About one customer in eight
// has had no regular contact for five weeks or more (so that overdue lists are not empty).
//
// Every 33rd customer (by index and seed: 3 %), when active or dormant, complained within the
// last ten days: the plan says when (so that some SLAs are breached already) and whether the
// complaint has been responded to or resolved since. The latest record of half the customers
// agrees on a next follow-up date in the coming three weeks.
//
// Everything about a customer is drawn from (seed, index) alone; the calendar is the `days`
// before `now`'s UTC date.
namespace tierwise::demo {

// A demo customer as the profile and classification services know it.
struct InteractionCustomer {
  int index = 0;             // n of ERP-C<n>, 1-based
  std::string id;            // the profile service's id
  std::string external_ref;  // ERP-C00001 ...
  std::string owner;         // the profile's owner; the records are made in their name
  std::string tier;          // K, A, B, C or D (K counts as A, D and "" as C)
  tierwise::profile::v1::LifecycleStage lifecycle = tierwise::profile::v1::LIFECYCLE_STAGE_ACTIVE;
  std::vector<tierwise::profile::v1::Contact> contacts;  // whom the records name; may be empty
};

struct DemoInteractionOptions {
  uint64_t seed = 42;  // the seed of `demo load`
  absl::Time now;      // nothing happens after it; recorded_at is at most now
  int days = 365;      // the calendar days before now's UTC date that records fall on
};

enum class ComplaintStep { kOpen, kRespond, kResolve };  // how far it has got since

struct ComplaintPlan {
  tierwise::interaction::v1::OpenComplaintRequest open;  // received_at within the last 10 days
  ComplaintStep step = ComplaintStep::kOpen;
  std::string response;    // for kRespond and kResolve
  std::string resolution;  // for kResolve
};

struct CustomerInteractionPlan {
  // Oldest first. Request ids are "demo-<seed>-<ref>-<YYYYMMDD of now>-i<n>" (the complaint's
  // "...-complaint"), so that a retry the same day returns the first result instead of logging
  // twice.
  std::vector<tierwise::interaction::v1::LogInteractionRequest> interactions;
  std::optional<ComplaintPlan> complaint;  // its day's record is among `interactions`
};

// The records and the complaint of one customer. Example:
//   for (auto& request : PlanCustomerInteractions(options, customer).interactions)
//     stub->LogInteraction(&context, request, &response);
CustomerInteractionPlan PlanCustomerInteractions(const DemoInteractionOptions& options,
                                                 const InteractionCustomer& customer);

// The tier a demo customer plausibly has, for when the classification service does not know it
// (yet): key accounts A or B, strategic partners B, prospects C, the others about 3 % A, 17 % B
// and 80 % C; drawn from (seed, index).
std::string GuessDemoTier(uint64_t seed, const tierwise::profile::v1::Customer& customer,
                          int index);

// The n of a demo external ref "ERP-C<5 digits>", or 0 for anything else.
int DemoCustomerIndex(const std::string& external_ref);

}  // namespace tierwise::demo

#endif  // TIERWISE_SERVICES_CLI_DEMO_INTERACTIONS_H_
