// Fuzzes the worker's parser of bucket-event messages (worker/event.h), which
// reads whatever a Kafka topic holds. Input: a message value. Also checks
// the contract between the two sides of the pipeline: an event the notifier
// writes (events/event.h, object key and metadata taken from the input) is
// parsed by the worker back to the same bucket, key, size and event name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "events/event.h"
#include "worker/event.h"

namespace {

void check_parse(std::string_view value) {
  auto events = sluice::worker::parse_event(value);
  if (!events) return;
  if (events.value().empty() || events.value().size() > sluice::worker::kMaxRecords) abort();
  for (const auto& e : events.value()) {
    if (e.bucket.empty() || e.key.empty()) abort();
    (void)sluice::worker::message_key(e);
  }
}

void check_round_trip(std::string_view key) {
  // S3 object names: non-empty UTF-8, at most 1024 bytes.
  if (key.empty() || key.size() > 1024 || !sluice::is_valid_utf8(key)) return;
  sluice::events::event_args a;
  a.name = "s3:ObjectCreated:Put";
  a.bucket = "images";
  a.key = std::string(key);
  a.size = key.size() + 1;
  a.etag = "0123456789abcdef0123456789abcdef";
  a.user_metadata["X-Amz-Meta-Note"] = std::string(key);
  const std::string value = sluice::events::message_value(a);
  auto events = sluice::worker::parse_event(value);
  if (!events || events.value().size() != 1) abort();
  const auto& e = events.value().front();
  if (e.name != a.name || e.bucket != a.bucket || e.key != a.key || e.size != a.size) abort();
  if (sluice::worker::message_key(e) != "images/" + a.key) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_parse(input);
  check_round_trip(input);
  return 0;
}
