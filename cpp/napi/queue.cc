// Bindings for cpp/queue: unpack, call, pack. Validation happens in lib/queue.
#include "bindings.hpp"

namespace up::napi {

void init_queue(Napi::Env /*env*/, Napi::Object /*exports*/) {}

}  // namespace up::napi
