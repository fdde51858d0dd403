#include "common/postgres/text_array.h"

namespace tierwise::postgres {

std::string ToTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

namespace {

// {e0,e1,...}: each element as `literal` writes it.
template <typename T, typename Literal>
std::string ArrayLiteral(const std::vector<T>& values, Literal&& literal) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += literal(values[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace

std::string ToIntArray(const std::vector<std::optional<int64_t>>& values) {
  return ArrayLiteral(values, [](const std::optional<int64_t>& v) {
    return v.has_value() ? std::to_string(*v) : std::string("NULL");
  });
}

std::string ToIntArray(const std::vector<int64_t>& values) {
  return ArrayLiteral(values, [](int64_t v) { return std::to_string(v); });
}

std::string ToBoolArray(const std::vector<bool>& values) {
  return ArrayLiteral(values, [](bool v) { return std::string(v ? "t" : "f"); });
}

std::vector<std::string> FromTextArray(const pqxx::field& field) {
  std::vector<std::string> out;
  if (field.is_null()) return out;
  pqxx::array_parser parser = field.as_array();
  for (auto [kind, value] = parser.get_next(); kind != pqxx::array_parser::done;
       std::tie(kind, value) = parser.get_next()) {
    if (kind == pqxx::array_parser::string_value) out.push_back(value);
  }
  return out;
}

}  // namespace tierwise::postgres
