// epoch/local_executor.h — run tasks on this host.
//
// What: an Executor for one machine. PROCESS tasks run as child processes;
// CONTAINER_EXECUTION tasks run through a docker-compatible CLI
// (`docker run --rm --name=<taskId> --cpus=N --memory=Nm --env=K=V
// --volume=host:container[:ro] <image> <args>`; podman works the same).
// Every value goes into a `--flag=value` word and the image must be a
// reference (check_image_reference, model.h), so no field of a task can
// become a docker option.
//
// Environment: a task starts from a minimal environment, not this
// process's: PATH (default /usr/local/bin:/usr/bin:/bin), HOME, LANG and TZ
// when set here, the variables named in `env_passthrough`, then the task's
// own env and the EPOCH_* run variables. Secrets of the embedding process
// (passwords in its environment) do not reach tasks unless passed through.
//
// Each task gets a directory <work_dir>/<taskId> holding its captured
// stdout.log and stderr.log and small state files. A detached supervisor
// process waits for the task and records its exit status there, so a task
// survives a restart of the engine: launching the same task id again
// attaches to the running process, or reports the exit that was recorded
// while no engine was watching. Kill sends SIGTERM to the task's process
// group (`docker stop` for containers), then SIGKILL after the grace time.
//
// Outcomes: exit code 0 is COMPLETED; any other exit code, a signal, or a
// program that cannot be started is FAILED with the reason and the last
// line of its standard error; a task killed through kill() is CANCELLED; a
// task whose supervisor vanished without recording an exit is FAILED as lost.
//
// Threading: thread-safe; no call answers inline: observers and the
// kill/cleanup callbacks run on the executor's monitor thread. A kill of a
// task still in the intake, or whose command has not started yet, ends it
// CANCELLED without starting it.
// Ownership: the executor owns its monitor thread; destroying it stops
// watching (the tasks go on).
// Errors: launch problems are reported through the observer as FAILED;
// kill/cleanup report through their callbacks; logs() returns kNotFound for
// an unknown id. read_output() serves a task's stdout.log and stderr.log
// (never following a link or FIFO a task put in their place).
//
// Example:
//   epoch::LocalExecutorOptions o;
//   o.work_dir = "/var/lib/myservice/epoch-tasks";
//   o.kill_grace = std::chrono::seconds(5);
//   o.env_passthrough = {"PATH", "HOME"};
//   auto executor = epoch::make_local_executor(o);
//   // then: epoch::Scheduler scheduler(ioc, *store, *executor, *elector, *clock, events);
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "epoch/executor.h"

namespace epoch {

struct LocalExecutorOptions {
  // Where task directories live (default "./epoch-tasks"; created if missing).
  std::string work_dir = "epoch-tasks";
  // The docker-compatible CLI for container tasks (default "docker").
  std::string docker_cli = "docker";
  // Time between SIGTERM and SIGKILL when killing (default 10 s).
  std::chrono::milliseconds kill_grace = std::chrono::seconds(10);
  // How often running tasks are checked (default 100 ms).
  std::chrono::milliseconds poll_interval = std::chrono::milliseconds(100);
  // Names of this process's environment variables that tasks (and the
  // docker CLI) also get (default none: only PATH, HOME, LANG, TZ).
  std::vector<std::string> env_passthrough;
};

std::unique_ptr<Executor> make_local_executor(LocalExecutorOptions options);

}  // namespace epoch
