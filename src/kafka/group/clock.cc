#include "kafka/group/clock.h"

#include <chrono>

namespace sluice::kafka::group {
namespace {

class real final : public clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  int64_t wall_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

std::shared_ptr<clock> real_clock() {
  static const auto instance = std::make_shared<real>();
  return instance;
}

}  // namespace sluice::kafka::group
