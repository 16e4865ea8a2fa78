#include "bindings.hpp"

namespace up::napi {
namespace {

// The floor every native number is judged against: a call that does nothing.
Napi::Value noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("noop", Napi::Function::New<noop>(env, "noop"));
  init_system(env, exports);
  init_queue(env, exports);
  init_memory(env, exports);
  init_orderbook(env, exports);
  init_risk(env, exports);
  init_itch(env, exports);
  init_udp_receiver(env, exports);
  init_net_struct(env, exports);
  init_monitor(env, exports);
  init_cache(env, exports);
  return exports;
}

}  // namespace
}  // namespace up::napi

// NODE_API_MODULE pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return up::napi::init(env, exports); }
NODE_API_MODULE(ultra_performance, InitAddon)
