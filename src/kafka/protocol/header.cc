#include "kafka/protocol/header.h"

#include "kafka/protocol/api_table.h"

namespace sluice::kafka::protocol {

void read_request_header(reader& r, int header_version, request_header& out) {
  out.api_key = r.read_int16();
  out.api_version = r.read_int16();
  out.correlation_id = r.read_int32();
  if (header_version >= 1) r.read_string(out.client_id, /*flexible=*/false, /*nullable=*/true, "client_id");
  if (header_version >= 2) r.read_tagged_fields(out.unknown_tags, [](uint32_t, reader&) { return false; });
}

result<request_header> read_request_header(reader& r) {
  reader peek(r.rest());
  const int16_t key = peek.read_int16();
  const int16_t version = peek.read_int16();
  SLUICE_TRY(peek.status());
  request_header h;
  read_request_header(r, request_header_version(key, version), h);
  SLUICE_TRY(r.status());
  return h;
}

void write_request_header(writer& w, const request_header& h, int header_version) {
  w.write_int16(h.api_key);
  w.write_int16(h.api_version);
  w.write_int32(h.correlation_id);
  if (header_version >= 1) w.write_string(h.client_id, /*flexible=*/false);
  if (header_version >= 2) tag_section_writer(w, h.unknown_tags, 0).finish();
}

void read_response_header(reader& r, int header_version, response_header& out) {
  out.correlation_id = r.read_int32();
  if (header_version >= 1) r.read_tagged_fields(out.unknown_tags, [](uint32_t, reader&) { return false; });
}

void write_response_header(writer& w, int32_t correlation_id, int header_version) {
  w.write_int32(correlation_id);
  if (header_version >= 1) w.write_uvarint(0);
}

}  // namespace sluice::kafka::protocol
