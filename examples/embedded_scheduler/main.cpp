// embedded_scheduler: libepoch inside a program of your own.
//
// A MemoryStore, a LocalExecutor and the standalone elector; one topology
// whose PROCESS task runs every 2 seconds; after 10 seconds the program
// prints the runs and exits (non-zero when fewer than 4 runs succeeded).
//   embedded_scheduler [seconds]
#include <epoch/local_executor.h>
#include <epoch/scheduler.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 10;
  boost::asio::io_context ioc;
  auto store = epoch::make_memory_store();
  epoch::LocalExecutorOptions exec_options;
  exec_options.work_dir = (std::filesystem::temp_directory_path() / "epoch-example-tasks").string();
  auto executor = epoch::make_local_executor(exec_options);
  auto elector = epoch::make_standalone_elector("http://localhost:0");
  auto clock = epoch::make_system_clock();
  auto log = epoch::make_log_sink(std::cout);
  epoch::Scheduler scheduler(ioc, *store, *executor, *elector, *clock, *log);
  scheduler.start();

  epoch::ProcessTask hello;
  hello.task_name = "hello";
  hello.command = "/bin/sh";
  hello.args = {"-c", "echo \"hello from $EPOCH_RUN_ID (attempt $EPOCH_ATTEMPT)\""};
  epoch::Topology topology;
  topology.name = "hello-every-2s";
  topology.task.spec = hello;
  topology.trigger = epoch::CronTrigger{"0/2 * * * * ?", std::nullopt};
  scheduler.create(topology, [](epoch::StatusOr<epoch::TopologyDetails> d) {
    if (!d.ok()) {
      std::cerr << "create failed: " << d.status().message() << "\n";
      std::exit(1);
    }
  });

  ioc.run_for(std::chrono::seconds(seconds));
  scheduler.stop();

  int successful = 0;
  auto runs = store->load_runs("hello-every-2s");
  std::cout << "\nruns of hello-every-2s:\n";
  for (const epoch::RunRecord& r : *runs) {
    std::cout << "  " << r.run.run_id << "  " << epoch::to_string(r.run.state);
    auto out = executor->read_output(r.run.tasks.at("hello").task_id,
                                     epoch::OutputStream::kStdout, 0, 200);
    if (out.ok()) {
      std::string line = out->data.substr(0, out->data.find('\n'));
      std::cout << "  output: " << line;
    }
    std::cout << "\n";
    if (r.run.state == epoch::RunState::kSuccessful) ++successful;
  }
  std::cout << successful << " successful runs\n";
  std::filesystem::remove_all(exec_options.work_dir);
  return successful >= seconds / 2 - 1 ? 0 : 1;
}
