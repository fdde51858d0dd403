#include "services/cli/ledger_import.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;
using ::testing::HasSubstr;

constexpr char kHeader[] =
    "type,event_id,external_ref,document_no,order_no,amount,currency,occurred_at,margin,cost,"
    "product_line,terms,due_date,invoiced_at,is_return\n";

std::vector<LedgerRecord> ReadAll(LedgerReader& reader) {
  std::vector<LedgerRecord> records;
  LedgerRecord record;
  while (reader.Next(&record)) records.push_back(record);
  return records;
}

std::vector<LedgerRecord> ReadCsv(const std::string& text) {
  std::istringstream in(text);
  absl::StatusOr<std::unique_ptr<LedgerReader>> reader = NewCsvReader(in, absl::UTCTimeZone());
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  std::vector<LedgerRecord> records = ReadAll(**reader);
  EXPECT_EQ((*reader)->bytes_read(), static_cast<int64_t>(text.size()));
  return records;
}

std::string CsvHeaderError(const std::string& text) {
  std::istringstream in(text);
  absl::StatusOr<std::unique_ptr<LedgerReader>> reader = NewCsvReader(in, absl::UTCTimeZone());
  EXPECT_FALSE(reader.ok());
  return reader.ok() ? "" : std::string(reader.status().message());
}

std::vector<LedgerRecord> ReadJsonl(const std::string& text) {
  std::istringstream in(text);
  std::unique_ptr<LedgerReader> reader = NewJsonlReader(in, absl::UTCTimeZone());
  return ReadAll(*reader);
}

TEST(CsvReaderTest, ReadsOrdersCancellationsAndPayments) {
  std::vector<LedgerRecord> records = ReadCsv(
      absl::StrCat(kHeader,
                   "order,e1,ERP-C00001,SO-1,,\"1,234.50\",,2026-03-05,300.00,,spare-parts,net30,,"
                   "2026-03-07T10:00:00+08:00,\n",
                   "cancellation,e2,ERP-C00001,RT-1,SO-1,100,,2026-03-20,,,,,,,true\n",
                   "payment,e3,ERP-C00001,RC-1,SO-1,1134.5,cny,2026-04-01T09:00:00Z,,,,,,,false\n",
                   "return,e4,ERP-C00001,RT-2,SO-1,,,2026-04-02,,,,,,,\n"));
  ASSERT_EQ(records.size(), 4u);

  ASSERT_TRUE(records[0].event.has_value()) << records[0].error.message;
  EXPECT_EQ(records[0].line, 2);
  EXPECT_EQ(records[0].event_id, "e1");
  const v1::OrderEvent& order = records[0].event->order();
  EXPECT_EQ(order.event_id(), "e1");
  EXPECT_EQ(order.external_ref(), "ERP-C00001");
  EXPECT_EQ(order.order_no(), "SO-1");
  EXPECT_EQ(order.amount().minor_units(), 123450);
  EXPECT_EQ(order.amount().currency(), "CNY");
  EXPECT_EQ(order.margin().minor_units(), 30000);
  EXPECT_FALSE(order.has_cost());
  EXPECT_EQ(order.product_line(), "spare-parts");
  EXPECT_EQ(order.terms().type(), v1::PAYMENT_TERMS_TYPE_NET_DAYS);
  EXPECT_EQ(order.terms().net_days(), 30);
  EXPECT_EQ(order.occurred_at().seconds(), 1772668800);
  EXPECT_FALSE(order.has_due_date());
  EXPECT_EQ(order.invoiced_at().seconds(), 1772668800 + 2 * 86400 + 2 * 3600);

  ASSERT_TRUE(records[1].event.has_value()) << records[1].error.message;
  const v1::CancellationEvent& cancellation = records[1].event->cancellation();
  EXPECT_EQ(cancellation.document_no(), "RT-1");
  EXPECT_EQ(cancellation.order_no(), "SO-1");
  EXPECT_EQ(cancellation.amount().minor_units(), 10000);
  EXPECT_TRUE(cancellation.is_return());

  ASSERT_TRUE(records[2].event.has_value()) << records[2].error.message;
  const v1::PaymentEvent& payment = records[2].event->payment();
  EXPECT_EQ(payment.payment_no(), "RC-1");
  EXPECT_EQ(payment.order_no(), "SO-1");
  EXPECT_EQ(payment.amount().minor_units(), 113450);
  EXPECT_EQ(payment.amount().currency(), "CNY");

  // "return" is a cancellation with is_return; no amount = the whole rest of the order.
  ASSERT_TRUE(records[3].event.has_value()) << records[3].error.message;
  EXPECT_TRUE(records[3].event->cancellation().is_return());
  EXPECT_FALSE(records[3].event->cancellation().has_amount());
}

