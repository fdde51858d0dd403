#include "services/cli/ledger_ingest.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "services/cli/output.h"

namespace tierwise::cli {
namespace {

namespace v1 = ::tierwise::credit::v1;
using Clock = std::chrono::steady_clock;

// Batches sent but not answered yet. A few keep the server busy while the next one travels;
// more would only hold memory.
constexpr size_t kWindow = 4;

// Where a sent event came from.
struct RowRef {
  int64_t seq = 0;  // input order, for sorting the report
  std::string file;
  int line = 0;
};

struct Batch {
  std::vector<RowRef> rows;
  int64_t units_done = 0;  // the source's progress after its last record
};

// The server's message without a leading "<field>: " (the field is reported on its own).
std::string Reason(const v1::IngestResult& result) {
  absl::string_view message = result.error_message();
  const std::string prefix = absl::StrCat(result.error_field(), ": ");
  if (!result.error_field().empty() && absl::StartsWith(message, prefix)) {
    message.remove_prefix(prefix.size());
  }
  return std::string(message);
}

std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  if (total >= 3600) {
    return absl::StrFormat("%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  }
  return absl::StrFormat("%d:%02d", total / 60, total % 60);
}

// A one-line progress bar redrawn in place (carriage return), at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::ostream* out, int64_t total) : out_(out), total_(total), start_(Clock::now()) {}

  void Update(int64_t records, int64_t units_done, bool force = false) {
    if (out_ == nullptr) return;
    const Clock::time_point now = Clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string line;
    if (total_ > 0) {
      const double fraction = std::clamp(static_cast<double>(units_done) / total_, 0.0, 1.0);
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      line = absl::StrFormat("[%s%s] %3d%%  ", std::string(filled, '#'),
                             std::string(kWidth - filled, '-'), static_cast<int>(fraction * 100));
      absl::StrAppend(&line, GroupThousands(records), " events");
      if (elapsed > 0) {
        absl::StrAppend(&line, "  ", GroupThousands(static_cast<int64_t>(records / elapsed)), "/s");
      }
      if (fraction > 0 && fraction < 1) {
        absl::StrAppend(&line, "  ETA ", FormatDuration(elapsed * (1 - fraction) / fraction));
      }
    } else {
      line = absl::StrCat(GroupThousands(records), " events");
      if (elapsed > 0) {
        absl::StrAppend(&line, "  ", GroupThousands(static_cast<int64_t>(records / elapsed)), "/s");
      }
    }
    *out_ << "\r" << line << "\033[K" << std::flush;
    drawn_ = true;
  }

  void Erase() {
    if (out_ != nullptr && drawn_) *out_ << "\r\033[K" << std::flush;
  }

 private:
  std::ostream* out_;
  const int64_t total_;
  const Clock::time_point start_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

// The state the writer (calling thread), the reader and the watchdog share. Methods named
// *Locked need `mu` held.
class Tally {
 public:
  Tally(std::ostream* progress, int64_t total) : bar_(progress, total) {}

  std::mutex mu;
  std::condition_variable changed;
  std::deque<Batch> in_flight ABSL_GUARDED_BY(mu);
  bool reader_done ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;  // the writer is through: the watchdog may stop
  bool timed_out ABSL_GUARDED_BY(mu) = false;
  grpc::Status protocol_error ABSL_GUARDED_BY(mu);
  Clock::time_point last_answer ABSL_GUARDED_BY(mu) = Clock::now();
  IngestSummary summary ABSL_GUARDED_BY(mu);
  std::vector<std::pair<int64_t, RejectedRow>> rejected ABSL_GUARDED_BY(mu);  // (seq, row)
  int64_t units_done ABSL_GUARDED_BY(mu) = 0;

  void RejectLocked(int64_t seq, RejectedRow row) {
    ++summary.rejected;
    rejected.emplace_back(seq, std::move(row));
  }

  void DrawLocked(bool force = false) { bar_.Update(summary.lines, units_done, force); }
  void EraseLocked() { bar_.Erase(); }

  // Books one answered batch; false when the answer does not match it.
  bool AnswerLocked(const v1::IngestEventsResponse& response) {
    if (in_flight.empty()) {
      protocol_error =
          grpc::Status(grpc::StatusCode::INTERNAL, "the server answered a batch that was not sent");
      return false;
    }
    Batch batch = std::move(in_flight.front());
    in_flight.pop_front();
    if (static_cast<size_t>(response.results_size()) != batch.rows.size()) {
      protocol_error =
          grpc::Status(grpc::StatusCode::INTERNAL,
                       absl::StrCat("the server answered a batch of ", batch.rows.size(),
                                    " events with ", response.results_size(), " results"));
      return false;
    }
    for (size_t i = 0; i < batch.rows.size(); ++i) {
      const v1::IngestResult& result = response.results(static_cast<int>(i));
      const RowRef& row = batch.rows[i];
      ++summary.lines;
      if (result.duplicate() && result.outcome() != v1::INGEST_OUTCOME_REJECTED) {
        ++summary.duplicate;
        continue;
      }
      switch (result.outcome()) {
        case v1::INGEST_OUTCOME_APPLIED:
          ++summary.applied;
          break;
        case v1::INGEST_OUTCOME_PARKED:
          ++summary.parked;
          break;
        default: {
          RejectedRow rejected_row{
              .file = row.file,
              .line = row.line,
              .event_id = result.event_id(),
              .field = result.error_field(),
              .column = ColumnForField(result.error_field()),
              .reason = result.outcome() == v1::INGEST_OUTCOME_REJECTED
                            ? Reason(result)
                            : absl::StrCat("unknown outcome ", result.outcome()),
              .source = "server"};
          RejectLocked(row.seq, std::move(rejected_row));
        }
      }
    }
    units_done = std::max(units_done, batch.units_done);
    last_answer = Clock::now();
    return true;
  }

 private:
  ProgressBar bar_ ABSL_GUARDED_BY(mu);
};

}  // namespace

std::string GroupThousands(int64_t value) {
  const std::string text = absl::StrCat(value);
  const size_t sign = value < 0 ? 1 : 0;
  std::string out = text.substr(0, sign);
  const size_t digits = text.size() - sign;
  for (size_t i = 0; i < digits; ++i) {
    if (i > 0 && (digits - i) % 3 == 0) out += ',';
    out += text[sign + i];
  }
  return out;
}

std::string IngestSummary::ToJson() const {
  return absl::StrFormat(R"({"applied":%d,"duplicate":%d,"parked":%d,"rejected":%d,"lines":%d})",
                         applied, duplicate, parked, rejected, lines);
}

std::string RejectedRow::ToJson() const {
  return absl::StrCat("{\"file\":", JsonQuote(file), ",\"line\":", line,
                      ",\"event_id\":", JsonQuote(event_id), ",\"field\":", JsonQuote(field),
                      ",\"column\":", JsonQuote(column), ",\"reason\":", JsonQuote(reason),
                      ",\"source\":", JsonQuote(source), "}");
}

IngestRun IngestRecords(v1::LedgerIngestService::StubInterface& stub, grpc::ClientContext& context,
                        RecordSource& source, const IngestOptions& options) {
  Tally tally(options.progress, source.total());
  const size_t batch_size = static_cast<size_t>(std::clamp(options.batch_size, 1, 5000));

  // Nothing to send: no call (whose only effect would be a permission check).
  LedgerRecord record;
  std::string origin;
  int64_t seq = 0;
  bool have_record = false;
  while (!have_record && source.Next(&record, &origin)) {
    ++seq;
    if (record.event.has_value()) {
      have_record = true;
      break;
    }
    std::lock_guard<std::mutex> lock(tally.mu);
    ++tally.summary.lines;
    tally.RejectLocked(seq, RejectedRow{.file = origin,
                                        .line = record.line,
                                        .event_id = record.event_id,
                                        .field = record.error.column,
                                        .column = record.error.column,
                                        .reason = record.error.message,
                                        .source = "cli"});
  }

  IngestRun run;
  if (have_record) {
    std::unique_ptr<
        grpc::ClientReaderWriterInterface<v1::IngestEventsRequest, v1::IngestEventsResponse>>
        stream = stub.IngestEvents(&context);

    std::thread reader([&] {
      v1::IngestEventsResponse response;
      while (stream->Read(&response)) {
        std::lock_guard<std::mutex> lock(tally.mu);
        if (!tally.AnswerLocked(response)) {
          context.TryCancel();
          break;
        }
        tally.DrawLocked();
        tally.changed.notify_all();
      }
      std::lock_guard<std::mutex> lock(tally.mu);
      tally.reader_done = true;
      tally.changed.notify_all();
    });

    // Cancels the call when a batch stays unanswered too long (the writer may be blocked in
    // Write then, and the reader in Read).
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock(tally.mu);
      while (!tally.finished) {
        tally.changed.wait_for(lock, std::chrono::milliseconds(200));
        if (tally.reader_done || tally.in_flight.empty()) continue;
        if (Clock::now() - tally.last_answer > options.batch_timeout) {
          tally.timed_out = true;
          context.TryCancel();
          return;
        }
      }
    });

