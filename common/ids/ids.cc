#include "common/ids/ids.h"

#include <mutex>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace tierwise::ids {

std::string NewUuid() {
  static std::mutex mu;
  static std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  uint64_t hi, lo;
  {
    std::lock_guard<std::mutex> lock(mu);
    hi = rng();
    lo = rng();
  }
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

bool IsUuid(absl::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(text[i])) {
      return false;
    }
  }
  return true;
}

absl::Status CheckUuid(absl::string_view id, absl::string_view field) {
  if (id.empty()) return status::InvalidArgument(field, "is required");
  if (!IsUuid(id)) return status::InvalidArgument(field, "must be a UUID");
  return absl::OkStatus();
}

}  // namespace tierwise::ids
