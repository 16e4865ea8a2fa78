// Which vector instruction set the risk kernels use: the best the CPU has, detected once,
// optionally capped (tests cap it to exercise the AVX2 and scalar paths on any machine).
#pragma once

namespace up::risk {

enum class SimdLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// min(detected, cap). Detection: AVX-512F, else AVX2 (+FMA, POPCNT), else scalar.
SimdLevel simd_level();

// Caps simd_level() for every later call (process-wide); pass kAvx512 to lift the cap.
void cap_simd_level(SimdLevel cap);

}  // namespace up::risk
