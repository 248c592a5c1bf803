// The standalone elector (always leader) and ManualElector (tests).
#include "epoch/leader.h"

namespace epoch {
namespace {

class StandaloneElector final : public LeaderElector {
 public:
  explicit StandaloneElector(std::string url) : url_(std::move(url)) {}
  void start(std::function<void()> on_elected, std::function<void()>) override {
    {
      std::lock_guard lock(mu_);
      started_ = true;
    }
    on_elected();
  }
  void stop() override {
    std::lock_guard lock(mu_);
    started_ = false;
  }
  bool is_leader() const override {
    std::lock_guard lock(mu_);
    return started_;
  }
  std::optional<std::string> leader() const override {
    std::lock_guard lock(mu_);
    return started_ ? std::optional<std::string>(url_) : std::nullopt;
  }
  std::optional<FencingToken> fencing_token() const override { return std::nullopt; }

 private:
  mutable std::mutex mu_;
  std::string url_;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<LeaderElector> make_standalone_elector(std::string advertised_url) {
  return std::make_unique<StandaloneElector>(std::move(advertised_url));
}

void ManualElector::start(std::function<void()> on_elected, std::function<void()> on_revoked) {
  std::lock_guard lock(mu_);
  started_ = true;
  on_elected_ = std::move(on_elected);
  on_revoked_ = std::move(on_revoked);
}

void ManualElector::stop() {
  std::lock_guard lock(mu_);
  started_ = false;
  leader_ = false;
  on_elected_ = nullptr;
  on_revoked_ = nullptr;
}

bool ManualElector::is_leader() const {
  std::lock_guard lock(mu_);
  return leader_;
}

std::optional<std::string> ManualElector::leader() const {
  std::lock_guard lock(mu_);
  return leader_ ? std::optional<std::string>(url_) : std::nullopt;
}

std::optional<FencingToken> ManualElector::fencing_token() const {
  std::lock_guard lock(mu_);
  if (!leader_) return std::nullopt;
  return FencingToken{"manual", term_};
}

void ManualElector::elect() {
  std::function<void()> cb;
  {
    std::lock_guard lock(mu_);
    if (!started_ || leader_) return;
    leader_ = true;
    ++term_;
    cb = on_elected_;
  }
  if (cb) cb();
}

void ManualElector::revoke() {
  std::function<void()> cb;
  {
    std::lock_guard lock(mu_);
    if (!started_ || !leader_) return;
    leader_ = false;
    cb = on_revoked_;
  }
  if (cb) cb();
}

}  // namespace epoch
