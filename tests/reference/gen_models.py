#!/usr/bin/env python3
"""Golden CLIP model fixtures, written by the real transformers and open_clip libraries.

Creates four tiny random-init CLIP checkpoints under tests/data/models/<name>/ in exactly the
on-disk layout users download (transformers CLIPModel directories, open_clip hub directories), and
for each one the ecosystem's own outputs under tests/data/reference/<name>/: token ids, preprocessed
pixels, L2-normalized text/image embeddings, logits, plus fixture.json (architecture) and meta.json.
The test images themselves are synthesized into tests/data/reference/images/.

Everything is deterministic (fixed seeds, one CPU thread, deterministic algorithms), so running the
script twice produces byte-identical files. Run it through tests/reference/regenerate.sh.
"""
import gzip
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
MODELS = DATA / "models"
REFERENCE = DATA / "reference"
IMAGES = REFERENCE / "images"

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

# Texts every fixture encodes. They cover the cleaning and splitting corner cases: empty input,
# case, contractions, HTML entities, curly quotes, emoji, CJK, digits incl. Nl/No, odd whitespace,
# ligatures and full-width forms, a literal tag, and one text far over 77 tokens (truncation).
TEXTS = [
    "",
    "a photo of a cat",
    "A Photo Of Two DOGS playing in the SNOW.",
    "CAF\u00c9 &amp; cr\u00e8me br\u00fbl\u00e9e &lt;3 \u201cquoted\u201d \u2018single\u2019 "
    "\U0001F431\U0001F44D\U0001F3FD \u732b\u3068\u72ac \ud55c\uad6d\uc5b4",
    "it's what they've said, isn't it? we'll see; I'd say you're right & I'm sure",
    "numbers: 2024, 3.14159, \u00bd \u00b2 \u2163 and 10%",
    "  lots   of\twhitespace\nand\u00a0no-break  spaces  ",
    "\ufb01ne ligatures and \uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 letters",
    "<b>bold</b> &amp;amp; tags",
    " ".join(["the quick brown fox jumps over the lazy dog"] * 10),
]

# The four fixtures. Widths stay tiny because the 49408-row token embedding dominates the size.
FIXTURES = [
    dict(
        name="hf_legacy_quickgelu_f32", library="transformers", seed=1001, dtype="float32",
        act="quick_gelu", projection_dim=24, logit_scale=math.log(50.0),
        text=dict(width=16, heads=2, layers=2, mlp=64, eos_token_id=2, bos_token_id=0, pad_token_id=1),
        vision=dict(width=64, heads=2, layers=2, mlp=256, image_size=36, patch_size=12),
        tokenizer="legacy_vocab_merges", preprocessor="legacy_int_sizes", legacy_position_ids=True,
        shard_size=None,
    ),
    dict(
        name="hf_modern_gelu_f16_sharded", library="transformers", seed=1002, dtype="float16",
        act="gelu", projection_dim=32, logit_scale=math.log(50.0),
        text=dict(width=16, heads=4, layers=2, mlp=48, eos_token_id=49407, bos_token_id=49406, pad_token_id=1),
        vision=dict(width=160, heads=2, layers=2, mlp=640, image_size=35, patch_size=7),
        tokenizer="tokenizer_json", preprocessor="dict_sizes", legacy_position_ids=False,
        shard_size="1MB",
    ),
    dict(
        name="openclip_nolnpre_bias_bf16", library="open_clip", seed=1003, dtype="bfloat16",
        model_cfg={
            "embed_dim": 20, "quick_gelu": False, "init_logit_scale": math.log(50.0), "init_logit_bias": -2.5,
            "vision_cfg": {"image_size": 40, "patch_size": 12, "width": 96, "head_width": 48, "layers": 2,
                           "mlp_ratio": 4.0, "no_ln_pre": True},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 2},
        },
        preprocess={"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "interpolation": "bilinear",
                    "resize_mode": "squash"},
    ),
    dict(
        name="openclip_openai_quickgelu_f32", library="open_clip", seed=1004, dtype="float32",
        model_cfg={
            "embed_dim": 28, "quick_gelu": True, "init_logit_scale": math.log(50.0),
            "vision_cfg": {"image_size": 33, "patch_size": 11, "width": 64, "head_width": 16, "layers": 2,
                           "mlp_ratio": 3.5},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 4, "layers": 2},
        },
        preprocess={},
    ),
]

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def set_determinism(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=False)
        f.write("\n")


