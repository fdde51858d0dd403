#ifndef TIERWISE_COMMON_AUTH_AUTH_H_
#define TIERWISE_COMMON_AUTH_AUTH_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Bearer-token authentication and per-method role checks. Every RPC of a Tierwise service calls
// Authorizer::Authorize first (common/server/rpc.h does it), so a method missing from the role
// table is denied, never open.
namespace tierwise::auth {

enum class Role : uint8_t { kAdmin, kManager, kSalesRep, kFinance, kErpAdapter, kViewer };

std::optional<Role> ParseRole(absl::string_view name);  // "admin", "sales_rep", ...
absl::string_view RoleName(Role role);

// A set of roles as a bit mask.
class Roles {
 public:
  Roles() = default;
  Roles(std::initializer_list<Role> roles) {
    for (Role r : roles) bits_ |= Bit(r);
  }
  static Roles All() {
    return {Role::kAdmin,   Role::kManager,    Role::kSalesRep,
            Role::kFinance, Role::kErpAdapter, Role::kViewer};
  }
  bool contains(Role r) const { return (bits_ & Bit(r)) != 0; }

 private:
  static uint32_t Bit(Role r) { return 1u << static_cast<uint32_t>(r); }
  uint32_t bits_ = 0;
};

// Who is calling: the principal name is what audit logs record ("rep.zhang").
struct Principal {
  std::string name;
  Role role = Role::kViewer;
};

// What every handler gets after authorization.
struct CallContext {
  Principal principal;
  std::string method;
  std::string request_id;  // from x-request-id, or generated
};

// "sha256:<64 lowercase hex>" of a token: what a tokens file or Secret stores (upper-case hex
// digits are read too).
std::string HashToken(absl::string_view token);

// True for a usable x-request-id: 1-128 characters of [A-Za-z0-9._-].
bool ValidRequestId(absl::string_view request_id);

// Tokens → principals, holding only SHA-256 digests of the tokens. Sources: a file of
// `<name> <role> sha256:<64 hex>` lines (# comments) and an inline `name:role:sha256:<hex>,...`
// string. A plain token in place of the digest (tests, development) is hashed at load. A
// duplicate token, a malformed digest or an unknown role is an error. Immutable after load, so
// thread-safe.
class TokenStore {
 public:
  static absl::StatusOr<std::shared_ptr<const TokenStore>> Load(const std::string& file,
                                                                const std::string& inline_tokens);
  static absl::StatusOr<std::shared_ptr<const TokenStore>> FromText(
      const std::string& file_text, const std::string& inline_tokens);
  // The principal of a presented token, or nullptr. Looks the token's digest up, then compares
  // the digests in constant time.
  const Principal* Find(absl::string_view token) const;
  // The principal of an `authorization` header value ("Bearer <token>"); UNAUTHENTICATED when
  // the header is missing, malformed or the token unknown.
  absl::StatusOr<Principal> Authenticate(std::optional<absl::string_view> header) const;
  size_t size() const { return by_digest_.size(); }

 private:
  absl::Status Add(std::string name, absl::string_view role, absl::string_view token);
  // Raw 32-byte SHA-256 digest → principal.
  absl::flat_hash_map<std::string, Principal> by_digest_;
};

// Method name (short, e.g. "GetCustomer") → roles allowed to call it.
using RoleTable = absl::flat_hash_map<std::string, Roles>;

class Authorizer {
 public:
  Authorizer(std::shared_ptr<const TokenStore> tokens, RoleTable table)
      : tokens_(std::move(tokens)), table_(std::move(table)) {}

  // UNAUTHENTICATED when the header is missing, malformed or the token unknown;
  // PERMISSION_DENIED when the role may not call the method (or the method is not in the table);
  // INVALID_ARGUMENT when x-request-id is present but not 1-128 characters of [A-Za-z0-9._-].
  absl::StatusOr<CallContext> Authorize(const grpc::ServerContext& context,
                                        absl::string_view method) const;
  absl::StatusOr<Principal> Check(std::optional<absl::string_view> authorization_header,
                                  absl::string_view method) const;

  const RoleTable& table() const { return table_; }

 private:
  std::shared_ptr<const TokenStore> tokens_;
  RoleTable table_;
};

}  // namespace tierwise::auth

#endif  // TIERWISE_COMMON_AUTH_AUTH_H_
