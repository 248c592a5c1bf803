// SystemClock and ManualClock.
#include "epoch/clock.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/system_timer.hpp>

namespace epoch {
namespace {

namespace asio = boost::asio;

// A callback that can be revoked after it was posted: the posted handler
// holds a weak reference and runs only while the timer still owns it.
using Callback = std::shared_ptr<std::function<void()>>;

void post_callback(asio::io_context& ioc, const Callback& cb) {
  asio::post(ioc, [weak = std::weak_ptr<std::function<void()>>(cb)] {
    if (auto held = weak.lock()) {
      const std::function<void()> f = std::move(*held);
      *held = nullptr;
      if (f) f();
    }
  });
}

class SystemTimer final : public Timer {
 public:
  explicit SystemTimer(asio::io_context& ioc) : timer_(ioc) {}
  ~SystemTimer() override { cancel(); }

  void arm(Instant at, std::function<void()> fn) override {
    cancel();
    callback_ = std::make_shared<std::function<void()>>(std::move(fn));
    timer_.expires_at(std::chrono::system_clock::time_point(at.time_since_epoch()));
    timer_.async_wait([weak = std::weak_ptr<std::function<void()>>(callback_)](
                          const boost::system::error_code& ec) {
      if (ec) return;
      if (auto cb = weak.lock()) {
        const std::function<void()> f = std::move(*cb);
        *cb = nullptr;
        if (f) f();
      }
    });
  }

  void cancel() override {
    callback_.reset();
    timer_.cancel();
  }

 private:
  asio::system_timer timer_;
  Callback callback_;
};

class SystemClock final : public Clock {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
  std::unique_ptr<Timer> make_timer(asio::io_context& ioc) override {
    return std::make_unique<SystemTimer>(ioc);
  }
};

}  // namespace

std::unique_ptr<Clock> make_system_clock() {
  return std::make_unique<SystemClock>();
}

class ManualClock::ManualTimer final : public Timer {
 public:
  ManualTimer(ManualClock& clock, asio::io_context& ioc) : clock_(clock), ioc_(ioc) {
    std::lock_guard lock(clock_.mu_);
    clock_.timers_.push_back(this);
  }
  ~ManualTimer() override {
    std::lock_guard lock(clock_.mu_);
    callback_.reset();
    clock_.timers_.erase(std::find(clock_.timers_.begin(), clock_.timers_.end(), this));
  }

  void arm(Instant at, std::function<void()> fn) override {
    std::lock_guard lock(clock_.mu_);
    pending_.reset();
    callback_ = std::make_shared<std::function<void()>>(std::move(fn));
    at_ = at;
    if (at_ <= clock_.now_) {
      pending_ = std::exchange(callback_, nullptr);
      post_callback(ioc_, pending_);
    }
  }

  void cancel() override {
    std::lock_guard lock(clock_.mu_);
    callback_.reset();
    pending_.reset();
  }

 private:
  friend class ManualClock;
  ManualClock& clock_;
  asio::io_context& ioc_;
  Instant at_{};
  Callback callback_;  // armed and not yet due
  Callback pending_;   // posted, keeps the posted handler alive until re-armed or cancelled
};

ManualClock::ManualClock(Instant start) : now_(start) {}
ManualClock::~ManualClock() = default;

Instant ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

std::unique_ptr<Timer> ManualClock::make_timer(asio::io_context& ioc) {
  return std::make_unique<ManualTimer>(*this, ioc);
}

void ManualClock::set(Instant t) {
  std::vector<std::pair<Instant, ManualTimer*>> due;
  {
    std::lock_guard lock(mu_);
    if (t > now_) now_ = t;
    for (ManualTimer* timer : timers_) {
      if (timer->callback_ && timer->at_ <= now_) due.emplace_back(timer->at_, timer);
    }
    std::stable_sort(due.begin(), due.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [at, timer] : due) {
      timer->pending_ = std::exchange(timer->callback_, nullptr);
      post_callback(timer->ioc_, timer->pending_);
    }
  }
}

void ManualClock::advance(std::chrono::milliseconds d) {
  set(now() + d);
}

std::optional<Instant> ManualClock::next_timer() const {
  std::lock_guard lock(mu_);
  std::optional<Instant> next;
  for (const ManualTimer* timer : timers_) {
    if (timer->callback_ && (!next || timer->at_ < *next)) next = timer->at_;
  }
  return next;
}

}  // namespace epoch
