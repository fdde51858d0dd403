#include "common/postgres/migrations.h"

#include <algorithm>
#include <cstdint>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace tierwise::postgres {

std::string MigrationChecksum(const std::string& sql) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : sql) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return absl::StrCat(absl::Hex(hash, absl::kZeroPad16));
}

absl::Status ApplyMigrations(PgPool& pool, const std::vector<Migration>& migrations, int* applied) {
  std::vector<Migration> ordered = migrations;
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i].version == ordered[i - 1].version) {
      return absl::InvalidArgumentError(
          absl::StrCat("two migrations share version ", ordered[i].version));
    }
  }
  const std::string& schema = pool.options().schema;
  int count = 0;
  absl::Status status = pool.Transact([&](pqxx::work& tx) -> absl::Status {
    count = 0;
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                   absl::StrCat("tierwise.migrate.", schema));
    const std::string quoted = tx.quote_name(schema);
    tx.exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", quoted));
    tx.exec(absl::StrCat("SET LOCAL search_path TO ", quoted, ", public"));
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    std::map<int, std::string> done;
    for (const auto& row : tx.exec("SELECT version, checksum FROM schema_migrations")) {
      done[row["version"].as<int>()] = row["checksum"].as<std::string>();
    }
    for (const Migration& m : ordered) {
      const std::string checksum = MigrationChecksum(m.sql);
      if (auto it = done.find(m.version); it != done.end()) {
        if (it->second != checksum) {
          return absl::FailedPreconditionError(absl::StrCat("migration ", m.version, " (", m.name,
                                                            ") changed after it was applied"));
        }
        continue;
      }
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     m.version, m.name, checksum);
      ++count;
    }
    return absl::OkStatus();
  });
  if (status.ok()) {
    log::Info("migrations.done", {{"schema", schema}, {"applied", count}});
    if (applied != nullptr) *applied = count;
  }
  return status;
}

}  // namespace tierwise::postgres
