#include "base/source.h"

namespace sluice {

result<std::string> read_all(source& s, size_t max, const error& too_large) {
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    SLUICE_TRY(size_t n, s.read(buf, sizeof buf));
    if (n == 0) return out;
    if (out.size() + n > max) return fail(too_large);
    out.append(buf, n);
  }
}

}  // namespace sluice
