#pragma once
// A heap buffer aligned for O_DIRECT (offsets, lengths and memory on block
// boundaries). Contents are uninitialised.
#include <cstdlib>
#include <new>

namespace sluice {

class aligned_buffer {
 public:
  aligned_buffer() = default;
  aligned_buffer(size_t n, size_t align) { reset(n, align); }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  aligned_buffer(aligned_buffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      std::free(p_);
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  ~aligned_buffer() { std::free(p_); }
  char* data() const { return p_; }
  size_t capacity() const { return n_; }
  // Makes room for n bytes (rounded up to the alignment); contents are lost when it grows.
  void reset(size_t n, size_t align) {
    n = (n + align - 1) / align * align;
    if (n == n_) return;
    std::free(p_);
    p_ = static_cast<char*>(std::aligned_alloc(align, n));
    if (!p_) throw std::bad_alloc();
    n_ = n;
  }
  void reserve(size_t n, size_t align) {
    if (n > n_) reset(n, align);
  }

 private:
  char* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace sluice
