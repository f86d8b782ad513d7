#include <chrono>

#include "objstore/object_layer.h"

namespace sluice::objstore {

const char* to_string(heal_status::state s) {
  switch (s) {
    case heal_status::state::none:
      return "none";
    case heal_status::state::running:
      return "running";
    case heal_status::state::done:
      return "done";
    case heal_status::state::failed:
      return "failed";
    case heal_status::state::stopped:
      return "stopped";
  }
  return "none";
}

result<usage_info> count_usage(object_layer& store, std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  usage_info out;
  SLUICE_TRY(auto buckets, store.list_buckets());
  out.buckets = buckets.size();
  for (const auto& b : buckets) {
    list_options lo;
    for (;;) {
      if (std::chrono::steady_clock::now() >= deadline) {
        out.complete = false;
        return out;
      }
      auto page = store.list_objects(b.name, lo);
      if (!page) {
        if (page.error().is(errc::bucket_not_found)) break;  // deleted meanwhile
        return fail(page.error());
      }
      for (const auto& o : page.value().objects) {
        ++out.objects;
        out.bytes += o.size;
      }
      if (!page.value().truncated || page.value().next_marker.empty()) break;
      lo.marker = page.value().next_marker;
    }
  }
  return out;
}

}  // namespace sluice::objstore
