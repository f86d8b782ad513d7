#pragma once
// shared_bytes: an immutable run of bytes that shares ownership of the buffer
// it lies in. Slicing never copies, so many records can be views into the one
// buffer a read brought in; the buffer is freed with its last view.
//
// Built from a std::string it takes the string over (one small allocation for
// the owner, none for the bytes).
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace sluice {

class shared_bytes {
 public:
  shared_bytes() = default;
  // Takes `s` over.
  explicit shared_bytes(std::string s)
      : owner_(std::make_shared<const std::string>(std::move(s))), view_(*owner_) {}
  // A view into `owner`'s bytes; `view` must lie inside *owner.
  shared_bytes(std::shared_ptr<const std::string> owner, std::string_view view)
      : owner_(std::move(owner)), view_(view) {}

  const char* data() const { return view_.data(); }
  size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  std::string_view view() const { return view_; }
  operator std::string_view() const { return view_; }  // NOLINT(google-explicit-constructor)

  // [pos, pos + n) of these bytes, sharing the same owner.
  shared_bytes substr(size_t pos, size_t n = std::string_view::npos) const {
    return shared_bytes(owner_, view_.substr(pos, n));
  }
  // The whole buffer these bytes lie in (how much memory they keep alive).
  size_t owner_size() const { return owner_ ? owner_->size() : 0; }
  const std::shared_ptr<const std::string>& owner() const { return owner_; }

  friend bool operator==(const shared_bytes& a, std::string_view b) { return a.view_ == b; }
  friend std::ostream& operator<<(std::ostream& os, const shared_bytes& b) { return os << b.view_; }

 private:
  std::shared_ptr<const std::string> owner_;
  std::string_view view_;
};

}  // namespace sluice
