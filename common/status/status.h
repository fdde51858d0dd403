#ifndef TIERWISE_COMMON_STATUS_STATUS_H_
#define TIERWISE_COMMON_STATUS_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// Errors below the gRPC layer are absl::Status. Field problems travel as a
// google.rpc.BadRequest payload so the gRPC layer can return them as standard details
// (the `grpc-status-details-bin` trailer) that any gRPC client can decode.
namespace tierwise::status {

struct FieldViolation {
  std::string field;  // request field path, e.g. "customer.registration.email"
  std::string description;
};

inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";

// INVALID_ARGUMENT whose message names the first field ("customer.legal_name: is required")
// and whose payload lists every violation.
absl::Status InvalidArgument(const std::vector<FieldViolation>& violations);
absl::Status InvalidArgument(absl::string_view field, absl::string_view description);

// The violations carried by a status (empty when none).
std::vector<FieldViolation> FieldViolations(const absl::Status& status);

// Collects violations while validating, then yields one status.
//
//   ViolationList v;
//   if (name.empty()) v.Add("customer.legal_name", "is required");
//   if (!v.empty()) return v.ToStatus();
class ViolationList {
 public:
  void Add(std::string field, std::string description) {
    items_.push_back({std::move(field), std::move(description)});
  }
  bool empty() const { return items_.empty(); }
  absl::Status ToStatus() const {
    return items_.empty() ? absl::OkStatus() : InvalidArgument(items_);
  }
  const std::vector<FieldViolation>& items() const { return items_; }

 private:
  std::vector<FieldViolation> items_;
};

// Maps a Status to grpc::Status with the same code and message, and every payload packed into
// a google.rpc.Status as details.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for calls between services: keeps code, message and BadRequest details.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tierwise::status

#endif  // TIERWISE_COMMON_STATUS_STATUS_H_
