// Slot files (slot_file.h).
#include "objstore/internal/slot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/endian/conversion.hpp>
#include <cerrno>
#include <cstring>

#include "base/crypto.h"
#include "base/fs.h"
#include "objstore/object_layer.h"

namespace sluice::objstore::detail {

namespace {

constexpr char kMagic[8] = {'S', 'L', 'S', 'L', 'O', 'T', '\0', '\1'};
// Readers retry when both slots fail their checks: each may have been caught
// mid-write by a writer that replaced the file twice during the read.
constexpr int kReadAttempts = 4;

std::string digest(std::string_view head24, std::string_view payload) {
  hasher h(hash_kind::xxh3_128);
  h.update(head24);
  h.update(payload);
  return h.finish();
}

// The slot at `offset` of `bytes`, when it is complete and its checks pass.
std::optional<slot_view> slot_at(std::string_view bytes, size_t offset, int index) {
  if (offset > bytes.size() || bytes.size() - offset < kSlotHeaderBytes) return std::nullopt;
  const char* p = bytes.data() + offset;
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) return std::nullopt;
  const uint32_t capacity = boost::endian::load_little_u32(reinterpret_cast<const unsigned char*>(p + 8));
  const uint32_t length = boost::endian::load_little_u32(reinterpret_cast<const unsigned char*>(p + 12));
  if (capacity < kSlotHeaderBytes || capacity % kSlotAlign != 0 || length > capacity - kSlotHeaderBytes) {
    return std::nullopt;
  }
  if (bytes.size() - offset - kSlotHeaderBytes < length) return std::nullopt;
  std::string_view payload(p + kSlotHeaderBytes, length);
  if (digest(std::string_view(p, 24), payload) != std::string_view(p + 24, 16)) return std::nullopt;
  const uint64_t generation = boost::endian::load_little_u64(reinterpret_cast<const unsigned char*>(p + 16));
  return slot_view{payload, generation, index, capacity};
}

result<void> pwrite_all(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno_error("write " + path, errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return ok();
}

}  // namespace

bool is_slot_file(std::string_view bytes) {
  return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

std::optional<slot_view> newest_slot(std::string_view bytes) {
  if (!is_slot_file(bytes)) return std::nullopt;
  // Slot 0's capacity says where slot 1 is; when slot 0 is torn, slot 1's
  // own header (at one of the capacities slot 0 may have had) cannot be
  // found that way, so try the plausible offsets: every multiple of 4096.
  auto s0 = slot_at(bytes, 0, 0);
  std::optional<slot_view> s1;
  if (s0) {
    s1 = slot_at(bytes, s0->capacity, 1);
  } else {
    for (size_t off = kSlotAlign; off < bytes.size() && !s1; off += kSlotAlign) {
      auto s = slot_at(bytes, off, 1);
      if (s && s->capacity == off) s1 = s;
    }
  }
  if (s0 && s1) return s1->generation > s0->generation ? s1 : s0;
  return s0 ? s0 : s1;
}

uint32_t slot_capacity_for(size_t payload_size) {
  const size_t need = kSlotHeaderBytes + payload_size;
  return static_cast<uint32_t>((need + kSlotAlign - 1) / kSlotAlign * kSlotAlign);
}

std::string encode_slot(std::string_view payload, uint64_t generation, uint32_t capacity) {
  std::string out(kSlotHeaderBytes, '\0');
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  auto* head = reinterpret_cast<unsigned char*>(out.data());
  boost::endian::store_little_u32(head + 8, capacity);
  boost::endian::store_little_u32(head + 12, static_cast<uint32_t>(payload.size()));
  boost::endian::store_little_u64(head + 16, generation);
  const std::string d = digest(std::string_view(out.data(), 24), payload);
  std::memcpy(out.data() + 24, d.data(), 16);
  out.append(payload);
  return out;
}

std::string new_slot_file(std::string_view payload) {
  return encode_slot(payload, 1, slot_capacity_for(payload.size()));
}

result<std::string> read_slot_file(const std::string& path) {
  for (int attempt = 0;; ++attempt) {
    SLUICE_TRY(auto bytes, fs::read_file(path));
    if (!is_slot_file(bytes)) return bytes;
    if (auto s = newest_slot(bytes)) {
      // The payload, moved to the front of the buffer it was read into.
      const size_t offset = static_cast<size_t>(s->payload.data() - bytes.data());
      bytes.resize(offset + s->payload.size());
      bytes.erase(0, offset);
      return bytes;
    }
    if (attempt + 1 == kReadAttempts) {
      return fail(errc::corrupt, path + ": no slot of the file passes its checks");
    }
  }
}

result<slot_write> write_slot_file(const std::string& path, std::string_view payload, int mode,
                                   const std::function<result<void>()>& before) {
  if (payload.size() > UINT32_MAX - 2 * kSlotAlign)
    return fail(errc::bad_argument, "slot file payload too large");
  uint64_t generation = 0;
  auto f = fs::file::open(path, O_RDWR);
  if (f) {
    auto size = f.value().size();
    if (!size) return fail(size.error());
    std::string bytes(size.value(), '\0');
    SLUICE_TRY(size_t n, f.value().pread(bytes.data(), bytes.size(), 0));
    bytes.resize(n);
    if (auto cur = newest_slot(bytes)) {
      generation = cur->generation;
      if (kSlotHeaderBytes + payload.size() <= cur->capacity) {
        // The other slot: slot 1 of a file that has only slot 0 is added.
        const uint64_t offset = cur->index == 0 ? cur->capacity : 0;
        if (before) {
          SLUICE_TRY(before());
        }
        SLUICE_TRY(
            pwrite_all(f.value().fd(), encode_slot(payload, generation + 1, cur->capacity), offset, path));
        SLUICE_TRY(f.value().sync());
        return slot_write::in_place;
      }
    }
  } else if (f.error().code() != std::error_code(ENOENT, std::system_category())) {
    return fail(f.error());
  }
  // A new file: missing, of the older format, without a valid slot, or too small.
  SLUICE_TRY(fs::write_file_durable(
      path, encode_slot(payload, generation + 1, slot_capacity_for(payload.size())), mode, before));
  return slot_write::new_file;
}

}  // namespace sluice::objstore::detail
