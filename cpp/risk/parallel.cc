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
// variable: a futex wake-up costs tens of microseconds, more than many of our jobs, while
// polling keeps a core busy. Read each time a worker goes idle (set_pool_spin_ns).
std::atomic<std::int64_t> g_spin_ns{kDefaultPoolSpinNs};

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
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) wake_.notify_all();
    drain(fn, tasks);
    // Every task is taken. Close the job: a worker that has not joined yet (still waking
    // from its sleep) finds fn_ null and does nothing, so the caller waits only for the
    // workers that are running tasks now, never for a wake-up.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = nullptr;
    }
    for (unsigned spins = 0; inside_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < 256) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
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
      // Poll for the spin window, then sleep until the generation moves.
      const std::int64_t spin_ns = g_spin_ns.load(std::memory_order_relaxed);
      if (spin_ns > 0) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns);
        unsigned spins = 0;
        while (generation_.load(std::memory_order_acquire) == seen) {
          cpu_relax();
          if ((++spins & 63) == 0 && std::chrono::steady_clock::now() > until) break;
        }
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
        --sleepers_;
      }
      if (stop_.load(std::memory_order_relaxed)) return;
      const std::function<void(std::size_t)>* fn;
      std::size_t tasks;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_relaxed);
        fn = fn_;
        tasks = tasks_;
        // Joined under the lock, so a caller that has closed the job (fn_ null) counts
        // exactly the workers it must wait for.
        if (fn != nullptr) inside_.fetch_add(1, std::memory_order_relaxed);
      }
      if (fn != nullptr) {
        drain(*fn, tasks);
        inside_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_;   // held by the one caller whose job the pool runs
  std::mutex mutex_;  // guards fn_, tasks_, error_, sleepers_, joining and generation changes
  std::condition_variable wake_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> inside_{0};  // workers running the current job's tasks
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

std::int64_t pool_spin_ns() { return g_spin_ns.load(std::memory_order_relaxed); }

bool set_pool_spin_ns(std::int64_t ns) {
  if (ns < 0 || ns > kMaxPoolSpinNs) return false;
  g_spin_ns.store(ns, std::memory_order_relaxed);
  return true;
}

}  // namespace up::risk
