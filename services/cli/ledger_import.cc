#include "services/cli/ledger_import.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/macros.h"
#include "services/cli/ledger_text.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;

constexpr absl::string_view kDefaultCurrency = "CNY";

enum class Kind { kOrder, kCancellation, kPayment };

absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kOrder:
      return "order";
    case Kind::kCancellation:
      return "cancellation";
    case Kind::kPayment:
      return "payment";
  }
  return "";
}

// The columns each type may fill; the rest must stay empty.
const std::set<std::string>& ColumnsOf(Kind kind) {
  static const std::set<std::string> kCommon = {"type",        "event_id",    "external_ref",
                                                "customer_id", "document_no", "amount",
                                                "currency",    "occurred_at"};
  auto with = [](std::initializer_list<const char*> extra) {
    std::set<std::string> columns = kCommon;
    for (const char* column : extra) columns.insert(column);
    return columns;
  };
  static const std::set<std::string> kOrder =
      with({"order_no", "margin", "cost", "product_line", "terms", "due_date", "invoiced_at"});
  static const std::set<std::string> kCancellation = with({"order_no", "is_return"});
  static const std::set<std::string> kPayment = with({"order_no"});
  switch (kind) {
    case Kind::kOrder:
      return kOrder;
    case Kind::kCancellation:
      return kCancellation;
    case Kind::kPayment:
      return kPayment;
  }
  return kCommon;
}

std::optional<bool> ParseBool(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower.empty() || lower == "false" || lower == "0" || lower == "no") return false;
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  return std::nullopt;
}

// Reads the row's values, trimmed, and reports the first conversion problem.
class RowConverter {
 public:
  RowConverter(const LedgerRow& row, const absl::TimeZone& business_zone, RowError* error)
      : row_(row), business_zone_(business_zone), error_(error) {}

  std::string Get(const std::string& column) const {
    auto it = row_.find(column);
    return it == row_.end() ? "" : std::string(absl::StripAsciiWhitespace(it->second));
  }

  bool Fail(std::string column, std::string message) {
    *error_ = {std::move(column), std::move(message)};
    return false;
  }

  // An amount column into `money`; `*present` says whether the column had a value.
  bool Amount(const std::string& column, const std::string& currency, bool* present,
              tierwise::type::v1::Money* money) {
    const std::string text = Get(column);
    *present = !text.empty();
    if (text.empty()) return true;
    absl::StatusOr<int64_t> minor = ParseAmount(text, currency);
    if (!minor.ok()) return Fail(column, std::string(minor.status().message()));
    money->set_minor_units(*minor);
    money->set_currency(currency);
    return true;
  }

  // A time column, likewise.
  bool Time(const std::string& column, bool* present, google::protobuf::Timestamp* timestamp) {
    const std::string text = Get(column);
    *present = !text.empty();
    if (text.empty()) return true;
    absl::StatusOr<google::protobuf::Timestamp> parsed = ParseTimestamp(text, business_zone_);
    if (!parsed.ok()) return Fail(column, std::string(parsed.status().message()));
    *timestamp = *parsed;
    return true;
  }

 private:
  const LedgerRow& row_;
  const absl::TimeZone& business_zone_;
  RowError* error_;
};

// ---- CSV ----------------------------------------------------------------------------------

