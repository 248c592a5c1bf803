// The daemon proper: builds the store, executor, elector and engine that
// `config` names, serves the REST API, and runs until SIGTERM or SIGINT,
// then shuts down gracefully (stop accepting, answer the requests in
// flight, stop the engine; tasks keep running and are re-attached on the
// next start). Returns the process exit code; start-up problems are logged
// and give 1.
#pragma once

#include <cstdint>
#include <functional>
#include <stop_token>

#include "config.h"
#include "log.h"

namespace epochd {

// For a daemon run inside another program (tests): `ready` is called once
// it serves, with its port, on the thread running run_daemon; a stop
// requested on `stop` shuts it down as SIGTERM does (the request may come
// from any thread, also before it serves).
struct DaemonControl {
  std::function<void(std::uint16_t port)> ready;
  std::stop_token stop;
};

int run_daemon(const Config& config, Logger& log, const DaemonControl& control = {});

}  // namespace epochd
