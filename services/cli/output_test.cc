#include "services/cli/output.h"

#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tierwise/profile/v1/profile.pb.h"

namespace tierwise::cli {
namespace {

TEST(JsonQuoteTest, EscapesWhatJsonNeeds) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
  EXPECT_EQ(JsonQuote(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(JsonQuote("恒达"), "\"恒达\"");
}

TEST(MessageToJsonTest, UsesProtoFieldNames) {
  tierwise::profile::v1::Customer customer;
  customer.set_legal_name("恒达");
  customer.mutable_region()->set_city("苏州");
  customer.set_nature(tierwise::profile::v1::NATURE_ENTERPRISE);
  std::string compact = MessageToJson(customer, /*pretty=*/false);
  EXPECT_NE(compact.find("\"legal_name\":"), std::string::npos) << compact;
  EXPECT_NE(compact.find("\"NATURE_ENTERPRISE\""), std::string::npos) << compact;
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  std::string pretty = MessageToJson(customer);
  EXPECT_NE(pretty.find('\n'), std::string::npos);
  EXPECT_NE(pretty.back(), '\n');
}

TEST(StatusToJsonTest, PlainStatus) {
  EXPECT_EQ(StatusToJson(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect \"failed\"")),
            "{\"code\":\"UNAVAILABLE\",\"message\":\"connect \\\"failed\\\"\",\"details\":[]}");
}

TEST(StatusToJsonTest, DecodesBadRequestAndOtherDetails) {
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("customer.registration.email");
  violation->set_description("not an e-mail address");
  violation = bad_request.add_field_violations();
  violation->set_field("customer.legal_name");
  violation->set_description("required");
  google::rpc::ErrorInfo info;
  info.set_reason("ETAG_MISMATCH");
  info.set_domain("tierwise");
  google::rpc::Status rpc_status;
  rpc_status.set_code(3);
  rpc_status.set_message("invalid customer");
  rpc_status.add_details()->PackFrom(bad_request);
  rpc_status.add_details()->PackFrom(info);
  google::protobuf::Any* unknown = rpc_status.add_details();
  unknown->set_type_url("type.googleapis.com/acme.Unknown");

  std::string json = StatusToJson(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                               "invalid customer", rpc_status.SerializeAsString()));
  EXPECT_EQ(json,
            "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"invalid customer\",\"details\":["
            "{\"field\":\"customer.registration.email\",\"description\":\"not an e-mail "
            "address\"},"
            "{\"field\":\"customer.legal_name\",\"description\":\"required\"},"
            "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"ETAG_MISMATCH\","
            "\"domain\":\"tierwise\"},"
            "{\"@type\":\"type.googleapis.com/acme.Unknown\"}]}");
}

TEST(StatusToJsonTest, IgnoresUndecodableDetails) {
  EXPECT_EQ(StatusToJson(grpc::Status(grpc::StatusCode::INTERNAL, "x", "\xff\xff garbage")),
            "{\"code\":\"INTERNAL\",\"message\":\"x\",\"details\":[]}");
}

TEST(StatusCodeNameTest, Names) {
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::PERMISSION_DENIED), "PERMISSION_DENIED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::ALREADY_EXISTS), "ALREADY_EXISTS");
}

}  // namespace
}  // namespace tierwise::cli
