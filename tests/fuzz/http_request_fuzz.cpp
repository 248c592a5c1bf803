// libFuzzer target: the HTTP request path without sockets — epochd's
// FrontDoor (UI files, basic authentication, whoami, the audit log) and the
// REST API over a Scheduler on a manual clock, a MemoryStore and a
// FakeExecutor. Input: "METHOD TARGET\nName: value\n...\n\nbody".
// Every request must be answered (time is advanced through the timers the
// engine sets), with a status 100-599, and a JSON answer must parse.
#include <openssl/crypto.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "epoch/fake_executor.h"
#include "epoch/scheduler.h"
#include "front_door.h"
#include "log.h"
#include "metrics.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Stack {
  boost::asio::io_context ioc;
  epoch::ManualClock clock{epoch::Instant(std::chrono::milliseconds(1'767'225'600'000))};
  std::unique_ptr<epoch::Store> store = epoch::make_memory_store();
  epoch::FakeExecutor executor{epoch::FakeExecutor::Mode::kAutoComplete};
  epoch::ManualElector elector;
  epoch::RecordingSink events;
  std::unique_ptr<epoch::Scheduler> scheduler;
  epochd::Metrics metrics;
  std::ostringstream log_text;
  epochd::Logger log{log_text, epochd::LogFormat::kText, epochd::LogLevel::kError};
  std::unique_ptr<epochd::Auth> auth;
  std::unique_ptr<epochd::AuditRecorder> audit;
  std::unique_ptr<epochd::Api> api;
  epochd::FrontDoor door;

  Stack() {
    epoch::SchedulerOptions o;
    o.retention_interval = std::chrono::milliseconds(0);
    o.seed = 1;
    scheduler =
        std::make_unique<epoch::Scheduler>(ioc, *store, executor, elector, clock, events, o);
    scheduler->start();
    elector.elect();
    pump();
    epochd::AuthOptions ao;
    ao.mode = epochd::AuthMode::kBasic;
    // Few PBKDF2 iterations: the fuzzer checks logic, not password cost.
    ao.users["admin"] = {*epochd::hash_password("admin-pw", 1000), epochd::Role::kAdmin};
    ao.users["reader"] = {"reader-pw", epochd::Role::kReadOnly};
    ao.failures_per_minute = 0;  // a fuzzer is one client that fails a lot
    // Password checks end on the auth worker; the request goes on here.
    ao.deliver = [this](std::function<void()> f) { boost::asio::post(ioc, std::move(f)); };
    auth = std::make_unique<epochd::Auth>(ao);
    audit = std::make_unique<epochd::AuditRecorder>(*scheduler, *store, elector, log, 1000);
    api = std::make_unique<epochd::Api>(*scheduler, *store, elector, executor, metrics,
                                        epochd::ApiOptions{});
    door.api = api.get();
    door.auth = auth.get();
    door.audit = audit.get();
    door.metrics = &metrics;
    door.auth_mode = epochd::AuthMode::kBasic;
  }
  ~Stack() {
    scheduler.reset();
    pump();
  }
  void pump() {
    ioc.restart();
    ioc.poll();
  }
};

std::unique_ptr<Stack> stack;
int served = 0;

epochd::HttpRequest parse(std::string_view text) {
  epochd::HttpRequest req;
  const auto head_end = text.find("\n\n");
  const std::string_view head = text.substr(0, head_end);
  if (head_end != std::string_view::npos) req.body = std::string(text.substr(head_end + 2));
  std::size_t pos = 0;
  bool first = true;
  while (pos <= head.size()) {
    auto end = head.find('\n', pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    if (first) {
      const auto sp = line.find(' ');
      req.method = std::string(line.substr(0, sp));
      req.target = sp == std::string_view::npos ? "/" : std::string(line.substr(sp + 1));
      first = false;
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    pos = end + 1;
  }
  if (req.target.empty() || req.target.front() != '/') req.target = "/" + req.target;
  // A Host, unless the input names one: the guard refuses requests without.
  if (req.header("Host").empty()) req.headers.emplace_back("Host", "localhost");
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Room for the 100 KB fields of the seeds (a field's limit is checked
  // before its content is parsed; an oversized one must be a clean 400).
  if (size > 262144) return 0;
  if (!stack || ++served % 500 == 0) {
    const bool first = !stack;
    stack.reset();
    stack = std::make_unique<Stack>();
    // Password checks run on Auth's worker threads, whose OpenSSL state is
    // freed when they exit. Making the Stack initialised OpenSSL, which
    // registered its cleanup at exit; registered after it, this runs before
    // it and joins the workers while OpenSSL can still free their state.
    if (first) std::atexit([] { stack.reset(); });
  }
  Stack& s = *stack;
  std::optional<epochd::HttpResponse> answer;
  s.door.handle(parse(std::string_view(reinterpret_cast<const char*>(data), size)),
                [&](epochd::HttpResponse r) { answer = std::move(r); });
  // The answer may wait for engine timers (advanced on the manual clock) or
  // for a password check on the auth worker (posted back to the io_context).
  int timers = 0;
  for (int i = 0; i < 5000 && !answer; ++i) {
    s.pump();
    if (answer) break;
    if (const auto next = s.clock.next_timer(); next && timers < 1000) {
      s.clock.set(*next);
      ++timers;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  require(answer.has_value());
  require(answer->status >= 100 && answer->status <= 599);
  if (answer->content_type == "application/json" && !answer->body.empty()) {
    boost::system::error_code ec;
    (void)boost::json::parse(answer->body, ec);
    require(!ec);
  }
  return 0;
}
