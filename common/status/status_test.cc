#include "common/status/status.h"

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace tierwise::status {
namespace {

TEST(StatusTest, InvalidArgumentNamesFirstFieldAndCarriesAll) {
  ViolationList v;
  v.Add("customer.legal_name", "is required");
  v.Add("customer.registration.email", "is not a valid e-mail address");
  absl::Status s = v.ToStatus();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "customer.legal_name: is required (and 1 more)");
  auto fields = FieldViolations(s);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1].field, "customer.registration.email");
}

TEST(StatusTest, ToGrpcStatusPacksBadRequestDetails) {
  grpc::Status g = ToGrpcStatus(InvalidArgument("customer.phone", "bad"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "customer.phone: bad");
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(g.error_details()));
  EXPECT_EQ(details.code(), 3);
  ASSERT_EQ(details.details_size(), 1);
  EXPECT_EQ(details.details(0).type_url(), kBadRequestTypeUrl);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(bad_request.ParseFromString(details.details(0).value()));
  EXPECT_EQ(bad_request.field_violations(0).field(), "customer.phone");
}

TEST(StatusTest, CodesMapOneToOneAndRoundTrip) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcStatus(absl::AbortedError("etag")).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(ToGrpcStatus(absl::NotFoundError("x")).error_details().empty());
  absl::Status back = FromGrpcStatus(ToGrpcStatus(InvalidArgument("a.b", "c")));
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(FieldViolations(back).size(), 1u);
  EXPECT_EQ(FieldViolations(back)[0].field, "a.b");
}

}  // namespace
}  // namespace tierwise::status
