#pragma once
// `sluice worker exec --cmd '…'`: runs a user command once per event record,
// with the consumer's delivery rules (consumer.h).
//
// The command runs as `/bin/sh -c CMD` in its own process group with:
//   stdin               the message value (the MinIO event JSON)
//   SLUICE_OBJECT_PATH  a temp file holding the object (ObjectCreated events that
//                       create content; empty for others or with download off);
//                       removed after the command
//   SLUICE_BUCKET, SLUICE_KEY (raw object name), SLUICE_EVENT_NAME, SLUICE_ETAG,
//   SLUICE_VERSION_ID, SLUICE_OBJECT_SIZE, SLUICE_ATTEMPT (1, 2, ...),
//   SLUICE_KAFKA_TOPIC, SLUICE_KAFKA_PARTITION, SLUICE_KAFKA_OFFSET
// and the worker's environment. Exit status 0: done. Anything else, or running
// past the timeout (the process group gets SIGTERM, then SIGKILL 2 s later):
// failed — retried with backoff, dead-lettered after max attempts with the
// exit status and the last 4 KiB of its output. Its stdout and stderr are
// captured (logged at debug level on success).
//
// Skipped without running: event names matching none of `events`, objects
// carrying the worker mark (unless skip_marked is off), objects deleted
// before processing (404).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "s3client/client.h"
#include "worker/event.h"
#include "worker/handler.h"

namespace sluice::worker {

struct exec_options {
  std::string command;
  std::chrono::milliseconds timeout{60'000};
  std::vector<std::string> events = {"s3:ObjectCreated:*"};  // patterns, name_matches()
  std::string tmp_dir;                                       // empty: $TMPDIR, else /tmp
  bool download = true;
  bool skip_marked = true;
  uint64_t max_input_bytes = 256ull << 20;  // larger objects are dead-lettered
  size_t output_tail = 4096;                // bytes of output kept for errors
};

class exec_handler final : public handler {
 public:
  // s3 may be null when download is off.
  exec_handler(exec_options opts, std::shared_ptr<s3client::client> s3);
  outcome handle(const message& m, int attempt, const std::atomic<bool>& stop) override;

 private:
  outcome handle_record(const message& m, const object_event& e, int attempt, const std::atomic<bool>& stop);

  exec_options opts_;
  std::shared_ptr<s3client::client> s3_;
};

// The result of one command run.
struct command_result {
  int exit_status = -1;  // 0..255 when it exited
  int signal = 0;        // the signal that killed it, 0 if it exited
  bool timed_out = false;
  bool stopped = false;  // the worker is stopping: it was killed
  std::string output_tail;
};

// Runs `/bin/sh -c command` with stdin from `stdin_path`, extra environment
// variables, stdout+stderr captured (the last `tail` bytes kept); kills its
// process group after `timeout` or once `stop` is set. Fails only when the
// process could not be started.
result<command_result> run_command(const std::string& command, const std::string& stdin_path,
                                   const std::vector<std::pair<std::string, std::string>>& env,
                                   std::chrono::milliseconds timeout, size_t tail,
                                   const std::atomic<bool>& stop);

}  // namespace sluice::worker
