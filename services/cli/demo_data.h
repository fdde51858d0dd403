#ifndef TIERWISE_SERVICES_CLI_DEMO_DATA_H_
#define TIERWISE_SERVICES_CLI_DEMO_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tierwise/profile/v1/profile.pb.h"

// A deterministic generator of realistic demo customers (Chinese B2B companies with their
// registration data and decision chains) for local runs, demos and load tests.
namespace tierwise::demo {

struct DemoCustomer {
  tierwise::profile::v1::Customer customer;              // id and other output-only fields unset
  std::vector<tierwise::profile::v1::Contact> contacts;  // 1-3; the first is the decision maker
};

// `count` customers from `seed`. The same (seed, count) gives the same customers on every
// platform and standard library (std::mt19937_64 with hand-written distributions). Customer i
// has external_ref "ERP-C%05d" with i starting at 1, so a rerun names the same ERP codes, and
// every unified credit code carries a valid check character. Legal names are unique within one
// call. Example:
//   for (const DemoCustomer& c : GenerateDemoCustomers(42, 200)) Create(c.customer, c.contacts);
std::vector<DemoCustomer> GenerateDemoCustomers(uint64_t seed, int count);

// The check character of a unified social credit code (统一社会信用代码, GB 32100-2015) whose
// first 17 characters are `first17`, or '\0' when they are not all from the code's charset
// "0123456789ABCDEFGHJKLMNPQRTUWXY".
char CreditCodeCheckChar(absl::string_view first17);

}  // namespace tierwise::demo

#endif  // TIERWISE_SERVICES_CLI_DEMO_DATA_H_
