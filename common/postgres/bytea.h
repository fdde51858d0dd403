#ifndef TIERWISE_COMMON_POSTGRES_BYTEA_H_
#define TIERWISE_COMMON_POSTGRES_BYTEA_H_

#include <pqxx/pqxx>
#include <string>

// Serialized protobuf messages in bytea columns (libpqxx 6).
namespace tierwise::postgres {

// A bytea parameter holding `bytes`.
inline pqxx::binarystring Bytes(const std::string& bytes) {
  return pqxx::binarystring(bytes.data(), bytes.size());
}

// The message stored in a bytea field; an empty message when it does not parse.
template <typename Message>
Message ParseBytea(const pqxx::field& field) {
  Message m;
  m.ParseFromString(pqxx::binarystring(field).str());
  return m;
}

}  // namespace tierwise::postgres

#endif  // TIERWISE_COMMON_POSTGRES_BYTEA_H_
