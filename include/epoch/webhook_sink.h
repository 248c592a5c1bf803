// epoch/webhook_sink.h — run notifications as signed HTTP(S) webhooks.
//
// What: an EventSink that POSTs a JSON document for each run event —
// RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED, RUN_SKIPPED, and
// RUN_RUNNING_LONG (the engine's Event::Type::kRunRunningLong, see
// SchedulerOptions::running_long_after) — to the globally configured `urls` (for the events in
// `events`) and to the topology's own notify.webhooks (for the events its notify.events selects,
// else `events`); a URL in both gets one copy. Headers: X-Epoch-Event, X-Epoch-Delivery (the same
// id on every retry) and, when a secret is set, X-Epoch-Signature: sha256=<hex HMAC-SHA256 of the
// body>. A delivery that fails (transport error, timeout, non-2xx) is
// retried with exponential backoff up to `max_attempts`. Sent with libcurl;
// HTTPS verified against `ca_file` or the system's CAs; redirects are never
// followed.
//
// Body: {"id","event","topologyId","runId","runType","state","message",
//        "scheduledTime","time","started","finished",
//        "tasks":{name:{"taskId","state","errorMessage"}}}
// (times in epoch ms; scheduledTime null for instant runs; `time` when the
// event happened; started/finished the first task's real start and the
// last one's end, null until then).
//
// Two kinds of URL. The operator's (`urls`) are trusted: they may point
// anywhere, go through the environment's proxy (http_proxy, ...) like any
// libcurl transfer, and are signed with `secret` itself. A URL only a
// topology names (its notify.webhooks, not also in `urls`) was chosen by
// whoever may edit that topology, so:
//  - It is signed with the topology's own key, never with `secret`:
//      key = lower-case hex of HMAC-SHA256(secret, "epoch-topology-webhook:" + topologyId)
//    (64 characters, used as the HMAC key as that text; topology_webhook_key()
//    below). The operator hands that key to the topology's owner; it verifies
//    only that topology's deliveries and does not reveal `secret`. With the
//    secret in a file (first line, as epochd's --webhook-secret-file):
//      printf '%s' "epoch-topology-webhook:$TOPOLOGY" |
//        openssl dgst -sha256 -hmac "$(head -n1 secret-file)" | sed 's/.*= //'
//  - It may connect only to public addresses: loopback (127/8, ::1),
//    link-local (169.254/16, fe80::/10), private (10/8, 172.16/12,
//    192.168/16, 100.64/10, fc00::/7, fec0::/10), multicast, unspecified
//    (0/8, ::), broadcast and reserved (240/4) addresses — and IPv6 forms
//    carrying such an IPv4 address (::ffff:127.0.0.1, ::127.0.0.1,
//    64:ff9b::a9fe:a9fe, 2002:7f00:1::) — are refused unless in
//    `allow_networks`. The check is on each address libcurl is about to
//    connect to, after name resolution, so a name resolving to a refused
//    address is refused too and the address checked is the one used for
//    the whole transfer (no second lookup). Such a transfer never uses a
//    proxy nor a connection opened for another transfer.
//  - A URL with credentials (user:pass@host) is refused.
// A refused delivery is not retried: on_result gets it at once with the
// reason ("refused: 169.254.169.254 is a link-local address; ...").
//
// Threading: on_event() only queues and returns at once — a slow or hanging
// receiver never slows the engine. One thread drives every transfer
// (libcurl multi): each URL has its own queue with one delivery in flight,
// so a URL gets events in the order they happened, and a hanging URL holds
// up only itself. At most 10,000 deliveries wait per URL; beyond that they
// are refused (reported through on_result).
// Ownership: the sink owns its thread; destroying it stops it
// (undelivered events are dropped; no on_result runs after the destructor
// returns).
// Errors: `on_result` is called after each final outcome (delivered; given
// up after the last attempt, with the reason; refused) on the sink's own
// thread, never inside on_event().
//
// Example:
//   epoch::WebhookOptions o;
//   o.urls = {"https://hooks.example.com/epoch"};
//   o.on_result = [](const std::string& url, bool delivered, const std::string& why) {
//     if (!delivered) std::cerr << url << ": " << why << "\n";
//   };
//   auto hooks = epoch::make_webhook_sink(o);
//   if (!hooks.ok()) return hooks.status();
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "epoch/events.h"
#include "epoch/status.h"

namespace epoch {

struct WebhookOptions {
  // The operator's URLs: trusted (no address rules), signed with `secret`.
  std::vector<std::string> urls;
  std::string secret;  // HMAC key; empty: nothing is signed
  std::set<std::string> events = {"RUN_SUCCEEDED", "RUN_FAILED",  "RUN_TIMED_OUT",
                                  "RUN_MISSED",    "RUN_SKIPPED", "RUN_RUNNING_LONG"};
  std::chrono::milliseconds timeout{5000};  // per attempt
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{500};
  std::string ca_file;
  // Networks that URLs chosen by topologies may reach although loopback,
  // private, link-local, ...: "10.20.0.0/16", "127.0.0.1/32", "fd00::/8",
  // or one address ("127.0.0.1"). An IPv4 network also matches the IPv6
  // forms carrying its addresses (::ffff:127.0.0.1). Default: none.
  std::vector<std::string> allow_networks;
  // url: as queued (for a refused URL with credentials, without them).
  std::function<void(const std::string& url, bool delivered, const std::string& why)> on_result;
};

// kInvalidArgument for an unknown event name, a URL in `urls` that is not
// http(s), or an entry of `allow_networks` that is not an address[/prefix].
StatusOr<std::unique_ptr<EventSink>> make_webhook_sink(WebhookOptions options);

// The key signing deliveries to the URLs topology `topology_id` chose:
// lower-case hex of HMAC-SHA256(secret, "epoch-topology-webhook:" +
// topology_id). "" when `secret` is empty (nothing is signed). A topology
// deleted and created again under the same id gets the same key.
std::string topology_webhook_key(std::string_view secret, std::string_view topology_id);

}  // namespace epoch
