#include "s3/auth/payload.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::s3::auth {
namespace {

// The chunked upload example of docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html:
// 66560 bytes of 'a' as a 64 KiB chunk, a 1 KiB chunk and the final empty chunk.
constexpr std::string_view kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr std::string_view kSig1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
constexpr std::string_view kSig2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
constexpr std::string_view kSig3 = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

signing_context example_ctx() {
  return {derive_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
          "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", std::string(kSeed)};
}

std::string aws_example_body() {
  return "10000;chunk-signature=" + std::string(kSig1) + "\r\n" + std::string(65536, 'a') + "\r\n" +
         "400;chunk-signature=" + std::string(kSig2) + "\r\n" + std::string(1024, 'a') + "\r\n" +
         "0;chunk-signature=" + std::string(kSig3) + "\r\n\r\n";
}

// Hands out at most `step` bytes per read, like a slow socket.
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

struct drained {
  std::string data;                  // every byte returned before the end or the error
  std::optional<sluice::error> err;  // set when a read failed
};

drained drain(source& s, size_t bufsize = 4096) {
  drained out;
  std::string buf(bufsize, '\0');
  for (;;) {
    auto r = s.read(buf.data(), buf.size());
    if (!r) {
      out.err = r.error();
      return out;
    }
    if (r.value() == 0) return out;
    out.data.append(buf.data(), r.value());
  }
}

std::string hex_size(size_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "%zx", n);
  return b;
}

// Builds aws-chunked bodies the way SDKs do.
struct body_builder {
  signing_context ctx = example_ctx();
  bool sign = true;
  std::string prev = std::string(kSeed);
  std::string body;

