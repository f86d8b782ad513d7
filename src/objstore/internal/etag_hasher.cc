#include "objstore/internal/etag_hasher.h"

#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#include <xxh_x86dispatch.h>  // XXH3 updates use the widest SIMD the CPU has (see erasure/bitrot.cc)
#else
#include <xxhash.h>
#endif

#include <optional>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::objstore {

struct etag_hasher::impl {
  std::optional<hasher> md5;
  XXH3_state_t* xxh = nullptr;

  ~impl() {
    if (xxh) XXH3_freeState(xxh);
  }
};

etag_hasher::etag_hasher(bool md5) : impl_(std::make_unique<impl>()) {
  if (md5) {
    impl_->md5.emplace(hash_kind::md5);
  } else {
    impl_->xxh = XXH3_createState();
    if (!impl_->xxh) throw std::bad_alloc();
    XXH3_128bits_reset(impl_->xxh);
  }
}

etag_hasher::etag_hasher(etag_hasher&&) noexcept = default;
etag_hasher& etag_hasher::operator=(etag_hasher&&) noexcept = default;
etag_hasher::~etag_hasher() = default;

void etag_hasher::update(std::string_view data) {
  if (impl_->md5) {
    impl_->md5->update(data);
  } else {
    XXH3_128bits_update(impl_->xxh, data.data(), data.size());
  }
}

std::string etag_hasher::finish_hex() {
  if (impl_->md5) return to_hex(impl_->md5->finish());
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits_digest(impl_->xxh));
  return to_hex(std::string_view(reinterpret_cast<const char*>(c.digest), sizeof(c.digest)));
}

}  // namespace sluice::objstore
