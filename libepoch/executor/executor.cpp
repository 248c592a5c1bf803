// What every executor shares: the EPOCH_* task environment, and the default
// of the optional read_output().
#include "epoch/executor.h"

#include "epoch/time_zone.h"

namespace epoch {

std::map<std::string, std::string> epoch_task_env(const TaskLaunch& l) {
  return {{"EPOCH_TOPOLOGY_ID", l.topology_id},
          {"EPOCH_RUN_ID", l.run_id},
          {"EPOCH_RUN_TYPE", std::string(to_string(l.run_type))},
          {"EPOCH_ATTEMPT", std::to_string(l.attempt)},
          {"EPOCH_TASK_NAME", l.task_name},
          {"EPOCH_TASK_ID", l.task_id},
          {"EPOCH_SCHEDULED_TIME", format_utc(l.scheduled_time)},
          {"EPOCH_SCHEDULED_TIME_MS", std::to_string(to_epoch_millis(l.scheduled_time))}};
}

bool Executor::in_process(const Task&) const noexcept { return false; }

StatusOr<OutputChunk> Executor::read_output(const std::string& task_id, OutputStream, std::int64_t,
                                            std::size_t) {
  return not_found("the " + std::string(name()) + " executor keeps no output of task " + task_id);
}

}  // namespace epoch