def fresh_dir(path):
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------------------------------- tokenizer

def clip_bpe_vocab():
    """Rebuilds openai's CLIP vocabulary from the BPE merge list shipped inside open_clip."""
    import open_clip
    bpe_path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]  # line 0 is a header; 48,894 merges fill the vocab to 49,408
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    others = [b for b in range(256) if b not in printable]
    # Printable bytes stand for themselves, the other 68 get code points from 256 up, in byte order.
    byte_symbols = [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]
    vocab = byte_symbols + [s + "</w>" for s in byte_symbols] + ["".join(m.split()) for m in merges] + [SOT, EOT]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    return {tok: i for i, tok in enumerate(vocab)}, merges


def write_legacy_tokenizer(out_dir, vocab, merges):
    """vocab.json + merges.txt + the older-style tokenizer_config/special_tokens_map hub files carry."""
    with open(out_dir / "vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(out_dir / "merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    special = lambda s: {"content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True}
    write_json(out_dir / "special_tokens_map.json", {
        "bos_token": special(SOT), "eos_token": special(EOT), "unk_token": special(EOT), "pad_token": EOT})
    write_json(out_dir / "tokenizer_config.json", {
        "unk_token": special(EOT), "bos_token": special(SOT), "eos_token": special(EOT), "pad_token": EOT,
        "add_prefix_space": False, "errors": "replace", "do_lower_case": True, "model_max_length": 77,
        "tokenizer_class": "CLIPTokenizer"})


def write_modern_tokenizer(out_dir, vocab, merges):
    """tokenizer.json + tokenizer_config.json exactly as CLIPTokenizer.save_pretrained writes them,
    except that tokenizer.json is re-serialized without indentation (same JSON, 1.7 MB instead of
    3.6 MB) to keep the fixtures inside their size budget."""
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges], model_max_length=77)
    tok.save_pretrained(out_dir)
    tok.backend_tokenizer.save(str(out_dir / "tokenizer.json"), pretty=False)


def check_hf_tokenizer_matches_open_clip(model_dir):
    """On texts that need no ftfy/HTML cleaning both tokenizers must agree up to the first EOT."""
    import open_clip
    from transformers import CLIPTokenizer
    hf = CLIPTokenizer.from_pretrained(model_dir)
    oc = open_clip.tokenizer.SimpleTokenizer()
    plain = ["a photo of a cat", "A Photo Of Two DOGS playing in the SNOW.", "it's 2024, isn't it?",
             "numbers 12345 and symbols #@!", TEXTS[-1]]
    a = hf(plain, padding="max_length", truncation=True, max_length=77)["input_ids"]
    b = oc(plain).tolist()
    for text, x, y in zip(plain, a, b):
        n = y.index(49407) + 1
        if x[:n] != y[:n] or len(x) != 77:
            sys.exit(f"HF CLIPTokenizer from {model_dir} disagrees with open_clip on {text!r}:\n{x}\n{y}")


# ---------------------------------------------------------------------------------------- images

