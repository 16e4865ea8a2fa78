// Minimal test support for the C++ core: assert-style checks that stay on under any
// build type and report file:line, in the spirit of rigtorp's SPSCQueueTest.cpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

#define CHECK_EQ(a, b)                                                                           \
  do {                                                                                           \
    const auto check_a_ = (a);                                                                   \
    const auto check_b_ = (b);                                                                   \
    if (!(check_a_ == check_b_)) {                                                               \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, \
                   #a, #b, static_cast<long long>(check_a_), static_cast<long long>(check_b_));  \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

// xorshift32, for the tests that scribble on shared memory: a scribbled word is half the
// time small (near valid indices, sizes and offsets, so checks past the first are
// reached) and half the time anything.
struct Scribbles {
  uint32_t x;
  uint32_t next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }
  uint32_t word() {
    const uint32_t r = next();
    return (r & 1) != 0 ? r : (r >> 20);
  }
};
