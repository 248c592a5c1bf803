#include "epoch/mail_sink.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include "../support/work_queue.h"
#include "epoch/time_zone.h"
#include "notify_common.h"

namespace epoch {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxQueued = 10000;

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

// `s` with every control character but newline and tab (a bare CR, ESC, ...
// from a task's output) shown as \xNN, so none reaches a mail reader raw.
std::string printable_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

// An RFC 2047 encoded word when `s` is not plain printable ASCII.
std::string header_word(const std::string& s) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) return "\"" + s + "\"";
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n));
  return "=?UTF-8?B?" + out + "?=";
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool default_selection(const Event& e, const std::string& name, const MailOptions& o) {
  if (name == "RUN_FAILED" || name == "RUN_TIMED_OUT") return true;
  if (name == "RUN_SUCCEEDED") {
    // Epoch: disableForSuccessfulRuns drops SUCCESSFUL, never COMPLETED.
    return !(o.disable_for_successful_runs && e.run_state == RunState::kSuccessful);
  }
  return false;
}

std::string failure_body(const Event& e) {
  const std::string reason = e.run && e.run->reason ? *e.run->reason : e.message;
  if (e.run) {
    for (const TaskState wanted :
         {TaskState::kTimedOut, TaskState::kFailed, TaskState::kCancelled}) {
      for (const auto& [name, t] : e.run->tasks) {
        if (t.state != wanted) continue;
        std::string body = "Task " + t.task_id + " with upstream ID " + t.upstream_id +
                           (wanted == TaskState::kFailed     ? " failed with error: "
                            : wanted == TaskState::kTimedOut ? " timed out: "
                                                             : " was cancelled: ") +
                           t.error_message;
        if (!reason.empty() && reason != t.error_message) body += "\n\nRun: " + reason;
        return body;
      }
    }
  }
  // Epoch says "All tasks seem to have succeeded." here; it is not so.
  return "The run failed" + (reason.empty() ? std::string(".") : ": " + reason);
}

}  // namespace

std::optional<MailMessage> compose_mail(const Event& e, const std::string& name,
                                        const MailOptions& o) {
  if (name.empty()) return std::nullopt;
  const std::vector<std::string>* chosen = notify::topology_events(e);
  if (chosen ? !notify::selects(*chosen, name) : !default_selection(e, name, o)) {
    return std::nullopt;
  }
  MailMessage m;
  if (e.topology && e.topology->notify) {
    if (const auto* mail = std::get_if<MailNotification>(&*e.topology->notify)) m.to = mail->emails;
  }
  if (m.to.empty()) m.to = o.default_recipients;
  if (m.to.empty()) return std::nullopt;
  const std::string run = e.topology_id + "/" + e.run_id;
  const std::string when =
      e.scheduled_time ? format_utc(*e.scheduled_time) : (e.run ? format_utc(e.run->created) : "");
  if (name == "RUN_SUCCEEDED") {
    m.subject = "Topology run " + run + " completed successfully";
    std::vector<std::string> ids;
    std::int64_t took = 0;
    if (e.run) {
      for (const auto& [task, t] : e.run->tasks)
        ids.push_back(t.task_id);
      // From its first task's start to its last one's end.
      const auto started = run_started(*e.run);
      const auto finished = run_finished(*e.run);
      if (started && finished) took = to_epoch_millis(*finished) - to_epoch_millis(*started);
    }
    m.body = "Tasks completed: [" + joined(ids, ", ") + "] in " + std::to_string(took) + " ms";
  } else if (name == "RUN_FAILED" || name == "RUN_TIMED_OUT") {
    m.subject = "Topology run " + run + (name == "RUN_FAILED" ? " failed" : " timed out");
    m.body = failure_body(e);
  } else if (name == "RUN_MISSED") {
    m.subject = "Topology run " + run + " was missed";
    m.body = "The fire due at " + when + " did not run: " + e.message;
  } else if (name == "RUN_SKIPPED") {
    m.subject = "Topology run " + run + " was skipped";
    m.body = "The fire due at " + when + " was skipped: " + e.message;
  } else if (name == "RUN_RUNNING_LONG") {
    m.subject = "Topology run " + run + " is still running";
    const auto started = e.run ? run_started(*e.run) : std::nullopt;
    m.body = "The run " + (started ? "started at " + format_utc(*started) : "due at " + when) +
             " is " + e.message + ".";
    if (e.scheduled_time && started) m.body += " It was due at " + when + ".";
  } else {
    return std::nullopt;
  }
  m.subject = one_line(m.subject);
  m.body = printable_text(m.body);
  return m;
}

namespace {

struct Outgoing {
  std::vector<std::string> to;
  std::string payload;
  std::size_t sent = 0;  // read position while uploading
};

class MailSink final : public EventSink {
 public:
  explicit MailSink(MailOptions options) : options_(std::move(options)) {}

  ~MailSink() override {
    abort_ = true;  // a transfer in flight ends now; queued mail is dropped
    outgoing_.stop();
  }