std::string CsvField(absl::string_view value) {
  bool quote = !value.empty() && (absl::ascii_isspace(static_cast<unsigned char>(value.front())) ||
                                  absl::ascii_isspace(static_cast<unsigned char>(value.back())));
  for (char c : value) quote = quote || c == ',' || c == '"' || c == '\n' || c == '\r';
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

class CsvReader final : public LedgerReader {
 public:
  CsvReader(std::istream& in, const absl::TimeZone& business_zone)
      : in_(in), business_zone_(business_zone) {}

  absl::Status ReadHeader() {
    std::vector<std::string> fields;
    std::string error;
    int start = 0;
    while (true) {
      if (!ReadRecord(&fields, &start, &error)) {
        return absl::InvalidArgumentError("the file is empty: it needs a header line");
      }
      if (!error.empty()) return absl::InvalidArgumentError(absl::StrCat("header: ", error));
      if (!IsBlank(fields)) break;
    }
    const std::vector<std::string>& known = LedgerColumns();
    for (std::string& field : fields) {
      std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(field));
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return absl::InvalidArgumentError(absl::StrCat("line ", start, ": unknown column '", field,
                                                       "' (known: ", absl::StrJoin(known, ", "),
                                                       ")"));
      }
      if (std::find(columns_.begin(), columns_.end(), name) != columns_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", start, ": column '", name, "' appears twice"));
      }
      columns_.push_back(std::move(name));
    }
    auto has = [&](absl::string_view name) {
      return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
    };
    for (absl::string_view required : {"type", "event_id"}) {
      if (!has(required)) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", start, ": the header has no '", required, "' column"));
      }
    }
    if (!has("external_ref") && !has("customer_id")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", start, ": the header needs an 'external_ref' or a 'customer_id' column"));
    }
    return absl::OkStatus();
  }

  bool Next(LedgerRecord* record) override {
    std::vector<std::string> fields;
    std::string error;
    int start = 0;
    while (true) {
      if (!ReadRecord(&fields, &start, &error)) return false;
      if (!error.empty() || !IsBlank(fields)) break;
    }
    *record = LedgerRecord();
    record->line = start;
    if (!error.empty()) {
      record->error = {"csv", error};
      return true;
    }
    LedgerRow row;
    for (size_t i = 0; i < fields.size() && i < columns_.size(); ++i) {
      row[columns_[i]] = std::move(fields[i]);
    }
    record->event_id = std::string(absl::StripAsciiWhitespace(row["event_id"]));
    if (fields.size() != columns_.size()) {
      record->error = {
          "csv", absl::StrCat(fields.size(), " fields, but the header has ", columns_.size())};
      return true;
    }
    v1::LedgerEventInput event;
    if (RowToEvent(row, business_zone_, &event, &record->error)) record->event = std::move(event);
    return true;
  }

  int64_t bytes_read() const override { return bytes_; }

 private:
  static bool IsBlank(const std::vector<std::string>& fields) {
    return std::all_of(fields.begin(), fields.end(), [](const std::string& field) {
      return absl::StripAsciiWhitespace(field).empty();
    });
  }

  bool ReadLine(std::string* line) {
    if (!std::getline(in_, *line)) return false;
    ++line_;
    bytes_ += static_cast<int64_t>(line->size()) + (in_.eof() ? 0 : 1);
    if (line_ == 1 && absl::StartsWith(*line, "\xEF\xBB\xBF")) line->erase(0, 3);
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return true;
  }

  // One record (possibly spanning lines inside quotes). False at the end of the input; a
  // malformed record sets `*error` and is consumed up to its end.
  bool ReadRecord(std::vector<std::string>* fields, int* start, std::string* error) {
    fields->clear();
    error->clear();
    std::string line;
    if (!ReadLine(&line)) return false;
    *start = line_;
    std::string field;
    bool in_quotes = false;
    bool quoted = false;       // the field started with a quote
    bool after_quote = false;  // its closing quote was seen
    auto finish_field = [&] {
      fields->push_back(quoted ? field : std::string(absl::StripAsciiWhitespace(field)));
      field.clear();
      quoted = false;
      after_quote = false;
    };
    while (true) {
      for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (in_quotes) {
          if (c != '"') {
            field += c;
          } else if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            ++i;
          } else {
            in_quotes = false;
            after_quote = true;
          }
        } else if (c == ',') {
          finish_field();
        } else if (after_quote) {
          if (!absl::ascii_isspace(static_cast<unsigned char>(c)) && error->empty()) {
            *error = absl::StrCat("field ", fields->size() + 1, ": text after a closing quote");
          }
        } else if (c == '"' && !quoted && absl::StripAsciiWhitespace(field).empty()) {
          field.clear();
          in_quotes = true;
          quoted = true;
        } else {
          field += c;
        }
      }
      if (!in_quotes) break;
      // A quoted field goes on on the next line.
      if (!ReadLine(&line)) {
        if (error->empty()) {
          *error = absl::StrCat("field ", fields->size() + 1, ": a quoted field is not closed");
        }
        break;
      }
      field += '\n';
    }
    finish_field();
    return true;
  }

  std::istream& in_;
  const absl::TimeZone business_zone_;
  std::vector<std::string> columns_;
  int line_ = 0;
  int64_t bytes_ = 0;
};

// ---- JSON Lines ---------------------------------------------------------------------------

struct JsonValue {
  enum class Type { kString, kNumber, kBool, kNull, kComposite };
  Type type = Type::kNull;
  std::string text;  // the string's content, the number's or the literal's text
};

