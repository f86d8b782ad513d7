// Fuzzes the aws-chunked decoder and payload verifier in every streaming mode.
// Input: byte 0 = flags, byte 1 = read size, bytes 2-3 = position of a byte to
// corrupt (big-endian, beyond the body = none), then the payload.
//   flags bits 0-1: mode (0 signed, 1 signed+trailer, 2 unsigned+trailer, 3 signed again)
//   bit 2: enforce x-amz-decoded-content-length
//   bit 3: the payload is raw wire bytes; otherwise it is chunk contents
//          separated by '|', framed and signed by the harness so that the
//          fuzzer reaches past signature checks
//   bits 4-7: how many bytes the raw source hands out per read
// Properties checked: a harness-built body decodes to exactly its chunks, and
// any single corrupted byte in it makes decoding fail.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "base/crypto.h"
#include "s3/auth/payload.h"

namespace {

using namespace sluice;
using namespace sluice::s3::auth;

class trickle_source final : public source {
 public:
  trickle_source(std::string_view data, size_t step) : data_(data), step_(step) {}
  result<size_t> read(char* buf, size_t n) override {
    size_t k = std::min({n, step_, data_.size()});
    std::copy_n(data_.data(), k, buf);
    data_.remove_prefix(k);
    return k;
  }

 private:
  std::string_view data_;
  size_t step_;
};

const signing_context& ctx() {
  static const signing_context c{
      derive_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
      "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
      "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  return c;
}

// `tolerant` is set to the byte range where a flip may go unnoticed: the
// unsigned checksum trailer's base64, whose padding bits carry no value.
std::string build(payload_mode mode, std::string_view payload, std::string& decoded,
                  std::pair<size_t, size_t>& tolerant) {
  bool sign = mode != payload_mode::streaming_unsigned_trailer;
  std::string prev = ctx().seed_signature, body;
  auto frame = [&](std::string_view chunk) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    body += size;
    if (sign) {
      prev = chunk_signature(ctx(), prev, chunk);
      body += ";chunk-signature=" + prev;
    }
    body += "\r\n";
    if (!chunk.empty()) {
      body += chunk;
      body += "\r\n";
    }
  };
  for (;;) {
    size_t bar = payload.find('|');
    std::string_view chunk = payload.substr(0, bar);
    if (!chunk.empty()) {
      frame(chunk);
      decoded += chunk;
    }
    if (bar == std::string_view::npos) break;
    payload.remove_prefix(bar + 1);
  }
  frame("");
  if (mode != payload_mode::streaming_signed) {
    std::string line = "x-amz-checksum-crc32:" + checksum_base64(checksum_algorithm::crc32, decoded);
    if (!sign) tolerant = {body.size() + line.size() - 8, body.size() + line.size()};
    body += line + "\r\n";
    if (sign) body += "x-amz-trailer-signature:" + trailer_signature(ctx(), prev, line + "\n") + "\r\n";
  }
  body += "\r\n";
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t flags = data[0];
  const size_t read_size = data[1] == 0 ? 65536 : data[1];
  const size_t corrupt_at = static_cast<size_t>(data[2]) << 8 | data[3];
  std::string_view payload(reinterpret_cast<const char*>(data) + 4, size - 4);
  static constexpr payload_mode kModes[] = {
      payload_mode::streaming_signed, payload_mode::streaming_signed_trailer,
      payload_mode::streaming_unsigned_trailer, payload_mode::streaming_signed};
  const payload_mode mode = kModes[flags & 3];
  const bool built = !(flags & 8);

  std::string body, expected;
  bool corrupted = false;
  std::pair<size_t, size_t> tolerant{0, 0};
  if (built) {
    body = build(mode, payload, expected, tolerant);
    if (corrupt_at < body.size() && (corrupt_at < tolerant.first || corrupt_at >= tolerant.second)) {
      body[corrupt_at] = static_cast<char>(body[corrupt_at] ^ 1);
      corrupted = true;
    }
  } else {
    body = std::string(payload);
  }

  trickle_source raw(body, 1 + (flags >> 4) * 4099);
  chunked_decoder dec(raw, mode, ctx());
  if (flags & 4) dec.expect_decoded_length(built ? expected.size() : payload.size() / 2);
  verify_spec spec;
  if (mode != payload_mode::streaming_signed) {
    spec.checksum = checksum_algorithm::crc32;
    spec.trailer_source = &dec;
  }
  payload_verifier ver(dec, spec);
  std::string out, buf(read_size, '\0');
  bool failed = false;
  for (;;) {
    auto r = ver.read(buf.data(), buf.size());
    if (!r) {
      failed = true;
      break;
    }
    if (r.value() == 0) break;
    out.append(buf.data(), r.value());
  }
  if (built && !corrupted && (failed || out != expected)) std::abort();
  if (built && corrupted && !failed) std::abort();
  return 0;
}
