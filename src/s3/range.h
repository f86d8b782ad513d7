#pragma once
// HTTP Range header for GET (RFC 9110 §14), the single-range forms S3 supports:
// "bytes=a-b", "bytes=a-", "bytes=-n". Syntactically invalid or multi-range
// headers are ignored (the whole object is sent), as S3 does.
#include <cstdint>
#include <string_view>

namespace sluice::s3 {

struct range_result {
  enum class kind { none, satisfiable, unsatisfiable } k = kind::none;
  uint64_t offset = 0;
  uint64_t length = 0;
};

range_result parse_range(std::string_view header, uint64_t object_size);

}  // namespace sluice::s3
