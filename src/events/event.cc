#include "events/event.h"

#include <cinttypes>
#include <cstdio>

#include "base/encoding.h"
#include "base/time.h"

namespace sluice::events {

namespace {

// Decodes one UTF-8 sequence at s[i] as Go's utf8.DecodeRuneInString does:
// overlong forms, surrogates and values past U+10FFFF are invalid, and an
// invalid sequence consumes one byte. Returns the code point (-1 if invalid)
// and advances i.
int32_t decode_rune(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (n == 1) {
    ++i;
    return c;
  }
  if (n == 0 || i + n > s.size()) {
    ++i;
    return -1;
  }
  int32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    ++i;
    return -1;
  }
  i += n;
  return cp;
}

void append_u16(std::string& out, uint32_t unit) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char buf[6] = {'\\',
                       'u',
                       kHex[(unit >> 12) & 0xf],
                       kHex[(unit >> 8) & 0xf],
                       kHex[(unit >> 4) & 0xf],
                       kHex[unit & 0xf]};
  out.append(buf, sizeof buf);
}

// Bytes copied as they are: printable ASCII other than the escaped ones.
bool plain_json_byte(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

// A JSON string as Go's encoding/json writes it (HTML-safe: <, >, & escaped;
// invalid UTF-8 as U+FFFD), except that everything outside ASCII is escaped
// too, so the bytes are pure ASCII (surrogate pairs above the BMP).
void append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    // A run of bytes that need no escape goes in one append.
    size_t run = i;
    while (run < s.size() && plain_json_byte(static_cast<unsigned char>(s[run]))) ++run;
    if (run != i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      int32_t cp = decode_rune(s, i);
      if (cp < 0) cp = 0xfffd;
      if (cp < 0x10000) {
        append_u16(out, static_cast<uint32_t>(cp));
      } else {
        uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
        append_u16(out, 0xd800 + (v >> 10));
        append_u16(out, 0xdc00 + (v & 0x3ff));
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '<':
      case '>':
      case '&':
        append_u16(out, c);
        break;
      default:
        if (c < 0x20)
          append_u16(out, c);
        else
          out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

// Writes one JSON object member by member; keys are fixed ASCII.
class object_writer {
 public:
  explicit object_writer(std::string& out) : out_(out) { out_.push_back('{'); }
  object_writer& str(std::string_view key, std::string_view value) {
    append_string(next(key), value);
    return *this;
  }
  object_writer& num(std::string_view key, uint64_t value) {
    next(key) += std::to_string(value);
    return *this;
  }
  // A map<string,string> member: keys in byte order, as Go encodes maps.
  object_writer& map(std::string_view key, const std::map<std::string, std::string>& m) {
    std::string& o = next(key);
    object_writer inner(o);
    for (const auto& [k, v] : m) inner.str(k, v);
    inner.end();
    return *this;
  }
  // Opens a nested object member; the caller writes it and calls end() on it.
  std::string& raw(std::string_view key) { return next(key); }
  void end() { out_.push_back('}'); }

 private:
  std::string& next(std::string_view key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    append_string(out_, key);
    out_.push_back(':');
    return out_;
  }
  std::string& out_;
  bool first_ = true;
};

bool is_removed_event(std::string_view name) {
  return name == "s3:ObjectRemoved:Delete" || name == "s3:ObjectRemoved:DeleteMarkerCreated" ||
         name == "s3:ObjectRemoved:NoOP";
}

std::string sequencer(const event_args& e) {
  auto t = e.mod_time.value_or(e.event_time);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%" PRIX64, static_cast<uint64_t>(unix_nanos(t)));
  return buf;
}

void write_identity(object_writer& w, std::string_view key, const std::string& principal) {
  object_writer id(w.raw(key));
  id.str("principalId", principal);
  id.end();
}

void write_object(object_writer& s3, const event_args& e, key_form form) {
  object_writer o(s3.raw("object"));
  o.str("key", form == key_form::escaped ? query_escape(e.key) : e.key);
  if (!is_removed_event(e.name)) {
    if (e.size && *e.size > 0) o.num("size", *e.size);
    if (!e.etag.empty()) o.str("eTag", e.etag);
    if (!e.content_type.empty()) o.str("contentType", e.content_type);
    if (!e.user_metadata.empty()) o.map("userMetadata", e.user_metadata);
  }
  if (!e.version_id.empty()) o.str("versionId", e.version_id);
  o.str("sequencer", sequencer(e));
  o.end();
}

void write_s3(object_writer& rec, const event_args& e, key_form form) {
  object_writer s3(rec.raw("s3"));
  s3.str("s3SchemaVersion", "1.0").str("configurationId", "Config");
  {
    object_writer b(s3.raw("bucket"));
    b.str("name", e.bucket);
    write_identity(b, "ownerIdentity", e.principal_id);
    b.str("arn", "arn:aws:s3:::" + e.bucket);
    b.end();
  }
  write_object(s3, e, form);
  s3.end();
}

std::map<std::string, std::string> request_parameters(const event_args& e) {
  std::map<std::string, std::string> m{
      {"principalId", e.principal_id}, {"region", e.region}, {"sourceIPAddress", e.source_ip}};
  if (!e.range.empty()) m["range"] = e.range;
  return m;
}

// Our x-amz-id-2 response header carries the request id (there is one node),
// so the record says the same.
std::map<std::string, std::string> response_elements(const event_args& e) {
  std::map<std::string, std::string> m{{"x-amz-id-2", e.request_id},
                                       {"x-amz-request-id", e.request_id},
                                       {"x-minio-deployment-id", e.deployment_id},
                                       {"x-minio-origin-endpoint", e.origin_endpoint}};
  if (e.content_length) m["content-length"] = std::to_string(*e.content_length);
  return m;
}

void append_record(std::string& out, const event_args& e, key_form form) {
  object_writer rec(out);
  rec.str("eventVersion", "2.0")
      .str("eventSource", "minio:s3")
      .str("awsRegion", e.region)
      .str("eventTime", format_iso8601(e.event_time))
      .str("eventName", e.name);
  write_identity(rec, "userIdentity", e.principal_id);
  rec.map("requestParameters", request_parameters(e)).map("responseElements", response_elements(e));
  write_s3(rec, e, form);
  {
    object_writer src(rec.raw("source"));
    src.str("host", e.source_ip).str("port", "").str("userAgent", e.user_agent);
    src.end();
  }
  rec.end();
}

}  // namespace

std::string record_json(const event_args& e, key_form form) {
  std::string out;
  append_record(out, e, form);
  return out;
}

std::string message_value(const event_args& e) {
  std::string out;
  object_writer w(out);
  w.str("EventName", e.name).str("Key", message_key(e));
  std::string& records = w.raw("Records");
  records.push_back('[');
  append_record(records, e, key_form::escaped);
  records.push_back(']');
  w.end();
  return out;
}

std::string message_key(const event_args& e) {
  return e.bucket + "/" + e.key;
}

std::string listen_line(const event_args& e) {
  std::string out = "{\"Records\":[";
  append_record(out, e, key_form::raw);
  out += "]}";
  return out;
}

}  // namespace sluice::events
