#pragma once
// strong<T, Tag>: a value of T that does not mix with other T's of another Tag.
#include <compare>
#include <functional>
#include <utility>

namespace sluice {

template <class T, class Tag>
class strong {
 public:
  using value_type = T;
  constexpr strong() = default;
  constexpr explicit strong(T v) : v_(std::move(v)) {}
  constexpr const T& value() const { return v_; }
  constexpr T& value() { return v_; }
  friend constexpr auto operator<=>(const strong&, const strong&) = default;
  friend constexpr bool operator==(const strong&, const strong&) = default;

 private:
  T v_{};
};

}  // namespace sluice

template <class T, class Tag>
struct std::hash<sluice::strong<T, Tag>> {
  size_t operator()(const sluice::strong<T, Tag>& s) const { return std::hash<T>{}(s.value()); }
};
