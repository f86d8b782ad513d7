#pragma once
// Shell-style wildcard matching over bytes, as bucket policies (AWS) and
// notification filters (MinIO's wildcard.MatchSimple) use it.
#include <string_view>

namespace sluice {

enum class wildcards {
  star,           // only '*' is special: it matches any run of bytes (MinIO's MatchSimple)
  star_question,  // '*' as above and '?' matches one byte (AWS policies)
};

bool wildcard_match(std::string_view pattern, std::string_view text,
                    wildcards kind = wildcards::star_question);

}  // namespace sluice
