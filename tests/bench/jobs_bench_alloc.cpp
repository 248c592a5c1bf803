// jobs_bench's global operator new: counts heap allocations on every thread
// except while a thread sets t_uncounted (the benchmark's own accounting).
// A translation unit of its own, so that no inlined new/delete pair of
// another header meets these definitions.
#include <atomic>
#include <cstdlib>
#include <new>

std::atomic<long> g_allocations{0};
thread_local bool t_uncounted = false;

void* operator new(std::size_t n) {
  if (!t_uncounted) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
