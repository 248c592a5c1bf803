// WorkQueue (internal): a thread with a queue — the one implementation of the
// worker loops of the stores' writers, the ZooKeeper event thread, the mail
// sink, the Drove executor's workers, and epochd's log writer and password
// workers.
//
// push() hands an item to the queue from any thread; the queue's own threads
// take items in order and call the handler on each. With one thread items are
// handled one after another, in the order pushed; with several, concurrently.
//
// Per-thread state: the constructor that takes `make_handler` calls it once on
// each worker thread, as that thread starts, and handles that thread's items
// with the handler it returns — a lambda that owns, say, a connection or a
// curl handle, destroyed on that thread when the thread ends.
//
// Stopping: stop() (the destructor calls it) ends the threads and joins them.
// With OnStop::kDrain the threads first handle every item already pushed (a
// store's commits must be answered); with OnStop::kDrop the items not yet
// taken are destroyed unhandled (a mail not yet sent is not waited for). An
// item pushed after stop() began is destroyed unhandled; push() says false.
// sleep_for() lets a handler wait (a back-off between attempts) and returns
// early, false, when the queue is stopping.
//
// Threading: push(), stopping(), size() and on_worker() may be called from
// any thread, also from a handler; stop() from any thread but a worker;
// sleep_for() only from a worker. `drained`, when set, runs on a worker when it finds the queue
// empty after handling items (e.g. to flush what the handler wrote).
//
// Ownership: an owner declares its WorkQueue after every member the handler
// uses (so the queue stops first), or calls stop() first in its destructor.
//
// Example:
//   class Writer {
//    public:
//     void write(std::string line) { queue_.push(std::move(line)); }
//    private:
//     std::ofstream out_{"log"};
//     WorkQueue<std::string> queue_{[this](std::string& l) { out_ << l; }};
//   };
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace epoch {

enum class OnStop {
  kDrain,  // handle every item pushed before stop(), then end
  kDrop,   // end after the items being handled; destroy the rest
};

template <class Item>
class WorkQueue {
 public:
  using Handler = std::function<void(Item&)>;

  struct Options {
    int threads = 1;
    OnStop on_stop = OnStop::kDrain;
    std::size_t capacity = 0;  // items queued at most (0: no bound); push() says false beyond
    std::function<void()> drained = nullptr;  // on a worker, whenever it finds the queue empty
  };

  // One thread, draining at stop, with `handler` for every item.
  explicit WorkQueue(Handler handler)
      : WorkQueue(Options{}, [h = std::move(handler)] { return h; }) {}

  WorkQueue(Options options, Handler handler)
      : WorkQueue(std::move(options), [h = std::move(handler)] { return h; }) {}

  // `make_handler` runs once on each worker thread; that thread's items go to
  // what it returned.
  WorkQueue(Options options, std::function<Handler()> make_handler)
      : options_(std::move(options)), make_handler_(std::move(make_handler)) {
    const int n = options_.threads < 1 ? 1 : options_.threads;
    threads_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] { run(); });
    {
      std::lock_guard lock(mu_);
      started_ = true;  // threads_ is complete: on_worker() may read it
    }
    cv_.notify_all();
  }

  ~WorkQueue() { stop(); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `item`; false (and `item` destroyed here) when the queue is full or
  // stop() has begun.
  bool push(Item item) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      if (options_.capacity != 0 && items_.size() >= options_.capacity) return false;
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // Whether the calling thread is one of this queue's workers.
  bool on_worker() const {
    for (const std::thread& t : threads_)
      if (t.get_id() == std::this_thread::get_id()) return true;
    return false;
  }

  // On a worker: waits `d`, or less when stop() begins. False when stopping.
  template <class Rep, class Period>
  bool sleep_for(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mu_);
    return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
  }

  // Ends the threads as OnStop says and joins them. Idempotent.
  void stop() {
    std::deque<Item> dropped;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (options_.on_stop == OnStop::kDrop) dropped.swap(items_);
    }
    cv_.notify_all();
    stop_cv_.notify_all();
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
    // `dropped` goes here, on the stopping thread, after the workers ended.
  }

 private:
  void run() {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return started_; });
    }
    Handler handle = make_handler_();
    bool handled = false;  // since `drained` last ran
    std::unique_lock lock(mu_);
    while (true) {
      if (handled && items_.empty() && options_.drained) {
        lock.unlock();
        options_.drained();
        handled = false;
        lock.lock();
      }
      cv_.wait(lock, [this] { return stopping_ || !items_.empty(); });
      if (items_.empty()) break;  // stopping, nothing left
      if (stopping_ && options_.on_stop == OnStop::kDrop) break;
      Item item = std::move(items_.front());
      items_.pop_front();
      lock.unlock();
      handle(item);
      handled = true;
      lock.lock();
    }
    lock.unlock();
    if (handled && options_.drained) options_.drained();
  }

  const Options options_;
  const std::function<Handler()> make_handler_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // items or stopping, for the workers
  std::condition_variable stop_cv_;  // stopping, for sleep_for
  std::deque<Item> items_;
  bool stopping_ = false;
  bool started_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest exists
};

}  // namespace epoch
