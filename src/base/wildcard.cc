#include "base/wildcard.h"

namespace sluice {

bool wildcard_match(std::string_view p, std::string_view t, wildcards kind) {
  const bool question = kind == wildcards::star_question;
  // Greedy with backtracking to the last '*': O(|p| * |t|) at worst, no recursion.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && ((question && p[pi] == '?') || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace sluice
