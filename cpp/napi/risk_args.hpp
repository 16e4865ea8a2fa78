// Argument unpacking for the risk kernels whose signatures the CPU addon (cpp/napi/risk.cc)
// and the GPU addon (cuda/napi/addon.cc) share: one place keeps both in bounds.
#pragma once

#include <napi.h>

#include <cstddef>

#include "../risk/matrix.hpp"
#include "kernel_binding.hpp"

namespace up::napi {

// (values, sign, confidence, out[2])
struct HistoricalArgs {
  const double* values;
  std::size_t n;
  double sign;
  double confidence;
  double* out;
};

inline HistoricalArgs historical_args(const Napi::CallbackInfo& info) {
  const double confidence = num(info[2]);
  if (!(confidence > 0 && confidence < 1)) throw Napi::RangeError::New(info.Env(), "Expected a confidence in (0, 1)");
  return {f64(info[0], "values", 2), f64_len(info[0]), num(info[1]), confidence, f64(info[3], "out", 2)};
}

// (values, sign, ddof 0|1, out[4])
struct MomentsArgs {
  const double* values;
  std::size_t n;
  double sign;
  int ddof;
  double* out;
};

inline MomentsArgs moments_args(const Napi::CallbackInfo& info) {
  const double ddof = num(info[2]);
  if (ddof != 0 && ddof != 1) throw Napi::RangeError::New(info.Env(), "Expected a ddof of 0 or 1");
  return {f64(info[0], "values", 2), f64_len(info[0]), num(info[1]), static_cast<int>(ddof), f64(info[3], "out", 4)};
}

// (returns, observations, assets, weights, out)
struct ReturnsArgs {
  const double* returns;
  std::size_t observations;
  std::size_t assets;
  const double* weights;
  double* out;
};

inline ReturnsArgs returns_args(const Napi::CallbackInfo& info) {
  const std::size_t t = static_cast<std::size_t>(u64(info[1])), a = static_cast<std::size_t>(u64(info[2]));
  return {f64(info[0], "returns", t * a), t, a, f64(info[3], "weights", a), f64(info[4], "out", t)};
}

// (data, observations, assets, method 0|1, lambda, correlation 0|1, out)
struct CovarianceArgs {
  const double* data;
  std::size_t observations;
  std::size_t assets;
  up::risk::CovMethod method;
  double lambda;
  bool correlation;
  double* out;
};

inline CovarianceArgs covariance_args(const Napi::CallbackInfo& info) {
  const std::size_t t = static_cast<std::size_t>(u64(info[1])), a = static_cast<std::size_t>(u64(info[2]));
  if (t < 2 || a < 1) throw Napi::RangeError::New(info.Env(), "Expected at least 2 observations and 1 asset");
  return {f64(info[0], "data", t * a), t, a, static_cast<up::risk::CovMethod>(static_cast<int>(num(info[3]))),
          num(info[4]), num(info[5]) != 0, f64(info[6], "out", a * a)};
}

}  // namespace up::napi
