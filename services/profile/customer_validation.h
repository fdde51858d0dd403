#ifndef TIERWISE_SERVICES_PROFILE_CUSTOMER_VALIDATION_H_
#define TIERWISE_SERVICES_PROFILE_CUSTOMER_VALIDATION_H_

#include <string>

#include "absl/strings/string_view.h"
#include "common/status/status.h"
#include "tierwise/profile/v1/profile.pb.h"

// Input rules of the customer archive. Each Validate* adds every violation it finds under the
// given field-path prefix (e.g. "customer"), so one response names all problems at once.
namespace tierwise::profile {

// Limits on sizes, so one record cannot grow without bound.
inline constexpr size_t kMaxNameLength = 200;
inline constexpr size_t kMaxShortTextLength = 100;
inline constexpr size_t kMaxNotesLength = 2000;
inline constexpr size_t kMaxAliases = 10;
inline constexpr size_t kMaxTags = 20;
inline constexpr size_t kMaxTagLength = 32;
inline constexpr size_t kMaxContacts = 50;
inline constexpr size_t kMaxExternalRefLength = 64;

// 统一社会信用代码 (GB 32100-2015): 18 characters from "0-9A-HJ-NP-RTUW-Y"; the last is a check
// character over the first 17 (weights 3^i mod 31).
bool IsValidUnifiedCreditCode(absl::string_view code);
// local@domain.tld with conservative character sets; at most 254 characters.
bool IsValidEmail(absl::string_view email);
// Digits with optional leading +, spaces, dashes and parentheses; 5 to 20 digits.
bool IsValidPhone(absl::string_view phone);
// ERP codes: 1-64 of A-Z a-z 0-9 . _ - /
bool IsValidExternalRef(absl::string_view ref);

void ValidateCustomer(const v1::Customer& customer, const std::string& prefix,
                      status::ViolationList& violations);
void ValidateContact(const v1::Contact& contact, const std::string& prefix,
                     status::ViolationList& violations);

}  // namespace tierwise::profile

#endif  // TIERWISE_SERVICES_PROFILE_CUSTOMER_VALIDATION_H_
