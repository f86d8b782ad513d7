// Fuzzes the NotificationConfiguration parser and the event JSON writer.
// Input: a NotificationConfiguration document. Invariants checked: a document
// that parses stores as one that parses again to the same document; event
// JSON built from arbitrary bytes (the input as key, metadata, user agent) is
// pure ASCII.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/event.h"
#include "events/rules.h"

using namespace sluice::events;

namespace {

void check_ascii(const std::string& json) {
  for (unsigned char c : json) {
    if (c >= 0x80 || c < 0x20) abort();
  }
}

void check_rules(std::string_view xml) {
  auto any = [](const arn&) { return true; };
  auto set = rule_set::parse(xml, any, "us-east-1");
  (void)rule_set::parse(
      xml, [](const arn&) { return false; }, "");
  if (!set) return;
  std::string stored = set.value().to_xml();
  auto again = rule_set::parse(stored, any, "us-east-1");
  if (!again || again.value().to_xml() != stored) abort();
  (void)set.value().match("s3:ObjectCreated:Put", xml.substr(0, 64));
  (void)set.value().wants("s3:ObjectRemoved:Delete");
}

void check_event_json(std::string_view input) {
  event_args e;
  e.name = "s3:ObjectCreated:Put";
  e.bucket = "bucket";
  e.key = std::string(input);
  e.user_metadata[std::string(input.substr(0, 16))] = std::string(input);
  e.user_agent = std::string(input);
  e.size = input.size();
  check_ascii(record_json(e, key_form::raw));
  check_ascii(message_value(e));
  check_ascii(listen_line(e));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_rules(input);
  check_event_json(input);
  return 0;
}
