#ifndef TIERWISE_COMMON_LOG_LOG_H_
#define TIERWISE_COMMON_LOG_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

// Structured logging on spdlog. Every line is one event name plus key=value fields, written as
// a JSON object (format "json", the default for containers) or as `event k=v ...` ("text").
// Never log personal or credit data: log ids, counts and codes.
//
//   tierwise::log::Info("rpc.done", {{"method", "GetCustomer"}, {"code", "OK"}});
namespace tierwise::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

struct Field {
  template <typename T>
  Field(absl::string_view k, const T& v) : key(k), value(absl::StrCat(v)) {}
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  Field(absl::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  std::string key;
  std::string value;
};
using Fields = std::initializer_list<Field>;

// Configures the process-wide logger (stderr). Safe to call more than once; not concurrently
// with logging. Unknown names fall back to info / json.
void Init(absl::string_view level, absl::string_view format, absl::string_view service);

void Write(Level level, absl::string_view event, Fields fields);

// Whether a line at `level` would be written: lets a hot path skip building its fields.
bool Enabled(Level level);

// `text` as a JSON string literal, quotes included (also used for the CLI's JSON output).
std::string JsonQuote(absl::string_view text);

inline void Debug(absl::string_view event, Fields fields = {}) {
  Write(Level::kDebug, event, fields);
}
inline void Info(absl::string_view event, Fields fields = {}) {
  Write(Level::kInfo, event, fields);
}
inline void Warn(absl::string_view event, Fields fields = {}) {
  Write(Level::kWarn, event, fields);
}
inline void Error(absl::string_view event, Fields fields = {}) {
  Write(Level::kError, event, fields);
}

}  // namespace tierwise::log

#endif  // TIERWISE_COMMON_LOG_LOG_H_
