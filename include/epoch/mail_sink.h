// epoch/mail_sink.h — run notifications by e-mail, as Epoch sends them.
//
// What: an EventSink that mails run outcomes over SMTP (libcurl), compatible
// with Epoch: recipients are the topology's MAIL emails, else
// `default_recipients`, else nobody; by default a successful run
// ("Topology run {id}/{run} completed successfully", body "Tasks completed:
// [...] in N ms") and a failed or timed-out one ("Topology run {id}/{run}
// failed" / "... timed out", body naming the failed task, its upstream id
// and error) are
// mailed; `disable_for_successful_runs` drops SUCCESSFUL runs (COMPLETED
// instant runs are still mailed, as Epoch). A topology's notify.events
// replaces that selection and may add RUN_MISSED, RUN_SKIPPED and
// RUN_RUNNING_LONG. Epoch's "All tasks seem to have succeeded." for a run
// failed without a FAILED task is fixed: the body says what happened.
//
// SMTP: `security` kStartTls (default; STARTTLS required, as Epoch's
// `tls: true`), kImplicitTls (smtps://, port 465) or kNone; AUTH with
// `username`/`password` when set; server certificates verified against
// `ca_file` or the system's CAs. A mail that fails is retried with
// exponential backoff up to `max_attempts`.
//
// Threading: on_event() only composes and queues; one sender thread talks
// SMTP, so the engine is never slowed. At most 10,000 mails wait; beyond
// that they are refused (reported through on_result).
// Ownership: the sink owns its thread; destroying it stops it (mails not
// yet sent are dropped; a transfer in progress is aborted).
// Errors: `on_result` is called after each final outcome, on the sender
// thread.
//
// Example:
//   epoch::MailOptions o;
//   o.server = "smtp.example.com";
//   o.from_address = "epoch@example.com";
//   o.default_recipients = {"oncall@example.com"};
//   auto mail = epoch::make_mail_sink(o);
//   if (!mail.ok()) return mail.status();
//   // then: add **mail to the EventSink the Scheduler is given (a FanoutSink).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "epoch/events.h"
#include "epoch/status.h"

namespace epoch {

struct MailOptions {
  enum class Security { kNone, kStartTls, kImplicitTls };
  std::string server;  // host name or address
  int port = 587;
  Security security = Security::kStartTls;
  std::string username, password;  // AUTH when username is set
  std::string from_address;        // required
  std::string from_name;           // empty: from_address
  std::vector<std::string> default_recipients;
  bool disable_for_successful_runs = false;
  std::chrono::milliseconds timeout{30000};  // per attempt
  int max_attempts = 3;
  std::chrono::milliseconds initial_backoff{5000};
  std::string ca_file;
  std::function<void(const std::string& recipients, bool delivered, const std::string& why)>
      on_result;
};

// One composed mail.
struct MailMessage {
  std::vector<std::string> to;
  std::string subject;
  std::string body;
};

// The mail `event` (a run event, or a kRunRunningLong one) gets
// under `options`; nullopt when it gets none. Pure: used by the sink and
// tests. `event_name` is RUN_SUCCEEDED, RUN_FAILED, ... . The body holds no
// control character but newline and tab: others (task output's CR, ESC, ...)
// are written as \xNN.
std::optional<MailMessage> compose_mail(const Event& event, const std::string& event_name,
                                        const MailOptions& options);

// kInvalidArgument for a missing server or from address, a bad port or
// address.
StatusOr<std::unique_ptr<EventSink>> make_mail_sink(MailOptions options);

}  // namespace epoch
