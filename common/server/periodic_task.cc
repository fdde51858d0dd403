#include "common/server/periodic_task.h"

#include "common/log/log.h"

namespace tierwise::server {

PeriodicTask::PeriodicTask(std::string name, std::chrono::milliseconds interval,
                           std::function<absl::Status()> task)
    : name_(std::move(name)), interval_(interval), task_(std::move(task)) {
  thread_ = std::thread([this] {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, interval_, [&] { return stop_; })) return;
      }
      if (absl::Status s = task_(); !s.ok()) {
        log::Warn("periodic.failed", {{"task", name_}, {"error", s.ToString()}});
      }
    }
  });
}

PeriodicTask::~PeriodicTask() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tierwise::server
