#include "common/metrics/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tierwise::metrics {
namespace {

static_assert(std::atomic<double>::is_always_lock_free, "metric updates must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "metric updates must be lock-free");

[[noreturn]] void Fatal(absl::string_view message) {
  const std::string line = absl::StrCat("tierwise::metrics: ", message, "\n");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, and names starting with "__" are reserved for Prometheus.
bool ValidLabelName(absl::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Describe(absl::string_view name, const std::vector<std::string>& label_names) {
  return absl::StrCat(name, "{", absl::StrJoin(label_names, ","), "}");
}

// One sample line: name{k="v",...[,extra_name="extra_value"]} value
void AppendSample(std::string* out, absl::string_view name, absl::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, absl::string_view extra_name,
                  absl::string_view extra_value, double value) {
  absl::StrAppend(out, name, suffix);
  if (!label_names.empty() || !extra_name.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out->push_back(',');
      absl::StrAppend(out, label_names[i], "=\"", EscapeLabelValue(label_values[i]), "\"");
    }
    if (!extra_name.empty()) {
      if (!label_names.empty()) out->push_back(',');
      absl::StrAppend(out, extra_name, "=\"", extra_value, "\"");
    }
    out->push_back('}');
  }
  absl::StrAppend(out, " ", FormatValue(value), "\n");
}

}  // namespace

// --- Children -----------------------------------------------------------------------------

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // First bound >= value: bounds are inclusive upper limits; past the end is the +Inf bucket.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot s;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const auto* const kBuckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

// --- Families -----------------------------------------------------------------------------

template <typename T>
Family<T>::Family(std::string name, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : name_(std::move(name)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

template <typename T>
T& Family<T>::WithLabels(absl::Span<const absl::string_view> values) {
  if (values.size() != label_names_.size()) {
    Fatal(absl::StrCat("metric ", Describe(name_, label_names_), " takes ", label_names_.size(),
                       " label values, got ", values.size(), " (", absl::StrJoin(values, ","),
                       ")"));
  }
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<T> child;
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
    it = children_.emplace(std::vector<std::string>(values.begin(), values.end()), std::move(child))
             .first;
  }
  return *it->second;
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  std::vector<absl::string_view> views(values.begin(), values.end());
  return WithLabels(absl::MakeConstSpan(views));
}

template <typename T>
template <typename F>
void Family<T>::ForEach(F f) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [values, child] : children_) f(values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry -----------------------------------------------------------------------------

enum class Registry::Kind : int { kCounter, kGauge, kHistogram, kCallbackGauge };

namespace {
const char* KindName(int kind) {
  static constexpr const char* kNames[] = {"counter", "gauge", "histogram", "callback gauge"};
  return kNames[kind];
}
}  // namespace

struct Registry::Entry {
  Kind kind;
  std::string help;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  // Callback gauges: label values -> callback (guarded by Registry::mu_).
  std::map<std::vector<std::string>, std::function<double()>> callbacks;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* const kRegistry = new Registry();
  return *kRegistry;
}

Registry::Entry& Registry::FindOrAdd(absl::string_view name, absl::string_view help, Kind kind,
                                     const std::vector<std::string>& label_names,
                                     const std::vector<double>& bounds) {
  if (!ValidMetricName(name)) {
    Fatal(absl::StrCat("invalid metric name '", name, "' (want [a-zA-Z_:][a-zA-Z0-9_:]*)"));
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!ValidLabelName(label)) {
      Fatal(absl::StrCat("metric ", name, ": invalid label name '", label,
                         "' (want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"));
    }
    if (kind == Kind::kHistogram && label == "le") {
      Fatal(absl::StrCat("metric ", name, ": label 'le' is reserved for histogram buckets"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (label_names[j] == label) {
        Fatal(absl::StrCat("metric ", name, ": label '", label, "' appears twice"));
      }
    }
  }

  auto it = entries_.find(name);
  if (it != entries_.end()) {
    Entry& e = *it->second;
    if (e.kind != kind) {
      Fatal(absl::StrCat("metric ", name, " registered as a ", KindName(static_cast<int>(e.kind)),
                         ", now as a ", KindName(static_cast<int>(kind))));
    }
    if (e.label_names != label_names) {
      Fatal(absl::StrCat("metric ", name, " registered with labels ", Describe(name, e.label_names),
                         ", now with ", Describe(name, label_names)));
    }
    if (e.bounds != bounds) {
      Fatal(absl::StrCat("histogram ", name, " registered with buckets [",
                         absl::StrJoin(e.bounds, ","), "], now with [", absl::StrJoin(bounds, ","),
                         "]"));
    }
    return e;
  }

  auto entry = std::make_unique<Entry>();
  entry->kind = kind;
  entry->help = std::string(help);
  entry->label_names = label_names;
  entry->bounds = bounds;
  const std::string key(name);
  switch (kind) {
    case Kind::kCounter:
      entry->counters.reset(new CounterFamily(key, label_names, {}));
      if (label_names.empty()) entry->counters->WithLabels({});
      break;
    case Kind::kGauge:
      entry->gauges.reset(new GaugeFamily(key, label_names, {}));
      if (label_names.empty()) entry->gauges->WithLabels({});
      break;
    case Kind::kHistogram:
      entry->histograms.reset(new HistogramFamily(key, label_names, bounds));
      if (label_names.empty()) entry->histograms->WithLabels({});
      break;
    case Kind::kCallbackGauge:
      break;
  }
  return *entries_.emplace(key, std::move(entry)).first->second;
}

CounterFamily& Registry::RegisterCounter(absl::string_view name, absl::string_view help,
                                         const std::vector<std::string>& label_names) {
  absl::MutexLock lock(&mu_);
  return *FindOrAdd(name, help, Kind::kCounter, label_names, {}).counters;
}

GaugeFamily& Registry::RegisterGauge(absl::string_view name, absl::string_view help,
                                     const std::vector<std::string>& label_names) {
  absl::MutexLock lock(&mu_);
  return *FindOrAdd(name, help, Kind::kGauge, label_names, {}).gauges;
}

HistogramFamily& Registry::RegisterHistogram(absl::string_view name, absl::string_view help,
                                             const std::vector<std::string>& label_names,
                                             const std::vector<double>& bounds) {
  std::vector<double> finite = bounds;
  if (!finite.empty() && std::isinf(finite.back()) && finite.back() > 0) finite.pop_back();
  for (size_t i = 0; i < finite.size(); ++i) {
    if (!std::isfinite(finite[i]) || (i > 0 && !(finite[i - 1] < finite[i]))) {
      Fatal(absl::StrCat("histogram ", name,
                         ": buckets must be finite and strictly increasing, got [",
                         absl::StrJoin(bounds, ","), "]"));
    }
  }
  absl::MutexLock lock(&mu_);
  return *FindOrAdd(name, help, Kind::kHistogram, label_names, finite).histograms;
}

CallbackGaugeHandle Registry::RegisterCallbackGauge(absl::string_view name, absl::string_view help,
                                                    const Labels& labels,
                                                    std::function<double()> callback) {
  std::vector<std::string> label_names;
  std::vector<std::string> values;
  for (const auto& [label, value] : labels) {
    label_names.push_back(label);
    values.push_back(value);
  }
  absl::MutexLock lock(&mu_);
  Entry& e = FindOrAdd(name, help, Kind::kCallbackGauge, label_names, {});
  if (!e.callbacks.emplace(values, std::move(callback)).second) {
    Fatal(absl::StrCat("callback gauge ", name, "{", absl::StrJoin(values, ","),
                       "} is already registered"));
  }
  return CallbackGaugeHandle(this, std::string(name), std::move(values));
}

void Registry::RemoveCallback(const std::string& name, const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) it->second->callbacks.erase(values);
}

std::string Registry::Render() const {
  std::string out;
  std::string body;
  // Exclusive, so that a callback never runs after RemoveCallback() returns and never runs
  // concurrently with itself.
  absl::MutexLock lock(&mu_);
  for (const auto& [name, entry] : entries_) {
    const Entry& e = *entry;
    body.clear();
    const char* type = "gauge";
    switch (e.kind) {
      case Kind::kCounter:
        type = "counter";
        e.counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
          AppendSample(&body, name, "", e.label_names, values, "", "", c.Value());
        });
        break;
      case Kind::kGauge:
        e.gauges->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          AppendSample(&body, name, "", e.label_names, values, "", "", g.Value());
        });
        break;
      case Kind::kHistogram: {
        type = "histogram";
        std::vector<std::string> le;
        for (double bound : e.bounds) le.push_back(FormatValue(bound));
        le.push_back("+Inf");
        e.histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
          const Histogram::Snapshot s = h.Collect();
          for (size_t i = 0; i < s.cumulative.size(); ++i) {
            AppendSample(&body, name, "_bucket", e.label_names, values, "le", le[i],
                         static_cast<double>(s.cumulative[i]));
          }
          AppendSample(&body, name, "_sum", e.label_names, values, "", "", s.sum);
          AppendSample(&body, name, "_count", e.label_names, values, "", "",
                       static_cast<double>(s.count));
        });
        break;
      }
      case Kind::kCallbackGauge:
        for (const auto& [values, callback] : e.callbacks) {
          double value;
          try {
            value = callback();
          } catch (...) {
            continue;  // no sample is better than a made-up one
          }
          AppendSample(&body, name, "", e.label_names, values, "", "", value);
        }
        break;
    }
    if (body.empty()) continue;
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(e.help), "\n# TYPE ", name, " ", type,
                    "\n", body);
  }
  return out;
}

// --- Callback gauge handle ----------------------------------------------------------------

CallbackGaugeHandle::CallbackGaugeHandle(CallbackGaugeHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)),
      name_(std::move(other.name_)),
      values_(std::move(other.values_)) {}

CallbackGaugeHandle& CallbackGaugeHandle::operator=(CallbackGaugeHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    name_ = std::move(other.name_);
    values_ = std::move(other.values_);
  }
  return *this;
}

void CallbackGaugeHandle::Reset() {
  if (registry_ == nullptr) return;
  registry_->RemoveCallback(name_, values_);
  registry_ = nullptr;
}

// --- Text format --------------------------------------------------------------------------

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::fabs(value) < 0x1p53 && value == std::trunc(value)) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // Shortest text that reads back as the same double; fixed notation where that is readable,
  // as Prometheus' own clients do (0.0005, not 5e-04).
  const double magnitude = std::fabs(value);
  const auto format = (magnitude >= 1e-4 && magnitude < 1e21) ? std::chars_format::fixed
                                                              : std::chars_format::scientific;
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value, format);
  return std::string(buf, result.ptr);
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace tierwise::metrics
