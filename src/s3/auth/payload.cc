#include "s3/auth/payload.h"

#include <algorithm>
#include <cstring>

#include "base/crypto.h"
#include "base/encoding.h"

namespace sluice::s3::auth {

namespace {

// Largest chunk we accept (MinIO's limit too). Signed chunks are buffered
// whole before verification, so this is also the per-request memory bound
// (the buffer grows only as bytes arrive). AWS recommends chunks of 64 KiB and up.
constexpr uint64_t kMaxChunkSize = 16 << 20;
// Longest chunk-size or trailer line, without CRLF ("10000;chunk-signature=<64>" is 86).
constexpr size_t kMaxLine = 4096;
constexpr size_t kMaxTrailerBytes = 16 * 1024;
constexpr size_t kMaxTrailers = 32;
constexpr size_t kInputBuffer = 64 * 1024;
constexpr std::string_view kChunkSignature = "chunk-signature=";
constexpr std::string_view kTrailerSignature = "x-amz-trailer-signature";

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), is_hex);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

struct chunked_decoder::impl {
  enum class state { size_line, data, data_crlf, trailers, finish, done };

  impl(source& r, payload_mode m, signing_context c)
      : raw(r),
        signed_chunks(m == payload_mode::streaming_signed || m == payload_mode::streaming_signed_trailer),
        trailer_mode(m == payload_mode::streaming_signed_trailer ||
                     m == payload_mode::streaming_unsigned_trailer),
        ctx(std::move(c)),
        prev_signature(ctx.seed_signature) {}

  source& raw;
  const bool signed_chunks;
  const bool trailer_mode;
  const signing_context ctx;
  std::string prev_signature;  // the chain: seed, then each verified chunk's

  // Framing bytes read ahead from raw; [in_pos, in_end) is unconsumed.
  std::unique_ptr<char[]> in = std::make_unique_for_overwrite<char[]>(kInputBuffer);
  size_t in_pos = 0, in_end = 0;
  bool raw_eof = false;

  state st = state::size_line;
  uint64_t remaining = 0;  // unsigned modes: bytes of the current chunk not yet handed out
  std::string chunk;       // signed modes: the current chunk, verified before any byte is handed out
  size_t chunk_pos = 0;
  uint64_t decoded = 0;
  std::optional<uint64_t> expected_length;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::optional<error> failed;

  size_t buffered() const { return in_end - in_pos; }

  // Reads more from raw behind the unconsumed bytes; false at end of stream.
  result<bool> fill() {
    if (in_pos == in_end) {
      in_pos = in_end = 0;
    } else if (in_pos > 0) {
      std::memmove(in.get(), in.get() + in_pos, in_end - in_pos);
      in_end -= in_pos;
      in_pos = 0;
    }
    if (raw_eof || in_end == kInputBuffer) return !raw_eof;
    SLUICE_TRY(size_t k, raw.read(in.get() + in_end, kInputBuffer - in_end));
    if (k == 0) raw_eof = true;
    in_end += k;
    return k > 0;
  }

  // One CRLF-terminated line without its CRLF; nullopt when the stream ends cleanly before it.
  result<std::optional<std::string>> read_line() {
    size_t scanned = 0;
    for (;;) {
      const char* begin = in.get() + in_pos;
      const void* nl = std::memchr(begin + scanned, '\n', buffered() - scanned);
      if (nl) {
        size_t len = static_cast<size_t>(static_cast<const char*>(nl) - begin);
        if (len == 0 || begin[len - 1] != '\r') {
          return fail(errc::chunk_malformed, "line ends in LF without CR");
        }
        if (len - 1 > kMaxLine) return fail(errc::chunk_malformed, "aws-chunked line longer than 4 KiB");
        std::string line(begin, len - 1);
        in_pos += len + 1;
        return std::optional<std::string>(std::move(line));
      }
      scanned = buffered();
      if (scanned > kMaxLine + 1) return fail(errc::chunk_malformed, "aws-chunked line longer than 4 KiB");
      SLUICE_TRY(bool more, fill());
      if (!more) {
        if (buffered() == 0) return std::optional<std::string>();
        return fail(errc::incomplete_body, "body ends inside an aws-chunked line");
      }
    }
  }

