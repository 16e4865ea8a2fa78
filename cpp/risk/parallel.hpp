// A small fixed thread pool for the risk kernels: hardware_concurrency() - 1 workers plus
// the calling thread. One parallel job at a time; a caller that finds the pool busy (an
// async worker already using it) runs its tasks itself, so nothing ever waits on a job
// it is not part of.
#pragma once

#include <cstddef>
#include <functional>

namespace up::risk {

// Threads a parallel_for can use (workers + the caller); at least 1.
unsigned parallel_width();

// Calls fn(task) for every task in [0, tasks) and returns when all have run. Tasks are
// handed out dynamically; fn must write only to memory its task owns. An exception from
// fn is rethrown here after the others finish.
void parallel_for(std::size_t tasks, const std::function<void(std::size_t)>& fn);

}  // namespace up::risk
