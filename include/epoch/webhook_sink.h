// epoch/webhook_sink.h — run notifications as signed HTTP(S) webhooks.
//
// What: an EventSink that POSTs a JSON document for each run event —
// RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED, RUN_SKIPPED, and
// RUN_RUNNING_LONG (a run still going `running_longer_than` after it
// started) — to the globally configured `urls` (for the events in `events`)
// and to the topology's own notify.webhooks (for the events its
// notify.events selects, else `events`); a URL in both gets one copy.
// Headers: X-Epoch-Event, X-Epoch-Delivery (the same id on every retry) and,
// when a secret is set, X-Epoch-Signature: sha256=<hex HMAC-SHA256 of the
// body>. A delivery that fails (transport error, timeout, non-2xx) is
// retried with exponential backoff up to `max_attempts`. Sent with libcurl;
// HTTPS verified against `ca_file` or the system's CAs.
//
// Body: {"id","event","topologyId","runId","runType","state","message",
//        "scheduledTime","time","tasks":{name:{"taskId","state","errorMessage"}}}
// (times in epoch ms, scheduledTime null for instant runs).
//
// Threading: on_event() only queues and returns at once — a slow or hanging
// receiver never slows the engine. One thread drives every transfer
// (libcurl multi): each URL has its own queue with one delivery in flight,
// so a URL gets events in the order they happened, and a hanging URL holds
// up only itself. At most 10,000 deliveries wait per URL; beyond that they
// are refused (reported through on_result).
// Ownership: the sink owns its thread; destroying it stops it
// (undelivered events are dropped).
// Errors: `on_result` is called after each final outcome (delivered, or
// given up after the last attempt, with the reason), on the sink's thread.
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
  std::chrono::milliseconds timeout{5000};           // per attempt
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::string ca_file;
  std::function<void(const std::string& url, bool delivered, const std::string& why)> on_result;
};

// kInvalidArgument for an unknown event name or a URL that is not http(s).
StatusOr<std::unique_ptr<EventSink>> make_webhook_sink(WebhookOptions options);

}  // namespace epoch