// A minimal JSON reader for one object per line: keeps numbers as their text.
class JsonObjectParser {
 public:
  explicit JsonObjectParser(absl::string_view text) : text_(text) {}

  bool Parse(std::vector<std::pair<std::string, JsonValue>>* members, std::string* error) {
    SkipSpace();
    if (!Consume('{')) return Fail(error, "a line must hold one JSON object");
    SkipSpace();
    if (!Consume('}')) {
      while (true) {
        SkipSpace();
        std::string key;
        if (Peek() != '"' || !ParseString(&key)) return Fail(error, "expected a quoted key");
        SkipSpace();
        if (!Consume(':')) return Fail(error, "expected ':' after a key");
        SkipSpace();
        JsonValue value;
        if (!ParseValue(&value)) return Fail(error, absl::StrCat("bad value of \"", key, "\""));
        members->emplace_back(std::move(key), std::move(value));
        SkipSpace();
        if (Consume(',')) continue;
        if (Consume('}')) break;
        return Fail(error, "expected ',' or '}'");
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Fail(error, "text after the object");
    return true;
  }

 private:
  bool Fail(std::string* error, absl::string_view what) {
    *error = absl::StrCat("not valid JSON at column ", pos_ + 1, ": ", what);
    return false;
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\n')) {
      ++pos_;
    }
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      *out += static_cast<char>(code);
    } else if (code < 0x800) {
      *out += static_cast<char>(0xC0 | (code >> 6));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      *out += static_cast<char>(0xE0 | (code >> 12));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (code >> 18));
      *out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  bool ParseHex4(uint32_t* code) {
    if (pos_ + 4 > text_.size()) return false;
    *code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      *code <<= 4;
      if (c >= '0' && c <= '9') {
        *code |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        *code |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        *code |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  bool ParseString(std::string* out) {
    if (!Consume('"')) return false;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= text_.size()) return false;
      const char escaped = text_[pos_++];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          *out += escaped;
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u': {
          uint32_t code = 0;
          if (!ParseHex4(&code)) return false;
          if (code >= 0xD800 && code <= 0xDBFF) {  // a surrogate pair
            uint32_t low = 0;
            if (!Consume('\\') || !Consume('u') || !ParseHex4(&low) || low < 0xDC00 ||
                low > 0xDFFF) {
              return false;
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return false;
          }
          AppendUtf8(code, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool ParseNumber(std::string* out) {
    const size_t start = pos_;
    Consume('-');
    if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) return false;
    if (Peek() == '0') {
      ++pos_;
    } else {
      while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    if (Consume('.')) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) return false;
      while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) return false;
      while (absl::ascii_isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    *out = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  // Skips an object or array, checking only that brackets and strings balance.
  bool SkipComposite() {
    std::string open;
    while (pos_ < text_.size()) {
      const char c = Peek();
      if (c == '"') {
        std::string ignored;
        if (!ParseString(&ignored)) return false;
        continue;
      }
      ++pos_;
      if (c == '{' || c == '[') {
        open += c;
      } else if (c == '}' || c == ']') {
        if (open.empty() || (c == '}') != (open.back() == '{')) return false;
        open.pop_back();
        if (open.empty()) return true;
      }
    }
    return false;
  }

  bool ParseValue(JsonValue* value) {
    const char c = Peek();
    if (c == '"') {
      value->type = JsonValue::Type::kString;
      return ParseString(&value->text);
    }
    if (c == '{' || c == '[') {
      value->type = JsonValue::Type::kComposite;
      return SkipComposite();
    }
    for (absl::string_view literal : {"true", "false", "null"}) {
      if (absl::StartsWith(text_.substr(pos_), literal)) {
        pos_ += literal.size();
        value->type = literal == "null" ? JsonValue::Type::kNull : JsonValue::Type::kBool;
        value->text = literal == "null" ? "" : std::string(literal);
        return true;
      }
    }
    value->type = JsonValue::Type::kNumber;
    return ParseNumber(&value->text);
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

class JsonlReader final : public LedgerReader {
 public:
  JsonlReader(std::istream& in, const absl::TimeZone& business_zone)
      : in_(in), business_zone_(business_zone) {}

  bool Next(LedgerRecord* record) override {
    std::string line;
    while (true) {
      if (!std::getline(in_, line)) return false;
      ++line_;
      bytes_ += static_cast<int64_t>(line.size()) + (in_.eof() ? 0 : 1);
      if (line_ == 1 && absl::StartsWith(line, "\xEF\xBB\xBF")) line.erase(0, 3);
      if (!absl::StripAsciiWhitespace(line).empty()) break;
    }
    *record = LedgerRecord();
    record->line = line_;
    Convert(line, record);
    return true;
  }

  int64_t bytes_read() const override { return bytes_; }

 private:
  void Convert(const std::string& line, LedgerRecord* record) {
    std::vector<std::pair<std::string, JsonValue>> members;
    std::string error;
    if (!JsonObjectParser(line).Parse(&members, &error)) {
      record->error = {"json", error};
      return;
    }
    for (const auto& [key, value] : members) {
      if ((key == "order" || key == "cancellation" || key == "payment") &&
          value.type == JsonValue::Type::kComposite) {
        ConvertMessage(line, record);
        return;
      }
    }
    LedgerRow row;
    const std::vector<std::string>& known = LedgerColumns();
    for (const auto& [key, value] : members) {
      const std::string column = absl::AsciiStrToLower(key);
      if (column == "event_id" && value.type != JsonValue::Type::kComposite) {
        record->event_id = value.text;
      }
    }
    for (const auto& [key, value] : members) {
      const std::string column = absl::AsciiStrToLower(key);
      if (std::find(known.begin(), known.end(), column) == known.end()) {
        record->error = {column, absl::StrCat("unknown key \"", key, "\"")};
        return;
      }
      if (value.type == JsonValue::Type::kComposite) {
        record->error = {column, "must be a string, number or boolean"};
        return;
      }
      if (!row.emplace(column, value.text).second) {
        record->error = {column, "appears twice"};
        return;
      }
    }
    v1::LedgerEventInput event;
    if (RowToEvent(row, business_zone_, &event, &record->error)) record->event = std::move(event);
  }

  // {"order": {...}} and friends: protobuf JSON of a LedgerEventInput.
  static void ConvertMessage(const std::string& line, LedgerRecord* record) {
    v1::LedgerEventInput event;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(line, &event, options);
    if (!status.ok()) {
      record->error = {"json",
                       absl::StrCat("not a LedgerEventInput: ", std::string(status.message()))};
      return;
    }
    record->event_id = EventIdOf(event);
    record->event = std::move(event);
  }

  std::istream& in_;
  const absl::TimeZone business_zone_;
  int line_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace

absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "csv") return InputFormat::kCsv;
  if (lower == "jsonl" || lower == "ndjson" || lower == "json") return InputFormat::kJsonl;
  return absl::InvalidArgumentError(absl::StrCat("unknown format '", name, "' (csv or jsonl)"));
}

std::optional<InputFormat> FormatFromPath(absl::string_view path) {
  const std::string lower = absl::AsciiStrToLower(path);
  if (absl::EndsWith(lower, ".csv")) return InputFormat::kCsv;
  if (absl::EndsWith(lower, ".jsonl") || absl::EndsWith(lower, ".ndjson") ||
      absl::EndsWith(lower, ".json")) {
    return InputFormat::kJsonl;
  }
  return std::nullopt;
}

const std::vector<std::string>& LedgerColumns() {
  static const std::vector<std::string> kColumns = {
      "type",   "event_id", "external_ref", "customer_id", "document_no", "order_no",
      "amount", "currency", "occurred_at",  "margin",      "cost",        "product_line",
      "terms",  "due_date", "invoiced_at",  "is_return"};
  return kColumns;
}

bool RowToEvent(const LedgerRow& row, const absl::TimeZone& business_zone,
                v1::LedgerEventInput* event, RowError* error) {
  RowConverter in(row, business_zone, error);
  const std::string type = absl::AsciiStrToLower(in.Get("type"));
  Kind kind;
  bool is_return_type = false;
  if (type == "order") {
    kind = Kind::kOrder;
  } else if (type == "cancellation") {
    kind = Kind::kCancellation;
  } else if (type == "return") {
    kind = Kind::kCancellation;
    is_return_type = true;
  } else if (type == "payment") {
    kind = Kind::kPayment;
  } else if (type.empty()) {
    return in.Fail("type", "is required (order, cancellation, payment or return)");
  } else {
    return in.Fail("type", absl::StrCat("unknown type '", in.Get("type"),
                                        "' (order, cancellation, payment or return)"));
  }
  const std::set<std::string>& allowed = ColumnsOf(kind);
  for (const auto& [column, value] : row) {
    if (allowed.contains(column) || absl::StripAsciiWhitespace(value).empty()) continue;
    if (column == "is_return" && ParseBool(in.Get(column)) == std::optional<bool>(false)) continue;
    return in.Fail(column,
                   absl::StrCat("does not apply to a ", KindName(kind), " (leave it empty)"));
  }
  std::string currency = absl::AsciiStrToUpper(in.Get("currency"));
  if (currency.empty()) currency = std::string(kDefaultCurrency);

  event->Clear();
  bool present = false;
  switch (kind) {
    case Kind::kOrder: {
      v1::OrderEvent* order = event->mutable_order();
      order->set_event_id(in.Get("event_id"));
      order->set_external_ref(in.Get("external_ref"));
      order->set_customer_id(in.Get("customer_id"));
      std::string number = in.Get("document_no");
      const std::string order_no = in.Get("order_no");
      if (number.empty()) {
        number = order_no;
      } else if (!order_no.empty() && order_no != number) {
        return in.Fail("order_no", "an order's number goes in document_no; order_no differs");
      }
      order->set_order_no(number);
      if (!in.Amount("amount", currency, &present, order->mutable_amount())) return false;
      if (!present) order->clear_amount();
      if (!in.Amount("margin", currency, &present, order->mutable_margin())) return false;
      if (!present) order->clear_margin();
      if (!in.Amount("cost", currency, &present, order->mutable_cost())) return false;
      if (!present) order->clear_cost();
      order->set_product_line(in.Get("product_line"));
      absl::StatusOr<v1::PaymentTerms> terms = ParseTerms(in.Get("terms"));
      if (!terms.ok()) return in.Fail("terms", std::string(terms.status().message()));
      if (terms->type() != v1::PAYMENT_TERMS_TYPE_UNSPECIFIED) *order->mutable_terms() = *terms;
      if (!in.Time("occurred_at", &present, order->mutable_occurred_at())) return false;
      if (!present) order->clear_occurred_at();
      if (!in.Time("due_date", &present, order->mutable_due_date())) return false;
      if (!present) order->clear_due_date();
      if (!in.Time("invoiced_at", &present, order->mutable_invoiced_at())) return false;
      if (!present) order->clear_invoiced_at();
      break;
    }
    case Kind::kCancellation: {
      v1::CancellationEvent* cancellation = event->mutable_cancellation();
      cancellation->set_event_id(in.Get("event_id"));
      cancellation->set_external_ref(in.Get("external_ref"));
      cancellation->set_customer_id(in.Get("customer_id"));
      cancellation->set_document_no(in.Get("document_no"));
      cancellation->set_order_no(in.Get("order_no"));
      if (!in.Amount("amount", currency, &present, cancellation->mutable_amount())) return false;
      if (!present) cancellation->clear_amount();
      std::optional<bool> is_return = ParseBool(in.Get("is_return"));
      if (!is_return.has_value()) {
        return in.Fail("is_return",
                       absl::StrCat("'", in.Get("is_return"), "' is not true or false"));
      }
      if (is_return_type && !in.Get("is_return").empty() && !*is_return) {
        return in.Fail("is_return", "a row of type return cannot say is_return=false");
      }
      cancellation->set_is_return(*is_return || is_return_type);
      if (!in.Time("occurred_at", &present, cancellation->mutable_occurred_at())) return false;
      if (!present) cancellation->clear_occurred_at();
      break;
    }
    case Kind::kPayment: {
      v1::PaymentEvent* payment = event->mutable_payment();
      payment->set_event_id(in.Get("event_id"));
      payment->set_external_ref(in.Get("external_ref"));
      payment->set_customer_id(in.Get("customer_id"));
      payment->set_payment_no(in.Get("document_no"));
      payment->set_order_no(in.Get("order_no"));
      if (!in.Amount("amount", currency, &present, payment->mutable_amount())) return false;
      if (!present) payment->clear_amount();
      if (!in.Time("occurred_at", &present, payment->mutable_occurred_at())) return false;
      if (!present) payment->clear_occurred_at();
      break;
    }
  }
  return true;
}

std::string ColumnForField(absl::string_view error_field) {
  std::vector<absl::string_view> parts = absl::StrSplit(error_field, '.');
  if (parts.size() < 2) return "";
  const absl::string_view kind = parts[0];
  const absl::string_view name = parts[1];
  if (parts.back() == "currency") return "currency";
  if (name == "order_no") return kind == "order" ? "document_no" : "order_no";
  if (name == "payment_no") return "document_no";
  if (name == "net_days" || name == "type") return "terms";
  for (const std::string& column : LedgerColumns()) {
    if (column == name) return column;
  }
  if (name == "terms") return "terms";
  return "";
}

const std::string& EventIdOf(const v1::LedgerEventInput& event) {
  switch (event.event_case()) {
    case v1::LedgerEventInput::kOrder:
      return event.order().event_id();
    case v1::LedgerEventInput::kCancellation:
      return event.cancellation().event_id();
    case v1::LedgerEventInput::kPayment:
      return event.payment().event_id();
    case v1::LedgerEventInput::EVENT_NOT_SET:
      break;
  }
  static const std::string kEmpty;
  return kEmpty;
}

absl::StatusOr<std::unique_ptr<LedgerReader>> NewCsvReader(std::istream& in,
                                                           const absl::TimeZone& business_zone) {
  auto reader = std::make_unique<CsvReader>(in, business_zone);
  TW_RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

std::unique_ptr<LedgerReader> NewJsonlReader(std::istream& in,
                                             const absl::TimeZone& business_zone) {
  return std::make_unique<JsonlReader>(in, business_zone);
}

std::string CsvHeaderLine() { return absl::StrCat(absl::StrJoin(LedgerColumns(), ","), "\n"); }

std::string EventToCsvLine(const v1::LedgerEventInput& event, const absl::TimeZone& business_zone) {
  std::map<std::string, std::string> values;
  auto money = [&](const char* column, const tierwise::type::v1::Money& m) {
    values[column] = FormatAmount(m.minor_units(), m.currency());
    if (!m.currency().empty()) values["currency"] = m.currency();
  };
  auto time = [&](const char* column, const google::protobuf::Timestamp& t) {
    values[column] = FormatTimestamp(t, business_zone);
  };
  switch (event.event_case()) {
    case v1::LedgerEventInput::kOrder: {
      const v1::OrderEvent& o = event.order();
      values = {{"type", "order"},
                {"event_id", o.event_id()},
                {"external_ref", o.external_ref()},
                {"customer_id", o.customer_id()},
                {"document_no", o.order_no()},
                {"product_line", o.product_line()},
                {"terms", FormatTerms(o.terms())}};
      if (o.has_amount()) money("amount", o.amount());
      if (o.has_margin()) money("margin", o.margin());
      if (o.has_cost()) money("cost", o.cost());
      if (o.has_occurred_at()) time("occurred_at", o.occurred_at());
      if (o.has_due_date()) time("due_date", o.due_date());
      if (o.has_invoiced_at()) time("invoiced_at", o.invoiced_at());
      break;
    }
    case v1::LedgerEventInput::kCancellation: {
      const v1::CancellationEvent& c = event.cancellation();
      values = {{"type", "cancellation"},
                {"event_id", c.event_id()},
                {"external_ref", c.external_ref()},
                {"customer_id", c.customer_id()},
                {"document_no", c.document_no()},
                {"order_no", c.order_no()},
                {"is_return", c.is_return() ? "true" : "false"}};
      if (c.has_amount()) money("amount", c.amount());
      if (c.has_occurred_at()) time("occurred_at", c.occurred_at());
      break;
    }
    case v1::LedgerEventInput::kPayment: {
      const v1::PaymentEvent& p = event.payment();
      values = {{"type", "payment"},
                {"event_id", p.event_id()},
                {"external_ref", p.external_ref()},
                {"customer_id", p.customer_id()},
                {"document_no", p.payment_no()},
                {"order_no", p.order_no()}};
      if (p.has_amount()) money("amount", p.amount());
      if (p.has_occurred_at()) time("occurred_at", p.occurred_at());
      break;
    }
    case v1::LedgerEventInput::EVENT_NOT_SET:
      break;
  }
  std::vector<std::string> fields;
  for (const std::string& column : LedgerColumns()) fields.push_back(CsvField(values[column]));
  return absl::StrCat(absl::StrJoin(fields, ","), "\n");
}

}  // namespace tierwise::cli
