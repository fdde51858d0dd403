#ifndef TIERWISE_SERVICES_CLI_DEMO_RANDOM_H_
#define TIERWISE_SERVICES_CLI_DEMO_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>

// Deterministic randomness for the demo generators: std::mt19937_64's sequence is fixed by the
// standard, the distributions here are ours (the standard library's differ between
// implementations), so a seed gives the same data on every platform.
namespace tierwise::demo {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n), n > 0, without modulo bias (rejects the short top range).
  uint64_t Below(uint64_t n) {
    uint64_t threshold = (0 - n) % n;
    while (true) {
      uint64_t value = engine_();
      if (value >= threshold) return value % n;
    }
  }
  // Uniform in [low, high].
  int Between(int low, int high) {
    return low + static_cast<int>(Below(static_cast<uint64_t>(high - low) + 1));
  }
  bool Percent(int percent) { return Below(100) < static_cast<uint64_t>(percent); }
  // An index drawn with the given relative weights.
  size_t Weighted(std::initializer_list<int> weights) {
    int total = 0;
    for (int weight : weights) total += weight;
    int point = static_cast<int>(Below(static_cast<uint64_t>(total)));
    size_t index = 0;
    for (int weight : weights) {
      if (point < weight) return index;
      point -= weight;
      ++index;
    }
    return weights.size() - 1;
  }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[Below(N)];
  }
  std::string Digits(int count) {
    std::string digits;
    for (int i = 0; i < count; ++i) digits += static_cast<char>('0' + Below(10));
    return digits;
  }

 private:
  std::mt19937_64 engine_;
};

// splitmix64: spreads (seed, index) into independent seeds, so that item i of a generated set
// does not depend on how many items are generated.
inline uint64_t MixSeed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace tierwise::demo

#endif  // TIERWISE_SERVICES_CLI_DEMO_RANDOM_H_
