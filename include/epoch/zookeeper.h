// epoch/zookeeper.h — cluster mode: a Store and a LeaderElector on ZooKeeper.
//
// What: `ZkConnection` is one ZooKeeper session of this node, shared by the
// store and the elector (so the elector's election node fences the store's
// writes). `make_zk_store()` keeps Epoch's layout under `/<namespace>`:
//   /topologies/{id}         EpochTopologyDetails JSON (as Epoch writes it)
//   /runs/{topologyId}/{id}  EpochTopologyRunInfo JSON
//   /fires/{topologyId}      {"lastFire": ms} — engine metadata Epoch ignores
//   /audit                   the journal "audit" (epochd's audit log): its
//                            counter and retention marks
//   /audit/b-{id/1000}/a-{id}[-{key}]  an entry's data, in buckets of 1,000
//   /journals/{name}/...     any other journal, laid out alike
//                            (docs/zookeeper-audit.md)
//   /leader-selection/...    election nodes, data = the advertised URL
// so an existing Epoch tree is read and served unchanged. No read of a
// journal lists more than one bucket (at most ~281 KB) per call, and an
// entry is at most 512 KiB: well under ZooKeeper's 1 MB jute.maxbuffer.
// A record's version is its znode's data version + 1; every batch is one
// `multi` that starts with a version check on the leader's election node,
// so the writes of a deposed leader fail and are never applied.
// `make_zk_elector()` is the ephemeral-sequential recipe: each candidate
// watches only its predecessor; the lowest sequence number leads.
//
// Threading: all methods are thread-safe. ZooKeeper's own threads deliver
// events; the connection hands them to its event thread, which runs the
// elector's callbacks. Store commits run on the store's writer thread.
// Ownership: the store and the elector share the connection (shared_ptr);
// the connection outlives both.
// Errors: kUnavailable while ZooKeeper cannot be reached (calls wait for the
// connection up to `operation_timeout`, retrying with backoff), kAborted on
// a version conflict, kFailedPrecondition when the fence check fails (this
// node is not the leader any more), kInvalidArgument for a record too large
// for a znode. A connection loss during a commit whose outcome cannot be
// known is reported as kUnavailable; the engine then reloads from the store.
// Session loss: the elector revokes leadership at once when the connection
// drops, and rejoins (with a new session after expiry) when ZooKeeper is
// back; the process never exits because of ZooKeeper.
//
// Example:
//   epoch::ZkOptions o;
//   o.hosts = "zk1:2181,zk2:2181,zk3:2181";
//   o.name_space = "epoch";
//   auto zk = epoch::connect_zookeeper(o);
//   if (!zk.ok()) return zk.status();  // not reachable within operation_timeout
//   auto store = epoch::make_zk_store(*zk);
//   auto elector = epoch::make_zk_elector(*zk, "http://this-node:8080");
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "epoch/leader.h"
#include "epoch/status.h"
#include "epoch/store.h"

namespace epoch {

struct ZkOptions {
  std::string hosts;  // "host:port[,host:port...]"
  std::string name_space = "epoch";
  std::chrono::milliseconds session_timeout{5000};
  // How long a call waits for a connection before it fails with kUnavailable.
  std::chrono::milliseconds operation_timeout{5000};
};

struct ZkStoreOptions {
  // Largest record written (ZooKeeper refuses znodes near 1 MB). Journal
  // entries are held to this and to kJournalDataMax, whichever is smaller.
  std::size_t max_record_bytes = 512 * 1024;
  // Largest multi sent at once; a larger batch is split into several
  // multis, each fenced (atomic per part, in order).
  std::size_t max_multi_bytes = 512 * 1024;
};

class ZkConnection;

// Starts connecting in the background and returns at once (an unreachable
// ensemble is not an error: calls fail with kUnavailable until it answers).
// kInvalidArgument for an empty host list or a bad namespace.
StatusOr<std::shared_ptr<ZkConnection>> connect_zookeeper(const ZkOptions& options);

// Whether the session is connected now.
bool zk_connected(const ZkConnection& connection);
// The current session id (0 when none), for tests and logs.
std::int64_t zk_session_id(const ZkConnection& connection);

std::unique_ptr<Store> make_zk_store(std::shared_ptr<ZkConnection> connection,
                                     ZkStoreOptions options = {});

// `advertised_url` is what other nodes proxy to ("http://host:port").
std::unique_ptr<LeaderElector> make_zk_elector(std::shared_ptr<ZkConnection> connection,
                                               std::string advertised_url);

}  // namespace epoch
