// Each capability registers its bindings here; addon.cc calls them in order.
#pragma once

#include <napi.h>

namespace up::napi {

// Bumped whenever a binding's signature changes; lib/backend.ts refuses a stale addon.
inline constexpr int kAbiVersion = 8;

void init_system(Napi::Env env, Napi::Object exports);
void init_queue(Napi::Env env, Napi::Object exports);
void init_memory(Napi::Env env, Napi::Object exports);
void init_orderbook(Napi::Env env, Napi::Object exports);
void init_risk(Napi::Env env, Napi::Object exports);
void init_itch(Napi::Env env, Napi::Object exports);
void init_udp_receiver(Napi::Env env, Napi::Object exports);
void init_net_struct(Napi::Env env, Napi::Object exports);
void init_monitor(Napi::Env env, Napi::Object exports);
void init_cache(Napi::Env env, Napi::Object exports);

}  // namespace up::napi
