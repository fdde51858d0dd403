#include "common/paging/page_token.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status.h"

namespace tierwise::paging {
namespace {

constexpr char kSeparator = '\x1f';
constexpr char kVersion[] = "p1";

}  // namespace

std::string FingerprintBytes(const std::string& serialized_request) {
  // FNV-1a: stable across processes and builds, so any replica accepts another's tokens.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : serialized_request) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return absl::StrCat(absl::Hex(h));
}

std::string EncodeToken(absl::string_view fingerprint, const std::vector<std::string>& cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(kVersion, std::string(1, kSeparator), fingerprint,
                                                std::string(1, kSeparator),
                                                absl::StrJoin(cursor, std::string(1, kSeparator))));
}

absl::StatusOr<std::vector<std::string>> DecodeToken(const std::string& token,
                                                     absl::string_view fingerprint, size_t parts) {
  if (token.empty()) return std::vector<std::string>();
  const absl::Status bad = status::InvalidArgument("page_token", "is not a token from this list");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<std::string> all = absl::StrSplit(raw, kSeparator);
  if (all.size() != parts + 2 || all[0] != kVersion) return bad;
  if (all[1] != fingerprint) {
    return status::InvalidArgument("page_token", "was made for a different filter");
  }
  return std::vector<std::string>(all.begin() + 2, all.end());
}

absl::StatusOr<int> PageSize(int requested, int default_size, int max_size,
                             absl::string_view field) {
  if (requested < 0) return status::InvalidArgument(field, "must not be negative");
  if (requested == 0) return default_size;
  return std::min(requested, max_size);
}

}  // namespace tierwise::paging
