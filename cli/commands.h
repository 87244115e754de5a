// Subcommand registration for the `parapet` executable. Each Add*Commands() adds its
// subcommands to the app; the chosen one stores its action in `*run`, which main() calls after
// parsing. Actions return the process exit code: 0 ok, 1 a check failed, 2 usage or input error.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace parapet::cli {

using Action = std::function<int()>;

void AddModelCommands(CLI::App& app, Action* run);       // model info
void AddTokenizeCommand(CLI::App& app, Action* run);     // tokenize
void AddGenerateCommand(CLI::App& app, Action* run);     // generate
void AddServeCommand(CLI::App& app, Action* run);        // serve, key new
void AddPolicyCommands(CLI::App& app, Action* run);      // policy check | test | explain
void AddAuditCommands(CLI::App& app, Action* run);       // audit keygen | hash | verify | ...
void AddClassifierCommands(CLI::App& app, Action* run);  // classifier train | eval, classify

// Prints "parapet: <message>" to stderr and returns 2.
int InputError(const std::string& message);

}  // namespace parapet::cli
