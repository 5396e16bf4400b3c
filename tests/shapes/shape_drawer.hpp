// shape_drawer.hpp — the shapes test's own image generator, independent of tools/shapes/draw.py:
// one solid circle, square or triangle (squares/triangles rotated within ±45°) in one of six
// colors, 30–80% of the shorter image side, fully inside a plain white / light gray / dark gray /
// black background, images 64–400 px per side with aspect ratio ≤ 3. Edges are antialiased by
// 4×4 supersampling the pixels that straddle the outline. Deterministic for a given seed on every
// platform (its own splitmix64 generator; no <random> distributions, whose output varies by
// standard library).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace shapes_test {

inline constexpr std::array<const char*, 6> kColors = {"red", "green", "blue", "yellow", "purple", "orange"};
inline constexpr std::array<const char*, 3> kShapes = {"circle", "square", "triangle"};

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * (double)(next() >> 11) * 0x1.0p-53; }
  int integer(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }  // [lo, hi]

 private:
  uint64_t s_;
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // interleaved, row-major
};

struct Drawn {
  Image image;
  int color = 0, shape = 0;  // indices into kColors / kShapes
  std::string background;
};

namespace detail {

struct Vec { double x, y; };

// Signed distance-like value of a point to the shape, in pixels: < 0 inside. For a convex polygon
// the largest signed edge distance is the exact distance inside and a lower bound outside, which
// is all the coverage test needs.
struct Outline {
  bool circle = false;
  Vec center{0, 0};
  double radius = 0;
  std::vector<Vec> pts;  // convex polygon, any winding
  double eval(double x, double y) const {
    if (circle) return std::hypot(x - center.x, y - center.y) - radius;
    double worst = -1e30;
    const size_t n = pts.size();
    double area2 = 0;
    for (size_t i = 0; i < n; ++i) area2 += pts[i].x * pts[(i + 1) % n].y - pts[(i + 1) % n].x * pts[i].y;
    const double sign = area2 > 0 ? 1.0 : -1.0;
    for (size_t i = 0; i < n; ++i) {
      const Vec a = pts[i], b = pts[(i + 1) % n];
      const double ex = b.x - a.x, ey = b.y - a.y, len = std::hypot(ex, ey);
      // Outward distance of (x, y) from edge a->b.
      const double d = sign * (ex * (y - a.y) - ey * (x - a.x)) / len;
      worst = std::max(worst, -d);
    }
    return worst;
  }
};

inline std::array<uint8_t, 3> jitter(Rng& rng, std::array<int, 3> base, int amount) {
  std::array<uint8_t, 3> out{};
  for (int i = 0; i < 3; ++i) out[i] = (uint8_t)std::clamp(base[i] + rng.integer(-amount, amount), 0, 255);
  return out;
}

}  // namespace detail

// Draws a random image of kColors[color] kShapes[shape].
inline Drawn draw_shape(Rng& rng, int color, int shape) {
  using detail::Vec;
  static constexpr std::array<std::array<int, 3>, 6> base_colors = {{
      {225, 30, 35}, {25, 165, 45}, {30, 70, 230}, {250, 220, 10}, {135, 45, 175}, {250, 135, 15}}};
  Drawn d;
  d.color = color;
  d.shape = shape;
  int w, h;
  do {
    w = rng.integer(64, 400);
    h = rng.uniform(0, 1) < 0.3 ? w : rng.integer(64, 400);
  } while (std::max(w, h) > 3 * std::min(w, h));

  static constexpr std::array<const char*, 4> bg_names = {"white", "light gray", "dark gray", "black"};
  static constexpr std::array<int, 4> bg_levels = {250, 205, 70, 8};
  const int bg = rng.integer(0, 3);
  d.background = bg_names[bg];
  const auto bg_rgb = detail::jitter(rng, {bg_levels[bg], bg_levels[bg], bg_levels[bg]}, 6);
  const auto fg_rgb = detail::jitter(rng, base_colors[color], 12);

  const double extent = rng.uniform(0.30, 0.80) * std::min(w, h);
  const double angle = rng.uniform(-45.0, 45.0) * 3.14159265358979323846 / 180.0;
  detail::Outline o;
  double half_w, half_h;
  if (shape == 0) {
    o.circle = true;
    o.radius = extent / 2;
    half_w = half_h = o.radius;
  } else {
    std::vector<Vec> local;
    const double r = extent / 2;
    if (shape == 1) local = {{-r, -r}, {r, -r}, {r, r}, {-r, r}};
    else local = {{0, -extent / std::sqrt(3.0)}, {r, extent / (2 * std::sqrt(3.0))}, {-r, extent / (2 * std::sqrt(3.0))}};
    const double c = std::cos(angle), s = std::sin(angle);
    half_w = half_h = 0;
    for (const Vec& p : local) {
      o.pts.push_back({p.x * c - p.y * s, p.x * s + p.y * c});
      half_w = std::max(half_w, std::fabs(o.pts.back().x));
      half_h = std::max(half_h, std::fabs(o.pts.back().y));
    }
    // Rotation may push the corners out of a small side: shrink until the shape fits.
    const double fit = std::min({1.0, (w - 2) / (2 * half_w), (h - 2) / (2 * half_h)});
    for (Vec& p : o.pts) p = {p.x * fit, p.y * fit};
    half_w *= fit;
    half_h *= fit;
  }
  const Vec center = {rng.uniform(half_w + 1, w - half_w - 1), rng.uniform(half_h + 1, h - half_h - 1)};
  o.center = center;
  for (Vec& p : o.pts) p = {p.x + center.x, p.y + center.y};

  d.image.width = w;
  d.image.height = h;
  d.image.rgb.resize((size_t)w * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double px = x + 0.5, py = y + 0.5;  // pixel centers
      const double dist = o.eval(px, py);
      double coverage;
      if (dist <= -1.0) coverage = 1.0;
      else if (dist >= 1.0) coverage = 0.0;
      else {  // the pixel straddles the edge: 4x4 samples
        int inside = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx) inside += o.eval(x + (sx + 0.5) / 4, y + (sy + 0.5) / 4) < 0;
        coverage = inside / 16.0;
      }
      uint8_t* out = &d.image.rgb[((size_t)y * w + x) * 3];
      for (int k = 0; k < 3; ++k) out[k] = (uint8_t)std::lround(bg_rgb[k] + coverage * (fg_rgb[k] - bg_rgb[k]));
    }
  }
  return d;
}

}  // namespace shapes_test