def make_images():
    """Small synthetic test images covering PNG/JPEG, RGBA, grayscale, palette, odd and extreme sizes."""
    from PIL import Image
    fresh_dir(IMAGES)
    rng = np.random.default_rng(20240607)

    def grid(w, h):
        return np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))

    def u8(a):
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)

    files = []
    x, y = grid(64, 48)  # landscape RGB PNG with smooth gradients and a little noise
    rgb = np.stack([x * 4, y * 5, 128 + 100 * np.sin(x / 5) * np.cos(y / 7)], -1) + rng.normal(0, 6, (48, 64, 3))
    Image.fromarray(u8(rgb), "RGB").save(IMAGES / "rgb_gradient_64x48.png")
    files.append("rgb_gradient_64x48.png")

    x, y = grid(50, 70)  # RGBA PNG: transparent corners hide bright colours (premultiply vs composite)
    r = np.hypot(x - 25, y - 35)
    alpha = np.clip(255 - (r - 12) * 20, 0, 255)
    colour = np.stack([255 - x * 3, y * 3, 80 + 170 * (((x // 8) + (y // 8)) % 2)], -1)
    rgba = np.concatenate([colour, alpha[..., None]], -1)
    Image.fromarray(u8(rgba), "RGBA").save(IMAGES / "rgba_disc_50x70.png")
    files.append("rgba_disc_50x70.png")

    x, y = grid(45, 45)  # grayscale JPEG with fine rings (exercises the resampling filter)
    gray = 128 + 110 * np.cos(np.hypot(x - 20, y - 24) / 2.2) + rng.normal(0, 4, (45, 45))
    Image.fromarray(u8(gray), "L").save(IMAGES / "gray_rings_45x45.jpg", quality=85)
    files.append("gray_rings_45x45.jpg")

    x, y = grid(121, 91)  # RGB JPEG, odd size with 4:2:0 chroma subsampling
    scene = np.stack([60 + x, 200 - y * 1.5, 100 + 50 * np.sin((x + y) / 9)], -1)
    for _ in range(6):
        x0, y0 = rng.integers(0, 100), rng.integers(0, 70)
        scene[y0:y0 + rng.integers(8, 30), x0:x0 + rng.integers(8, 30)] = rng.integers(0, 256, 3)
    scene += rng.normal(0, 5, scene.shape)
    Image.fromarray(u8(scene), "RGB").save(IMAGES / "rgb_scene_121x91.jpg", quality=90)
    files.append("rgb_scene_121x91.jpg")

    x, y = grid(33, 57)  # palette PNG (Pillow resizes mode P with NEAREST whatever is asked)
    index = ((x // 4 + y // 6) % 16).astype(np.uint8)
    pal = Image.fromarray(index, "P")
    pal.putpalette([int(v) for v in rng.integers(0, 256, 16 * 3)])
    pal.save(IMAGES / "palette_33x57.png")
    files.append("palette_33x57.png")

    x, y = grid(20, 13)  # smaller than every model input: the resize upsamples
    tiny = np.stack([x * 12, y * 19, 255 - x * 6 - y * 9], -1)
    Image.fromarray(u8(tiny), "RGB").save(IMAGES / "tiny_rgb_20x13.png")
    files.append("tiny_rgb_20x13.png")

    x, y = grid(200, 30)  # extreme aspect ratio JPEG (long side = int(size * 200 / 30))
    strip = np.stack([x * 1.2, 128 + 100 * np.sin(x / 3), y * 8], -1) + rng.normal(0, 3, (30, 200, 3))
    Image.fromarray(u8(strip), "RGB").save(IMAGES / "wide_strip_200x30.jpg", quality=92)
    files.append("wide_strip_200x30.jpg")
    return files


def open_images(files):
    from PIL import Image
    images = []
    for f in files:
        with Image.open(IMAGES / f) as im:
            im.load()
            images.append(im.copy())
    return images


# ---------------------------------------------------------------------------------------- weights

NORM_MARKERS = ("layer_norm", "layrnorm", "layernorm", "ln_")


def perturb_parameters(model, seed):
    """Library init leaves LayerNorm at (1, 0) and many biases at 0, which would hide a swapped or
    dropped tensor in the converter: give every 1-D parameter its own random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("logit_scale", "logit_bias")) or p.dim() != 1:
                continue
            noise = torch.randn(p.shape, generator=g)
            if any(m in name for m in NORM_MARKERS) and name.endswith("weight"):
                p.copy_(1.0 + 0.15 * noise)
            else:
                p.add_(0.1 * noise)


def tensor_table(path_or_dir):
    """name -> (dtype, shape) over a safetensors file or every shard of a directory."""
    from safetensors import safe_open
    files = [path_or_dir] if Path(path_or_dir).is_file() else sorted(Path(path_or_dir).glob("*.safetensors"))
    table = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for k in st.keys():
                sl = st.get_slice(k)
                table[k] = {"dtype": sl.get_dtype(), "shape": list(sl.get_shape()), "file": Path(f).name}
    return dict(sorted(table.items()))


# ---------------------------------------------------------------------------------------- transformers

def build_hf(fx, vocab, merges):
    from safetensors.torch import load_file, save_file
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel
    out = fresh_dir(MODELS / fx["name"])
    set_determinism(fx["seed"])
    t, v = fx["text"], fx["vision"]
    text_config = dict(vocab_size=49408, max_position_embeddings=77, hidden_size=t["width"],
                       intermediate_size=t["mlp"], num_hidden_layers=t["layers"], num_attention_heads=t["heads"],
                       hidden_act=fx["act"], eos_token_id=t["eos_token_id"], bos_token_id=t["bos_token_id"],
                       pad_token_id=t["pad_token_id"])
    vision_config = dict(hidden_size=v["width"], intermediate_size=v["mlp"], num_hidden_layers=v["layers"],
                         num_attention_heads=v["heads"], image_size=v["image_size"], patch_size=v["patch_size"],
                         hidden_act=fx["act"])
    config = CLIPConfig(text_config=text_config, vision_config=vision_config,
                        projection_dim=fx["projection_dim"], logit_scale_init_value=fx["logit_scale"])
    model = CLIPModel(config).eval()
    perturb_parameters(model, fx["seed"])
    with torch.no_grad():
        model.logit_scale.fill_(fx["logit_scale"])
    model = model.to(TORCH_DTYPES[fx["dtype"]])
    # transformers 5 always writes safetensors (the old safe_serialization flag is gone).
    if fx["shard_size"]:
        model.save_pretrained(out, max_shard_size=fx["shard_size"])
    else:
        model.save_pretrained(out)

    if fx["legacy_position_ids"]:
        # transformers < 4.31 also serialized the int64 position_ids buffers; many hub files still have them.
        path = out / "model.safetensors"
        tensors = load_file(path)
        tensors["text_model.embeddings.position_ids"] = torch.arange(77, dtype=torch.int64)[None]
        grid = v["image_size"] // v["patch_size"]
        tensors["vision_model.embeddings.position_ids"] = torch.arange(grid * grid + 1, dtype=torch.int64)[None]
        save_file(tensors, path, metadata={"format": "pt"})

    if fx["tokenizer"] == "legacy_vocab_merges":
        write_legacy_tokenizer(out, vocab, merges)
    else:
        write_modern_tokenizer(out, vocab, merges)

    size, crop = v["image_size"], v["image_size"]
    if fx["preprocessor"] == "legacy_int_sizes":
        # The form older hub checkpoints carry: ints for size/crop_size, no rescale/convert_rgb keys.
        write_json(out / "preprocessor_config.json", {
            "crop_size": crop, "do_center_crop": True, "do_normalize": True, "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD,
            "resample": 3, "size": size})
    else:
        CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": crop, "width": crop},
                           image_mean=OPENAI_MEAN, image_std=OPENAI_STD).save_pretrained(out)
    check_hf_tokenizer_matches_open_clip(out)


def reference_hf(fx, images):
    from transformers import AutoImageProcessor, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer
    from transformers.modeling_outputs import BaseModelOutputWithPooling
    d = MODELS / fx["name"]
    set_determinism(fx["seed"])
    tok = CLIPTokenizer.from_pretrained(d)
    ids = np.asarray(tok(TEXTS, padding="max_length", truncation=True, max_length=77)["input_ids"], dtype=np.int64)

    # The slow PIL/NumPy processor, not the torchvision one AutoImageProcessor picks by default in 5.x.
    proc = AutoImageProcessor.from_pretrained(d, backend="pil")
    assert type(proc) is CLIPImageProcessorPil and proc.backend == "pil", type(proc)
    pixels = np.asarray(proc(images=images, return_tensors="np")["pixel_values"], dtype=np.float32)
    fast = AutoImageProcessor.from_pretrained(d)
    fast_pixels = np.asarray(fast(images=images, return_tensors="pt")["pixel_values"], dtype=np.float32)

    model = CLIPModel.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with torch.no_grad():
        text_out = model.get_text_features(input_ids=torch.from_numpy(ids))
        image_out = model.get_image_features(pixel_values=torch.from_numpy(pixels))
        # 5.x returns the whole BaseModelOutputWithPooling; the projected embedding is pooler_output.
        assert isinstance(text_out, BaseModelOutputWithPooling) and isinstance(image_out, BaseModelOutputWithPooling)
        text_emb = torch.nn.functional.normalize(text_out.pooler_output, dim=-1)
        image_emb = torch.nn.functional.normalize(image_out.pooler_output, dim=-1)
        logit_scale = float(model.logit_scale)
        logits = math.exp(logit_scale) * image_emb @ text_emb.T
        full = model(input_ids=torch.from_numpy(ids), pixel_values=torch.from_numpy(pixels))
        assert torch.allclose(full.logits_per_image, logits, rtol=1e-5, atol=1e-5)

    eos = model.config.text_config.eos_token_id
    pooling = ("argmax(input_ids) (eos_token_id == 2: legacy rule)" if eos == 2
               else f"first position where input_ids == eos_token_id ({eos})")
    return dict(ids=ids, pixels=pixels, text_emb=text_emb.numpy(), image_emb=image_emb.numpy(),
                logits=logits.numpy(), logit_scale=logit_scale, logit_bias=None, pooling=pooling,
                pool_rule="argmax" if eos == 2 else "first_eos", eos_token_id=eos,
                activation=model.config.text_config.hidden_act, embed_dim=int(text_emb.shape[1]),
                preprocess={"implementation": "transformers CLIPImageProcessorPil (PIL backend)",
                            "fast_torchvision_processor_max_abs_diff": float(np.abs(fast_pixels - pixels).max()),
                            "config": json.loads(proc.to_json_string())},
                tokenizer={"implementation": f"transformers {type(tok).__name__} (tokenizers backend, no ftfy)",
                           "pad_token_id": tok.pad_token_id})


# ---------------------------------------------------------------------------------------- open_clip

def build_open_clip(fx):
    import open_clip
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file
    out = fresh_dir(MODELS / fx["name"])
    set_determinism(fx["seed"])
    with tempfile.TemporaryDirectory() as tmp:  # register the custom architecture under the fixture name
        cfg_path = Path(tmp) / f"{fx['name']}.json"
        write_json(cfg_path, fx["model_cfg"])
        open_clip.add_model_config(cfg_path)
    model = open_clip.create_model(fx["name"], force_preprocess_cfg=fx["preprocess"] or None).eval()
    perturb_parameters(model, fx["seed"])
    with torch.no_grad():
        model.logit_scale.fill_(fx["model_cfg"]["init_logit_scale"])
        if model.logit_bias is not None:
            model.logit_bias.fill_(fx["model_cfg"]["init_logit_bias"])
    dtype = TORCH_DTYPES[fx["dtype"]]
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "open_clip_model.safetensors")  # as open_clip's save_for_hf does: no metadata
    save_config_for_hf(model, out / "open_clip_config.json", model_config=fx["model_cfg"])


def reference_open_clip(fx, images):
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2
    from safetensors.torch import load_file
    d = MODELS / fx["name"]
    set_determinism(fx["seed"])
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{d}")
    model.eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    stored = load_file(d / "open_clip_model.safetensors")
    for k, v in model.state_dict().items():  # the float32 model holds the source values exactly
        assert torch.equal(v, stored[k].float()), k
    tokenizer = open_clip.get_tokenizer(f"local-dir:{d}")
    assert type(tokenizer) is open_clip.tokenizer.SimpleTokenizer, type(tokenizer)
    ids = tokenizer(TEXTS).to(torch.int64)

    pixels = torch.stack([preprocess(im) for im in images])
    again = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    assert torch.equal(pixels, torch.stack([again(im) for im in images]))
    with torch.no_grad():
        text_emb = model.encode_text(ids, normalize=True)
        image_emb = model.encode_image(pixels, normalize=True)
        logit_scale = float(model.logit_scale)
        logit_bias = None if model.logit_bias is None else float(model.logit_bias)
        logits = math.exp(logit_scale) * image_emb @ text_emb.T + (logit_bias or 0.0)
        ref_logits, _ = model.get_logits(pixels, ids)
        assert torch.allclose(ref_logits, logits, rtol=1e-5, atol=1e-5)
    cfg = model.visual.preprocess_cfg
    return dict(ids=ids.numpy(), pixels=pixels.numpy().astype(np.float32), text_emb=text_emb.numpy(),
                image_emb=image_emb.numpy(), logits=logits.numpy(), logit_scale=logit_scale,
                logit_bias=logit_bias, pooling="argmax(token ids) (open_clip text pool_type 'argmax')",
                pool_rule="argmax", eos_token_id=49407,
                activation="quick_gelu" if fx["model_cfg"].get("quick_gelu") else "gelu",
                embed_dim=int(text_emb.shape[1]),
                preprocess={"implementation": "open_clip create_model_and_transforms(...)[2] (preprocess_val)",
                            "transform": str(preprocess).replace("\n", " "),
                            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}},
                tokenizer={"implementation": "open_clip SimpleTokenizer (ftfy + html.unescape x2, pads with 0)",
                           "pad_token_id": 0})


# ---------------------------------------------------------------------------------------- description

def architecture(fx, res):
    """The exact architecture of a fixture, in library-neutral terms (written as fixture.json)."""
    if fx["library"] == "transformers":
        t, v, act = fx["text"], fx["vision"], fx["act"]
        text = dict(width=t["width"], layers=t["layers"], heads=t["heads"], mlp_hidden=t["mlp"])
        vision = dict(width=v["width"], layers=v["layers"], heads=v["heads"], mlp_hidden=v["mlp"],
                      image_size=v["image_size"], patch_size=v["patch_size"], ln_pre=True)
        embed_dim = fx["projection_dim"]
    else:
        cfg = fx["model_cfg"]
        tc, vc = cfg["text_cfg"], cfg["vision_cfg"]
        act = "quick_gelu" if cfg.get("quick_gelu") else "gelu"
        text = dict(width=tc["width"], layers=tc["layers"], heads=tc["heads"],
                    mlp_hidden=int(tc["width"] * tc.get("mlp_ratio", 4.0)))
        vision = dict(width=vc["width"], layers=vc["layers"], heads=vc["width"] // vc["head_width"],
                      mlp_hidden=int(vc["width"] * vc.get("mlp_ratio", 4.0)), image_size=vc["image_size"],
                      patch_size=vc["patch_size"], ln_pre=not vc.get("no_ln_pre", False))
        embed_dim = cfg["embed_dim"]
    text.update(vocab_size=49408, context_length=77, head_dim=text["width"] // text["heads"], activation=act,
                causal_mask=True, pool_rule=res["pool_rule"], eos_token_id=res["eos_token_id"])
    grid = vision["image_size"] // vision["patch_size"]
    vision.update(head_dim=vision["width"] // vision["heads"], activation=act, grid=grid,
                  num_positions=grid * grid + 1, conv_bias=False, pool="class token, then ln_post")
    model_dir = MODELS / fx["name"]
    return dict(
        name=fx["name"], library=fx["library"], source_dtype=fx["dtype"],
        reference_compute="float32 on CPU; the model is loaded as float32, so f16/bf16 weights are upcast exactly",
        text=text, vision=vision, embed_dim=embed_dim, layer_norm_eps=1e-5,
        attention_scale="head_dim ** -0.5", logit_scale=res["logit_scale"], logit_bias=res["logit_bias"],
        files={f.name: f.stat().st_size for f in sorted(model_dir.iterdir())},
        tensors=tensor_table(model_dir))


# ---------------------------------------------------------------------------------------- independent check

def manual_embeddings(arch, model_dir, ids, pixels):
    """CLIP written out by hand from the raw safetensors (float64). Agreement with the library
    outputs proves the tensor layouts, pooling and activation described in fixture.json."""
    from safetensors.torch import load_file
    T = {}
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        T.update({k: v.double() for k, v in load_file(f).items() if v.is_floating_point()})
    hf = arch["library"] == "transformers"
    F = torch.nn.functional
    quick = arch["text"]["activation"] == "quick_gelu"
    act = (lambda x: x * torch.sigmoid(1.702 * x)) if quick else F.gelu
    ln = lambda x, p: F.layer_norm(x, x.shape[-1:], T[p + ".weight"], T[p + ".bias"], 1e-5)

    wb = lambda p: (T[p + ".weight"], T[p + ".bias"])  # a Linear as (weight [out, in], bias)

    def block_weights(p):
        if hf:
            a = p + ".self_attn."
            return dict(ln1=p + ".layer_norm1", ln2=p + ".layer_norm2", q=wb(a + "q_proj"), k=wb(a + "k_proj"),
                        v=wb(a + "v_proj"), o=wb(a + "out_proj"), fc1=wb(p + ".mlp.fc1"), fc2=wb(p + ".mlp.fc2"))
        # open_clip keeps nn.MultiheadAttention's fused projection: rows are q, then k, then v.
        w, b = T[p + ".attn.in_proj_weight"].chunk(3), T[p + ".attn.in_proj_bias"].chunk(3)
        return dict(ln1=p + ".ln_1", ln2=p + ".ln_2", q=(w[0], b[0]), k=(w[1], b[1]), v=(w[2], b[2]),
                    o=wb(p + ".attn.out_proj"), fc1=wb(p + ".mlp.c_fc"), fc2=wb(p + ".mlp.c_proj"))

    def encoder(x, prefix_of, layers, heads, causal):
        B, L, W = x.shape
        lin = lambda h, wb: h @ wb[0].T + wb[1]
        for i in range(layers):
            w = block_weights(prefix_of(i))
            h = ln(x, w["ln1"])
            q, k, v = (lin(h, w[n]).view(B, L, heads, -1).transpose(1, 2) for n in "qkv")
            s = q @ k.transpose(-1, -2) * (W // heads) ** -0.5
            if causal:
                s = s + torch.full((L, L), float("-inf"), dtype=s.dtype).triu(1)
            x = x + lin((s.softmax(-1) @ v).transpose(1, 2).reshape(B, L, W), w["o"])
            x = x + lin(act(lin(ln(x, w["ln2"]), w["fc1"])), w["fc2"])
        return x

    t, v = arch["text"], arch["vision"]
    ids = torch.from_numpy(ids)
    if hf:
        e = "text_model.embeddings."
        x = T[e + "token_embedding.weight"][ids] + T[e + "position_embedding.weight"]
        x = ln(encoder(x, lambda i: f"text_model.encoder.layers.{i}", t["layers"], t["heads"], True),
               "text_model.final_layer_norm")
    else:
        x = T["token_embedding.weight"][ids] + T["positional_embedding"]
        x = ln(encoder(x, lambda i: f"transformer.resblocks.{i}", t["layers"], t["heads"], True), "ln_final")
    at = ids.argmax(-1) if t["pool_rule"] == "argmax" else (ids == t["eos_token_id"]).int().argmax(-1)
    pooled = x[torch.arange(len(ids)), at]
    text = pooled @ (T["text_projection.weight"].T if hf else T["text_projection"])

    px = torch.from_numpy(pixels).double()
    conv = T["vision_model.embeddings.patch_embedding.weight" if hf else "visual.conv1.weight"]
    x = F.conv2d(px, conv, stride=v["patch_size"]).flatten(2).transpose(1, 2)
    cls = T["vision_model.embeddings.class_embedding" if hf else "visual.class_embedding"]
    x = torch.cat([cls.expand(len(px), 1, -1), x], 1)
    x = x + T["vision_model.embeddings.position_embedding.weight" if hf else "visual.positional_embedding"]
    if v["ln_pre"]:
        x = ln(x, "vision_model.pre_layrnorm" if hf else "visual.ln_pre")
    block = "vision_model.encoder.layers." if hf else "visual.transformer.resblocks."
    x = encoder(x, lambda i: f"{block}{i}", v["layers"], v["heads"], False)
    pooled = ln(x[:, 0], "vision_model.post_layernorm" if hf else "visual.ln_post")
    image = pooled @ (T["visual_projection.weight"].T if hf else T["visual.proj"])
    return F.normalize(text, dim=-1).numpy(), F.normalize(image, dim=-1).numpy()


def check_close(what, got, want):
    """Library float32 vs hand-written float64: only float32 rounding separates them."""
    got64 = got.astype(np.float64)
    cos = np.sum(got64 * want, -1) / (np.linalg.norm(got64, axis=-1) * np.linalg.norm(want, axis=-1))
    err = float(np.abs(got - want).max())
    if not (cos.min() > 0.999999 and err < 1e-5):
        sys.exit(f"{what}: library output disagrees with the hand-written forward (min cos {cos.min()}, max err {err})")
    return err


# ---------------------------------------------------------------------------------------- output

ARRAYS = {"token_ids.npy": ("ids", np.int64), "pixels.npy": ("pixels", np.float32),
          "text_emb.npy": ("text_emb", np.float32), "image_emb.npy": ("image_emb", np.float32),
          "logits.npy": ("logits", np.float32)}


def write_reference(fx, arch, res, image_files):
    out = fresh_dir(REFERENCE / fx["name"])
    write_json(out / "texts.json", TEXTS)
    for file, (key, dtype) in ARRAYS.items():
        np.save(out / file, np.ascontiguousarray(res[key], dtype=dtype))
    write_json(out / "meta.json", dict(
        model_dir=f"models/{fx['name']}", images_dir="reference/images", images=image_files,
        texts="texts.json", logit_scale=res["logit_scale"], logit_scale_exp=math.exp(res["logit_scale"]),
        logit_bias=res["logit_bias"], embed_dim=res["embed_dim"], pooling=res["pooling"],
        pool_rule=res["pool_rule"], activation=res["activation"], source_dtype=fx["dtype"],
        logits="logits[i][j] = exp(logit_scale) * cos(image_i, text_j) + (logit_bias or 0)",
        tokenizer=res["tokenizer"], preprocess=res["preprocess"],
        arrays={f: [list(np.shape(res[k])), np.dtype(t).name] for f, (k, t) in ARRAYS.items()}))
    write_json(out / "fixture.json", arch)


def tree_size(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main():
    vocab, merges = clip_bpe_vocab()
    for d in (MODELS, REFERENCE):
        fresh_dir(d)
    image_files = make_images()
    images = open_images(image_files)
    for fx in FIXTURES:
        if fx["library"] == "transformers":
            build_hf(fx, vocab, merges)
        else:
            build_open_clip(fx)
    for fx in FIXTURES:
        compute = reference_hf if fx["library"] == "transformers" else reference_open_clip
        res = compute(fx, images)
        arch = architecture(fx, res)
        text, image = manual_embeddings(arch, MODELS / fx["name"], res["ids"], res["pixels"])
        err_t = check_close(f"{fx['name']} text", res["text_emb"], text)
        err_i = check_close(f"{fx['name']} image", res["image_emb"], image)
        write_reference(fx, arch, res, image_files)
        # Load everything back from disk with the library again: the stored arrays must reproduce.
        again = compute(fx, open_images(image_files))
        for file, (key, _) in ARRAYS.items():
            if not np.array_equal(np.load(REFERENCE / fx["name"] / file), again[key]):
                sys.exit(f"{fx['name']}/{file} does not reproduce after reloading the fixture")
        print(f"{fx['name']}: ok (hand-written forward max err text {err_t:.1e}, image {err_i:.1e}); "
              f"model {tree_size(MODELS / fx['name']) / 1e6:.2f} MB")
    print(f"tests/data/models {tree_size(MODELS) / 1e6:.2f} MB, "
          f"tests/data/reference {tree_size(REFERENCE) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
