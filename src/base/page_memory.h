#pragma once
// page_memory: a large buffer mapped straight from the kernel, 2 MiB aligned
// and marked for transparent huge pages (MADV_HUGEPAGE) when it is at least
// that big, so the kernel can back it with huge pages where THP is enabled
// ("always" or "madvise"); elsewhere it is ordinary anonymous memory.
//
// Why: first touches of fresh memory cost a page fault per 4 KiB page, and on
// the VMs Sluice is measured on a fault costs ~12 µs: zero-filling 1 MiB of
// fresh pages took 3.5–9 ms, a stall in the produce path every time the byte
// arena took a new chunk. With huge pages the same first touch runs at ~11
// GB/s instead of ~330 MB/s (docs/BENCHMARKS.md, "Stream engine", runs of 2026-11-24
// 15:55–16:30). For buffers that live long and are reused (arena chunks, I/O
// buffers), not for small or short-lived allocations.
//
// Contents are zero at first (fresh anonymous pages), faulted in on first use.
#include <cstddef>
#include <utility>

namespace sluice {

class page_memory {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  page_memory() = default;
  // n bytes (at least 1); throws std::bad_alloc when the mapping fails.
  explicit page_memory(size_t n);
  page_memory(page_memory&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), mapped_(std::exchange(o.mapped_, 0)) {}
  page_memory& operator=(page_memory&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      mapped_ = std::exchange(o.mapped_, 0);
    }
    return *this;
  }
  page_memory(const page_memory&) = delete;
  page_memory& operator=(const page_memory&) = delete;
  ~page_memory() { release(); }

  char* data() const { return p_; }
  size_t size() const { return n_; }

  // Faults every page in now (writable), so that first writes later do not
  // stall on page faults.
  void prefault();

 private:
  void release() noexcept;

  char* p_ = nullptr;
  size_t n_ = 0;       // what was asked for
  size_t mapped_ = 0;  // what is mapped at p_ (n_ rounded up to pages)
};

}  // namespace sluice