TEST(CsvReaderTest, ADateWithoutTimeIsThatDayInTheBusinessTimeZone) {
  absl::TimeZone shanghai;
  ASSERT_TRUE(absl::LoadTimeZone("Asia/Shanghai", &shanghai));
  std::istringstream in(absl::StrCat(kHeader,
                                     "order,e1,ERP-C00001,SO-1,,100,,2026-03-01,,,,net30,"
                                     "2026-03-31,2026-03-01T23:59:00+08:00,\n"));
  absl::StatusOr<std::unique_ptr<LedgerReader>> reader = NewCsvReader(in, shanghai);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<LedgerRecord> records = ReadAll(**reader);
  ASSERT_EQ(records.size(), 1u);
  ASSERT_TRUE(records[0].event.has_value()) << records[0].error.message;
  const v1::OrderEvent& order = records[0].event->order();
  // 2026-03-01 00:00 in Shanghai is 2026-02-28T16:00:00Z, not 2026-03-01T00:00:00Z.
  EXPECT_EQ(order.occurred_at().seconds(), 1772294400);
  EXPECT_EQ(order.due_date().seconds(), 1772294400 + 30 * 86400);
  // A time with an offset stays what it says: the last minute of the same local day.
  EXPECT_EQ(order.invoiced_at().seconds(), 1772294400 + 86400 - 60);
  // Written back in the same zone, the dates stay dates.
  const std::string line = EventToCsvLine(*records[0].event, shanghai);
  EXPECT_NE(line.find(",2026-03-01,"), std::string::npos) << line;
  EXPECT_NE(line.find(",2026-03-31,"), std::string::npos) << line;
}

TEST(CsvReaderTest, BadRowsComeBackWithTheirLineAndColumn) {
  std::vector<LedgerRecord> records = ReadCsv(absl::StrCat(
      kHeader,
      "order,ok1,ERP-C00001,SO-1,,10,,2026-03-05,,,,,,,\n",                     // line 2
      "order,bad-amount,ERP-C00001,SO-2,,12.345,,2026-03-05,,,,,,,\n",          // 3
      "\n",                                                                     // 4: blank, skipped
      "refund,bad-type,ERP-C00001,X-1,,10,,2026-03-05,,,,,,,\n",                // 5
      "order,short,ERP-C00001,SO-3\n",                                          // 6
      "payment,stray,ERP-C00001,RC-1,,10,,2026-03-05,,,,net30,,,\n",            // 7
      "order,bad-date,ERP-C00001,SO-4,,10,,2026-02-30,,,,,,,\n",                // 8
      "order,bad-terms,ERP-C00001,SO-5,,10,,2026-03-05,,,,net 30 days,,,\n",    // 9
      "cancellation,bad-bool,ERP-C00001,CX-1,SO-1,,,2026-03-05,,,,,,,maybe\n",  // 10
      ",no-type,ERP-C00001,SO-6,,10,,2026-03-05,,,,,,,\n",                      // 11
      "order,neg,ERP-C00001,SO-7,,-5.00,,2026-03-05,,,,,,,\n",  // 12: the server's call
      ",,,,,,,,,,,,,,\n",                                       // 13: empty, skipped
      "order,ok2,ERP-C00001,SO-8,,10,,2026-03-05,,,,,,,\n"));   // 14
  ASSERT_EQ(records.size(), 11u);
  struct Expected {
    int line;
    std::string event_id;
    std::string column;  // "" = converted
    std::string message;
  };
  const std::vector<Expected> expected = {
      {2, "ok1", "", ""},
      {3, "bad-amount", "amount", "at most 2 decimals"},
      {5, "bad-type", "type", "unknown type 'refund'"},
      {6, "short", "csv", "4 fields, but the header has 15"},
      {7, "stray", "terms", "does not apply to a payment"},
      {8, "bad-date", "occurred_at", "not a time"},
      {9, "bad-terms", "terms", "days must be a whole number"},
      {10, "bad-bool", "is_return", "not true or false"},
      {11, "no-type", "type", "is required"},
      {12, "neg", "", ""},
      {14, "ok2", "", ""},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].event_id);
    EXPECT_EQ(records[i].line, expected[i].line);
    EXPECT_EQ(records[i].event_id, expected[i].event_id);
    if (expected[i].column.empty()) {
      EXPECT_TRUE(records[i].event.has_value()) << records[i].error.message;
    } else {
      EXPECT_FALSE(records[i].event.has_value());
      EXPECT_EQ(records[i].error.column, expected[i].column);
      EXPECT_THAT(records[i].error.message, HasSubstr(expected[i].message));
    }
  }
  EXPECT_EQ(records[9].event->order().amount().minor_units(), -500);
}

