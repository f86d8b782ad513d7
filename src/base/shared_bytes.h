#pragma once
// shared_bytes: an immutable run of bytes that shares ownership of the buffer
// it lies in. Slicing never copies, so many records can be views into the one
// buffer a read brought in; the buffer is freed with its last view.
//
// Built from a std::string it takes the string over (one allocation for the
// owner, none for the bytes); any other buffer can own views through
// byte_owner.
//
// unique_bytes: bytes nobody else sees yet, so their holder may still change
// them in place (the stream engine stamps a Kafka batch's base offset), then
// shares them as shared_bytes without a copy. They may lie in a buffer shared
// with other bytes (base/byte_arena.h), never overlapping them.
#include <cstddef>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// The buffer that views keep alive; freed with the last view.
class byte_owner {
 public:
  virtual ~byte_owner() = default;
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;  // bytes held (memory accounting)
};

// A std::string as a byte_owner.
class string_owner final : public byte_owner {
 public:
  explicit string_owner(std::string s) : s_(std::move(s)) {}
  const char* data() const override { return s_.data(); }
  size_t size() const override { return s_.size(); }
  char* writable() { return s_.data(); }

 private:
  std::string s_;
};

class shared_bytes {
 public:
  shared_bytes() = default;
  // Takes `s` over.
  explicit shared_bytes(std::string s) {
    auto o = std::make_shared<string_owner>(std::move(s));
    view_ = std::string_view(o->data(), o->size());
    owner_ = std::move(o);
  }
  // A view into `owner`'s bytes; `view` must lie inside *owner.
  shared_bytes(std::shared_ptr<const byte_owner> owner, std::string_view view)
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
  const std::shared_ptr<const byte_owner>& owner() const { return owner_; }

  friend bool operator==(const shared_bytes& a, std::string_view b) { return a.view_ == b; }
  friend std::ostream& operator<<(std::ostream& os, const shared_bytes& b) { return os << b.view_; }

 private:
  std::shared_ptr<const byte_owner> owner_;
  std::string_view view_;
};

class unique_bytes {
 public:
  unique_bytes() = default;
  // Takes `s` over.
  explicit unique_bytes(std::string s) {
    auto o = std::make_shared<string_owner>(std::move(s));
    data_ = o->writable();
    size_ = o->size();
    owner_ = std::move(o);
  }
  // [data, data + size) inside *owner, handed to no one else.
  unique_bytes(std::shared_ptr<const byte_owner> owner, char* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  unique_bytes(unique_bytes&& o) noexcept
      : owner_(std::move(o.owner_)),
        data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)) {}
  unique_bytes& operator=(unique_bytes&& o) noexcept {
    owner_ = std::move(o.owner_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }
  unique_bytes(const unique_bytes&) = delete;
  unique_bytes& operator=(const unique_bytes&) = delete;

  char* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<char> span() { return {data_, size_}; }
  std::string_view view() const { return {data_, size_}; }

  // Gives the bytes up for sharing; this is empty afterwards.
  shared_bytes share() && {
    std::string_view v(data_, size_);
    data_ = nullptr;
    size_ = 0;
    return shared_bytes(std::move(owner_), v);
  }

 private:
  std::shared_ptr<const byte_owner> owner_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sluice
