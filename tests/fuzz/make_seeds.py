#!/usr/bin/env python3
"""Writes the committed seed corpora of tests/fuzz/corpus/<target>/ (a few KB each).

Sources: the adversarial corpus's valid bases (tests/data/bad, run cuclip_gen_bad_corpus first),
prefixes of the reference fixtures, and tiny images drawn here with Pillow in every format and
mode the decoders handle. Deterministic. Run with the reference venv (Pillow):
    /work/venv-ref/bin/python tests/fuzz/make_seeds.py
The fuzzers read these seeds and never write them (run.sh keeps new inputs in its build tree).
"""
import gzip
import io
import json
import os
import shutil

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
CORPUS = os.path.join(HERE, "corpus")


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def byte_symbols():
    """GPT-2 / CLIP bytes_to_unicode, in byte order."""
    out, n = [], 256
    for b in range(256):
        printable = ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
        out.append(chr(b) if printable else chr(n))
        if not printable:
            n += 1
    return out


def model_file():
    write("model_file", "valid_small.cuclip", read(DATA, "bad", "model", "valid_small.cuclip"))
    write("model_file", "header_not_object.cuclip", read(DATA, "bad", "model", "header_not_object.cuclip"))


def safetensors():
    write("safetensors", "valid_tiny_hf.safetensors", read(DATA, "bad", "converter", "valid_hf", "model.safetensors"))
    # A real fixture's header, cut: realistic names and offsets for the mutator to splice.
    write("safetensors", "fixture_prefix.safetensors", read(DATA, "models", "hf_legacy_quickgelu_f32", "model.safetensors")[:4096])
    write("safetensors", "empty_header.safetensors", (2).to_bytes(8, "little") + b"{}")


def tiny_tokenizer_json(vocab, merges):
    return json.dumps({"model": {"type": "BPE", "vocab": vocab, "merges": merges, "end_of_word_suffix": "</w>"},
                       "added_tokens": [{"id": len(vocab), "content": "<|extra|>"}]}).encode()


def full_byte_vocab():
    """The smallest vocab Tokenizer::create accepts: 512 byte symbols, two merges, the specials."""
    syms = byte_symbols()
    vocab = {s: i for i, s in enumerate(syms)}
    for s in syms:
        vocab[s + "</w>"] = len(vocab)
    for t in ["th", "the</w>", "<|startoftext|>", "<|endoftext|>"]:
        vocab[t] = len(vocab)
    return vocab, ["t h", "th e</w>"]


def convert_dir():
    hf = os.path.join(DATA, "bad", "converter", "valid_hf")
    write("convert_dir", "0_config.json", b"\x00" + read(hf, "config.json"))
    write("convert_dir", "0_fixture_config.json", b"\x00" + read(DATA, "models", "hf_legacy_quickgelu_f32", "config.json"))
    write("convert_dir", "1_preprocessor.json", b"\x01" + read(hf, "preprocessor_config.json"))
    write("convert_dir", "1_fixture_preprocessor.json", b"\x01" + read(DATA, "models", "hf_modern_gelu_f16_sharded", "preprocessor_config.json"))
    write("convert_dir", "2_vocab.json", b"\x02" + read(hf, "vocab.json"))
    write("convert_dir", "3_merges.txt", b"\x03" + read(hf, "merges.txt"))
    vocab = json.loads(read(hf, "vocab.json"))
    write("convert_dir", "4_tokenizer.json", b"\x04" + tiny_tokenizer_json(vocab, ["a b", "a b</w>"]))
    write("convert_dir", "5_tokenizer_config.json", b"\x05" + read(DATA, "models", "hf_legacy_quickgelu_f32", "tokenizer_config.json"))
    st = read(hf, "model.safetensors")
    n = int.from_bytes(st[:8], "little")
    names = [k for k in json.loads(st[8:8 + n]) if k != "__metadata__"]
    index = {"metadata": {}, "weight_map": {k: "model-00001-of-00001.safetensors" for k in sorted(names)}}
    write("convert_dir", "6_index.json", b"\x06" + json.dumps(index).encode())
    write("convert_dir", "7_open_clip_config.json", b"\x07" + read(DATA, "models", "openclip_nolnpre_bias_bf16", "open_clip_config.json"))


