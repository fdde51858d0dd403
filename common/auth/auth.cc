#include "common/auth/auth.h"

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

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

}  // namespace

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

absl::Status TokenStore::Add(std::string name, absl::string_view role_name, std::string token) {
  auto role = ParseRole(role_name);
  if (!role.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown role '", role_name, "' for ", name));
  }
  if (token.size() < 8) {
    return absl::InvalidArgumentError(absl::StrCat("token of ", name, " is shorter than 8"));
  }
  if (!by_token_.emplace(std::move(token), Principal{name, *role}).second) {
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
  auto it = by_token_.find(token);
  return it == by_token_.end() ? nullptr : &it->second;
}

std::string TokenStore::TokenOf(absl::string_view name) const {
  for (const auto& [token, principal] : by_token_) {
    if (principal.name == name) return token;
  }
  return "";
}

absl::StatusOr<Principal> Authorizer::Check(std::optional<absl::string_view> header,
                                            absl::string_view method) const {
  if (!header.has_value()) return absl::UnauthenticatedError("missing authorization metadata");
  absl::string_view value = absl::StripAsciiWhitespace(*header);
  if (!absl::ConsumePrefix(&value, "Bearer ") && !absl::ConsumePrefix(&value, "bearer ")) {
    return absl::UnauthenticatedError("authorization must be 'Bearer <token>'");
  }
  const Principal* principal = tokens_->Find(absl::StripAsciiWhitespace(value));
  if (principal == nullptr) return absl::UnauthenticatedError("unknown token");
  auto it = table_.find(method);
  if (it == table_.end() || !it->second.contains(principal->role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(principal->role), " may not call ", method));
  }
  return *principal;
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
  if (auto it = metadata.find("x-request-id");
      it != metadata.end() && !it->second.empty() && it->second.size() <= 128) {
    call.request_id.assign(it->second.data(), it->second.size());
  } else {
    call.request_id = NewRequestId();
  }
  absl::StatusOr<Principal> principal = Check(header, method);
  if (!principal.ok()) return principal.status();
  call.principal = std::move(*principal);
  return call;
}

}  // namespace tierwise::auth
