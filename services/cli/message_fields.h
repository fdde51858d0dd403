#ifndef TIERWISE_SERVICES_CLI_MESSAGE_FIELDS_H_
#define TIERWISE_SERVICES_CLI_MESSAGE_FIELDS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Setting proto fields from command-line text, by reflection, so that every resource's
// `--set path=value` and enum options behave alike.
namespace tierwise::cli {

// The number of the value of `type` named `name`: either the full name ("NATURE_ENTERPRISE") or
// the short one without the enum's prefix ("enterprise", "special-partner", "SPECIAL_PARTNER").
// The UNSPECIFIED value is not accepted by short name. InvalidArgument lists the choices.
absl::StatusOr<int> ParseEnumValue(const google::protobuf::EnumDescriptor* type,
                                   absl::string_view name);

// The short names of an enum's values, e.g. "government|special_partner|enterprise|...".
std::string EnumChoices(const google::protobuf::EnumDescriptor* type);

// Sets the field at `path` ("legal_name", "region.city", "registration.employees") of
// `message` from `value`:
//   string          verbatim
//   enum            by name, as ParseEnumValue
//   bool            true/false (also 1/0, yes/no)
//   integers        decimal
//   repeated string comma-separated list ("a,b"); "" empties it
//   tierwise.type.v1.Date  YYYY-MM-DD
// An empty value clears the field. InvalidArgument names the path: unknown field, a bad value,
// or a field that cannot be set this way (other messages: set their subfields; repeated
// messages).
absl::Status SetFieldFromText(google::protobuf::Message* message, absl::string_view path,
                              absl::string_view value);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_MESSAGE_FIELDS_H_
