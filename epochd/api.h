// epochd's REST API: Epoch's endpoints (epoch-reference.md §1.2), its
// envelope {status, data, message} and error codes, with Epoch's API bugs
// fixed, plus extensions under /apis/v1 (cron preview, run paging, local
// task output), /healthcheck and /metrics.
//
// `handle` answers one request whose target FrontDoor already parsed into a
// Route (the same parse that authorized it) for an authenticated caller;
// tests call it without sockets. Every bad input gets a 4xx whose envelope
// says what was wrong and where, and changes nothing.
//
// Threading: thread-safe; answers arrive through the responder, possibly on
// the engine's strand. Ownership: keeps references to everything it is
// given; they must outlive it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "epoch/executor.h"
#include "epoch/leader.h"
#include "epoch/scheduler.h"
#include "epoch/store.h"
#include "http.h"
#include "metrics.h"
#include "routes.h"

namespace epochd {

// Who may make epochd run code on its own host. A topology runs code here
// when a task is PROCESS, or a container on the local executor; creating or
// changing one needs `exec_role`. Host volumes (a container's pathOnHost)
// must lie under one of `volume_roots`.
struct HostAccess {
  // The least role that may create or change such topologies; nullopt:
  // nobody (default ADMIN; epochd derives it from --host-exec-role).
  std::optional<Role> exec_role = Role::kAdmin;
  // Container tasks run on this host (the local executor). Default true.
  bool containers_on_host = true;
  // Directories host volumes may come from; empty (default): none.
  std::vector<std::string> volume_roots;
  // Volumes are the executor's business (Drove mounts them on its own
  // hosts, under its own policy). Default false.
  bool volumes_unrestricted = false;
};

struct ApiOptions {
  // Base of the links epochd hands out (local task output), e.g.
  // "http://127.0.0.1:8080".
  std::string advertised_url = "http://127.0.0.1:8080";
  // Zone of cron previews that name none (default "UTC").
  std::string default_time_zone = "UTC";
  // The most bytes of task output one request returns (default 1 MiB).
  std::size_t max_output_chunk = 1024 * 1024;
  HostAccess host;
};

class Api {
 public:
  Api(epoch::Scheduler& scheduler, epoch::Store& store, epoch::LeaderElector& elector,
      epoch::Executor& executor, Metrics& metrics, ApiOptions options);

  // Answers `request`, whose target `route` is, for `who`.
  void handle(Route route, HttpRequest request, Principal who, Responder respond);

 private:
  struct Context;
  void dispatch(Context& c);
  void update(epoch::Topology topology, const Responder& respond, bool ui);
  // 403 when `who` may not make `t` run code on this host, 400 for host
  // volumes outside the allowed roots; nullopt when `t` may be stored.
  std::optional<HttpResponse> host_access(const epoch::Topology& t, const Principal& who) const;
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
