"""draw.py - the procedural image domain of cuclip's bundled "shapes" model.

One solid shape (circle, square or triangle) in one of six colors on a plain background, drawn
with antialiased edges (supersampled, then box-filtered down) at a random image size and saved as
PNG or JPEG. Everything is driven by a seeded numpy Generator, so a seed reproduces a data set.

The evaluation domain (the model card's claims, and the C++ test in tests/shapes/) is:
  shape size 30-80% of the shorter image side, squares/triangles rotated within +-45 degrees,
  any position with the shape fully inside, images 64-400 px per side with aspect ratio <= 3.
Training ("wide=True") samples a slightly wider domain (sizes, angles, triangle proportions,
color variants) so that images drawn by other people's drawers still land inside it.

Usage as a script: python draw.py --seed 7 --count 6 --out DIR [--labels "red circle,blue square"]
(writes exampleN.png/.jpg and prints each file's true label).
"""
import argparse
import io
import math
import os

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle"]
COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
BACKGROUNDS = ["white", "light gray", "dark gray", "black"]

# Several common renderings of each color name (a "green" may be CSS green, lime or forest green);
# each image picks one and jitters it a little.
COLOR_VARIANTS = {
    "red": [(230, 25, 25), (255, 0, 0), (200, 20, 30), (220, 45, 40)],
    "green": [(30, 160, 40), (0, 128, 0), (0, 200, 0), (50, 205, 50), (0, 255, 0), (34, 139, 34)],
    "blue": [(30, 60, 220), (0, 0, 255), (0, 90, 200), (40, 100, 255), (20, 40, 170)],
    "yellow": [(245, 220, 20), (255, 255, 0), (255, 215, 0), (240, 230, 60)],
    "purple": [(130, 40, 170), (128, 0, 128), (150, 60, 200), (160, 32, 240), (110, 30, 140)],
    "orange": [(255, 140, 0), (255, 165, 0), (240, 120, 20), (255, 120, 40)],
}
# Gray level ranges of the background names; together they cover 0..255 so any plain background
# someone else picks is near one of them.
BACKGROUND_LEVELS = {"white": (235, 255), "light gray": (165, 235), "dark gray": (35, 120), "black": (0, 35)}


def sample_size(rng, wide):
    """Width and height in 64..400 with aspect ratio <= 3 (a third of the images are square)."""
    hi = 440 if wide else 400
    if rng.random() < 0.3:
        s = int(rng.integers(64, hi + 1))
        return s, s
    while True:
        w, h = (int(v) for v in rng.integers(64, hi + 1, size=2))
        if max(w, h) <= 3 * min(w, h):
            return w, h


def shape_outline(shape, extent, angle_deg, rng, wide):
    """Vertices (relative to the shape's center) of a square or triangle whose unrotated extent is
    `extent`; circles are drawn as ellipses and return None."""
    if shape == "circle":
        return None
    half = extent / 2.0
    if shape == "square":
        pts = [(-half, -half), (half, -half), (half, half), (-half, half)]
    else:
        # Equilateral triangles, and in training also isosceles ones (base = height, a common way
        # to draw "a triangle") and ones with the apex off-center.
        kind = rng.random() if wide else rng.random() * 0.8
        if kind < 0.5:
            r = extent / math.sqrt(3.0)  # circumradius of a side-`extent` equilateral triangle
            pts = [(r * math.sin(a), -r * math.cos(a)) for a in (0.0, 2 * math.pi / 3, 4 * math.pi / 3)]
            cy = (max(p[1] for p in pts) + min(p[1] for p in pts)) / 2  # center the bounding box
            pts = [(x, y - cy) for x, y in pts]
        elif kind < 0.8:
            pts = [(0.0, -half), (half, half), (-half, half)]
        else:
            apex = rng.uniform(-0.4, 0.4) * extent
            pts = [(apex, -half), (half, half), (-half, half)]
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(x * ca - y * sa, x * sa + y * ca) for x, y in pts]


def pick_color(rng, name, wide):
    variants = COLOR_VARIANTS[name]
    base = np.array(variants[int(rng.integers(len(variants)))], dtype=np.float64)
    jitter = rng.uniform(-15, 15, size=3) if wide else rng.uniform(-10, 10, size=3)
    return tuple(int(v) for v in np.clip(base + jitter, 0, 255))


