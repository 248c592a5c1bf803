// epoch/leader.h — who schedules: the LeaderElector seam.
//
// What: exactly one node of a cluster is the leader; only the leader
// schedules and writes. An elector says when this node gains and loses
// leadership, who the leader is (its advertised URL, for request routing),
// and gives a fencing token the store checks with every write, so a deposed
// leader's late writes are refused.
//
// Implementations: `make_standalone_elector()` (always the leader: one
// node), `ManualElector` (tests decide), and the ZooKeeper elector in the
// daemon.
//
// Threading: methods are thread-safe; callbacks run on the elector's thread
// or inline in start()/elect()/revoke() (the engine posts them to its
// strand). on_elected and on_revoked alternate, starting with on_elected.
// Ownership: callbacks are kept until stop().
// Errors: none reported here; an elector that loses its coordination
// service calls on_revoked and keeps trying to rejoin.
//
// Example:
//   auto elector = epoch::make_standalone_elector("http://localhost:8080");
//   elector->start([] { std::cout << "leading\n"; }, [] { std::cout << "not leading\n"; });
//   const bool leading = elector->is_leader();  // true: it is the only node
//   elector->stop();
//   if (!leading) return epoch::internal_error("a standalone elector always leads");
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "epoch/store.h"

namespace epoch {

class LeaderElector {
 public:
  virtual ~LeaderElector() = default;
  LeaderElector() = default;
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Joins the election.
  virtual void start(std::function<void()> on_elected, std::function<void()> on_revoked) = 0;
  // Leaves it; no callback runs after stop() returns.
  virtual void stop() = 0;
  virtual bool is_leader() const = 0;
  // The leader's advertised URL ("http://host:port"), if one is known.
  virtual std::optional<std::string> leader() const = 0;
  // This node's proof of leadership for fenced writes (empty when not leader
  // or when the elector needs no fencing).
  virtual std::optional<FencingToken> fencing_token() const = 0;
};

// Always the leader; `advertised_url` is what leader() reports.
std::unique_ptr<LeaderElector> make_standalone_elector(std::string advertised_url);

// A test double: leadership changes only when elect() / revoke() are called
// (callbacks run inline).
class ManualElector final : public LeaderElector {
 public:
  explicit ManualElector(std::string url = "http://localhost:8080") : url_(std::move(url)) {}
  void start(std::function<void()> on_elected, std::function<void()> on_revoked) override;
  void stop() override;
  bool is_leader() const override;
  std::optional<std::string> leader() const override;
  std::optional<FencingToken> fencing_token() const override;

  void elect();
  void revoke();

 private:
  mutable std::mutex mu_;
  std::string url_;
  bool started_ = false;
  bool leader_ = false;
  std::int64_t term_ = 0;
  std::function<void()> on_elected_, on_revoked_;
};

}  // namespace epoch
