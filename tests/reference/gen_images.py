#!/usr/bin/env python3
"""Builds the image fixtures for tests/image: small input files in many formats and modes, what
Pillow 13 decodes from each, and what the two reference pipelines feed the model:
  openai: open_clip.transform.image_transform (torchvision Resize/CenterCrop on PIL, convert RGB,
          ToTensor, Normalize) - the uint8 image before ToTensor and, for a subset, the float tensor;
  hf:     transformers' CLIPImageProcessorPil (the slow, PIL/NumPy backend) - the uint8 image before
          rescale and, for a subset, pixel_values.
Run with the pinned reference venv:  /work/venv-ref/bin/python tests/reference/gen_images.py
Writes tests/data/images/ (inputs/, expected/, manifest.json) and tests/data/bad/images/.
"""
import io
import json
import os
import struct
import zlib

import numpy as np
import open_clip.transform as oct
import skimage.data
import torch
from PIL import Image, ImageOps
from transformers import CLIPImageProcessorPil
from transformers.image_utils import SizeDict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
OUT = os.path.join(ROOT, "images")
BAD = os.path.join(ROOT, "bad", "images")
rng = np.random.default_rng(20260101)


# --- a tiny PNG writer for what Pillow cannot write (16-bit RGB/RGBA/GA, Adam7, low bit depths) ---
def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def pack_rows(arr, depth, channels):
    """arr: (h, w, channels) integer samples -> list of raw scanlines (no filter byte)."""
    h, w = arr.shape[:2]
    rows = []
    for y in range(h):
        r = arr[y].reshape(-1)
        if depth == 16:
            rows.append(r.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(r.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            padded = np.zeros(((len(r) + per - 1) // per) * per, np.uint8)
            padded[: len(r)] = r
            b = np.zeros(len(padded) // per, np.uint8)
            for i in range(per):
                b |= (padded[i::per] << (8 - depth * (i + 1))).astype(np.uint8)
            rows.append(b.tobytes())
    return rows


def write_png(path, arr, color_type, depth, interlace=False, plte=None, trns=None):
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, ch = arr.shape
    raw = b""
    if not interlace:
        for r in pack_rows(arr, depth, ch):
            raw += b"\x00" + r
    else:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for r in pack_rows(sub, depth, ch):
                raw += b"\x00" + r
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if plte is not None:
        data += png_chunk(b"PLTE", bytes(plte))
    if trns is not None:
        data += png_chunk(b"tRNS", bytes(trns))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


# --- source pictures ------------------------------------------------------------------------------
def photo(name, w, h, box=None):
    im = Image.fromarray(getattr(skimage.data, name)())
    if box:
        im = im.crop(box)
    return im.resize((w, h), Image.LANCZOS)


def build_inputs(d):
    """Writes the input files; returns [(file name, {extra presets})]."""
    items = []

    def save(im, name, **kw):
        im.save(os.path.join(d, name), **kw)
        items.append(name)

    astro = photo("astronaut", 160, 120)
    coffee = photo("coffee", 151, 97)
    chelsea = photo("chelsea", 137, 91)
    rocket = photo("rocket", 60, 170, box=(200, 0, 350, 427))
    camera = photo("camera", 120, 100)
    # JPEG: qualities, subsamplings, progressive, grey, CMYK, odd sizes, tall, big downscale, EXIF.
    save(astro, "astro_q90_420.jpg", quality=90, subsampling=2)
    save(astro, "astro_q75_422.jpg", quality=75, subsampling=1)
    save(astro, "astro_q95_444.jpg", quality=95, subsampling=0)
    save(coffee, "coffee_q50_420_odd.jpg", quality=50, subsampling=2)
    save(chelsea, "chelsea_progressive.jpg", quality=85, progressive=True)
    save(camera, "camera_gray.jpg", quality=88)
    save(chelsea.resize((90, 70)).convert("CMYK"), "chelsea_cmyk.jpg", quality=90)
    save(rocket, "rocket_tall.jpg", quality=85)
    save(photo("astronaut", 300, 260), "astro_300x260.jpg", quality=80)
    save(photo("coffee", 640, 427), "coffee_640.jpg", quality=60)
    exif = Image.Exif()
    exif[0x0112] = 6
    save(photo("chelsea", 80, 60), "chelsea_exif6.jpg", quality=85, exif=exif.tobytes())
    # PNG written by Pillow.
    save(coffee.crop((0, 0, 120, 90)), "coffee_rgb.png")
    a = np.array(photo("astronaut", 100, 80).convert("RGBA"))
    yy, xx = np.mgrid[0:80, 0:100]
    a[..., 3] = np.clip((xx * 3 + yy * 2) - 40, 0, 255).astype(np.uint8)
    a[:5, :5, 3] = 0
    save(Image.fromarray(a, "RGBA"), "astro_rgba.png")
    la = np.stack([np.array(camera.resize((90, 110))), rng.integers(0, 256, (110, 90)).astype(np.uint8)], -1)
    la[::7, :, 1] = 255
    la[::5, :, 1] = 0
    save(Image.fromarray(la, "LA"), "camera_la.png")
    save(camera.resize((70, 50)), "camera_l.png")
    pal = chelsea.resize((100, 75)).quantize(colors=64)
    save(pal, "chelsea_p.png")
    p2 = chelsea.resize((80, 60)).quantize(colors=16)
    save(p2, "chelsea_p_trns.png", transparency=bytes([0, 40, 128, 200, 255, 90]))
    p3 = coffee.resize((70, 52)).quantize(colors=32)
    save(p3, "coffee_p_trns_index.png", transparency=5)
    save(Image.fromarray((np.array(camera) > 120).astype(np.uint8) * 255).convert("1"), "camera_1bit.png")
    # PNG written by hand: 16-bit, low bit depths, Adam7, keyed transparency.
    g16 = rng.integers(0, 400, (50, 64)).astype(np.uint16)
    g16[10:20, 10:40] = rng.integers(0, 65536, (10, 30))
    write_png(os.path.join(d, "gray16.png"), g16, 0, 16); items.append("gray16.png")
    write_png(os.path.join(d, "gray16_small.png"), (np.array(camera)[:60, :80] // 2).astype(np.uint16), 0, 16)
    items.append("gray16_small.png")
    write_png(os.path.join(d, "rgb16.png"), (np.array(coffee.crop((0, 0, 70, 60))).astype(np.uint16) * 257 + rng.integers(0, 256, (60, 70, 3))).astype(np.uint16), 2, 16)
    items.append("rgb16.png")
    rgba16 = np.concatenate([np.array(chelsea.crop((0, 0, 66, 58))).astype(np.uint16) * 257,
                             rng.integers(0, 65536, (58, 66, 1))], -1).astype(np.uint16)
    write_png(os.path.join(d, "rgba16.png"), rgba16, 6, 16); items.append("rgba16.png")
    ga16 = np.stack([np.array(camera.crop((0, 0, 50, 72))).astype(np.uint16) * 257,
                     rng.integers(0, 65536, (72, 50))], -1).astype(np.uint16)
    write_png(os.path.join(d, "ga16.png"), ga16, 4, 16); items.append("ga16.png")
    write_png(os.path.join(d, "gray2.png"), rng.integers(0, 4, (40, 77)), 0, 2); items.append("gray2.png")
    write_png(os.path.join(d, "gray4.png"), rng.integers(0, 16, (39, 70)), 0, 4); items.append("gray4.png")
    write_png(os.path.join(d, "p4_interlaced.png"), rng.integers(0, 12, (45, 66)), 3, 4, interlace=True,
              plte=rng.integers(0, 256, 36).astype(np.uint8).tobytes())
    items.append("p4_interlaced.png")
    write_png(os.path.join(d, "rgb_interlaced.png"), np.array(astro.crop((10, 10, 93, 80))), 2, 8, interlace=True)
    items.append("rgb_interlaced.png")
    lt = np.array(camera.resize((68, 52)))
    lt[::3, ::3] = 77
    write_png(os.path.join(d, "l_trns.png"), lt, 0, 8, trns=struct.pack(">H", 77)); items.append("l_trns.png")
    rt = np.array(coffee.resize((72, 50)))
    rt[::4, ::2] = (10, 20, 30)
    write_png(os.path.join(d, "rgb_trns.png"), rt, 2, 8, trns=struct.pack(">HHH", 10, 20, 30)); items.append("rgb_trns.png")
    # GIF, BMP, WebP, TGA, PNM.
    save(chelsea.resize((90, 70)).quantize(colors=100), "chelsea.gif")
    save(coffee.resize((75, 66)).quantize(colors=50), "coffee_trns.gif", transparency=3)
    save(camera.resize((64, 80)), "camera_gray.gif")
    save(coffee.resize((83, 61)), "coffee_rgb24.bmp")
    save(chelsea.resize((71, 65)).quantize(colors=200), "chelsea_p8.bmp")
    save(camera.resize((66, 70)), "camera_l8.bmp")
    save(astro.resize((90, 68)), "astro_lossy.webp", quality=80)
    save(Image.fromarray(a, "RGBA").resize((77, 61)), "astro_lossless_alpha.webp", lossless=True)
    save(chelsea.resize((70, 64)), "chelsea.tga")
    save(Image.fromarray(a, "RGBA").resize((64, 70)), "astro_rgba.tga")
    save(coffee.resize((80, 66)), "coffee.ppm")
    save(camera.resize((81, 64)), "camera.pgm")
    # Geometry: upscaling, 1x1, extreme aspect ratios, crop offsets that round differently.
    save(astro.resize((5, 3)), "tiny_5x3.png")
    save(astro.resize((1, 1)), "one_pixel.png")
    save(photo("coffee", 400, 7), "wide_400x7.png")
    save(photo("rocket", 7, 400), "tall_7x400.png")
    save(photo("chelsea", 67, 64), "crop_67x64.png")     # d = 3: torchvision 2, transformers 1
    save(photo("coffee", 64, 99), "crop_64x99.png")      # d = 35: torchvision 18, transformers 17
    save(photo("astronaut", 48, 160), "tall_48x160.png")  # upscaled in both directions
    save(photo("rocket", 100, 300), "tall_100x300.jpg", quality=80)  # Pillow 13 resamples vertically first
    return items


# --- reference pipelines --------------------------------------------------------------------------
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def openai_u8_and_tensor(im, size, resize_mode="shortest", interpolation="bicubic", fill=0):
    t = oct.image_transform(size, is_train=False, resize_mode=resize_mode, interpolation=interpolation, fill_color=fill)
    steps = t.transforms
    assert type(steps[-2]).__name__ == "MaybeToTensor" and type(steps[-1]).__name__ == "Normalize"
    x = im
    for s in steps[:-2]:
        x = s(x)
    u8 = np.array(x)
    full = t(im).numpy()
    # The uint8 we store must be what ToTensor + Normalize turn into the full output.
    again = steps[-1](steps[-2](Image.fromarray(u8))).numpy()
    assert np.array_equal(again, full)
    return u8, full


def hf_u8_and_tensor(im, size, resize=None):
    kw = dict(size={"shortest_edge": resize or size}, crop_size={"height": size, "width": size})
    proc = CLIPImageProcessorPil(**kw)
    full = proc(images=im, return_tensors="np")["pixel_values"][0]
    x = proc.process_image(im, do_convert_rgb=True)
    x = proc.resize(x, SizeDict(shortest_edge=resize or size), resample=proc.resample)
    x = proc.center_crop(x, SizeDict(height=size, width=size))
    u8 = np.moveaxis(x, 0, -1).astype(np.uint8)
    again = proc.normalize(proc.rescale(x, proc.rescale_factor), proc.image_mean, proc.image_std)
    assert np.array_equal(again.astype(np.float32), full)
    return u8, full


def decoded_array(im):
    if im.mode == "I;16":
        return np.frombuffer(im.tobytes(), "<u2").reshape(im.height, im.width).view(np.uint8).reshape(im.height, im.width * 2)
    if im.mode == "1":
        return np.array(im).astype(np.uint8) * 255
    return np.array(im).reshape(im.height, -1)


def main():
    inputs = os.path.join(OUT, "inputs")
    expected = os.path.join(OUT, "expected")
    os.makedirs(inputs, exist_ok=True)
    os.makedirs(expected, exist_ok=True)
    names = build_inputs(inputs)
    float_subset = {"astro_q90_420.jpg", "astro_rgba.png", "chelsea_p_trns.png", "gray16.png", "chelsea_cmyk.jpg", "crop_67x64.png"}
    extra = {  # preset name -> (images, maker)
        "openai_224": (["astro_300x260.jpg"], lambda im: openai_u8_and_tensor(im, 224)),
        "hf_224": (["astro_300x260.jpg"], lambda im: hf_u8_and_tensor(im, 224)),
        "openai_bilinear_48": (["astro_q90_420.jpg", "astro_rgba.png", "tall_48x160.png", "tall_100x300.jpg", "coffee_640.jpg"],
                               lambda im: openai_u8_and_tensor(im, 48, interpolation="bilinear")),
        "openai_squash_48": (["coffee_rgb.png", "chelsea_p.png", "wide_400x7.png", "camera_la.png"],
                             lambda im: openai_u8_and_tensor(im, 48, resize_mode="squash")),
        "openai_longest_48": (["coffee_rgb.png", "chelsea_p.png", "astro_rgba.png", "tall_7x400.png", "chelsea_cmyk.jpg"],
                              lambda im: openai_u8_and_tensor(im, 48, resize_mode="longest")),
        "openai_longest_48_fill128": (["coffee_rgb.png", "wide_400x7.png"],
                                      lambda im: openai_u8_and_tensor(im, 48, resize_mode="longest", fill=128)),
        "hf_resize72_crop64": (["astro_q90_420.jpg", "tall_7x400.png", "coffee_trns.gif"],
                               lambda im: hf_u8_and_tensor(im, 64, resize=72)),
    }
    manifest = {"generator": "tests/reference/gen_images.py",
                "versions": {"pillow": Image.__version__, "torch": torch.__version__},
                "images": []}
    for name in names:
        path = os.path.join(inputs, name)
        im = Image.open(path)
        im.load()
        stem = name.replace(".", "_")
        dec = np.ascontiguousarray(decoded_array(im))
        entry = {"file": f"inputs/{name}", "mode": im.mode, "width": im.width, "height": im.height,
                 "transparency": "transparency" in im.info, "outputs": []}
        if dec.nbytes <= 100_000:
            np.save(os.path.join(expected, f"{stem}.decoded.npy"), dec)
            entry["decoded"] = f"expected/{stem}.decoded.npy"
        else:  # large pictures: a CRC-32 of the raw decoded bytes keeps the fixtures small
            entry["decoded_crc32"] = zlib.crc32(dec.tobytes()) & 0xFFFFFFFF
        if im.mode == "P":
            # Every index's RGBA as Pillow's convert("RGBA") gives it (palette + transparency).
            lut = im.copy()
            lut = lut.resize((256, 1))
            lut.putdata(list(range(256)))
            entry["palette_rgba"] = np.array(lut.convert("RGBA")).reshape(-1).tolist()
        if "transparency" in im.info and not isinstance(im.info["transparency"], bytes):
            t = im.info["transparency"]
            entry["transparent_color"] = list(t) if isinstance(t, tuple) else [t]
        if name == "chelsea_exif6.jpg":
            t = ImageOps.exif_transpose(im)
            np.save(os.path.join(expected, f"{stem}.exif.npy"), decoded_array(t))
            entry["exif_transposed"] = f"expected/{stem}.exif.npy"
        presets = [("openai_64", lambda im: openai_u8_and_tensor(im, 64)), ("hf_64", lambda im: hf_u8_and_tensor(im, 64))]
        presets += [(pn, mk) for pn, (imgs, mk) in extra.items() if name in imgs]
        for pname, maker in presets:
            u8, full = maker(Image.open(path))
            out = {"preset": pname, "u8": f"expected/{stem}.{pname}.u8.npy"}
            np.save(os.path.join(expected, f"{stem}.{pname}.u8.npy"), u8)
            if name in float_subset and pname in ("openai_64", "hf_64"):
                np.save(os.path.join(expected, f"{stem}.{pname}.f32.npy"), full.astype(np.float32))
                out["f32"] = f"expected/{stem}.{pname}.f32.npy"
            entry["outputs"].append(out)
        manifest["images"].append(entry)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    build_bad()
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"{len(names)} images, {total / 1e6:.2f} MB in {OUT}")


def build_bad():
    os.makedirs(BAD, exist_ok=True)
    good_jpg = open(os.path.join(OUT, "inputs", "astro_q90_420.jpg"), "rb").read()
    good_png = open(os.path.join(OUT, "inputs", "coffee_rgb.png"), "rb").read()
    files = {
        "empty.jpg": b"",
        "random.bin": rng.integers(0, 256, 3000).astype(np.uint8).tobytes(),
        "text.png": b"this is not a png file at all\n" * 10,
        "truncated.jpg": good_jpg[: len(good_jpg) * 6 // 10],
        "truncated_header.jpg": good_jpg[:300],
        "truncated.png": good_png[: len(good_png) * 6 // 10],
        "truncated_header.png": good_png[:20],
    }
    # A PNG whose IHDR claims 100000 x 100000 (a decompression bomb) with a tiny IDAT.
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    files["bomb_100000x100000.png"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                                       png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b""))
    ihdr0 = struct.pack(">IIBBBBB", 0, 10, 8, 2, 0, 0, 0)
    files["zero_width.png"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr0) +
                               png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))
    # A JPEG whose SOF0 claims 0 rows.
    sof = good_jpg.find(b"\xff\xc0")
    z = bytearray(good_jpg)
    z[sof + 5:sof + 7] = b"\x00\x00"
    files["zero_height.jpg"] = bytes(z)
    # A JPEG header claiming 60000 x 60000 (3.6 gigapixels).
    z = bytearray(good_jpg)
    z[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    files["bomb_60000x60000.jpg"] = bytes(z)
    for n, b in files.items():
        with open(os.path.join(BAD, n), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
