#pragma once
// Errors of the worker module (event-driven functions).
#include "base/errc.h"
#include "base/result.h"

namespace sluice::worker {

enum class errc {
  bad_event = 1,   // the message is not a bucket event this worker understands
  bad_argument,    // invalid option value (size, format, fit, ...)
  undecodable,     // the object is not an image libvips may load, or is corrupt
  too_large,       // the object exceeds the byte or pixel limit
  unsupported,     // an output format this libvips build cannot write
  image_error,     // libvips failed while resizing or encoding
  kafka_error,     // librdkafka failed (configuration, produce, commit)
  command_failed,  // `worker exec`: the command exited non-zero or was killed
  timeout,         // `worker exec`: the command ran out of time
  io_error,        // local files (temp files, pipes, spawning)
  stopped,         // the worker is stopping
};
const std::error_category& category();
inline std::error_code make_error_code(errc e) {
  return {static_cast<int>(e), category()};
}

}  // namespace sluice::worker

SLUICE_ERRC_ENUM(sluice::worker::errc)
