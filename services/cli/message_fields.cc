#include "services/cli/message_fields.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status/macros.h"

namespace tierwise::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::string_view kDateType = "tierwise.type.v1.Date";

// "NATURE_" for Nature, derived from its zero value NATURE_UNSPECIFIED.
std::string EnumPrefix(const EnumDescriptor* type) {
  const EnumValueDescriptor* zero = type->FindValueByNumber(0);
  if (zero == nullptr) return "";
  absl::string_view name = zero->name();
  if (!absl::ConsumeSuffix(&name, "UNSPECIFIED")) return "";
  return std::string(name);
}

absl::StatusOr<bool> ParseBool(absl::string_view path, absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return absl::InvalidArgumentError(absl::StrCat(path, ": expected true or false"));
}

absl::Status SetDate(Message* date, absl::string_view path, absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '-');
  int values[3] = {0, 0, 0};
  bool ok = parts.size() == 3;
  for (size_t i = 0; ok && i < 3; ++i) ok = absl::SimpleAtoi(parts[i], &values[i]);
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(path, ": expected YYYY-MM-DD"));
  const Descriptor* descriptor = date->GetDescriptor();
  const Reflection* reflection = date->GetReflection();
  const char* names[3] = {"year", "month", "day"};
  for (int i = 0; i < 3; ++i) {
    reflection->SetInt32(date, descriptor->FindFieldByName(names[i]), values[i]);
  }
  return absl::OkStatus();
}

absl::Status SetScalar(Message* message, const FieldDescriptor* field, absl::string_view path,
                       absl::string_view value) {
  const Reflection* reflection = message->GetReflection();
  auto bad_number = [&] {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a number"));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(message, field, std::string(value));
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_ENUM: {
      absl::StatusOr<int> number = ParseEnumValue(field->enum_type(), value);
      if (!number.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": ", number.status().message()));
      }
      reflection->SetEnumValue(message, field, *number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      TW_ASSIGN_OR_RETURN(bool flag, ParseBool(path, value));
      reflection->SetBool(message, field, flag);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) return bad_number();
      reflection->SetInt32(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) return bad_number();
      reflection->SetInt64(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) return bad_number();
      reflection->SetUInt32(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) return bad_number();
      reflection->SetUInt64(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double number = 0;
      if (!absl::SimpleAtod(value, &number)) return bad_number();
      reflection->SetDouble(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float number = 0;
      if (!absl::SimpleAtof(value, &number)) return bad_number();
      reflection->SetFloat(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (field->message_type()->full_name() == kDateType) {
        return SetDate(reflection->MutableMessage(message, field), path, value);
      }
      return absl::InvalidArgumentError(absl::StrCat(
          path, " is a message: set its fields, e.g. ", path, ".",
          field->message_type()->field_count() > 0 ? field->message_type()->field(0)->name()
                                                   : "field"));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": unsupported field type"));
}

}  // namespace

absl::StatusOr<int> ParseEnumValue(const EnumDescriptor* type, absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}}));
  if (const EnumValueDescriptor* value = type->FindValueByName(upper); value != nullptr) {
    return value->number();
  }
  if (!upper.empty() && upper != "UNSPECIFIED") {
    if (const EnumValueDescriptor* value = type->FindValueByName(EnumPrefix(type) + upper);
        value != nullptr) {
      return value->number();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ", type->name(), " '", name, "' (", EnumChoices(type), ")"));
}

std::string EnumChoices(const EnumDescriptor* type) {
  std::string prefix = EnumPrefix(type);
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    const EnumValueDescriptor* value = type->value(i);
    if (value->number() == 0) continue;
    absl::string_view short_name = value->name();
    absl::ConsumePrefix(&short_name, prefix);
    names.push_back(absl::AsciiStrToLower(short_name));
  }
  return absl::StrJoin(names, "|");
}

absl::Status SetFieldFromText(Message* message, absl::string_view path, absl::string_view value) {
  if (path.empty()) return absl::InvalidArgumentError("empty field path");
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  Message* current = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field = current->GetDescriptor()->FindFieldByName(std::string(parts[i]));
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown field '", parts[i], "' in ",
                                                     current->GetDescriptor()->full_name()));
    }
    const Reflection* reflection = current->GetReflection();
    bool last = i + 1 == parts.size();
    if (!last) {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_repeated()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": '", parts[i], "' has no subfields"));
      }
      current = reflection->MutableMessage(current, field);
      continue;
    }
    if (field->is_map() ||
        (field->is_repeated() && field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is a list of messages and cannot be set from text"));
    }
    if (value.empty()) {
      reflection->ClearField(current, field);
      return absl::OkStatus();
    }
    if (!field->is_repeated()) return SetScalar(current, field, path, value);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING &&
        field->cpp_type() != FieldDescriptor::CPPTYPE_ENUM) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": unsupported list type"));
    }
    reflection->ClearField(current, field);
    for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        reflection->AddString(current, field, std::string(item));
      } else {
        absl::StatusOr<int> number = ParseEnumValue(field->enum_type(), item);
        if (!number.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ": ", number.status().message()));
        }
        reflection->AddEnumValue(current, field, *number);
      }
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace tierwise::cli
