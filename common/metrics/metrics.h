#ifndef TIERWISE_COMMON_METRICS_METRICS_H_
#define TIERWISE_COMMON_METRICS_METRICS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

// A small Prometheus client: counters, gauges, histograms and callback gauges in a registry
// that renders the text exposition format 0.0.4 (served by common/metrics/http_exporter.h).
//
// Metrics are families with fixed label names; WithLabels() returns a child that lives as long
// as its registry (for Registry::Default(), the whole process), so hot paths look it up once
// and keep the reference. Updating a child is lock-free (relaxed atomics); WithLabels() and
// registration take a mutex and are meant for start-up or per-call-site caching.
//
//   auto& rpcs = tierwise::metrics::Registry::Default().RegisterCounter(
//       "tierwise_rpc_requests_total", "RPCs handled, by method and code.", {"method", "code"});
//   static auto& ok = rpcs.WithLabels({"GetCustomer", "OK"});
//   ok.Increment();
//
// Misuse is a programming error and aborts with a message naming the metric: an invalid metric
// or label name, re-registering a name with another type, other label names or other buckets,
// or calling WithLabels() with the wrong number of values.
namespace tierwise::metrics {

// A monotonic count. Increment(v) with an integral v (the usual 1) is a single fetch_add on an
// integer; fractional amounts go to a separate double updated with a compare-and-swap loop
// (std::atomic<double>::fetch_add). Value() is their sum, so whole counts stay exact up to 2^64
// and never pay for a CAS loop. Negative and NaN amounts are ignored (a counter never goes down).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(double amount = 1) {
    if (!(amount >= 0)) return;  // negative or NaN
    if (amount < 0x1p63) {
      const auto whole = static_cast<uint64_t>(amount);
      if (static_cast<double>(whole) == amount) {
        whole_.fetch_add(whole, std::memory_order_relaxed);
        return;
      }
    }
    fraction_.fetch_add(amount, std::memory_order_relaxed);
  }

  double Value() const;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0};
};

// A value that goes up and down. Set() is a store; Add() a compare-and-swap loop.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets (upper bounds inclusive, as Prometheus' `le`) and
// keeps their sum. Observe() is one fetch_add on the bucket plus a CAS loop on the sum; the
// count and the +Inf bucket are derived from the buckets at render time, so they always agree.
// NaN observations are dropped.
class Histogram {
 public:
  // `bounds`: strictly increasing finite upper bounds (+Inf is implicit).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Collect() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // bounds_.size() + 1 counters; the last one counts values above every bound.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// RPC latency buckets in seconds: 0.5 ms .. 10 s.
const std::vector<double>& DefaultLatencyBuckets();

// Orders label-value lists so that children can be found by absl::string_view without copying.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](absl::string_view x, absl::string_view y) { return x < y; });
  }
};

// The children of one metric name, one per combination of label values. Thread-safe.
template <typename T>
class Family {
 public:
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The child for these label values (in the order of label_names()), created on first use.
  // The reference stays valid as long as the registry. Aborts when the count is wrong.
  T& WithLabels(std::initializer_list<absl::string_view> values) {
    return WithLabels(absl::MakeConstSpan(values.begin(), values.size()));
  }
  T& WithLabels(absl::Span<const absl::string_view> values);
  T& WithLabels(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::vector<double> bounds);

  // Calls f(label_values, child) in label order, under the family lock.
  template <typename F>
  void ForEach(F f) const;

  const std::string name_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, LabelValuesLess> children_
      ABSL_GUARDED_BY(mu_);
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Label name/value pairs of one callback gauge series, e.g. {{"pool", "profile"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry;

// Keeps a callback gauge registered; destroying (or Reset()) removes the series. After that
// returns, the callback is not running and will not run again, so it may capture objects that
// die with the handle's owner. Movable.
class [[nodiscard]] CallbackGaugeHandle {
 public:
  CallbackGaugeHandle() = default;
  ~CallbackGaugeHandle() { Reset(); }
  CallbackGaugeHandle(CallbackGaugeHandle&& other) noexcept;
  CallbackGaugeHandle& operator=(CallbackGaugeHandle&& other) noexcept;

  void Reset();

 private:
  friend class Registry;
  CallbackGaugeHandle(Registry* registry, std::string name, std::vector<std::string> values)
      : registry_(registry), name_(std::move(name)), values_(std::move(values)) {}

  Registry* registry_ = nullptr;
  std::string name_;
  std::vector<std::string> values_;
};

// Owns metric families and renders them. Thread-safe: registration, updates and Render() may
// run concurrently. Families and children are never removed (callback gauges excepted), so
// references into a registry stay valid until it is destroyed.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry; never destroyed.
  static Registry& Default();

  // Returns the family called `name`, creating it on first call. A label-less family has its
  // single child from the start (rendered as 0 until updated); get it with WithLabels({}).
  CounterFamily& RegisterCounter(absl::string_view name, absl::string_view help,
                                 const std::vector<std::string>& label_names = {});
  GaugeFamily& RegisterGauge(absl::string_view name, absl::string_view help,
                             const std::vector<std::string>& label_names = {});
  // `bounds` as for Histogram; a trailing +Inf is accepted and dropped. `le` is reserved.
  HistogramFamily& RegisterHistogram(absl::string_view name, absl::string_view help,
                                     const std::vector<std::string>& label_names = {},
                                     const std::vector<double>& bounds = DefaultLatencyBuckets());

  // A gauge series whose value is read by calling `callback` during Render(). Several series
  // may share a name if they use the same label names in the same order; registering a series
  // (name and label values) that is already live aborts. The callback runs on the rendering
  // thread under a registry lock: it must be quick-ish, must not call into this registry, and
  // may return NaN when the value is unknown. A callback that throws is skipped.
  CallbackGaugeHandle RegisterCallbackGauge(absl::string_view name, absl::string_view help,
                                            const Labels& labels, std::function<double()> callback);

  // Every family in name order, children in label-value order, as text format 0.0.4. Families
  // with no series are left out.
  std::string Render() const;

 private:
  friend class CallbackGaugeHandle;
  enum class Kind : int;
  struct Entry;

  Entry& FindOrAdd(absl::string_view name, absl::string_view help, Kind kind,
                   const std::vector<std::string>& label_names, const std::vector<double>& bounds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveCallback(const std::string& name, const std::vector<std::string>& values);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

// Text-format helpers, exposed for the exporter and tests.
// A sample value: integers below 2^53 in full, other numbers in shortest round-trip form
// (fixed for 1e-4 <= |v| < 1e21, else exponent), and "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);
// A label value with backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view value);

}  // namespace tierwise::metrics

#endif  // TIERWISE_COMMON_METRICS_METRICS_H_
