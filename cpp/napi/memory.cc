// Bindings for cpp/memory: unpack, call, pack. Validation happens in lib/memory.
#include "bindings.hpp"

namespace up::napi {

void init_memory(Napi::Env /*env*/, Napi::Object /*exports*/) {}

}  // namespace up::napi