def tokenizer_files():
    hf = os.path.join(DATA, "bad", "converter", "valid_hf")
    write("tokenizer_files", "0_tiny_vocab_merges", b"\x00" + read(hf, "vocab.json") + b"\x00" + read(hf, "merges.txt"))
    vocab, merges = full_byte_vocab()
    write("tokenizer_files", "0_byte_vocab_merges", b"\x00" + json.dumps(vocab).encode() + b"\x00#version: 0.2\n" +
          "\n".join(merges).encode() + b"\n")
    write("tokenizer_files", "1_byte_tokenizer.json", b"\x01" + tiny_tokenizer_json(vocab, [m.split(" ") for m in merges]))
    bpe = gzip.decompress(read(ROOT, "tokenizer", "data", "bpe_simple_vocab_16e6.txt.gz"))
    write("tokenizer_files", "2_clip_bpe_prefix.txt", b"\x02" + bpe[:3000])


def tokenizer():
    texts = [
        "a photo of a cat",
        "A PHOTO of   the Eiffel-Tower's 2nd floor, 1889!!",
        "<start_of_text>hello<end_of_text> &amp; &lt;b&gt;bold&lt;/b&gt; &#x1F600; &copy;",
        "<|startoftext|>caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \ufb01ne \u2163 \u00bd",
        "\u4e00\u53ea\u732b \u732b\u306e\u5199\u771f \uace0\uc591\uc774 \u0627\u0644\u0642\u0637 \u0915\u093f\u0924\u093e\u092c",
        "emoji \U0001F408\u200d\u2b1b \U0001F1EB\U0001F1F7 \u00e9\u0301 ZWJ\u200dtest\ttab\nnew line\r\n",
        "mojibake: \u00c3\u00a9t\u00c3\u00a9 \u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d",
        "x" * 300 + " " + "yz " * 100,
    ]
    for i, t in enumerate(texts):
        write("tokenizer", "text_%d" % i, bytes([i * 37 % 256]) + t.encode("utf-8"))
    write("tokenizer", "invalid_utf8", b"\x02ok \xff\xfe bad \xc3\x28 \xed\xa0\x80")


def image():
    def save(name, im, fmt, opts_byte=(0x31, 0x00), **kw):
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        write("image", name, bytes(opts_byte) + buf.getvalue())

    base = Image.new("RGB", (13, 9))
    px = base.load()
    for y in range(9):
        for x in range(13):
            px[x, y] = (x * 19 % 256, y * 29 % 256, (x * y * 7) % 256)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((13, 9)))
    save("baseline.jpg", base, "JPEG", quality=80)
    save("progressive.jpg", base, "JPEG", quality=70, progressive=True, opts_byte=(0x22, 0x15))
    save("gray.jpg", base.convert("L"), "JPEG")
    save("cmyk.jpg", base.convert("CMYK"), "JPEG", opts_byte=(0x08, 0x04))
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif6.jpg", base, "JPEG", exif=exif, opts_byte=(0x11, 0x40))
    save("rgb.png", base, "PNG")
    save("rgba_interlaced.png", rgba, "PNG", interlace=1, opts_byte=(0x41, 0x26))
    save("p_trns.png", base.convert("P", palette=Image.ADAPTIVE, colors=5), "PNG", transparency=2)
    save("la.png", rgba.convert("LA"), "PNG", opts_byte=(0x50, 0x31))
    save("i16.png", base.convert("L").convert("I").point(lambda v: v * 257).convert("I;16"), "PNG", opts_byte=(0x19, 0x02))
    save("bilevel.png", base.convert("1"), "PNG")
    frames = [base.convert("P", palette=Image.ADAPTIVE, colors=8), base.transpose(Image.FLIP_LEFT_RIGHT).convert("P", palette=Image.ADAPTIVE, colors=8)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], transparency=1, duration=50)
    write("image", "anim.gif", b"\x29\x00" + buf.getvalue())
    save("rgb24.bmp", base, "BMP")
    save("p8.bmp", base.convert("P", palette=Image.ADAPTIVE, colors=16), "BMP", opts_byte=(0x10, 0x05))
    save("lossy.webp", base, "WEBP", quality=60)
    save("lossless_alpha.webp", rgba, "WEBP", lossless=True, opts_byte=(0x39, 0x10))
    save("rle.tga", rgba, "TGA", compression="tga_rle")
    save("rgb.ppm", base, "PPM")
    save("gray.pgm", base.convert("L"), "PPM")


def cli_jsonl():
    write("cli_jsonl", "mixed.jsonl", b'"a photo of a cat"\n"caf\\u00e9 \\ud83d\\ude00"\n[1, 2]\nnot json\n\n"tab\\there\\nnewline"\r\n{"t": 1}\n"\\u0000nul"\n')
    write("cli_jsonl", "long.jsonl", b'"' + b"word " * 900 + b'"\n"short"\n')


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    model_file()
    safetensors()
    convert_dir()
    tokenizer_files()
    tokenizer()
    image()
    cli_jsonl()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("seed corpora: %d bytes under %s" % (total, CORPUS))


if __name__ == "__main__":
    main()
