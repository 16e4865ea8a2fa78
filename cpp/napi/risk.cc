// Bindings for cpp/risk: unpack, call, pack. Validation happens in lib/risk.
#include "bindings.hpp"

namespace up::napi {

void init_risk(Napi::Env /*env*/, Napi::Object /*exports*/) {}

}  // namespace up::napi