    v1::IngestEventsRequest request;
    Batch batch;
    // Sends the batch being built; false when the call is over.
    auto flush = [&]() -> bool {
      if (request.events_size() == 0) return true;
      {
        std::unique_lock<std::mutex> lock(tally.mu);
        tally.changed.wait(lock,
                           [&] { return tally.reader_done || tally.in_flight.size() < kWindow; });
        if (tally.reader_done) return false;
        if (tally.in_flight.empty()) tally.last_answer = Clock::now();
        batch.units_done = source.done();
        tally.in_flight.push_back(std::move(batch));
      }
      batch = Batch();
      const bool written = stream->Write(request);
      request.Clear();
      return written;
    };

    bool open = true;
    while (open) {
      if (!have_record) {
        if (!source.Next(&record, &origin)) break;
        ++seq;
      }
      have_record = false;
      if (!record.event.has_value()) {
        std::lock_guard<std::mutex> lock(tally.mu);
        ++tally.summary.lines;
        tally.RejectLocked(seq, RejectedRow{.file = origin,
                                            .line = record.line,
                                            .event_id = record.event_id,
                                            .field = record.error.column,
                                            .column = record.error.column,
                                            .reason = record.error.message,
                                            .source = "cli"});
        continue;
      }
      *request.add_events() = std::move(*record.event);
      batch.rows.push_back(RowRef{seq, origin, record.line});
      if (static_cast<size_t>(request.events_size()) >= batch_size) open = flush();
    }
    if (open) open = flush();
    if (open) stream->WritesDone();
    reader.join();
    {
      std::lock_guard<std::mutex> lock(tally.mu);
      tally.finished = true;
      tally.changed.notify_all();
    }
    watchdog.join();
    run.status = stream->Finish();
    std::lock_guard<std::mutex> lock(tally.mu);
    if (!tally.protocol_error.ok()) {
      run.status = tally.protocol_error;
    } else if (tally.timed_out) {
      run.status =
          grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                       absl::StrFormat("no answer to a batch within %.1f s (--timeout)",
                                       static_cast<double>(options.batch_timeout.count()) / 1000));
    } else if (run.status.ok() && !tally.in_flight.empty()) {
      run.status = grpc::Status(grpc::StatusCode::INTERNAL,
                                absl::StrCat("the server ended the call with ",
                                             tally.in_flight.size(), " batches unanswered"));
    }
  }

  std::lock_guard<std::mutex> lock(tally.mu);
  if (run.status.ok()) tally.DrawLocked(/*force=*/true);
  tally.EraseLocked();
  run.summary = tally.summary;
  std::stable_sort(tally.rejected.begin(), tally.rejected.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [unused, row] : tally.rejected) run.rejected.push_back(std::move(row));
  return run;
}

}  // namespace tierwise::cli
