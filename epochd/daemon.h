// The daemon proper: builds the store, executor, elector and engine that
// `config` names, serves the REST API, and runs until SIGTERM or SIGINT,
// then shuts down gracefully (stop accepting, answer the requests in
// flight, stop the engine; tasks keep running and are re-attached on the
// next start). Returns the process exit code; start-up problems are logged
// and give 1.
#pragma once

#include "config.h"
#include "log.h"

namespace epochd {

int run_daemon(const Config& config, Logger& log);

}  // namespace epochd
