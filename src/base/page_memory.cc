#include "base/page_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

namespace sluice {

page_memory::page_memory(size_t n) : n_(n) {
  if (n == 0) throw std::bad_alloc();
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const bool huge = n >= kHugePage;
  const size_t align = huge ? kHugePage : page;
  mapped_ = (n + align - 1) / align * align;
  // Map with room to align the start, then give the slack back.
  const size_t span = huge ? mapped_ + kHugePage : mapped_;
  void* m = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<char*>(m);
  if (huge) {
    const auto addr = reinterpret_cast<uintptr_t>(base);
    const size_t head = (kHugePage - addr % kHugePage) % kHugePage;
    if (head > 0) ::munmap(base, head);
    const size_t tail = span - head - mapped_;
    if (tail > 0) ::munmap(base + head + mapped_, tail);
    base += head;
    (void)::madvise(base, mapped_, MADV_HUGEPAGE);  // advice: ignored where THP is off
  }
  p_ = base;
}

void page_memory::prefault() {
  if (p_ == nullptr) return;
  if (::madvise(p_, mapped_, MADV_POPULATE_WRITE) == 0) return;
  // Kernels before 5.14: touch a byte of every page (the memory is ours and
  // its contents are unspecified until written).
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  for (size_t i = 0; i < mapped_; i += page) static_cast<volatile char*>(p_)[i] = 0;
}

void page_memory::release() noexcept {
  if (p_ != nullptr) ::munmap(p_, mapped_);
  p_ = nullptr;
  n_ = mapped_ = 0;
}

}  // namespace sluice