  void on_event(const Event& e) override {
    queue(compose_mail(e, notify::event_name(e), options_));
  }

 private:
  void queue(std::optional<MailMessage> m) {
    if (!m) return;
    if (outgoing_.push(Outgoing{m->to, payload(*m)})) return;
    if (options_.on_result) options_.on_result(joined(m->to, ", "), false, "mail queue full");
  }

  std::string payload(const MailMessage& m) const {
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    unsigned char rnd[12];
    RAND_bytes(rnd, sizeof rnd);
    const std::string id = notify::to_hex(rnd, sizeof rnd);
    const std::string domain = options_.from_address.substr(options_.from_address.find('@') + 1);
    const std::string from_name =
        options_.from_name.empty() ? options_.from_address : options_.from_name;
    std::string body;
    for (char c : m.body) {  // CRLF line ends (compose_mail left no other control)
      if (c == '\n') body += '\r';
      body += c;
    }
    return "Date: " + std::string(date) + "\r\n" + "From: " + header_word(one_line(from_name)) +
           " <" + options_.from_address + ">\r\n" + "To: " + joined(m.to, ", ") + "\r\n" +
           "Message-ID: <" + id + "@" + domain + ">\r\n" + "Subject: " + m.subject + "\r\n" +
           "MIME-Version: 1.0\r\n" + "Content-Type: text/plain; charset=UTF-8\r\n" +
           "Content-Transfer-Encoding: 8bit\r\n" + "X-Mailer: epoch\r\n\r\n" + body + "\r\n";
  }

  static size_t read(char* buf, size_t size, size_t n, void* p) {
    auto* out = static_cast<Outgoing*>(p);
    const std::size_t len = std::min(size * n, out->payload.size() - out->sent);
    std::memcpy(buf, out->payload.data() + out->sent, len);
    out->sent += len;
    return len;
  }

  // One attempt: "" when the server accepted the mail, else why not.
  std::string send(CURL* curl, Outgoing& m) {
    curl_easy_reset(curl);
    m.sent = 0;
    const bool implicit = options_.security == MailOptions::Security::kImplicitTls;
    const std::string url = std::string(implicit ? "smtps://" : "smtp://") + options_.server + ":" +
                            std::to_string(options_.port);
    curl_slist* rcpt = nullptr;
    for (const std::string& r : m.to)
      rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
    const std::string from = "<" + options_.from_address + ">";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (options_.security == MailOptions::Security::kStartTls) {
      curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    }
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);  // spelt so in libcurl 7.88
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &MailSink::read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &m);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(
        curl, CURLOPT_XFERINFOFUNCTION,
        +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
          return static_cast<MailSink*>(self)->abort_.load() ? 1 : 0;
        });
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(rcpt);
    if (rc == CURLE_OK) return "";
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return std::string(curl_easy_strerror(rc)) +
           (code ? " (SMTP " + std::to_string(code) + ")" : "");
  }

  // On the sender thread: one mail, with its retries.
  void deliver(CURL* curl, Outgoing& m) {
    std::string why;
    milliseconds backoff = options_.initial_backoff;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
      why = send(curl, m);
      if (why.empty() || attempt == options_.max_attempts) break;
      if (!outgoing_.sleep_for(backoff)) break;  // stopping: say what the last try gave
      backoff *= 2;
    }
    if (options_.on_result) options_.on_result(joined(m.to, ", "), why.empty(), why);
  }

  MailOptions options_;
  std::atomic<bool> abort_{false};
  // The sender thread, with its own curl handle; mail still queued when the
  // sink goes is dropped.
  WorkQueue<Outgoing> outgoing_{{.threads = 1, .on_stop = OnStop::kDrop, .capacity = kMaxQueued},
                                [this]() -> WorkQueue<Outgoing>::Handler {
                                  std::shared_ptr<CURL> curl(curl_easy_init(), curl_easy_cleanup);
                                  return [this, curl](Outgoing& m) { deliver(curl.get(), m); };
                                }};
};

bool plain_address(const std::string& a) {
  const auto at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" <>\r\n,\"") == std::string::npos;
}

}  // namespace

StatusOr<std::unique_ptr<EventSink>> make_mail_sink(MailOptions options) {
  if (options.server.empty() || options.server.find_first_of("/ \r\n") != std::string::npos) {
    return invalid_argument("SMTP server '" + options.server + "' is not a host name");
  }
  if (options.port < 1 || options.port > 65535) {
    return invalid_argument("SMTP port " + std::to_string(options.port) + " is not 1-65535");
  }
  if (!plain_address(options.from_address)) {
    return invalid_argument("mail from address '" + options.from_address +
                            "' is not an e-mail address");
  }
  for (const std::string& r : options.default_recipients) {
    if (!plain_address(r)) {
      return invalid_argument("default mail recipient '" + r + "' is not an e-mail address");
    }
  }
  if (options.max_attempts < 1) return invalid_argument("mail attempts must be at least 1");
  notify::init_curl();
  return std::unique_ptr<EventSink>(std::make_unique<MailSink>(std::move(options)));
}

}  // namespace epoch
