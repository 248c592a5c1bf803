#include "daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace epoch::test {

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds limit,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(interval);
  }
  return f();
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

void make_test_certificates(const std::string& dir) {
  const std::string cmd =
      "cd '" + dir +
      "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2"
      " -subj '/CN=Epoch Test CA' 2>/dev/null"
      " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
      " -subj '/CN=localhost' 2>/dev/null"
      " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > ext.cnf"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      " -out server.pem -days 2 -extfile ext.cnf 2>/dev/null";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("openssl could not make certificates");
}

pid_t spawn_process(const std::string& binary, const std::vector<std::string>& args,
                    const std::string& work_dir, const std::string& out, const std::string& err) {
  std::vector<std::string> argv_s{binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Dies with the test: a test that aborts (an assertion, a sanitizer)
    // leaves no server or daemon behind to poison the next run. (The signal
    // follows the forking thread: tests spawn from their main thread.)
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the test died before prctl
    if (!work_dir.empty() && chdir(work_dir.c_str()) != 0) _exit(127);
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int e = err == out ? o : open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) _exit(127);
    dup2(in, 0), dup2(o, 1), dup2(e, 2);
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

DaemonProcess::DaemonProcess(std::string binary, std::string work_dir,
                             std::vector<std::string> args)
    : work_dir_(std::move(work_dir)) {
  bool has_port = false;
  for (const auto& a : args)
    if (a == "--port" || a.rfind("--port=", 0) == 0) has_port = true;
  if (!has_port) {
    args.push_back("--port");
    args.push_back("0");
  }
  const std::string out = work_dir_ + "/epochd.out";
  const std::string err = work_dir_ + "/epochd.err";
  const std::size_t skip = log().size();
  pid_ = spawn_process(binary, args, work_dir_, out, err);
  // The log is appended to across restarts: only what this process wrote
  // (after `skip`) counts.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = log().substr(std::min(skip, log().size()));
    const std::size_t at = text.find("epochd listening");
    const std::size_t p = at == std::string::npos ? at : text.find("port=", at);
    if (p != std::string::npos) {
      const std::size_t end = text.find_first_not_of("0123456789", p + 5);
      port_ = static_cast<std::uint16_t>(std::stoi(text.substr(p + 5, end - p - 5)));
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("epochd exited at start-up: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
  throw std::runtime_error("epochd did not start listening within 20 s: " + log());
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) kill9();
}

std::string DaemonProcess::log() const {
  std::ifstream in(work_dir_ + "/epochd.err", std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int DaemonProcess::wait_exit(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int DaemonProcess::terminate(std::chrono::milliseconds wait) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_exit(wait);
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_exit(std::chrono::seconds(10));
}

}  // namespace epoch::test
