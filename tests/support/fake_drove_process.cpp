#include "fake_drove_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "daemon_process.h"
#include "http_client.h"

namespace epoch::test {

epoch::TaskLaunch busybox_launch(const std::string& run_id) {
  epoch::TaskLaunch l;
  l.task_id = "t-" + run_id + "-main";
  l.topology_id = "t";
  l.run_id = run_id;
  l.task_name = "main";
  epoch::ContainerTask c;
  c.task_name = "main";
  c.executable.url = "docker.io/library/busybox:1.36";
  c.resources = {{epoch::Resource::Type::kCpu, 1}, {epoch::Resource::Type::kMemory, 128}};
  l.task.spec = c;
  return l;
}

FakeDroveProcess::FakeDroveProcess(const std::string& binary, int controllers,
                                   std::vector<std::string> args)
    : dir_(make_temp_dir("fake-drove")) {
  args.insert(args.begin(), {"--ports", std::to_string(controllers)});
  const std::string err = dir_ + "/fake_drove.err";
  pid_ = spawn_process(binary, args, "", err, err);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(err);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    const auto at = text.find("ports=");
    const auto eol = at == std::string::npos ? at : text.find('\n', at);
    if (eol != std::string::npos) {
      std::stringstream list(text.substr(at + 6, eol - at - 6));
      for (std::string p; std::getline(list, p, ',');)
        ports_.push_back(static_cast<std::uint16_t>(std::stoi(p)));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("fake_drove did not start");
}

FakeDroveProcess::~FakeDroveProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string FakeDroveProcess::endpoints() const {
  std::string out;
  for (auto p : ports_)
    out += (out.empty() ? "" : ",") + std::string("http://127.0.0.1:") + std::to_string(p);
  return out;
}

std::map<std::string, int> FakeDroveProcess::accepted() const {
  const auto r = http_call(ports_.front(), "GET", "/fake/launches");
  std::map<std::string, int> out;
  if (r.status != 200) return out;
  const boost::json::value body =
      boost::json::parse(r.body);  // (range-for over a temporary's member dangles)
  for (const auto& [k, v] : body.at("accepted").as_object())
    out[std::string(k)] = static_cast<int>(v.as_int64());
  return out;
}

std::int64_t FakeDroveProcess::count(const std::string& name) const {
  const auto r = http_call(ports_.front(), "GET", "/fake/launches");
  if (r.status != 200) return -1;
  return boost::json::parse(r.body).at(name).as_int64();
}

void FakeDroveProcess::set_leader(int i) const {
  http_call(ports_.front(), "POST", "/fake/leader?controller=" + std::to_string(i));
}

void FakeDroveProcess::fault(const std::string& query) const {
  http_call(ports_.front(), "POST", "/fake/faults?" + query);
}

}  // namespace epoch::test
