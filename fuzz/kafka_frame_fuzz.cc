// Fuzzes Kafka request/response decoding: a request header, then the body of any API key and
// version as both a request and a response. Whatever decodes must re-encode and decode to the same
// value (the codecs are symmetric), and nothing may read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kafka/protocol/frame.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/messages/all.h"

namespace {

using namespace sluice::kafka::protocol;

template <class M>
void round_trip(std::string_view body, int16_t version) {
  auto m = decode<M>(body, version);
  if (!m) return;
  (void)m.value().check_writable(version);
  const std::string again = encode(m.value(), version);
  auto back = decode<M>(again, version);
  if (!back || !(back.value() == m.value())) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Framing first: a size prefix that fits is a frame; otherwise treat the input as a payload.
  std::string_view payload = input;
  if (auto f = next_frame(input, 1 << 20); f && f.value()) payload = f.value()->payload;

  reader r(payload);
  auto header = read_request_header(r);
  if (!header) return 0;
  const int16_t version = header.value().api_version;
  const std::string_view body = r.rest();
  visit_api(header.value().api_key, [&]<class Api>() {
    round_trip<typename Api::request>(body, version);
    round_trip<typename Api::response>(body, version);
  });
  return 0;
}
