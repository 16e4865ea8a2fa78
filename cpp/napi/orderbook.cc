// Bindings for cpp/orderbook: unpack, call, pack. Validation happens in lib/orderbook.
#include "bindings.hpp"

namespace up::napi {

void init_orderbook(Napi::Env /*env*/, Napi::Object /*exports*/) {}

}  // namespace up::napi
