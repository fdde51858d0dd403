#include "common/log/log.h"

#include <atomic>
#include <memory>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace tierwise::log {
namespace {

std::atomic<bool> g_json{true};
std::string g_service = "tierwise";  // written by Init only, before serving

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>("tierwise",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Length of the well-formed UTF-8 sequence at s[i] (2-4), or 0 when it is not one.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (b >= 0xc2 && b <= 0xdf) {
    n = 2;
    cp = b & 0x1f;
  } else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    cp = b & 0x0f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not characters.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

// `s` as a JSON string literal. Every control character (C0, DEL, and the C1 range U+0080 to
// U+009F) is escaped, so a logged value can neither break the line nor drive a terminal (ANSI
// escape sequences); bytes that are not UTF-8 become U+FFFD, so the line stays valid JSON.
void AppendJsonString(std::string& out, absl::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (u < 0x20 || u == 0x7f) {
            absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
          } else {
            out.push_back(c);
          }
      }
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (n == 2 && u == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0) {
      absl::StrAppend(&out, "\\u00",
                      absl::Hex(static_cast<unsigned char>(s[i + 1]), absl::kZeroPad2));
      i += n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
}

// Text format: a value is written bare when it is plain printable ASCII without separators,
// else as a JSON string literal (escaped as above).
bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void AppendText(std::string& out, absl::string_view value) {
  if (NeedsQuotes(value)) {
    AppendJsonString(out, value);
  } else {
    out.append(value.data(), value.size());
  }
}

}  // namespace

std::string JsonQuote(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonString(out, text);
  return out;
}

void Init(absl::string_view level, absl::string_view format, absl::string_view service) {
  g_json = format != "text";
  g_service = std::string(service);
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  Logger().set_level(lvl);
  Logger().set_pattern(g_json ? "%v" : "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v",
                       spdlog::pattern_time_type::utc);
}

bool Enabled(Level level) { return Logger().should_log(ToSpd(level)); }

void Write(Level level, absl::string_view event, Fields fields) {
  auto& logger = Logger();
  const auto spd_level = ToSpd(level);
  if (!logger.should_log(spd_level)) return;
  std::string line;
  if (g_json) {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    absl::StrAppend(&line, "{\"ts_ms\":", ms, ",\"level\":\"",
                    spdlog::level::to_string_view(spd_level).data(), "\",\"service\":");
    AppendJsonString(line, g_service);
    line += ",\"event\":";
    AppendJsonString(line, event);
    for (const Field& f : fields) {
      line.push_back(',');
      AppendJsonString(line, f.key);
      line.push_back(':');
      AppendJsonString(line, f.value);
    }
    line.push_back('}');
  } else {
    AppendText(line, event);
    for (const Field& f : fields) {
      line.push_back(' ');
      AppendText(line, f.key);
      line.push_back('=');
      AppendText(line, f.value);
    }
  }
  logger.log(spd_level, "{}", line);
}

}  // namespace tierwise::log
