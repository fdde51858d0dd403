#include "services/cli/env.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status/macros.h"

namespace tierwise::cli {
namespace {

bool IsValidKey(absl::string_view key) {
  if (key.empty() || absl::ascii_isdigit(key.front())) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

std::optional<std::string> ProcessGetenv(const std::string& key) {
  const char* value = std::getenv(key.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read env file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseEnvFile(absl::string_view content) {
  std::map<std::string, std::string> values;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::ConsumePrefix(&line, "export ");
    size_t eq = line.find('=');
    absl::string_view key = eq == absl::string_view::npos
                                ? line
                                : absl::StripTrailingAsciiWhitespace(line.substr(0, eq));
    if (eq == absl::string_view::npos || !IsValidKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("env file line ", line_number, ": expected KEY=value"));
    }
    absl::string_view value = absl::StripLeadingAsciiWhitespace(line.substr(eq + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      size_t close = value.find(value.front(), 1);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("env file line ", line_number, ": unterminated quote"));
      }
      value = value.substr(1, close - 1);
    } else if (size_t comment = value.find(" #"); comment != absl::string_view::npos) {
      value = absl::StripTrailingAsciiWhitespace(value.substr(0, comment));
    }
    values[std::string(key)] = std::string(value);
  }
  return values;
}

std::optional<std::filesystem::path> FindEnvFile(const std::filesystem::path& start) {
  std::error_code error;
  std::filesystem::path dir = std::filesystem::absolute(start, error);
  if (error) return std::nullopt;
  while (true) {
    std::filesystem::path candidate = dir / ".tierwise" / "local.env";
    if (std::filesystem::is_regular_file(candidate, error)) return candidate;
    if (!dir.has_parent_path() || dir.parent_path() == dir) return std::nullopt;
    dir = dir.parent_path();
  }
}

Environment::Environment(std::map<std::string, std::string> file_values, Getenv getenv)
    : file_values_(std::move(file_values)),
      getenv_(getenv ? std::move(getenv) : Getenv(ProcessGetenv)) {}

absl::StatusOr<Environment> Environment::Load(const std::optional<std::string>& explicit_path,
                                              Getenv getenv) {
  if (!getenv) getenv = ProcessGetenv;
  std::string path;
  if (explicit_path.has_value()) {
    path = *explicit_path;
  } else if (std::optional<std::string> from_env = getenv("TIERWISE_ENV_FILE");
             from_env.has_value() && !from_env->empty()) {
    path = *from_env;
  } else {
    std::error_code error;
    std::filesystem::path cwd = std::filesystem::current_path(error);
    if (!error) {
      if (std::optional<std::filesystem::path> found = FindEnvFile(cwd); found.has_value()) {
        path = found->string();
      }
    }
  }
  if (path.empty()) return Environment({}, std::move(getenv));

  TW_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
  absl::StatusOr<std::map<std::string, std::string>> values = ParseEnvFile(content);
  if (!values.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", values.status().message()));
  }
  Environment environment(*std::move(values), std::move(getenv));
  environment.file_ = path;
  return environment;
}

std::optional<std::string> Environment::Get(const std::string& key) const {
  if (std::optional<std::string> value = getenv_(key); value.has_value()) return value;
  auto it = file_values_.find(key);
  if (it == file_values_.end()) return std::nullopt;
  return it->second;
}

std::string Environment::GetOr(const std::string& key, absl::string_view fallback) const {
  std::optional<std::string> value = Get(key);
  return value.has_value() ? *value : std::string(fallback);
}

}  // namespace tierwise::cli
