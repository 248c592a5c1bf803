// epoch/clock.h — injectable time: now() and one-shot timers.
//
// What: `Clock` gives the current instant and makes `Timer`s whose callbacks
// run on a given boost::asio::io_context. Nothing in the engine reads the
// system clock directly; tests use `ManualClock` to jump over a DST change or
// a 30-day outage in microseconds, deterministically.
//
//   SystemClock  — wall-clock time; timers are Asio system timers.
//   ManualClock  — time moves only when a test calls set() or advance(); due
//                  timers are then posted (in due order) to their io_context,
//                  so `clock.advance(1s); ioc.poll();` runs exactly what was due.
//
// Threading: now() is thread-safe. A Timer is used from one thread (the
// engine's strand); its callback runs on its io_context. ManualClock's set()
// and advance() may be called from any thread.
// Ownership: the Clock must outlive its timers; a destroyed or cancelled
// Timer never calls its callback.
// Errors: none; these calls cannot fail.
//
// Example:
//   boost::asio::io_context ioc;
//   epoch::ManualClock clock(epoch::from_epoch_millis(0));
//   auto timer = clock.make_timer(ioc);
//   bool fired = false;
//   timer->arm(clock.now() + std::chrono::seconds(5), [&] { fired = true; });
//   clock.advance(std::chrono::seconds(5));
//   ioc.poll();  // the callback ran: fired == true
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "epoch/time_zone.h"

namespace boost::asio {
class io_context;
}

namespace epoch {

class Timer {
 public:
  virtual ~Timer() = default;
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Calls `fn` on the timer's io_context at or after `at` (immediately when
  // `at` has passed). Re-arming replaces the previous callback, which then
  // never runs.
  virtual void arm(Instant at, std::function<void()> fn) = 0;
  // The pending callback, if any, never runs.
  virtual void cancel() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;

  virtual Instant now() const = 0;
  // A timer whose callbacks run on `ioc`.
  virtual std::unique_ptr<Timer> make_timer(boost::asio::io_context& ioc) = 0;
};

// The system's wall clock.
std::unique_ptr<Clock> make_system_clock();

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start);
  ~ManualClock() override;

  Instant now() const override;
  std::unique_ptr<Timer> make_timer(boost::asio::io_context& ioc) override;

  // Moves time to `t` (never backwards) and posts every timer due by then,
  // earliest first.
  void set(Instant t);
  void advance(std::chrono::milliseconds d);
  // The earliest armed timer's instant, if any: lets a test step from one
  // scheduled event to the next.
  std::optional<Instant> next_timer() const;

 private:
  class ManualTimer;
  friend class ManualTimer;

  mutable std::mutex mu_;
  Instant now_;
  std::vector<ManualTimer*> timers_;  // every live timer, armed or not
};

}  // namespace epoch
