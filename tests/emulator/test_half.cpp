// The emulator's __half / __nv_bfloat16 conversions: round to nearest even exactly like the GPU,
// checked against engine/base/half.hpp and against an independent oracle that picks the nearest
// representable value by comparing distances in double.
#include <cmath>
#include <limits>

#include "base/half.hpp"
#include "emu_testing.hpp"
#include "kernels/emu/half.hpp"

using namespace cuclip_test;

namespace {

uint32_t bits(float f) { return cuclip::emu::f32_bits(f); }
float from_bits(uint32_t u) { return cuclip::emu::bits_f32(u); }

// Nearest value of a format given as a sorted list of (value, bits), ties to the even bit pattern,
// with overflow to infinity at the midpoint between the largest finite value and the next power.
uint16_t oracle_round(double x, const std::vector<std::pair<double, uint16_t>>& positives, double overflow_at) {
  bool neg = std::signbit(x);
  double a = std::fabs(x);
  uint16_t sign = neg ? 0x8000 : 0;
  if (a >= overflow_at) return sign | (positives.back().second);  // the last entry is +inf
  auto it = std::lower_bound(positives.begin(), positives.end(), std::make_pair(a, uint16_t(0)));
  if (it == positives.begin()) return sign | it->second;
  auto lo = it - 1;
  double dlo = a - lo->first, dhi = it->first - a;
  if (dlo < dhi) return sign | lo->second;
  if (dhi < dlo) return sign | it->second;
  return sign | ((lo->second & 1) ? it->second : lo->second);
}

std::vector<std::pair<double, uint16_t>> positive_values(bool bf16) {
  std::vector<std::pair<double, uint16_t>> v;
  for (uint32_t u = 0; u < 0x8000; ++u) {
    double d = bf16 ? cuclip::bf16_to_f32(static_cast<uint16_t>(u)) : cuclip::f16_to_f32(static_cast<uint16_t>(u));
    if (std::isnan(d)) continue;
    v.emplace_back(d, static_cast<uint16_t>(u));
  }
  std::sort(v.begin(), v.end());
  return v;
}

// The floats most likely to expose rounding bugs: exact ties and their neighbours around every
// representable value of the target format, subnormals, and random bit patterns.
std::vector<float> tricky_floats(bool bf16) {
  std::vector<float> out;
  auto& gen = rng();
  for (uint32_t u = 0; u < 0x7c00; u += bf16 ? 1 : 7) {
    float v = bf16 ? cuclip::bf16_to_f32(static_cast<uint16_t>(u)) : cuclip::f16_to_f32(static_cast<uint16_t>(u));
    float next = bf16 ? cuclip::bf16_to_f32(static_cast<uint16_t>(u + 1)) : cuclip::f16_to_f32(static_cast<uint16_t>(u + 1));
    if (!std::isfinite(next)) continue;
    float mid = static_cast<float>((static_cast<double>(v) + next) / 2);
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY), v}) {
      out.push_back(f);
      out.push_back(-f);
    }
  }
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 200000; ++i) out.push_back(from_bits(any(gen)));
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e10f, std::numeric_limits<float>::denorm_min(), 5.96e-8f, 2.98e-8f,
                  2.9802322e-8f, 3.0e-8f, std::numeric_limits<float>::max(), INFINITY, -INFINITY, 0.0f, -0.0f})
    out.push_back(f);
  return out;
}

}  // namespace

TEST_CASE("f32_to_f16_rounds_to_nearest_even_like_the_gpu", "[emulator][half]") {
  CUCLIP_SEED_INFO();
  auto positives = positive_values(false);
  const double overflow_at = 65520.0;  // midpoint between 65504 and 2^16
  for (float f : tricky_floats(false)) {
    if (std::isnan(f)) continue;
    uint16_t got = __half_as_ushort(__float2half(f));
    INFO("f = " << f << " bits " << std::hex << bits(f));
    REQUIRE(got == cuclip::f32_to_f16(f));
    REQUIRE(got == oracle_round(f, positives, overflow_at));
  }
}

TEST_CASE("f32_to_bf16_rounds_to_nearest_even_like_the_gpu", "[emulator][half]") {
  CUCLIP_SEED_INFO();
  auto positives = positive_values(true);
  const double overflow_at = (2.0 - std::ldexp(1.0, -8)) * std::ldexp(1.0, 127);
  for (float f : tricky_floats(true)) {
    if (std::isnan(f)) continue;
    uint16_t got = __bfloat16_as_ushort(__float2bfloat16(f));
    INFO("f = " << f << " bits " << std::hex << bits(f));
    REQUIRE(got == cuclip::f32_to_bf16(f));
    REQUIRE(got == oracle_round(f, positives, overflow_at));
  }
}

TEST_CASE("widening_f16_and_bf16_is_exact_and_nan_is_canonical", "[emulator][half]") {
  for (uint32_t u = 0; u < 0x10000; ++u) {
    auto h = static_cast<uint16_t>(u);
    float f16 = __half2float(__ushort_as_half(h)), bf = __bfloat162float(__ushort_as_bfloat16(h));
    float ref16 = cuclip::f16_to_f32(h), refbf = cuclip::bf16_to_f32(h);
    if (std::isnan(ref16)) {
      REQUIRE(bits(f16) == 0x7fffffffu);  // the toolkit's conversion: canonical NaN, sign dropped
    } else {
      REQUIRE(bits(f16) == bits(ref16));
    }
    REQUIRE(std::isnan(bf) == std::isnan(refbf));
    if (!std::isnan(refbf)) REQUIRE(bits(bf) == bits(refbf));
  }
  CHECK(__half_as_ushort(__float2half(NAN)) == 0x7fff);
  CHECK(__bfloat16_as_ushort(__float2bfloat16(-NAN)) == 0x7fff);
  CHECK(__half_as_ushort(__float2half(INFINITY)) == 0x7c00);
  CHECK(__half_as_ushort(__float2half(-65520.0f)) == 0xfc00);
  CHECK(__half_as_ushort(__float2half(5.9604645e-8f)) == 0x0001);  // smallest subnormal, 2^-24
  CHECK(__half_as_ushort(__float2half(2.9802322e-8f)) == 0x0000);  // 2^-25: tie to even (zero)
}

TEST_CASE("half2_packing_and_arithmetic_round_once", "[emulator][half]") {
  __half2 h = __floats2half2_rn(1.0f, -2.5f);
  CHECK(__low2float(h) == 1.0f);
  CHECK(__high2float(h) == -2.5f);
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even is 1.
  CHECK(__half2float(__hadd(__float2half(1.0f), __float2half(std::ldexp(1.0f, -11)))) == 1.0f);
  // fma rounds once: the product 1.5 * (1 + 2^-10) alone is a tie between two halves, the added
  // 2^-12 breaks it upwards.
  __half a = __float2half(1.5f), b = __float2half(1.0f + std::ldexp(1.0f, -10)), c = __float2half(std::ldexp(1.0f, -12));
  double exact = 1.5 * (1.0 + std::ldexp(1.0, -10)) + std::ldexp(1.0, -12);
  CHECK(__half_as_ushort(__hfma(a, b, c)) == cuclip::f32_to_f16(static_cast<float>(exact)));
  __nv_bfloat162 bf = __floats2bfloat162_rn(3.0f, 0.1f);
  CHECK(__low2float(bf) == 3.0f);
  CHECK(__bfloat16_as_ushort(bf.y) == cuclip::f32_to_bf16(0.1f));
}
