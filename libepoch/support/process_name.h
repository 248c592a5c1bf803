// process_name (internal): "host:pid", how this process is named — the
// upstream id of the jobs it runs, its name in an election by default.
#pragma once

#include <unistd.h>

#include <string>

namespace epoch {

inline std::string host_and_pid() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace epoch
