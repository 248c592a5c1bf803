// epoch/drove_executor.h — tasks on Drove, PhonePe's container orchestrator.
//
// What: an Executor that runs CONTAINER_EXECUTION tasks as Drove tasks
// through the controller's task API (drove-reference.md): CREATE with the
// deterministic task id under `app_name` (Drove's sourceAppName) — a
// "Task already exists" answer attaches instead of failing — status polling
// of every live task in one cycle per `poll_interval`, KILL, and DELETE of
// the task's metadata on cleanup. With several controller endpoints the
// leader is found by ping (only the leader answers 200) and found again
// when it changes. HTTP or HTTPS (TLS 1.2+, certificates verified against
// a configurable CA). Basic auth when a username is set. Transport errors
// and 5xx are retried with backoff.
//
// State mapping (Epoch's, with its bugs fixed): PENDING/PROVISIONING/
// STARTING → STARTING; RUNNING/RUN_COMPLETED/DEPROVISIONING → RUNNING;
// PROVISIONING_FAILED, RUN_FAILED and LOST → FAILED; STOPPED → by the task
// result (SUCCESSFUL → COMPLETED, CANCELLED → CANCELLED, else FAILED), and a
// task that stopped without a result (an image that could not be pulled) is
// FAILED. Drove's error message and exit code are kept. A task Drove does
// not know is reported as not found; the engine fails it after its
// unknown_task_timeout, so it is never polled forever.
//
// A CREATE Drove does not accept (unreachable, 5xx, not the leader) is
// tried again after a pause that starts at retry_backoff and doubles to
// 5 s, until launch_give_up; no worker thread waits during the pause, so
// one unreachable launch never holds up the kills, cleanups and creates of
// others. A kill while the CREATE is still being retried stops the retries
// and ends the task CANCELLED at once ("killed before Drove accepted the
// task"); a
// CREATE that was in flight and succeeds is followed by a KILL. A cleanup
// DELETE answered `deleted: false` or failing is tried three times (2 s and
// 4 s apart) before its callback hears why.
//
// Threading: thread-safe; network calls run on the executor's own threads
// (`workers` for create/kill/cleanup, one poller), never on the caller's;
// no call answers inline: observers and callbacks run on those threads.
// Ownership: the executor owns its threads; destroying it stops them (the
// tasks go on in Drove).
// Errors: make_drove_executor() refuses bad options (kInvalidArgument);
// launch problems reach the observer as FAILED with Drove's words.
//
// Example:
//   epoch::DroveExecutorOptions o;
//   o.endpoints = {"https://drove.internal:10000"};
//   o.app_name = "EPOCH";
//   o.username = "epoch";
//   o.password = "secret";
//   auto drove = epoch::make_drove_executor(o);
//   if (!drove.ok()) return drove.status();  // e.g. no endpoint, a bad URL
//   // then: epoch::Scheduler scheduler(ioc, *store, **drove, *elector, *clock, events);
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "epoch/executor.h"
#include "epoch/status.h"

namespace epoch {

struct DroveExecutorOptions {
  std::vector<std::string> endpoints;  // controller URLs, "http(s)://host:port"
  std::string app_name;                // Drove's sourceAppName (Epoch: DROVE_APP_NAME)
  std::string username, password;      // Basic auth when username is set
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds operation_timeout{5000};
  std::chrono::milliseconds poll_interval{3000};
  // How often the leader is pinged again (several endpoints only).
  std::chrono::milliseconds leader_check_interval{1000};
  // Tries of a kill or cleanup call, on transport errors and 5xx, with
  // retry_backoff doubling between them (a CREATE: see launch_give_up).
  int max_attempts = 3;
  std::chrono::milliseconds retry_backoff{200};
  // A create Drove has not accepted (unreachable, 5xx) after this long
  // fails the task.
  std::chrono::milliseconds launch_give_up{60000};
  // ClusterOpSpec JSON sent with CREATE and KILL.
  std::string cluster_op_spec =
      R"({"timeout":"300 seconds","parallelism":1,"failureStrategy":"STOP"})";
  int workers = 4;  // threads for create, kill and cleanup calls
  // HTTPS endpoints: TLS 1.2 or later; the certificate is verified against
  // this CA bundle (PEM; empty: the system's) and must name the host.
  std::string tls_ca_file;
  bool tls_insecure = false;  // skip verification (Epoch's `insecure`)
};

StatusOr<std::unique_ptr<Executor>> make_drove_executor(DroveExecutorOptions options);

}  // namespace epoch