  body_builder& chunk(std::string_view data) {
    body += hex_size(data.size());
    if (sign) {
      prev = chunk_signature(ctx, prev, data);
      body += ";chunk-signature=" + prev;
    }
    body += "\r\n";
    body += data;
    body += "\r\n";
    return *this;
  }
  body_builder& final_chunk() {
    body += "0";
    if (sign) {
      prev = chunk_signature(ctx, prev, "");
      body += ";chunk-signature=" + prev;
    }
    body += "\r\n";
    return *this;
  }
  // Trailers after the final chunk, signed in signed mode, then the closing empty line.
  body_builder& trailers(const std::vector<std::pair<std::string, std::string>>& t,
                         bool closing_crlf = true) {
    std::string canonical;
    for (const auto& [k, v] : t) {
      body += k + ":" + v + "\r\n";
      canonical += k + ":" + v + "\n";
    }
    if (sign) body += "x-amz-trailer-signature:" + trailer_signature(ctx, prev, canonical) + "\r\n";
    if (closing_crlf) body += "\r\n";
    return *this;
  }
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST(ChunkedDecoder, AwsExampleDecodes) {
  std::string body = aws_example_body();
  ASSERT_EQ(body.size(), 66824u);  // the example's Content-Length
  for (size_t step : {size_t{1} << 20, size_t{1000}, size_t{7}}) {
    for (size_t bufsize : {size_t{65536}, size_t{1000}, size_t{1}}) {
      if (step < 100 && bufsize < 100) continue;  // slow and adds nothing
      trickle_source raw(body, step);
      chunked_decoder dec(raw, payload_mode::streaming_signed, example_ctx());
      dec.expect_decoded_length(66560);
      auto d = drain(dec, bufsize);
      ASSERT_FALSE(d.err) << step << "/" << bufsize << ": " << d.err->message();
      EXPECT_EQ(d.data, std::string(66560, 'a'));
      EXPECT_TRUE(dec.trailers().empty());
    }
  }
}

TEST(ChunkedDecoder, AcceptsEofInsteadOfClosingCrlf) {
  std::string body = aws_example_body();
  body.resize(body.size() - 2);  // MinIO stops reading after the final chunk's line
  memory_source raw(body);
  chunked_decoder dec(raw, payload_mode::streaming_signed, example_ctx());
  auto d = drain(dec);
  ASSERT_FALSE(d.err) << d.err->message();
  EXPECT_EQ(d.data.size(), 66560u);
}

TEST(ChunkedDecoder, FlippedByteFailsBeforeTheChunkIsReleased) {
  std::string body = aws_example_body();
  size_t second = body.find("400;chunk-signature=");
  body[second + 90] = 'b';  // inside the 1 KiB chunk
  memory_source raw(body);
  chunked_decoder dec(raw, payload_mode::streaming_signed, example_ctx());
  auto d = drain(dec, 100000);
  ASSERT_TRUE(d.err);
  EXPECT_TRUE(d.err->is(errc::chunk_signature_mismatch)) << d.err->message();
  EXPECT_EQ(d.data.size(), 65536u);  // the first chunk verified; nothing of the second
  // The decoder stays failed.
  char c;
  EXPECT_FALSE(dec.read(&c, 1));
}

TEST(ChunkedDecoder, WrongSeedOrReorderedChunksFail) {
  auto ctx = example_ctx();
  ctx.seed_signature = std::string(64, '0');
  std::string body = aws_example_body();
  memory_source raw(body);
  chunked_decoder dec(raw, payload_mode::streaming_signed, ctx);
  auto d = drain(dec);
  ASSERT_TRUE(d.err);
  EXPECT_TRUE(d.err->is(errc::chunk_signature_mismatch));
  EXPECT_TRUE(d.data.empty());

  // A chunk signature valid in another position of the chain does not verify here.
  body_builder b;
  b.chunk("one").chunk("two").final_chunk();
  std::string first_sig = chunk_signature(example_ctx(), kSeed, "one");
  size_t second = b.body.find("3;", 5);
  std::string tampered = b.body.substr(0, second) + "3;chunk-signature=" + first_sig +
                         b.body.substr(b.body.find("\r\n", second));
  memory_source raw2(tampered);
  chunked_decoder dec2(raw2, payload_mode::streaming_signed, example_ctx());
  auto d2 = drain(dec2);
  ASSERT_TRUE(d2.err);
  EXPECT_TRUE(d2.err->is(errc::chunk_signature_mismatch));
  EXPECT_EQ(d2.data, "one");
}

errc decode_error(std::string_view body, payload_mode mode, std::optional<uint64_t> len = std::nullopt) {
  memory_source raw(body);
  chunked_decoder dec(raw, mode, example_ctx());
  if (len) dec.expect_decoded_length(*len);
  auto d = drain(dec);
  if (!d.err) return errc{};
  EXPECT_EQ(d.err->code().category(), category()) << d.err->message();
  return static_cast<errc>(d.err->code().value());
}

TEST(ChunkedDecoder, MalformedFraming) {
  const std::string sig(kSig1);
  const auto s = payload_mode::streaming_signed;
  const auto u = payload_mode::streaming_unsigned_trailer;
  EXPECT_EQ(decode_error("zz;chunk-signature=" + sig + "\r\nab\r\n", s), errc::chunk_malformed);
  EXPECT_EQ(decode_error(";chunk-signature=" + sig + "\r\n", s), errc::chunk_malformed);
  EXPECT_EQ(decode_error("10000\r\n", s), errc::chunk_malformed);  // signed mode needs a signature
  EXPECT_EQ(decode_error("10000;chunk-signature=abc\r\n", s), errc::chunk_malformed);
  EXPECT_EQ(decode_error("10000;chunk-sig=" + sig + "\r\n", s), errc::chunk_malformed);
  EXPECT_EQ(decode_error("1000001;chunk-signature=" + sig + "\r\n", s), errc::chunk_malformed);  // > 16 MiB
  EXPECT_EQ(decode_error("ffffffffffffffffff\r\n", u), errc::chunk_malformed);
  EXPECT_EQ(decode_error(std::string(5000, '0') + "\r\n", u), errc::chunk_malformed);  // over-long line
  EXPECT_EQ(decode_error(std::string(100000, '1'), u), errc::chunk_malformed);
  EXPECT_EQ(decode_error("3\nabc\r\n0\r\n\r\n", u), errc::chunk_malformed);     // LF without CR
  EXPECT_EQ(decode_error("3\r\nabcd\r\n0\r\n\r\n", u), errc::chunk_malformed);  // data longer than size
  EXPECT_EQ(decode_error("3\r\nabc\r\n0\r\nno-colon\r\n\r\n", u), errc::chunk_malformed);
  EXPECT_EQ(decode_error("3\r\nabc\r\n0\r\n:v\r\n\r\n", u), errc::chunk_malformed);
  EXPECT_EQ(decode_error("3\r\nabc\r\n0\r\n\r\nextra", u), errc::chunk_malformed);  // data after the end
  body_builder with_trailer;  // trailers in a mode that has none
  with_trailer.chunk("abc").final_chunk();
  with_trailer.body += "x-amz-checksum-crc32:AAAAAA==\r\n\r\n";
  EXPECT_EQ(decode_error(with_trailer.body, s), errc::chunk_malformed);
}

TEST(ChunkedDecoder, TruncatedBodies) {
  std::string body = aws_example_body();
  for (size_t cut : {size_t{0}, size_t{5}, size_t{86}, size_t{1000}, size_t{65536 + 87}, size_t{65536 + 88},
                     body.size() - 90}) {
    EXPECT_EQ(decode_error(body.substr(0, cut), payload_mode::streaming_signed), errc::incomplete_body)
        << cut;
  }
  EXPECT_EQ(decode_error("3\r\nab", payload_mode::streaming_unsigned_trailer), errc::incomplete_body);
  EXPECT_EQ(decode_error("3\r\nabc\r\n", payload_mode::streaming_unsigned_trailer), errc::incomplete_body);
  EXPECT_EQ(
      decode_error("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAA", payload_mode::streaming_unsigned_trailer),
      errc::incomplete_body);
}

TEST(ChunkedDecoder, DecodedLengthIsEnforced) {
  std::string body = aws_example_body();
  EXPECT_EQ(decode_error(body, payload_mode::streaming_signed, 66560), errc{});
  EXPECT_EQ(decode_error(body, payload_mode::streaming_signed, 66561), errc::incomplete_body);
  EXPECT_EQ(decode_error(body, payload_mode::streaming_signed, 66559), errc::chunk_malformed);
  EXPECT_EQ(decode_error(body, payload_mode::streaming_signed, 0), errc::chunk_malformed);
}

TEST(ChunkedDecoder, SignedTrailerVerifies) {
  std::string data = pattern(200000);
  std::string crc = checksum_base64(checksum_algorithm::crc32, data);
  body_builder b;
  b.chunk(std::string_view(data).substr(0, 65536))
      .chunk(std::string_view(data).substr(65536, 65536))
      .chunk(std::string_view(data).substr(131072))
      .final_chunk()
      .trailers({{"x-amz-checksum-crc32", crc}});
  for (size_t step : {size_t{1} << 20, size_t{3}}) {
    trickle_source raw(b.body, step);
    chunked_decoder dec(raw, payload_mode::streaming_signed_trailer, example_ctx());
    dec.expect_decoded_length(data.size());
    verify_spec spec;
    spec.checksum = checksum_algorithm::crc32;
    spec.trailer_source = &dec;
    payload_verifier ver(dec, spec);
    auto d = drain(ver, 70000);
    ASSERT_FALSE(d.err) << d.err->message();
    EXPECT_EQ(d.data, data);
    ASSERT_EQ(dec.trailers().size(), 1u);
    EXPECT_EQ(dec.trailers()[0], std::make_pair(std::string("x-amz-checksum-crc32"), crc));
    ASSERT_TRUE(ver.checksum());
    EXPECT_EQ(ver.checksum()->first, checksum_algorithm::crc32);
    EXPECT_EQ(ver.checksum()->second, crc);
  }
}

TEST(ChunkedDecoder, SignedTrailerChecksumMismatch) {
  std::string data = pattern(1000);
  body_builder b;
  b.chunk(data).final_chunk().trailers({{"x-amz-checksum-crc32c", "AAAAAA=="}});  // signed, but wrong
  memory_source raw(b.body);
  chunked_decoder dec(raw, payload_mode::streaming_signed_trailer, example_ctx());
  verify_spec spec;
  spec.checksum = checksum_algorithm::crc32c;
  spec.trailer_source = &dec;
  payload_verifier ver(dec, spec);
  auto d = drain(ver);
  ASSERT_TRUE(d.err);
  EXPECT_TRUE(d.err->is(errc::checksum_mismatch)) << d.err->message();
}

TEST(ChunkedDecoder, SignedTrailerTampering) {
  std::string data = pattern(1000);
  std::string crc = checksum_base64(checksum_algorithm::crc32, data);
  body_builder b;
  b.chunk(data).final_chunk().trailers({{"x-amz-checksum-crc32", crc}});

  // A changed trailer value no longer matches the trailer signature.
  std::string changed = b.body;
  changed.replace(changed.find(crc), crc.size(), "AAAAAA==");
  EXPECT_EQ(decode_error(changed, payload_mode::streaming_signed_trailer), errc::chunk_signature_mismatch);

  // Trailers without their signature.
  body_builder unsigned_trailers;
  unsigned_trailers.chunk(data).final_chunk();
  unsigned_trailers.body += "x-amz-checksum-crc32:" + crc + "\r\n\r\n";
  EXPECT_EQ(decode_error(unsigned_trailers.body, payload_mode::streaming_signed_trailer),
            errc::chunk_malformed);

  // A trailer after the signature.
  std::string late = b.body.substr(0, b.body.size() - 2) + "x-amz-meta-x:y\r\n\r\n";
  EXPECT_EQ(decode_error(late, payload_mode::streaming_signed_trailer), errc::chunk_malformed);

  // The closing empty line may be missing.
  body_builder no_close;
  no_close.chunk(data).final_chunk().trailers({{"x-amz-checksum-crc32", crc}}, false);
  EXPECT_EQ(decode_error(no_close.body, payload_mode::streaming_signed_trailer), errc{});
}

TEST(ChunkedDecoder, UnsignedTrailerAsBotocoreSendsIt) {
  // boto3 >= 1.36: STREAMING-UNSIGNED-PAYLOAD-TRAILER, hex sizes without signatures, CRC32 trailer.
  std::string data = pattern(20000);
  std::string crc = checksum_base64(checksum_algorithm::crc32, data);
  std::string body = "2000\r\n" + data.substr(0, 8192) + "\r\n" + "2000\r\n" + data.substr(8192, 8192) +
                     "\r\n" + "e20\r\n" + data.substr(16384) + "\r\n" + "0\r\n" +
                     "x-amz-checksum-crc32:" + crc + "\r\n\r\n";
  for (bool closing : {true, false}) {
    std::string b = closing ? body : body.substr(0, body.size() - 2);
    for (size_t step : {size_t{1} << 20, size_t{5}}) {
      trickle_source raw(b, step);
      chunked_decoder dec(raw, payload_mode::streaming_unsigned_trailer, {});
      dec.expect_decoded_length(data.size());
      verify_spec spec;
      spec.checksum = checksum_algorithm::crc32;
      spec.trailer_source = &dec;
      payload_verifier ver(dec, spec);
      auto d = drain(ver, 3000);
      ASSERT_FALSE(d.err) << d.err->message();
      EXPECT_EQ(d.data, data);
      EXPECT_EQ(ver.checksum()->second, crc);
    }
  }

  // Wrong checksum in the trailer.
  std::string bad = body;
  bad.replace(bad.find(crc), crc.size(), checksum_base64(checksum_algorithm::crc32, "other"));
  memory_source raw(bad);
  chunked_decoder dec(raw, payload_mode::streaming_unsigned_trailer, {});
  verify_spec spec;
  spec.checksum = checksum_algorithm::crc32;
  spec.trailer_source = &dec;
  payload_verifier ver(dec, spec);
  auto d = drain(ver);
  ASSERT_TRUE(d.err);
  EXPECT_TRUE(d.err->is(errc::checksum_mismatch));
}

TEST(ChunkedDecoder, UnsignedTrailerMissingOrInvalid) {
  auto run = [](std::string body) {
    memory_source raw(body);
    chunked_decoder dec(raw, payload_mode::streaming_unsigned_trailer, {});
    verify_spec spec;
    spec.checksum = checksum_algorithm::sha256;
    spec.trailer_source = &dec;
    payload_verifier ver(dec, spec);
    return drain(ver).err;
  };
  auto missing = run("3\r\nabc\r\n0\r\n\r\n");
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is(errc::incomplete_body));
  auto other = run("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->is(errc::incomplete_body));
  auto invalid = run("3\r\nabc\r\n0\r\nx-amz-checksum-sha256:NSRBwg==\r\n\r\n");
  ASSERT_TRUE(invalid);
  EXPECT_TRUE(invalid->is(errc::checksum_invalid));
  EXPECT_FALSE(run("3\r\nabc\r\n0\r\nX-Amz-Checksum-SHA256 : " +
                   checksum_base64(checksum_algorithm::sha256, "abc") + " \r\n\r\n"));
}

TEST(ChunkedDecoder, UnsignedModeIgnoresChunkExtensions) {
  memory_source raw("3;foo=bar\r\nabc\r\n0\r\n\r\n");
  chunked_decoder dec(raw, payload_mode::streaming_unsigned_trailer, {});
  auto d = drain(dec);
  ASSERT_FALSE(d.err);
  EXPECT_EQ(d.data, "abc");
}

TEST(ChunkedDecoder, EmptyBody) {
  body_builder b;
  b.final_chunk();
  b.body += "\r\n";
  EXPECT_EQ(decode_error(b.body, payload_mode::streaming_signed, 0), errc{});
  EXPECT_EQ(decode_error("0\r\n\r\n", payload_mode::streaming_unsigned_trailer, 0), errc{});
  EXPECT_EQ(decode_error("", payload_mode::streaming_unsigned_trailer), errc::incomplete_body);
}

TEST(PayloadVerifier, Sha256) {
  const std::string body = "Welcome to Amazon S3.";
  verify_spec spec;
  spec.sha256_hex = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
  {
    memory_source raw(body);
    payload_verifier v(raw, spec);
    auto d = drain(v, 5);
    ASSERT_FALSE(d.err);
    EXPECT_EQ(d.data, body);
    EXPECT_FALSE(v.checksum());
  }
  {
    memory_source raw("Welcome to Amazon S3!");
    payload_verifier v(raw, spec);
    auto d = drain(v);
    ASSERT_TRUE(d.err);
    EXPECT_TRUE(d.err->is(errc::content_sha256_mismatch));
    EXPECT_EQ(d.data.size(), body.size());  // bytes flow; the final read fails
  }
}

TEST(PayloadVerifier, ContentMd5) {
  const std::string body = "hello";
  auto run = [&](std::string md5_b64, std::string_view data) {
    memory_source raw(data);
    verify_spec spec;
    spec.content_md5 = std::move(md5_b64);
    payload_verifier v(raw, spec);
    return drain(v).err;
  };
  EXPECT_FALSE(run(base64_encode(md5(body)), body));
  auto mismatch = run(base64_encode(md5(body)), "hellO");
  ASSERT_TRUE(mismatch);
  EXPECT_TRUE(mismatch->is(errc::content_md5_mismatch));
  for (std::string bad : {std::string("not base64!"), base64_encode("short"), std::string()}) {
    auto invalid = run(bad, body);
    ASSERT_TRUE(invalid) << bad;
    EXPECT_TRUE(invalid->is(errc::content_md5_invalid)) << bad;
  }
}

TEST(PayloadVerifier, ChecksumHeader) {
  const std::string body = pattern(5000);
  for (auto a : {checksum_algorithm::crc32, checksum_algorithm::crc32c, checksum_algorithm::crc64nvme,
                 checksum_algorithm::sha1, checksum_algorithm::sha256}) {
    auto run = [&](std::optional<std::string> value, std::string_view data) {
      memory_source raw(data);
      verify_spec spec;
      spec.checksum = a;
      spec.checksum_value = std::move(value);
      payload_verifier v(raw, spec);
      auto d = drain(v, 999);
      return std::make_pair(d.err, v.checksum());
    };
    std::string good = checksum_base64(a, body);
    auto ok_run = run(good, body);
    EXPECT_FALSE(ok_run.first) << checksum_name(a);
    ASSERT_TRUE(ok_run.second);
    EXPECT_EQ(ok_run.second->second, good);
    auto computed_only = run(std::nullopt, body);  // e.g. x-amz-sdk-checksum-algorithm without a value
    EXPECT_FALSE(computed_only.first);
    EXPECT_EQ(computed_only.second->second, good);
    auto mismatch = run(good, body.substr(1));
    ASSERT_TRUE(mismatch.first);
    EXPECT_TRUE(mismatch.first->is(errc::checksum_mismatch)) << checksum_name(a);
    EXPECT_FALSE(mismatch.second);
    auto invalid = run(base64_encode("wrong size value"), body);
    ASSERT_TRUE(invalid.first);
    EXPECT_TRUE(invalid.first->is(errc::checksum_invalid)) << checksum_name(a);
  }
}

TEST(PayloadVerifier, AllChecksTogetherOverChunkedBody) {
  std::string data = pattern(100000);
  body_builder b;
  b.chunk(std::string_view(data).substr(0, 65536)).chunk(std::string_view(data).substr(65536)).final_chunk();
  b.body += "\r\n";
  memory_source raw(b.body);
  chunked_decoder dec(raw, payload_mode::streaming_signed, example_ctx());
  verify_spec spec;
  spec.content_md5 = base64_encode(md5(data));
  spec.checksum = checksum_algorithm::crc64nvme;
  spec.checksum_value = checksum_base64(checksum_algorithm::crc64nvme, data);
  payload_verifier v(dec, spec);
  auto d = drain(v);
  ASSERT_FALSE(d.err) << d.err->message();
  EXPECT_EQ(d.data, data);
}

}  // namespace
}  // namespace sluice::s3::auth
