// Lifeline (internal): lets an object hand callbacks to other threads that
// may outlive it, without those callbacks ever touching it after it is gone.
//
// The object owns a Lifeline and wraps every callback it gives away with
// guard(f). A guarded callback runs `f` only while the lifeline is open.
// close() — the owner's destructor (or stop()) calls it before any member it
// uses is destroyed — makes every later call of a guarded callback a no-op
// and waits until the calls in flight on other threads have returned. A call
// in flight on the closing thread itself (close() called from inside a
// guarded callback) is not waited for: the caller is that callback.
// renew() closes and then opens a fresh lifeline (for objects that can be
// stopped and started again): callbacks guarded before stay dead.
//
// Threading: guard() and close() may be called from any thread; a guarded
// callback may be called from any thread, any number of times.
// Example:
//   class Watcher {
//    public:
//     ~Watcher() { lifeline_.close(); }
//     void watch() { conn_.on_change(lifeline_.guard([this] { changed(); })); }
//    private:
//     Lifeline lifeline_;  // declared last: closed before the members go
//   };
#pragma once

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace epoch {

class Lifeline {
 public:
  Lifeline() : state_(std::make_shared<State>()) {}
  ~Lifeline() { close(); }
  Lifeline(const Lifeline&) = delete;
  Lifeline& operator=(const Lifeline&) = delete;

  // `f` wrapped: the wrapper returns without calling `f` once closed.
  template <typename F>
  auto guard(F f) const {
    return [state = state_, f = std::move(f)](auto&&... args) mutable {
      if (!state->enter()) return;
      const Leave leave{state.get()};
      f(std::forward<decltype(args)>(args)...);
    };
  }

  // Idempotent. Returns once no guarded call runs on another thread.
  void close() { state_->close(); }

  // close(), then open a new lifeline for callbacks guarded from now on.
  // Not concurrently with guard() on another thread.
  void renew() {
    close();
    state_ = std::make_shared<State>();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool closed = false;
    std::vector<std::thread::id> inside;  // one entry per guarded call running

    bool enter() {
      std::lock_guard lock(mu);
      if (closed) return false;
      inside.push_back(std::this_thread::get_id());
      return true;
    }
    void leave() {
      {
        std::lock_guard lock(mu);
        inside.erase(std::find(inside.begin(), inside.end(), std::this_thread::get_id()));
      }
      cv.notify_all();
    }
    void close() {
      const std::thread::id me = std::this_thread::get_id();
      std::unique_lock lock(mu);
      closed = true;
      cv.wait(lock, [&] {
        return std::all_of(inside.begin(), inside.end(),
                           [&](std::thread::id t) { return t == me; });
      });
    }
  };
  struct Leave {
    State* state;
    ~Leave() { state->leave(); }
  };

  std::shared_ptr<State> state_;
};

}  // namespace epoch
