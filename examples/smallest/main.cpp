// The smallest program that schedules its own function: every second, for
// as many seconds as argv[1] says (default 5). State is kept in memory.
#include <epoch/job_scheduler.h>

#include <cstdlib>
#include <iostream>
#include <thread>

int main(int argc, char** argv) {
  epoch::JobSchedulerOptions options;
  options.register_job("hello", [](epoch::JobContext& job) {
    std::cout << "hello from " << job.run_id() << std::endl;
  });
  auto scheduler = epoch::JobScheduler::start(std::move(options));
  if (!scheduler.ok()) return std::cerr << scheduler.status().message() << "\n", 1;
  auto created = (*scheduler)->create(epoch::function_topology("hello", "* * * * * ?", "hello"));
  if (!created.ok()) return std::cerr << created.status().message() << "\n", 1;
  std::this_thread::sleep_for(std::chrono::seconds(argc > 1 ? std::atoi(argv[1]) : 5));
}
