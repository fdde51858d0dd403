#ifndef TIERWISE_COMMON_SERVER_PERIODIC_TASK_H_
#define TIERWISE_COMMON_SERVER_PERIODIC_TASK_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace tierwise::server {

// Runs `task` every `interval` on its own thread until destruction; failures are logged and
// the next round runs as scheduled. Destruction waits for a running round to finish.
class PeriodicTask {
 public:
  PeriodicTask(std::string name, std::chrono::milliseconds interval,
               std::function<absl::Status()> task);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::function<absl::Status()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tierwise::server

#endif  // TIERWISE_COMMON_SERVER_PERIODIC_TASK_H_
