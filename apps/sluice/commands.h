#pragma once
#include <CLI/CLI.hpp>

namespace sluice::app {

// Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
void add_server_command(CLI::App& app);
void add_admin_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_worker_command(CLI::App& app);
void set_exit_code(int code);
int exit_code();

}  // namespace sluice::app
