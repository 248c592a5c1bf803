#include "zk_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "daemon_process.h"

namespace epoch::test {
namespace {

std::uint16_t free_port() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(s);
    throw std::runtime_error("no free port");
  }
  close(s);
  return ntohs(a.sin_port);
}

// Sends a four-letter word; returns the answer ("" when nobody listens).
std::string four_letters(std::uint16_t port, const char* word) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{1, 0};  // a server still starting may accept and say nothing
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      write(s, word, 4) == 4) {
    char buf[256];
    ssize_t n;
    while ((n = read(s, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<std::size_t>(n));
  }
  close(s);
  return out;
}

}  // namespace

ZkServer::ZkServer() : dir_(make_temp_dir("epoch-zk")), port_(free_port()) {
  std::filesystem::create_directories(dir_ + "/data");
  std::ofstream(dir_ + "/zoo.cfg") << "tickTime=200\n"
                                   << "dataDir=" << dir_ << "/data\n"
                                   << "clientPort=" << port_ << "\n"
                                   << "clientPortAddress=127.0.0.1\n"
                                   << "maxSessionTimeout=60000\n"
                                   << "admin.enableServer=false\n"
                                   << "4lw.commands.whitelist=ruok,srvr\n";
  std::ofstream(dir_ + "/log4j.properties")
      << "log4j.rootLogger=WARN, F\n"
      << "log4j.appender.F=org.apache.log4j.FileAppender\n"
      << "log4j.appender.F.File=" << dir_ << "/zookeeper.log\n"
      << "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
      << "log4j.appender.F.layout.ConversionPattern=%d %-5p %c - %m%n\n";
  start();
}

ZkServer::~ZkServer() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ZkServer::hosts() const {
  return "127.0.0.1:" + std::to_string(port_);
}

void ZkServer::start() {
  if (pid_ > 0) return;
  const std::string out = dir_ + "/zookeeper.out";
  pid_ = spawn_process("java",
                       {"-Xmx512m", "-XX:+UseSerialGC",
                        "-Dlog4j.configuration=file:" + dir_ + "/log4j.properties", "-cp",
                        "/usr/share/java/zookeeper.jar:/usr/share/java/log4j-1.2.jar:"
                        "/usr/share/java/slf4j-log4j12.jar",
                        "org.apache.zookeeper.server.ZooKeeperServerMain", dir_ + "/zoo.cfg"},
                       "", out, out);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (four_letters(port_, "ruok") == "imok") return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("zookeeper exited at start-up; see " + dir_ + "/zookeeper.out");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error("zookeeper did not answer within 30 s");
}

void ZkServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ZkServer::restart() {
  stop();
  start();
}

}  // namespace epoch::test