def pick_background(rng, name):
    lo, hi = BACKGROUND_LEVELS[name]
    level = rng.uniform(lo, hi)
    tint = rng.uniform(-3, 3, size=3)  # "plain" backgrounds are rarely exactly neutral
    return tuple(int(v) for v in np.clip(level + tint, 0, 255))


def draw_shape(rng, color, shape, background, wide=False, size=None, frac=None, info=None):
    """Draws one image (PIL RGB). `wide` samples the training domain, otherwise the evaluation one;
    `size` (w, h) and `frac` (shape size / shorter side) fix those instead of sampling them.
    `info`, a dict, receives the size and frac used."""
    w, h = size if size is not None else sample_size(rng, wide)
    short = min(w, h)
    if frac is None:
        frac = rng.uniform(0.25, 0.85) if wide else rng.uniform(0.30, 0.80)
    if info is not None:
        info.update(size=(w, h), frac=frac)
    max_angle = 50.0 if wide else 45.0
    angle = rng.uniform(-max_angle, max_angle)
    extent = frac * short
    outline = shape_outline(shape, extent, angle, rng, wide)
    if outline is None:
        half_w = half_h = extent / 2
    else:
        half_w = max(abs(x) for x, _ in outline)
        half_h = max(abs(y) for _, y in outline)
        # A rotated shape may not fit at this size: shrink it until its bounding box does.
        fit = min(1.0, (w - 2) / (2 * half_w), (h - 2) / (2 * half_h))
        outline = [(x * fit, y * fit) for x, y in outline]
        half_w, half_h = half_w * fit, half_h * fit
    cx = rng.uniform(half_w + 1, w - half_w - 1) if w - 2 * half_w > 2 else w / 2
    cy = rng.uniform(half_h + 1, h - half_h - 1) if h - 2 * half_h > 2 else h / 2

    ss = 4 if max(w, h) <= 200 else 2  # supersampling factor: antialiased edges like a real drawing
    img = Image.new("RGB", (w * ss, h * ss), pick_background(rng, background))
    d = ImageDraw.Draw(img)
    fill = pick_color(rng, color, wide)
    if outline is None:
        r = extent / 2
        d.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=fill)
    else:
        d.polygon([((cx + x) * ss, (cy + y) * ss) for x, y in outline], fill=fill)
    return img.reduce(ss)


def encode(rng, img, wide=False):
    """Round-trips an image through PNG or JPEG (random quality); returns (bytes, extension)."""
    buf = io.BytesIO()
    if rng.random() < 0.5:
        img.save(buf, format="PNG")
        return buf.getvalue(), "png"
    q = int(rng.integers(40 if wide else 60, 96))
    img.save(buf, format="JPEG", quality=q)
    return buf.getvalue(), "jpg"


def random_sample(rng, combos, wide=False, info=None):
    """A random (color, shape) from `combos`, a random background, the drawn and encoded image.
    Returns (PIL image decoded from the encoded bytes, color, shape, background, bytes, ext)."""
    color, shape = combos[int(rng.integers(len(combos)))]
    bg = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    data, ext = encode(rng, draw_shape(rng, color, shape, bg, wide=wide, info=info), wide=wide)
    return Image.open(io.BytesIO(data)).convert("RGB"), color, shape, bg, data, ext


def all_combos():
    return [(c, s) for c in COLORS for s in SHAPES]


def main():
    ap = argparse.ArgumentParser(description="Draws example images of the shapes domain.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", help='comma-separated "color shape" pairs to draw in this order (default: random)')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    wanted = [tuple(p.split()) for p in args.labels.split(",")] if args.labels else None
    if wanted and any(w not in all_combos() for w in wanted):
        ap.error(f"--labels: each item must be one of the colors {COLORS} and shapes {SHAPES}")
    for i in range(len(wanted) if wanted else args.count):
        _, color, shape, bg, data, ext = random_sample(rng, [wanted[i]] if wanted else all_combos())
        name = f"example{i + 1}.{ext}"
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        print(f"{name}\ta {color} {shape}\t(on {bg})")


if __name__ == "__main__":
    main()
