#include "parallel.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace up::risk {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// How long an idle worker polls for the next job before it sleeps on the condition
// variable: a futex wake-up costs tens of microseconds, more than many of our jobs.
constexpr auto kSpinBeforeSleep = std::chrono::microseconds(100);

class Pool {
 public:
  Pool() {
    const unsigned hw = std::thread::hardware_concurrency();
    const unsigned workers = hw > 1 ? hw - 1 : 0;
    threads_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  unsigned width() const { return static_cast<unsigned>(threads_.size()) + 1; }

  void run(std::size_t tasks, const std::function<void(std::size_t)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (tasks <= 1 || threads_.empty() || !busy.owns_lock()) {
      for (std::size_t i = 0; i < tasks; ++i) fn(i);
      return;
    }
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0, std::memory_order_relaxed);
      active_.store(threads_.size(), std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) wake_.notify_all();
    drain(fn, tasks);
    // Workers that never woke still check in (they find no tasks left); wait for all.
    for (unsigned spins = 0; active_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 256) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void drain(const std::function<void(std::size_t)>& fn, std::size_t tasks) {
    for (;;) {
      const std::size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= tasks) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      // Poll briefly, then sleep until the generation moves.
      const auto until = std::chrono::steady_clock::now() + kSpinBeforeSleep;
      unsigned spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen) {
        cpu_relax();
        if ((++spins & 63) == 0 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(mutex_);
          ++sleepers_;
          wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
          --sleepers_;
          break;
        }
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      const std::function<void(std::size_t)>* fn;
      std::size_t tasks;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_relaxed);
        fn = fn_;
        tasks = tasks_;
      }
      if (fn != nullptr) drain(*fn, tasks);
      active_.fetch_sub(1, std::memory_order_release);
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_;   // held by the one caller whose job the pool runs
  std::mutex mutex_;  // guards fn_, tasks_, error_, sleepers_ and generation changes
  std::condition_variable wake_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> active_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  int sleepers_ = 0;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

unsigned parallel_width() { return pool().width(); }

void parallel_for(std::size_t tasks, const std::function<void(std::size_t)>& fn) { pool().run(tasks, fn); }

}  // namespace up::risk
