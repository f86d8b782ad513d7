#pragma once
#include <CLI/CLI.hpp>

namespace sluice::app {

// `sluice s3url generate` (check an S3 endpoint, print an s3url) and
// `sluice s3url start-command` (print one `sluice server` command per node).
// Exit codes: 0 ok, 1 a check failed, 2 usage error.
void add_s3url_command(CLI::App& app);

}  // namespace sluice::app
