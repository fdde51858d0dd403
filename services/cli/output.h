#ifndef TIERWISE_SERVICES_CLI_OUTPUT_H_
#define TIERWISE_SERVICES_CLI_OUTPUT_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/strings/string_view.h"

namespace tierwise::cli {

// `text` as a JSON string literal. UTF-8 passes through; quotes, backslashes and control
// characters are escaped.
std::string JsonQuote(absl::string_view text);

// A message as JSON with the proto field names (`legal_name`, not `legalName`): indented over
// several lines when `pretty`, else on one line (for JSON-lines output). Never fails: a message
// the JSON printer rejects comes out as {"error": "..."}.
std::string MessageToJson(const google::protobuf::Message& message, bool pretty = true);

// The canonical name of a gRPC status code, e.g. "INVALID_ARGUMENT".
std::string StatusCodeName(grpc::StatusCode code);

// The one-line JSON object the CLI prints on stderr for a failed call:
//   {"code":"INVALID_ARGUMENT","message":"...","details":[...]}
// The details come from the status's google.rpc.Status payload: each BadRequest field violation
// becomes {"field":...,"description":...}, other known details print as their JSON (with
// "@type"), unknown ones as {"@type": "<type url>"}.
std::string StatusToJson(const grpc::Status& status);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_OUTPUT_H_
