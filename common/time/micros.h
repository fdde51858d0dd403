#ifndef TIERWISE_COMMON_TIME_MICROS_H_
#define TIERWISE_COMMON_TIME_MICROS_H_

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <cstdint>

// Tierwise keeps instants as int64 microseconds since the Unix epoch below the gRPC layer
// (what PostgreSQL timestamptz holds) and converts at the edges.
namespace tierwise::time {

inline int64_t ToMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

inline void SetTimestamp(int64_t micros, google::protobuf::Timestamp* ts) {
  ts->set_seconds(micros / 1000000);
  ts->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tierwise::time

#endif  // TIERWISE_COMMON_TIME_MICROS_H_