  result<void> read_exact(char* dst, size_t n) {
    size_t k = std::min(n, buffered());
    std::memcpy(dst, in.get() + in_pos, k);
    in_pos += k;
    while (k < n) {
      SLUICE_TRY(size_t got, raw.read(dst + k, n - k));
      if (got == 0) {
        raw_eof = true;
        return fail(errc::incomplete_body, "body ends inside an aws-chunked chunk");
      }
      k += got;
    }
    return ok();
  }

  result<void> expect_crlf() {
    char crlf[2];
    SLUICE_TRY(read_exact(crlf, 2));
    if (crlf[0] != '\r' || crlf[1] != '\n') {
      return fail(errc::chunk_malformed, "chunk data not followed by CRLF");
    }
    return ok();
  }

  // Reads a signed chunk whole. The buffer grows with the bytes that actually
  // arrive, so announcing a 16 MiB chunk and sending nothing costs little.
  result<void> read_chunk(uint64_t size) {
    chunk.clear();
    while (chunk.size() < size) {
      size_t have = chunk.size();
      size_t want = static_cast<size_t>(std::min<uint64_t>(size, std::max<size_t>(2 * have, kInputBuffer)));
      chunk.resize(want);
      SLUICE_TRY(read_exact(chunk.data() + have, want - have));
    }
    return ok();
  }

  // "<hex-size>[;chunk-signature=<64 hex>]"; in signed modes also reads and verifies the chunk.
  result<void> on_size_line(std::string_view line) {
    size_t semi = line.find(';');
    std::string_view hex = line.substr(0, semi);
    if (hex.empty() || hex.size() > 16 || !std::all_of(hex.begin(), hex.end(), is_hex)) {
      return fail(errc::chunk_malformed, "bad aws-chunked size line");
    }
    uint64_t size = 0;
    for (char c : hex) size = size << 4 | static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    if (size > kMaxChunkSize) return fail(errc::chunk_malformed, "aws-chunked chunk larger than 16 MiB");
    std::string_view signature;
    if (signed_chunks) {
      std::string_view ext = semi == std::string_view::npos ? std::string_view() : line.substr(semi + 1);
      if (ext.substr(0, kChunkSignature.size()) != kChunkSignature ||
          !is_hex64(ext.substr(kChunkSignature.size()))) {
        return fail(errc::chunk_malformed, "chunk without a valid chunk-signature");
      }
      signature = ext.substr(kChunkSignature.size());
    }
    // Unsigned modes ignore chunk extensions, as HTTP/1.1 chunked coding does.
    if (expected_length && size > *expected_length - decoded) {
      return fail(errc::chunk_malformed, "body longer than x-amz-decoded-content-length");
    }
    if (signed_chunks) {
      SLUICE_TRY(read_chunk(size));
      if (size > 0) {
        SLUICE_TRY(expect_crlf());
      }
      std::string want = chunk_signature(ctx, prev_signature, chunk);
      if (!constant_time_equal(want, to_lower(signature))) {
        return fail(errc::chunk_signature_mismatch,
                    "chunk " + std::to_string(decoded) + "+" + std::to_string(size));
      }
      prev_signature = std::move(want);
      chunk_pos = 0;
    } else {
      remaining = size;
    }
    decoded += size;
    st = size == 0 ? state::trailers : state::data;
    return ok();
  }

