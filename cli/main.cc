// The `parapet` executable: one binary, subcommands that wire Parapet's modules together.
// Exit codes: 0 ok, 1 the check failed, 2 usage or input error.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

namespace parapet::cli {

int InputError(const std::string& message) {
  std::fprintf(stderr, "parapet: %s\n", message.c_str());
  return 2;
}

}  // namespace parapet::cli

int main(int argc, char** argv) {
  CLI::App app{"Parapet: a guardrail-enabled LLM inference gateway", "parapet"};
  app.require_subcommand(1);
  parapet::cli::Action run;
  parapet::cli::AddModelCommands(app, &run);
  parapet::cli::AddTokenizeCommand(app, &run);
  parapet::cli::AddGenerateCommand(app, &run);
  parapet::cli::AddServeCommand(app, &run);
  parapet::cli::AddPolicyCommands(app, &run);
  parapet::cli::AddAuditCommands(app, &run);
  parapet::cli::AddClassifierCommands(app, &run);
  auto is_command = [&app](const std::string& name) {
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->check_name(name)) return true;
    }
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !is_command(argv[1])) {
    return parapet::cli::InputError(std::string("unknown command '") + argv[1] +
                                    "'; run 'parapet --help' for the list");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the problem, then where to look; usage errors exit 2.
    std::fprintf(stderr, "parapet: %s\nRun 'parapet --help' (or 'parapet COMMAND --help').\n",
                 e.what());
    return 2;
  }
  if (!run) return parapet::cli::InputError("no command given");
  return run();
}
