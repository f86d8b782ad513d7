#pragma once
// Kafka framing: every request and response is `int32 size` followed by `size` bytes (header + body).
//
// The size prefix is untrusted; it is checked against a limit before any buffer is sized from it,
// so a connection can never make the broker reserve more than the limit. Kafka closes a connection
// on a bad size (InvalidReceiveException); callers should too.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/wire.h"

namespace sluice::kafka::protocol {

// Kafka's socket.request.max.bytes default (KafkaConfig.SocketRequestMaxBytesProp): 100 MiB.
inline constexpr int32_t default_max_frame_bytes = 100 * 1024 * 1024;
// The smallest request: api_key i16 + api_version i16 + correlation_id i32 (request header v0).
inline constexpr int32_t min_request_frame_bytes = 8;
inline constexpr size_t frame_prefix_bytes = 4;

// Checks a size prefix: invalid_frame when negative or below `min_size`, frame_too_large above `max_size`.
inline result<int32_t> check_frame_size(int32_t size, int32_t max_size = default_max_frame_bytes,
                                        int32_t min_size = min_request_frame_bytes) {
  if (size < 0 || size < min_size) {
    return fail(errc::invalid_frame, "frame size " + std::to_string(size));
  }
  if (size > max_size) {
    return fail(errc::frame_too_large,
                "frame size " + std::to_string(size) + " above the limit of " + std::to_string(max_size));
  }
  return size;
}

// The size prefix at the start of `prefix` (at least 4 bytes), checked.
inline result<int32_t> read_frame_size(std::string_view prefix, int32_t max_size = default_max_frame_bytes,
                                       int32_t min_size = min_request_frame_bytes) {
  reader r(prefix.substr(0, frame_prefix_bytes));
  const int32_t size = r.read_int32();
  SLUICE_TRY(r.status());
  return check_frame_size(size, max_size, min_size);
}

struct frame {
  std::string_view payload;  // header + body, a view into the buffer given to next_frame()
  size_t consumed = 0;       // prefix + payload: how far to advance the buffer
};

// The first complete frame in `buffer`; nullopt when more bytes are needed; an error when the size
// prefix is invalid (the connection should be closed).
inline result<std::optional<frame>> next_frame(std::string_view buffer,
                                               int32_t max_size = default_max_frame_bytes,
                                               int32_t min_size = min_request_frame_bytes) {
  if (buffer.size() < frame_prefix_bytes) return std::optional<frame>();
  SLUICE_TRY(const int32_t size, read_frame_size(buffer, max_size, min_size));
  const size_t total = frame_prefix_bytes + static_cast<size_t>(size);
  if (buffer.size() < total) return std::optional<frame>();
  return std::optional<frame>(frame{buffer.substr(frame_prefix_bytes, static_cast<size_t>(size)), total});
}

// Writing a frame: begin_frame() reserves the size prefix, end_frame() fills it in once the header
// and body are written.
inline size_t begin_frame(writer& w) {
  const size_t start = w.size();
  w.write_int32(0);
  return start;
}
inline void end_frame(writer& w, size_t start) {
  w.patch_int32(start, static_cast<int32_t>(w.size() - start - frame_prefix_bytes));
}

}  // namespace sluice::kafka::protocol
