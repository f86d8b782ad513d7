// Fuzzes every S3 request-document parser and the x-amz-tagging header parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "s3/xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)sluice::s3::parse_delete(in);
  (void)sluice::s3::parse_complete(in);
  (void)sluice::s3::parse_tagging(in, 10);
  (void)sluice::s3::parse_tagging_query(in, 10);
  (void)sluice::s3::parse_location_constraint(in);
  (void)sluice::s3::parse_versioning(in);
  return 0;
}
