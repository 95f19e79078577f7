// Turns a run-time count of 16-float vectors (1..8) into a template argument, so a SIMD kernel can keep that
// many accumulators in registers (a template-sized array) while the count comes from the head size.
#pragma once

#include <cstddef>
#include <type_traits>

namespace kvlab::kernels {

// Calls f(std::integral_constant<int, V>{}) with V = vectors and returns true, or returns false without
// calling f when vectors is not in [1, 8].
template <typename F>
bool WithVectorCount(size_t vectors, F&& f) {
  switch (vectors) {
    case 1: f(std::integral_constant<int, 1>{}); return true;
    case 2: f(std::integral_constant<int, 2>{}); return true;
    case 3: f(std::integral_constant<int, 3>{}); return true;
    case 4: f(std::integral_constant<int, 4>{}); return true;
    case 5: f(std::integral_constant<int, 5>{}); return true;
    case 6: f(std::integral_constant<int, 6>{}); return true;
    case 7: f(std::integral_constant<int, 7>{}); return true;
    case 8: f(std::integral_constant<int, 8>{}); return true;
    default: return false;
  }
}

}  // namespace kvlab::kernels
