// A small fixed thread pool for the risk kernels: hardware_concurrency() - 1 workers plus
// the calling thread. One parallel job at a time; a caller that finds the pool busy (an
// async worker already using it) runs its tasks itself, so nothing ever waits on a job
// it is not part of.
//
// Idle policy (docs/risk.md, "The thread pool's idle policy"): a worker that has finished
// a job polls for the next one for pool_spin_ns() nanoseconds (a core kept busy), then
// sleeps on a condition variable (the next job pays a futex wake-up, tens of µs). A caller
// never waits for a worker that has not yet joined its job: when the caller has run out of
// tasks it closes the job, and workers that wake later find nothing to do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace up::risk {

// Threads a parallel_for can use (workers + the caller); at least 1.
unsigned parallel_width();

// Calls fn(task) for every task in [0, tasks) and returns when all have run. Tasks are
// handed out dynamically; fn must write only to memory its task owns. An exception from
// fn is rethrown here after the others finish.
void parallel_for(std::size_t tasks, const std::function<void(std::size_t)>& fn);

// The spin window before an idle worker sleeps, in nanoseconds (default kDefaultPoolSpinNs).
inline constexpr std::int64_t kDefaultPoolSpinNs = 100'000;
// The largest window set_pool_spin_ns accepts (one second).
inline constexpr std::int64_t kMaxPoolSpinNs = 1'000'000'000;
std::int64_t pool_spin_ns();
// Sets the spin window; 0 sleeps as soon as a job is done. Returns false (and changes
// nothing) outside [0, kMaxPoolSpinNs]. Workers spinning now finish their current window.
bool set_pool_spin_ns(std::int64_t ns);

}  // namespace up::risk
