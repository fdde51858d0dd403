#include "common/auth/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status.h"

namespace tierwise::auth {
namespace {

constexpr std::pair<Role, absl::string_view> kRoleNames[] = {
    {Role::kAdmin, "admin"},     {Role::kManager, "manager"},        {Role::kSalesRep, "sales_rep"},
    {Role::kFinance, "finance"}, {Role::kErpAdapter, "erp_adapter"}, {Role::kViewer, "viewer"}};

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t prefix = std::random_device{}();
  return absl::StrCat(absl::Hex(prefix & 0xffffffff, absl::kZeroPad8), "-",
                      absl::Hex(counter.fetch_add(1), absl::kZeroPad8));
}

constexpr absl::string_view kDigestPrefix = "sha256:";
constexpr size_t kDigestBytes = 32;

using Digest = std::array<unsigned char, kDigestBytes>;

// SHA-256 of `data` into *out; false only with a broken libcrypto. The algorithm is fetched
// once and each thread reuses one context: EVP_Digest(..., EVP_sha256(), ...) would look the
// algorithm up (under a lock shared by all threads) and allocate a context on every call, four
// times the cost of the digest itself.
bool Sha256(absl::string_view data, Digest* out) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct ContextFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, ContextFree> ctx(EVP_MD_CTX_new());
  unsigned int length = 0;
  return md != nullptr && ctx != nullptr && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), out->data(), &length) == 1 && length == kDigestBytes;
}

absl::string_view View(const Digest& digest) {
  return absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// Raw SHA-256 of `data` (32 bytes), or "" (which matches no stored digest).
std::string Sha256(absl::string_view data) {
  Digest digest;
  if (!Sha256(data, &digest)) return std::string();
  return std::string(View(digest));
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

}  // namespace

std::string HashToken(absl::string_view token) {
  return absl::StrCat(kDigestPrefix, absl::BytesToHexString(Sha256(token)));
}

bool ValidRequestId(absl::string_view request_id) {
  if (request_id.empty() || request_id.size() > 128) return false;
  for (char c : request_id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (const auto& [role, n] : kRoleNames) {
    if (n == name) return role;
  }
  return std::nullopt;
}

absl::string_view RoleName(Role role) {
  for (const auto& [r, n] : kRoleNames) {
    if (r == role) return n;
  }
  return "unknown";
}

absl::Status TokenStore::Add(std::string name, absl::string_view role_name,
                             absl::string_view token) {
  auto role = ParseRole(role_name);
  if (!role.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown role '", role_name, "' for ", name));
  }
  std::string digest;
  if (absl::ConsumePrefix(&token, kDigestPrefix)) {
    if (token.size() != 2 * kDigestBytes || !IsHex(token)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token of ", name, ": expected sha256:<64 hex digits>"));
    }
    digest = absl::HexStringToBytes(token);
  } else {
    // A plain token (tests, development): only its digest is kept.
    if (token.size() < 8) {
      return absl::InvalidArgumentError(absl::StrCat("token of ", name, " is shorter than 8"));
    }
    digest = Sha256(token);
  }
  if (!by_digest_.emplace(std::move(digest), Principal{name, *role}).second) {
    return absl::InvalidArgumentError(absl::StrCat("token of ", name, " is used twice"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TokenStore>> TokenStore::FromText(
    const std::string& file_text, const std::string& inline_tokens) {
  auto store = std::make_shared<TokenStore>();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(file_text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file line ", line_no, ": expected '<name> <role> <token>'"));
    }
    if (auto s = store->Add(parts[0], parts[1], parts[2]); !s.ok()) return s;
  }
  for (absl::string_view entry : absl::StrSplit(inline_tokens, ',', absl::SkipWhitespace())) {
    std::vector<std::string> parts =
        absl::StrSplit(absl::StripAsciiWhitespace(entry), absl::MaxSplits(':', 2));
    if (parts.size() != 3) {
      return absl::InvalidArgumentError("inline tokens: expected 'name:role:token'");
    }
    if (auto s = store->Add(parts[0], parts[1], parts[2]); !s.ok()) return s;
  }
  return std::shared_ptr<const TokenStore>(std::move(store));
}

absl::StatusOr<std::shared_ptr<const TokenStore>> TokenStore::Load(
    const std::string& file, const std::string& inline_tokens) {
  std::string text;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokens file ", file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  return FromText(text, inline_tokens);
}

const Principal* TokenStore::Find(absl::string_view token) const {
  Digest digest;
  if (!Sha256(token, &digest)) return nullptr;
  // The map is keyed by the digest, so the lookup's timing depends on the digest only, never on
  // how much of a stored token an attacker guessed; the match is confirmed in constant time.
  auto it = by_digest_.find(View(digest));
  if (it == by_digest_.end() || it->first.size() != kDigestBytes ||
      CRYPTO_memcmp(it->first.data(), digest.data(), kDigestBytes) != 0) {
    return nullptr;
  }
  return &it->second;
}

absl::StatusOr<Principal> TokenStore::Authenticate(std::optional<absl::string_view> header) const {
  if (!header.has_value()) return absl::UnauthenticatedError("missing authorization metadata");
  absl::string_view value = absl::StripAsciiWhitespace(*header);
  if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) {
    return absl::UnauthenticatedError("authorization must be 'Bearer <token>'");
  }
  const Principal* principal = Find(absl::StripAsciiWhitespace(value));
  if (principal == nullptr) return absl::UnauthenticatedError("unknown token");
  return *principal;
}

absl::StatusOr<Principal> Authorizer::Check(std::optional<absl::string_view> header,
                                            absl::string_view method) const {
  absl::StatusOr<Principal> principal = tokens_->Authenticate(header);
  if (!principal.ok()) return principal.status();
  auto it = table_.find(method);
  if (it == table_.end() || !it->second.contains(principal->role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(principal->role), " may not call ", method));
  }
  return principal;
}

absl::StatusOr<CallContext> Authorizer::Authorize(const grpc::ServerContext& context,
                                                  absl::string_view method) const {
  const auto& metadata = context.client_metadata();
  std::optional<absl::string_view> header;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    header = absl::string_view(it->second.data(), it->second.size());
  }
  CallContext call;
  call.method = std::string(method);
  absl::StatusOr<Principal> principal = Check(header, method);
  if (!principal.ok()) return principal.status();
  call.principal = std::move(*principal);
  // The request id travels into logs and to peers: only a short, plain token is accepted.
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    const absl::string_view id(it->second.data(), it->second.size());
    if (!ValidRequestId(id)) {
      return status::InvalidArgument("x-request-id",
                                     "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    call.request_id = std::string(id);
  } else {
    call.request_id = NewRequestId();
  }
  return call;
}

}  // namespace tierwise::auth
