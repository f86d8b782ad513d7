#pragma once
// Request and response headers.
//
//   request header v0: api_key i16, api_version i16, correlation_id i32
//               v1: + client_id, a nullable int16-length string (never compact, even in v2)
//               v2: + tagged fields
//   response header v0: correlation_id i32;  v1: + tagged fields
//
// Which version applies comes from api_table.h: flexible API versions use request header 2 and
// response header 1, others 1 and 0; ApiVersions responses always use header 0 (KIP-511).
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "kafka/protocol/wire.h"

namespace sluice::kafka::protocol {

struct request_header {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;  // v1+
  tagged_fields unknown_tags;            // v2
  bool operator==(const request_header&) const = default;
};

struct response_header {
  int32_t correlation_id = 0;
  tagged_fields unknown_tags;  // v1
  bool operator==(const response_header&) const = default;
};

// Reads a request header of the given version (0-2).
void read_request_header(reader& r, int header_version, request_header& out);
// Reads api_key and api_version, picks the header version with request_header_version() and reads
// the rest. Works for unknown keys and versions above the codec's range, so the caller still learns
// the correlation id to answer with (or log before closing). `r` is left at the start of the body.
result<request_header> read_request_header(reader& r);

void write_request_header(writer& w, const request_header& h, int header_version);

void read_response_header(reader& r, int header_version, response_header& out);
void write_response_header(writer& w, int32_t correlation_id, int header_version);

}  // namespace sluice::kafka::protocol
