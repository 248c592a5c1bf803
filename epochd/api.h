// epochd's REST API: Epoch's endpoints (epoch-reference.md §1.2), its
// envelope {status, data, message} and error codes, with Epoch's API bugs
// fixed, plus extensions under /apis/v1 (cron preview, run paging, local
// task output), /healthcheck and /metrics.
//
// `handle` is the whole request path from request to response; tests call
// it without sockets. Every bad input gets a 4xx whose envelope says what
// was wrong and where, and changes nothing.
//
// Threading: thread-safe; answers arrive through the responder, possibly on
// the engine's strand. Ownership: keeps references to everything it is
// given; they must outlive it.
#pragma once

#include <cstddef>
#include <string>

#include "epoch/executor.h"
#include "epoch/leader.h"
#include "epoch/scheduler.h"
#include "epoch/store.h"
#include "http.h"
#include "metrics.h"

namespace epochd {

struct ApiOptions {
  // Base of the links epochd hands out (local task output), e.g.
  // "http://127.0.0.1:8080".
  std::string advertised_url = "http://127.0.0.1:8080";
  // Zone of cron previews that name none (default "UTC").
  std::string default_time_zone = "UTC";
  // The most bytes of task output one request returns (default 1 MiB).
  std::size_t max_output_chunk = 1024 * 1024;
};

class Api {
 public:
  Api(epoch::Scheduler& scheduler, epoch::Store& store, epoch::LeaderElector& elector,
      epoch::Executor& executor, Metrics& metrics, ApiOptions options);

  void handle(HttpRequest request, Responder respond);

 private:
  struct Context;
  void route(Context& c);
  void create_simple(Context& c);
  void edit_simple(Context& c, const std::string& id, bool ui);
  void list_runs(Context& c);
  void task_log_link(Context& c);
  void task_output(Context& c);
  void cron_next(Context& c);
  void audit_log(Context& c);
  void healthcheck(Context& c);

  epoch::Scheduler& scheduler_;
  epoch::Store& store_;
  epoch::LeaderElector& elector_;
  epoch::Executor& executor_;
  Metrics& metrics_;
  ApiOptions options_;
};

}  // namespace epochd
