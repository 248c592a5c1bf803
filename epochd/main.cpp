// epochd: the Epoch scheduler daemon.
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "auth.h"
#include "config.h"
#include "cron_command.h"
#include "daemon.h"
#include "epoch/webhook_sink.h"
#include "log.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--version") {
    std::cout << "epochd " << EPOCH_VERSION << "\n";
    return 0;
  }
  if (!args.empty() && args[0] == "cron") {
    return epochd::run_cron_command({args.begin() + 1, args.end()}, std::cin, std::cout, std::cerr);
  }
  if (!args.empty() && args[0] == "hash-password") {
    // The password is read from standard input (first line), never from argv.
    if (args.size() > 1) {
      std::cerr << "usage: epochd hash-password < password-file   (prints the hash for "
                   "--auth-users)\n";
      return 2;
    }
    std::string password;
    std::getline(std::cin, password);
    if (password.empty()) {
      std::cerr << "epochd hash-password: empty password on standard input\n";
      return 2;
    }
    auto hash = epochd::hash_password(password);
    if (!hash.ok()) {
      std::cerr << "epochd hash-password: " << hash.status().message() << "\n";
      return 1;
    }
    std::cout << *hash << "\n";
    return 0;
  }
  if (!args.empty() && args[0] == "webhook-key") {
    // The key a topology's own webhook URLs are signed with, for its owner.
    // The server's secret is read from standard input, never from argv.
    if (args.size() != 2 || args[1].empty()) {
      std::cerr << "usage: epochd webhook-key <topologyId> < webhook-secret-file   (prints the "
                   "key that topology's webhook URLs are signed with)\n";
      return 2;
    }
    std::string secret((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
      secret.pop_back();  // as --webhook-secret-file reads it
    if (secret.empty()) {
      std::cerr << "epochd webhook-key: empty secret on standard input\n";
      return 2;
    }
    std::cout << epoch::topology_webhook_key(secret, args[1]) << "\n";
    return 0;
  }
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    std::cerr << "epochd: unknown command '" << args[0]
              << "' (commands: cron, hash-password, webhook-key; see epochd --help)\n";
    return 2;
  }
  std::string help;
  auto config = epochd::load_config(
      args, [](const char* name) { return std::getenv(name); }, help);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (!config->has_value()) {
    std::cout << help;
    return 0;
  }
  const epochd::Config& c = **config;
  epochd::Logger log(std::cerr, c.log_format, c.log_level);
  return epochd::run_daemon(c, log);
}