  // After the zero-size chunk: "name:value" lines, in the signed-trailer mode
  // closed by x-amz-trailer-signature, then an empty line. Like MinIO we accept
  // the stream ending where the empty line should be (some clients omit it).
  result<void> read_trailers() {
    std::string canonical;  // what the trailer signature covers: each line as sent plus "\n"
    bool signature_seen = false;
    size_t total = 0;
    for (;;) {
      SLUICE_TRY(auto line, read_line());
      if (!line || line->empty()) break;
      if (!trailer_mode) {
        return fail(errc::chunk_malformed, "trailer after the final chunk in a mode without trailers");
      }
      total += line->size();
      if (total > kMaxTrailerBytes || trailers.size() >= kMaxTrailers) {
        return fail(errc::chunk_malformed, "aws-chunked trailers too large");
      }
      if (signature_seen) return fail(errc::chunk_malformed, "trailer after x-amz-trailer-signature");
      size_t colon = line->find(':');
      std::string name = colon == std::string::npos
                             ? std::string()
                             : to_lower(trim(std::string_view(*line).substr(0, colon)));
      if (name.empty()) return fail(errc::chunk_malformed, "trailer line without 'name:'");
      std::string_view value = trim(std::string_view(*line).substr(colon + 1));
      if (signed_chunks && name == kTrailerSignature) {
        if (!is_hex64(value)) return fail(errc::chunk_malformed, "malformed x-amz-trailer-signature");
        if (!constant_time_equal(trailer_signature(ctx, prev_signature, canonical), to_lower(value))) {
          return fail(errc::chunk_signature_mismatch, "x-amz-trailer-signature does not match");
        }
        signature_seen = true;
        continue;
      }
      canonical += *line;
      canonical.push_back('\n');
      trailers.emplace_back(std::move(name), std::string(value));
    }
    if (signed_chunks && !trailers.empty() && !signature_seen) {
      return fail(errc::chunk_malformed, "signed trailers without x-amz-trailer-signature");
    }
    return ok();
  }

  result<void> finish() {
    if (buffered() > 0) return fail(errc::chunk_malformed, "data after the final aws-chunked chunk");
    if (!raw_eof) {
      char c;
      SLUICE_TRY(size_t k, raw.read(&c, 1));
      if (k > 0) return fail(errc::chunk_malformed, "data after the final aws-chunked chunk");
      raw_eof = true;
    }
    if (expected_length && decoded != *expected_length) {
      return fail(errc::incomplete_body, "decoded " + std::to_string(decoded) +
                                             " bytes, x-amz-decoded-content-length " +
                                             std::to_string(*expected_length));
    }
    return ok();
  }

  result<size_t> read(char* buf, size_t n) {
    for (;;) {
      switch (st) {
        case state::size_line: {
          SLUICE_TRY(auto line, read_line());
          if (!line) return fail(errc::incomplete_body, "body ends before the final zero-size chunk");
          SLUICE_TRY(on_size_line(*line));
          break;
        }
        case state::data: {
          if (signed_chunks) {
            size_t k = std::min(n, chunk.size() - chunk_pos);
            std::memcpy(buf, chunk.data() + chunk_pos, k);
            chunk_pos += k;
            if (chunk_pos == chunk.size()) st = state::size_line;
            return k;
          }
          size_t k = static_cast<size_t>(std::min<uint64_t>(n, remaining));
          if (buffered() > 0) {
            k = std::min(k, buffered());
            std::memcpy(buf, in.get() + in_pos, k);
            in_pos += k;
          } else {
            // Straight from the socket into the caller's buffer; never past this chunk.
            SLUICE_TRY(size_t got, raw.read(buf, k));
            k = got;
            if (k == 0) {
              raw_eof = true;
              return fail(errc::incomplete_body, "body ends inside an aws-chunked chunk");
            }
          }
          remaining -= k;
          if (remaining == 0) st = state::data_crlf;
          return k;
        }
        case state::data_crlf: {
          SLUICE_TRY(expect_crlf());
          st = state::size_line;
          break;
        }
        case state::trailers: {
          SLUICE_TRY(read_trailers());
          st = state::finish;
          break;
        }
        case state::finish: {
          SLUICE_TRY(finish());
          st = state::done;
          return size_t{0};
        }
        case state::done:
          return size_t{0};
      }
    }
  }
};

chunked_decoder::chunked_decoder(source& raw, payload_mode mode, signing_context ctx)
    : impl_(std::make_shared<impl>(raw, mode, std::move(ctx))) {}

result<size_t> chunked_decoder::read(char* buf, size_t n) {
  if (impl_->failed) return fail(*impl_->failed);
  if (n == 0) return size_t{0};
  auto r = impl_->read(buf, n);
  if (!r) impl_->failed = r.error();
  return r;
}

const std::vector<std::pair<std::string, std::string>>& chunked_decoder::trailers() const {
  return impl_->trailers;
}

