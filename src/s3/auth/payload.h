#pragma once
// Request payload decoding and verification, layered as sources over the raw
// HTTP body:
//   http body -> [chunked_decoder for aws-chunked modes] -> payload_verifier -> object layer
// The verifier checks x-amz-content-sha256 (signed_hash mode), Content-MD5 and
// x-amz-checksum-* (from headers or from aws-chunked trailers) and fails the
// final read (the one that would return 0) on mismatch, so the object layer
// never commits a body that does not verify.
#include <memory>
#include <optional>
#include <string>

#include "base/source.h"
#include "s3/auth/checksum.h"
#include "s3/auth/sigv4.h"

namespace sluice::s3::auth {

// Decodes an aws-chunked body ("<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0\r\n<trailers>\r\n").
// In signed modes every chunk signature (and the trailer signature) is checked
// against the chain started by the seed signature. Chunk sizes are bounded.
class chunked_decoder final : public source {
 public:
  chunked_decoder(source& raw, payload_mode mode, signing_context ctx);
  result<size_t> read(char* buf, size_t n) override;
  // Trailing headers (lower-case names), valid after read() returned 0.
  const std::vector<std::pair<std::string, std::string>>& trailers() const;
  // Decoded length when x-amz-decoded-content-length was given; the decoder fails if the body disagrees.
  void expect_decoded_length(uint64_t n);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

struct verify_spec {
  std::optional<std::string> sha256_hex;     // signed_hash mode
  std::optional<std::string> content_md5;    // base64, from Content-MD5
  std::optional<checksum_algorithm> checksum;  // to compute (x-amz-checksum-* or x-amz-sdk-checksum-algorithm or trailer)
  std::optional<std::string> checksum_value;   // base64 expected value when sent as a header
  const chunked_decoder* trailer_source = nullptr;  // expected checksum taken from its trailers at EOF
};

class payload_verifier final : public source {
 public:
  payload_verifier(source& inner, verify_spec spec);
  result<size_t> read(char* buf, size_t n) override;
  // After EOF: the verified checksum (algorithm + base64 value), if one was computed.
  std::optional<std::pair<checksum_algorithm, std::string>> checksum() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sluice::s3::auth