TEST(CsvReaderTest, QuotesBomCrlfAndMultiLineFields) {
  std::vector<LedgerRecord> records = ReadCsv(
      "\xEF\xBB\xBF"
      "Event_ID , TYPE,external_ref,document_no,amount,occurred_at,product_line\r\n"
      "e1,order,ERP-C00001,SO-1,\"1,000\",2026-03-05,\"line \"\"A\"\", part 1\r\npart 2\"\r\n"
      "e2,order,ERP-C00001,SO-2,5,2026-03-05,\"unclosed\r\n"
      "e3,order,ERP-C00001,SO-3,5,2026-03-05,x\r\n");
  ASSERT_EQ(records.size(), 2u);
  ASSERT_TRUE(records[0].event.has_value()) << records[0].error.message;
  EXPECT_EQ(records[0].line, 2);
  EXPECT_EQ(records[0].event->order().amount().minor_units(), 100000);
  EXPECT_EQ(records[0].event->order().product_line(), "line \"A\", part 1\npart 2");
  // The open quote swallows the rest of the file: one broken record, starting at line 4.
  EXPECT_EQ(records[1].line, 4);
  EXPECT_FALSE(records[1].event.has_value());
  EXPECT_EQ(records[1].error.column, "csv");
  EXPECT_THAT(records[1].error.message, HasSubstr("not closed"));

  records = ReadCsv(
      "type,event_id,external_ref,document_no\n"
      "order,e1,ERP-C00001,\"SO-1\"x\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].error.column, "csv");
  EXPECT_THAT(records[0].error.message, HasSubstr("text after a closing quote"));
}

TEST(CsvReaderTest, HeaderProblemsStopTheFile) {
  EXPECT_THAT(CsvHeaderError(""), HasSubstr("empty"));
  EXPECT_THAT(CsvHeaderError("\n\n"), HasSubstr("empty"));
  EXPECT_THAT(CsvHeaderError("type,event_id,external_ref,ammount\n"),
              HasSubstr("unknown column 'ammount'"));
  EXPECT_THAT(CsvHeaderError("type,event_id,external_ref,type\n"), HasSubstr("appears twice"));
  EXPECT_THAT(CsvHeaderError("type,external_ref\n"), HasSubstr("no 'event_id' column"));
  EXPECT_THAT(CsvHeaderError("type,event_id,amount\n"), HasSubstr("'external_ref' or a"));
}

TEST(CsvReaderTest, OrderNumberMayComeInOrderNo) {
  std::vector<LedgerRecord> records = ReadCsv(
      "type,event_id,customer_id,order_no,document_no\n"
      "order,e1,0b9e7a43-3c1c-4a43-9d7e-1f2a3b4c5d6e,SO-9,\n"
      "order,e2,0b9e7a43-3c1c-4a43-9d7e-1f2a3b4c5d6e,SO-9,SO-10\n");
  ASSERT_EQ(records.size(), 2u);
  ASSERT_TRUE(records[0].event.has_value());
  EXPECT_EQ(records[0].event->order().order_no(), "SO-9");
  EXPECT_EQ(records[0].event->order().customer_id(), "0b9e7a43-3c1c-4a43-9d7e-1f2a3b4c5d6e");
  EXPECT_EQ(records[1].error.column, "order_no");
}

TEST(JsonlReaderTest, FlatObjectsAndLedgerEventInputs) {
  std::vector<LedgerRecord> records = ReadJsonl(
      R"({"type":"order","event_id":"j1","external_ref":"ERP-C00002","document_no":"SO-1",)"
      R"("amount":1234.5,"occurred_at":"2026-03-05","terms":"monthly+15","margin":"1,000.00"})"
      "\n\n"
      R"({"type":"payment","event_id":"j2","external_ref":"ERP-C00002","document_no":"RC-1",)"
      R"("amount":"0.29","occurred_at":"2026-04-01","order_no":null})"
      "\n"
      R"({"payment":{"event_id":"j3","external_ref":"ERP-C00002","payment_no":"RC-2",)"
      R"("amount":{"minor_units":"500","currency":"CNY"},"occurred_at":"2026-04-02T00:00:00Z"}})"
      "\n"
      R"({"type":"order","event_id":"j4","amount":1e3})"
      "\n"
      R"({"type":"order","event_id":"j5","amount":{"x":1}})"
      "\n"
      R"({"type":"order","event_id":"j6","colour":"red"})"
      "\n"
      R"({"type":"order", "event_id":"j7",)"
      "\n"
      R"({"order":{"event_id":"j8","no_such_field":1}})"
      "\n"
      R"({"type":"cancellation","event_id":"j9","external_ref":"ERP-C00002","document_no":"CX",)"
      R"("order_no":"SO-1","is_return":true,"occurred_at":"2026-04-03","note":"\u4e2d"})"
      "\n");
  ASSERT_EQ(records.size(), 9u);
  ASSERT_TRUE(records[0].event.has_value()) << records[0].error.message;
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[0].event->order().amount().minor_units(), 123450);
  EXPECT_EQ(records[0].event->order().margin().minor_units(), 100000);
  EXPECT_EQ(records[0].event->order().terms().net_days(), 15);

  ASSERT_TRUE(records[1].event.has_value()) << records[1].error.message;
  EXPECT_EQ(records[1].line, 3);
  EXPECT_EQ(records[1].event->payment().amount().minor_units(), 29);
  EXPECT_EQ(records[1].event->payment().order_no(), "");

  ASSERT_TRUE(records[2].event.has_value()) << records[2].error.message;
  EXPECT_EQ(records[2].event_id, "j3");
  EXPECT_EQ(records[2].event->payment().amount().minor_units(), 500);

  EXPECT_EQ(records[3].event_id, "j4");
  EXPECT_EQ(records[3].error.column, "amount");
  EXPECT_EQ(records[4].error.column, "amount");
  EXPECT_THAT(records[4].error.message, HasSubstr("string, number or boolean"));
  EXPECT_EQ(records[5].error.column, "colour");
  EXPECT_EQ(records[6].line, 8);
  EXPECT_EQ(records[6].error.column, "json");
  EXPECT_EQ(records[7].error.column, "json");
  EXPECT_THAT(records[7].error.message, HasSubstr("not a LedgerEventInput"));
  EXPECT_EQ(records[8].error.column, "note");
}

