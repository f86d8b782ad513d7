#include "worker/handler.h"

#include <fmt/format.h>

#include "worker/event.h"

namespace sluice::worker {

outcome for_each_record(const message& m, const std::function<outcome(const object_event&)>& one) {
  auto events = parse_event(m.value);
  if (!events) return outcome::dead("bad_event", events.error().message());
  outcome total = outcome::skip("");
  std::vector<std::string> done, skipped;
  for (const auto& e : events.value()) {
    outcome o = one(e);
    if (!total.event_time) total.event_time = e.event_time;
    switch (o.what) {
      case verdict::done:
        total.what = verdict::done;
        total.outputs += o.outputs;
        done.push_back(std::move(o.detail));
        break;
      case verdict::skipped:
        total.quiet = skipped.empty() ? o.quiet : total.quiet && o.quiet;
        skipped.push_back(std::move(o.reason));
        break;
      default:
        o.event_time = e.event_time;
        return o;
    }
  }
  if (total.what == verdict::done) {
    for (const auto& s : skipped) done.push_back("skipped: " + s);
    total.detail = fmt::format("{}", fmt::join(done, "; "));
  } else {
    total.reason = fmt::format("{}", fmt::join(skipped, "; "));
  }
  return total;
}

}  // namespace sluice::worker
