#ifndef TIERWISE_SERVICES_CLI_LEDGER_IMPORT_H_
#define TIERWISE_SERVICES_CLI_LEDGER_IMPORT_H_

#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tierwise/credit/v1/credit.pb.h"

// Reading the ERP's orders, cancellations and payments from CSV and JSON Lines files into
// LedgerEventInput messages (what `tierwise import` sends), and writing them back as CSV. No
// I/O beyond the streams handed in; see deploy/sample/README.md for the columns.
//
// The columns (CSV header names, JSON keys), any order, names case-insensitive:
//   type          order | cancellation | payment (| return: a cancellation with is_return)
//   event_id      unique across all events; the server ignores a repeated one
//   external_ref  the ERP customer code, or
//   customer_id   the Tierwise customer id (one of the two)
//   document_no   the order number / payment number / cancellation or return note number
//   order_no      the order a cancellation reduces or a payment settles (orders: may stand in
//                 for an empty document_no)
//   amount        decimal, see ParseAmount (cancellations: empty = the whole remaining order)
//   currency      ISO 4217, default CNY
//   occurred_at   RFC 3339 or YYYY-MM-DD (00:00 of that day in the business time zone)
//   margin, cost  orders: gross margin or cost, decimals like amount
//   product_line  orders
//   terms         orders: prepaid, net30, monthly, monthly+15 (empty: the account's terms)
//   due_date, invoiced_at  orders: times like occurred_at
//   is_return     cancellations: true/false (also 1/0, yes/no)
// A column that does not apply to the row's type must be empty (is_return may say false).
namespace tierwise::cli {

enum class InputFormat { kCsv, kJsonl };

// "csv", "jsonl" (also "ndjson", "json"). InvalidArgument otherwise.
absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name);
// From the file name's extension (.csv; .jsonl, .ndjson, .json), nullopt when it says nothing.
std::optional<InputFormat> FormatFromPath(absl::string_view path);

// The column names above, in the order the CSV writer uses.
const std::vector<std::string>& LedgerColumns();

// Why a row could not be turned into an event. `column` is a column name ("amount"), or
// "csv"/"json" for a row that is not well-formed at all.
struct RowError {
  std::string column;
  std::string message;
};

// One row as column -> value (values trimmed; missing columns read as "").
using LedgerRow = std::map<std::string, std::string>;

// Converts a row to an event. Checks what the server cannot see (the syntax of amounts, times,
// terms and booleans, the type, stray values in columns that do not apply) and leaves the rest
// (required fields, positive amounts, known customers) to the server, so that its answer names
// the field. On error returns false and fills `*error`.
bool RowToEvent(const LedgerRow& row, const absl::TimeZone& business_zone,
                tierwise::credit::v1::LedgerEventInput* event, RowError* error);

// The CSV column a server error field such as "order.amount.minor_units" or
// "payment.payment_no" came from ("amount", "document_no"); "" when none does.
std::string ColumnForField(absl::string_view error_field);

// The event_id of an event, whatever its kind.
const std::string& EventIdOf(const tierwise::credit::v1::LedgerEventInput& event);

// One record of an input file.
struct LedgerRecord {
  int line = 0;          // where the record starts (1-based; a CSV header is line 1)
  std::string event_id;  // as far as it could be read ("" when not)
  std::optional<tierwise::credit::v1::LedgerEventInput> event;  // set when the row converted
  RowError error;                                               // why not, when `event` is unset
};

// Reads records one by one. Not thread-safe.
class LedgerReader {
 public:
  virtual ~LedgerReader() = default;
  // The next record; false at the end of the input. Blank lines are skipped.
  virtual bool Next(LedgerRecord* record) = 0;
  // Bytes consumed so far (for progress).
  virtual int64_t bytes_read() const = 0;
};

// A CSV reader (RFC 4180: comma-separated, fields in double quotes may hold commas, quotes as ""
// and line breaks; CRLF or LF; a UTF-8 byte order mark is skipped). Reads the header at once:
// InvalidArgument naming the problem for an empty input, an unknown or repeated column, or a
// header without type, event_id and external_ref or customer_id. Rows with another number of
// fields than the header, or a broken quote, come back as records with a "csv" error.
absl::StatusOr<std::unique_ptr<LedgerReader>> NewCsvReader(std::istream& in,
                                                           const absl::TimeZone& business_zone);

// A JSON Lines reader: one object per line, either flat with the column names as keys (values
// are strings, numbers — read digit by digit, never as floating point — booleans or null), or a
// LedgerEventInput in protobuf JSON ({"order": {...}}, {"payment": {...}}, ...).
std::unique_ptr<LedgerReader> NewJsonlReader(std::istream& in, const absl::TimeZone& business_zone);

// CSV output in the import format: the header line, and one line per event (both end in "\n").
std::string CsvHeaderLine();
std::string EventToCsvLine(const tierwise::credit::v1::LedgerEventInput& event,
                           const absl::TimeZone& business_zone);

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_LEDGER_IMPORT_H_