TEST(LedgerCsvWriterTest, WrittenRowsReadBackAsTheSameEvents) {
  std::vector<LedgerRecord> original = ReadCsv(absl::StrCat(
      kHeader,
      "order,e1,ERP-C00001,\"SO,1\",,1234.56,,2026-03-05T02:00:00Z,100,,spare-parts,monthly+15,"
      "2026-05-15,2026-03-07,\n",
      "order,e2,ERP-C00001,SO-2,,99,,2026-03-05,,50.5,,,,,\n",
      "cancellation,e3,ERP-C00001,CX-1,SO-2,,,2026-03-06,,,,,,,false\n",
      "payment,e4,ERP-C00001,RC-1,,0.01,,2026-03-07,,,,,,,\n"));
  ASSERT_EQ(original.size(), 4u);
  std::string csv = CsvHeaderLine();
  for (const LedgerRecord& record : original) {
    ASSERT_TRUE(record.event.has_value()) << record.error.message;
    csv += EventToCsvLine(*record.event, absl::UTCTimeZone());
  }
  std::vector<LedgerRecord> again = ReadCsv(csv);
  ASSERT_EQ(again.size(), original.size());
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_TRUE(again[i].event.has_value()) << again[i].error.message;
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(*again[i].event, *original[i].event))
        << again[i].event->DebugString() << " vs " << original[i].event->DebugString();
  }
  EXPECT_THAT(csv, HasSubstr("\"SO,1\""));
}

TEST(ColumnForFieldTest, MapsServerFieldsToColumns) {
  EXPECT_EQ(ColumnForField("order.amount.minor_units"), "amount");
  EXPECT_EQ(ColumnForField("order.amount.currency"), "currency");
  EXPECT_EQ(ColumnForField("order.order_no"), "document_no");
  EXPECT_EQ(ColumnForField("cancellation.order_no"), "order_no");
  EXPECT_EQ(ColumnForField("payment.payment_no"), "document_no");
  EXPECT_EQ(ColumnForField("payment.occurred_at"), "occurred_at");
  EXPECT_EQ(ColumnForField("order.terms.net_days"), "terms");
  EXPECT_EQ(ColumnForField("order.external_ref"), "external_ref");
  EXPECT_EQ(ColumnForField("event"), "");
}

TEST(InputFormatTest, FromNamesAndPaths) {
  EXPECT_EQ(*ParseInputFormat("CSV"), InputFormat::kCsv);
  EXPECT_EQ(*ParseInputFormat("jsonl"), InputFormat::kJsonl);
  EXPECT_FALSE(ParseInputFormat("xlsx").ok());
  EXPECT_EQ(FormatFromPath("a/b/ledger.CSV"), InputFormat::kCsv);
  EXPECT_EQ(FormatFromPath("x.ndjson"), InputFormat::kJsonl);
  EXPECT_EQ(FormatFromPath("x.txt"), std::nullopt);
}

}  // namespace
}  // namespace tierwise::cli
