// sluice: wiring only. Subcommands live in their own files.
#include <CLI/CLI.hpp>

#include "apps/sluice/commands.h"
#include "apps/sluice/s3url_command.h"

int main(int argc, char** argv) {
  CLI::App app{"Sluice: an S3-compatible object store that streams.", "sluice"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  sluice::app::add_server_command(app);
  sluice::app::add_admin_command(app);
  sluice::app::add_config_command(app);
  sluice::app::add_s3url_command(app);
  sluice::app::add_worker_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Prints the help/version text (0) or the usage error; usage errors exit
    // with 2, as command-line tools conventionally do (CLI11's own codes vary).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return sluice::app::exit_code();
}
