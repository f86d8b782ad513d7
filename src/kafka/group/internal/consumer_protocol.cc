#include "kafka/group/internal/consumer_protocol.h"

#include <cstdint>

namespace sluice::kafka::group::internal {

std::optional<std::vector<std::string>> subscription_topics(std::string_view b) {
  size_t pos = 0;
  auto read_be = [&](size_t n, uint32_t* v) {
    if (b.size() - pos < n) return false;
    *v = 0;
    for (size_t i = 0; i < n; ++i) *v = (*v << 8) | static_cast<uint8_t>(b[pos + i]);
    pos += n;
    return true;
  };
  uint32_t version = 0, count = 0;
  if (!read_be(2, &version) || static_cast<int16_t>(version) < 0) return std::nullopt;
  if (!read_be(4, &count) || static_cast<int32_t>(count) < 0) return std::nullopt;
  // Every topic takes at least 2 bytes: a bigger count is a lie (and must not
  // drive an allocation).
  if (count > (b.size() - pos) / 2) return std::nullopt;
  std::vector<std::string> topics;
  topics.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    if (!read_be(2, &len) || static_cast<int16_t>(len) < 0 || b.size() - pos < len) return std::nullopt;
    topics.emplace_back(b.substr(pos, len));
    pos += len;
  }
  return topics;
}

}  // namespace sluice::kafka::group::internal
