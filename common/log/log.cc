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

void AppendJsonString(std::string& out, absl::string_view s) {
  out.push_back('"');
  for (char c : s) {
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
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
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
    absl::StrAppend(&line, event);
    for (const Field& f : fields) {
      const bool quote = f.value.find_first_of(" \t\"=") != std::string::npos || f.value.empty();
      absl::StrAppend(&line, " ", f.key, "=");
      if (quote) {
        AppendJsonString(line, f.value);
      } else {
        line += f.value;
      }
    }
  }
  logger.log(spd_level, "{}", line);
}

}  // namespace tierwise::log
