// epoch/webhook_sink.h — run notifications as signed HTTP(S) webhooks.
//
// What: an EventSink that POSTs a JSON document for each run event it is
// configured for — RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED,
// RUN_SKIPPED, and RUN_RUNNING_LONG (a run still going `running_longer_than`
// after it started) — to every URL, with headers X-Epoch-Event,
// X-Epoch-Delivery (the same id on every retry) and, when a secret is set,
// X-Epoch-Signature: sha256=<hex HMAC-SHA256 of the body>. A delivery that
// fails (transport error, timeout, non-2xx) is retried with exponential
// backoff up to `max_attempts`. Sent with libcurl; HTTPS verified against
// `ca_file` or the system's CAs.
//
// Body: {"id","event","topologyId","runId","runType","state","message",
//        "scheduledTime","time"} (times in epoch ms, scheduledTime null for
//        instant runs).
//
// Threading: on_event() only queues and returns at once — a slow or hanging
// receiver never slows the engine. Each URL has its own delivery thread, so
// events reach a URL in the order they happened (per run, too).
// Ownership: the sink owns its threads; destroying it stops them
// (undelivered events are dropped).
// Errors: `on_result` is called after each final outcome (delivered, or
// given up after the last attempt, with the reason).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "epoch/events.h"
#include "epoch/status.h"

namespace epoch {

struct WebhookOptions {
  std::vector<std::string> urls;
  std::string secret;  // HMAC key; empty: unsigned
  std::set<std::string> events = {"RUN_SUCCEEDED", "RUN_FAILED",  "RUN_TIMED_OUT",
                                   "RUN_MISSED",    "RUN_SKIPPED", "RUN_RUNNING_LONG"};
  std::chrono::milliseconds running_longer_than{0};  // 0: no RUN_RUNNING_LONG
  std::chrono::milliseconds timeout{5000};            // per attempt
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::string ca_file;
  std::function<void(const std::string& url, bool delivered, const std::string& why)> on_result;
};

// kInvalidArgument for an unknown event name or a URL that is not http(s).
StatusOr<std::unique_ptr<EventSink>> make_webhook_sink(WebhookOptions options);

}  // namespace epoch
