#ifndef TIERWISE_COMMON_PAGING_PAGE_TOKEN_H_
#define TIERWISE_COMMON_PAGING_PAGE_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Opaque keyset page tokens bound to the filter they were made for. A token carries the cursor
// (the sort key of the last row returned) and a fingerprint of the request without its paging
// fields, so replaying it against another filter is an INVALID_ARGUMENT, not a wrong page.
//
//   const std::string fp = paging::Fingerprint(request);
//   auto cursor = paging::DecodeToken(request.page_token(), fp, 2);   // {} for the first page
//   ...
//   response.set_next_page_token(paging::EncodeToken(fp, {last_time, last_id}));
namespace tierwise::paging {

std::string FingerprintBytes(const std::string& serialized_request);

template <typename Request>
std::string Fingerprint(const Request& request) {
  Request copy = request;
  copy.clear_page_size();
  copy.clear_page_token();
  return FingerprintBytes(copy.SerializeAsString());
}

std::string EncodeToken(absl::string_view fingerprint, const std::vector<std::string>& cursor);

// The cursor of `token` (empty for an empty token); INVALID_ARGUMENT on field "page_token" when
// it is malformed, has another number of parts or was made for another filter.
absl::StatusOr<std::vector<std::string>> DecodeToken(const std::string& token,
                                                     absl::string_view fingerprint, size_t parts);

// page_size: 0 → default, negative → INVALID_ARGUMENT on `field`, larger than max → max.
absl::StatusOr<int> PageSize(int requested, int default_size, int max_size,
                             absl::string_view field = "page_size");

}  // namespace tierwise::paging

#endif  // TIERWISE_COMMON_PAGING_PAGE_TOKEN_H_