void chunked_decoder::expect_decoded_length(uint64_t n) {
  impl_->expected_length = n;
}

struct payload_verifier::impl {
  impl(source& s, verify_spec sp) : inner(s), spec(std::move(sp)) {
    if (spec.sha256_hex) {
      if (spec.sha256_hex->size() != 64 || !from_hex(*spec.sha256_hex)) {
        failed = error(errc::invalid_content_sha256, "x-amz-content-sha256 is not 64 hex digits");
      }
      sha256.emplace(hash_kind::sha256);
    }
    if (spec.content_md5) {
      auto raw = base64_decode(*spec.content_md5);
      if (!raw || raw->size() != 16) {
        failed = error(errc::content_md5_invalid, "Content-MD5 is not base64 of 16 bytes");
      }
      if (raw) expected_md5 = std::move(*raw);
      md5.emplace(hash_kind::md5);
    }
    if (spec.checksum) {
      if (spec.checksum_value && !decode_checksum(*spec.checksum_value)) {
        failed = error(errc::checksum_invalid, checksum_header(*spec.checksum) + " is not a valid value");
      }
      sum.emplace(*spec.checksum);
    }
  }

  std::optional<std::string> decode_checksum(std::string_view v) const {
    auto raw = base64_decode(v);
    if (!raw || raw->size() != checksum_digest_size(*spec.checksum)) return std::nullopt;
    return raw;
  }

  result<void> verify_at_eof() {
    if (sha256) {
      std::string got = to_hex(sha256->finish());
      if (got != to_lower(*spec.sha256_hex)) {
        return fail(errc::content_sha256_mismatch,
                    "body sha256 " + got + ", x-amz-content-sha256 " + *spec.sha256_hex);
      }
    }
    if (md5 && md5->finish() != expected_md5) return fail(errc::content_md5_mismatch);
    if (sum) {
      std::string got = sum->finish_base64();
      std::string header = checksum_header(*spec.checksum);
      std::optional<std::string> want;
      if (spec.checksum_value) {
        want = decode_checksum(*spec.checksum_value);
      } else if (spec.trailer_source) {
        const auto& t = spec.trailer_source->trailers();
        auto it = std::find_if(t.begin(), t.end(), [&](const auto& kv) { return kv.first == header; });
        if (it == t.end()) {
          return fail(errc::incomplete_body, "aws-chunked body lacks the " + header + " trailer");
        }
        want = decode_checksum(it->second);
        if (!want) return fail(errc::checksum_invalid, "trailer " + header + " is not a valid value");
      }
      // Compared as bytes: base64 text can differ in padding bits.
      if (want && *want != *base64_decode(got)) {
        return fail(errc::checksum_mismatch, header + ": body has " + got);
      }
      result_checksum.emplace(*spec.checksum, std::move(got));
    }
    return ok();
  }

  source& inner;
  verify_spec spec;
  std::optional<hasher> sha256, md5;
  std::optional<checksummer> sum;
  std::string expected_md5;
  std::optional<error> failed;
  bool done = false;
  std::optional<std::pair<checksum_algorithm, std::string>> result_checksum;
};

payload_verifier::payload_verifier(source& inner, verify_spec spec)
    : impl_(std::make_shared<impl>(inner, std::move(spec))) {}

result<size_t> payload_verifier::read(char* buf, size_t n) {
  auto& s = *impl_;
  if (s.failed) return fail(*s.failed);
  if (s.done || n == 0) return size_t{0};
  auto r = s.inner.read(buf, n);
  if (!r) {
    s.failed = r.error();
    return r;
  }
  size_t k = r.value();
  if (k > 0) {
    std::string_view data(buf, k);
    if (s.sha256) s.sha256->update(data);
    if (s.md5) s.md5->update(data);
    if (s.sum) s.sum->update(data);
    return k;
  }
  if (auto v = s.verify_at_eof(); !v) {
    s.failed = v.error();
    return fail(v.error());
  }
  s.done = true;
  return size_t{0};
}

std::optional<std::pair<checksum_algorithm, std::string>> payload_verifier::checksum() const {
  return impl_->result_checksum;
}

}  // namespace sluice::s3::auth
