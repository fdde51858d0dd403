#ifndef TIERWISE_COMMON_POSTGRES_TEXT_ARRAY_H_
#define TIERWISE_COMMON_POSTGRES_TEXT_ARRAY_H_

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

// libpqxx 6 cannot bind a std::vector: text[] values travel as array literals.
namespace tierwise::postgres {

// {"a","b \"c\""}: every element quoted and escaped, so any text round-trips.
std::string ToTextArray(const std::vector<std::string>& values);

// {1,NULL,3}: an integer[] / bigint[] literal, nullopt elements as NULL.
std::string ToIntArray(const std::vector<std::optional<int64_t>>& values);
std::string ToIntArray(const std::vector<int64_t>& values);
// {t,f}: a boolean[] literal.
std::string ToBoolArray(const std::vector<bool>& values);

// Parses a text[] field; NULL and {} give an empty vector, NULL elements are skipped.
std::vector<std::string> FromTextArray(const pqxx::field& field);

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_TEXT_ARRAY_H_
