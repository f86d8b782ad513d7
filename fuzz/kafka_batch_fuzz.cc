// Fuzzes record data parsing: v2 batch validation and record decoding, legacy message sets and both
// conversions. Batches that validate must survive the broker's in-place header updates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kafka/protocol/record_batch.h"

using namespace sluice::kafka::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  batch_checks checks;
  checks.produce_version = static_cast<int16_t>(mode % 11) - 1;
  checks.from_client = mode & 0x10;
  checks.check_records = mode & 0x20;
  checks.max_batch_bytes = (mode & 0x40) ? 256 : default_max_batch_bytes;
  if (auto batches = validate_batches(input, checks)) {
    for (const batch_view& b : batches.value()) {
      if (auto recs = decode_records(b)) {
        for (const record_view& r : recs.value()) (void)record_timestamp(b.header, r);
      }
      std::string copy(b.bytes);
      if (!assign_offsets(copy, 12345, 6) || !set_log_append_time(copy, 777)) abort();
      batch_checks stored = checks;
      stored.from_client = false;
      stored.produce_version = -1;
      auto again = validate_batches(copy, stored);
      if (!again || again.value().size() != 1 || again.value()[0].header.base_offset != 12345) abort();
    }
  }
  (void)parse_legacy_message_set(input, 1 << 16);
  if (auto converted = convert_legacy_to_v2(input, 1 << 16)) {
    batch_checks fresh;
    fresh.max_batch_bytes = SIZE_MAX;
    if (!validate_batches(converted.value(), fresh)) abort();
  }
  (void)convert_v2_to_legacy(input, static_cast<int8_t>(mode & 1));
  return 0;
}
