// epochd: the Epoch scheduler daemon.
#include <iostream>
#include <string>
#include <vector>

#include "cron_command.h"

namespace {

constexpr const char* kUsage =
    "usage: epochd <command> [options]\n"
    "\n"
    "commands:\n"
    "  cron next '<expr>' [--tz ZONE] [--after INSTANT] [-n N]   print the next fire times\n"
    "  cron describe '<expr>'                                   describe an expression\n"
    "  cron check < cases.jsonl                                 evaluate test cases\n"
    "\n"
    "The scheduling daemon itself (REST API, scheduler) is not built yet; only the cron\n"
    "commands are available in this version.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "epochd " << EPOCH_VERSION << "\n";
    return 0;
  }
  if (args[0] == "cron") {
    return epochd::run_cron_command({args.begin() + 1, args.end()}, std::cin, std::cout, std::cerr);
  }
  std::cerr << "epochd: unknown command '" << args[0] << "'\n" << kUsage;
  return 2;
}
