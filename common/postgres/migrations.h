#ifndef TIERWISE_COMMON_POSTGRES_MIGRATIONS_H_
#define TIERWISE_COMMON_POSTGRES_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/postgres/pool.h"

namespace tierwise::postgres {

// One versioned SQL file, e.g. services/profile/migrations/001_customers.sql. The SQL uses
// unqualified names: it runs with search_path set to the service schema.
struct Migration {
  int version = 0;
  std::string name;
  std::string sql;
};

// Creates the pool's schema if needed and applies, in version order, every migration not yet
// recorded in <schema>.schema_migrations, all in one transaction under a transaction-scoped
// advisory lock keyed by the schema, so replicas starting together apply each migration once
// and a failed migration leaves nothing behind. A recorded migration whose SQL has changed
// since it was applied is FAILED_PRECONDITION. Returns how many were applied via *applied.
absl::Status ApplyMigrations(PgPool& pool, const std::vector<Migration>& migrations,
                             int* applied = nullptr);

// Stable 64-bit FNV-1a checksum of a migration's SQL, stored beside its version.
std::string MigrationChecksum(const std::string& sql);

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_MIGRATIONS_H_
