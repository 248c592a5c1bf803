// Test support: counts heap allocations, so a test or benchmark can prove a
// call makes none. Include it in exactly one translation unit of a program:
// it replaces the global operator new and delete.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace epoch::test {
inline std::atomic<long> g_allocations{0};
}  // namespace epoch::test

void* operator new(std::size_t n) {
  epoch::test::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
