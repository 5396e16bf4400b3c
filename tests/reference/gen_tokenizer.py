#!/usr/bin/env python3
"""Golden corpus for cuclip's CLIP tokenizer (tests/tokenizer/).

Run with the reference venv:  /work/venv-ref/bin/python tests/reference/gen_tokenizer.py
Writes tests/data/tokenizer/golden.jsonl.gz: one JSON object per line,
  {"cat": category, "text": str,
   "oc": open_clip 3.3.0 SimpleTokenizer().encode(text)          (content ids, untruncated),
   "oc_clean": open_clip's clean ('lower') of text,
   "hf": transformers CLIPTokenizer (fast) ids without special tokens (untruncated),
   "hf_norm": the fast tokenizer's normalizer applied to text,
   "flags": ["mojibake"]            ftfy's fix_encoding changes the text (left out by cuclip),
            ["oc_newer_unicode"]    a code point `regex` calls a letter/number that ICU 15 does not know,
            ["hf_newer_unicode"]    a code point unassigned in ICU 15 but assigned in Unicode 17 }
The padded layouts ([SOT] + ids[:T-2] + [EOT], pad 0 for open_clip, pad 49407 for HF) are checked
here against both libraries for every string, so the test derives them from the content ids.
Also writes tests/data/tokenizer/coverage.jsonl.gz: every code point Python 3.11 knows (Unicode 14.0,
private use excluded), 32 per string, separated by spaces, in upper- and in lowercase context
("A" + c), with the same fields except oc_clean/hf_norm.
Deterministic: seeded random, no set iteration.
"""
import ctypes
import gzip
import html.entities
import json
import os
import random
import sys
import tempfile
import unicodedata

import ftfy
import regex
from open_clip.tokenizer import SimpleTokenizer, _clean_lower, bytes_to_unicode, default_bpe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer", "golden.jsonl.gz")
COVERAGE_OUT = os.path.join(ROOT, "tests", "data", "tokenizer", "coverage.jsonl.gz")
COVERAGE_CHUNK = 32
SEED = 20240611
CONTEXT = 77

_icu = ctypes.CDLL("libicuuc.so.72")
_icu_chartype = _icu.u_charType_72


def icu_unassigned(cp: int) -> bool:
    return _icu_chartype(cp) == 0  # U_UNASSIGNED


def assigned_py(cp: int) -> bool:
    return not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) != "Cn"


ASSIGNED = [cp for cp in range(0x110000) if assigned_py(cp) and unicodedata.category(chr(cp)) != "Co"]
LN = regex.compile(r"[\p{L}\p{N}]")
ASSIGNED17 = regex.compile(r"\P{Cn}")


def make_hf_tokenizer(tmp: str):
    """transformers' CLIPTokenizer (tokenizers backend) from vocab.json + merges.txt derived from the BPE file."""
    from transformers import CLIPTokenizer
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(tmp, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"))
    assert tok.is_fast or hasattr(tok, "backend_tokenizer"), type(tok)
    return tok


# ----------------------------------------------------------------------------------------------
# Text generators. Each takes the Random and returns one string.
WORDS = ("a photo of the dog cat car tree red blue small large man woman child playing running on in "
         "with near beach city street night day sunny rainy old new vintage painting drawing sketch of "
         "an astronaut riding horse mountain river bridge house kitchen table food pizza burger coffee "
         "cup book phone laptop computer keyboard guitar piano bicycle motorcycle airplane boat train "
         "bird fish flower garden park snow winter summer autumn spring sunset sunrise portrait close-up "
         "aerial view macro black white colorful bright dark blurry sharp high-quality 4k hdr").split()
ACCENTED = "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßŒœŠšŽžŸĀāĂăĄąĆćČčĎďĐđĒēĘęĚěĞğĪīİıŁłŃńŇňŌōŐőŘřŚśŞşŢţŤťŪūŮůŰűŹźŻżǅǈǋĲĳŉ"
EMOJI = ["😀", "😂", "🥲", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇯🇵", "🇺🇸", "❤️", "✨", "🔥", "🎉", "🐱",
         "🐶", "1️⃣", "#️⃣", "🏴󠁧󠁢󠁷󠁬󠁳󠁿", "🧑🏿‍🚀", "👋🏻", "🤷‍♀️", "☕", "⭐", "🌍", "🍕", "🚗", "✈️", "⚽"]
SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]
CONTROLS = [chr(c) for c in list(range(0, 0x20)) + list(range(0x7F, 0xA0))]
ODD_FORMAT = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2028", "\u2029", "\ufeff", "\ufff9", "\ufffa",
              "\ufffb", "\ufffc", "\u206a", "\u206f", "\u00ad", "\u180e", "\u2060", "\u0345", "\u034f"]
CURLY = ["\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e", "\u201f", "\u02bc", "\u2032", "\u00ab",
         "\u00bb", "\u2039", "\u203a"]
LIGATURES = ["ﬀ", "ﬁ", "ﬂ", "ﬃ", "ﬄ", "ﬅ", "ﬆ", "Ĳ", "ĳ", "ŉ", "Ǳ", "ǲ", "ǳ", "Ǆ", "ǅ", "ǆ", "Ǉ", "ǈ", "ǉ", "Ǌ", "ǋ",
             "ǌ", "æ", "œ"]
HTML5_NAMES = sorted(html.entities.html5)


def rand_range(r, lo, hi, n):
    out = []
    while len(out) < n:
        cp = r.randint(lo, hi)
        if assigned_py(cp):
            out.append(chr(cp))
    return "".join(out)


def words(r, n):
    return " ".join(r.choice(WORDS) for _ in range(n))


def caption(r):
    s = words(r, r.randint(1, 14))
    style = r.random()
    if style < 0.2:
        s = s.upper()
    elif style < 0.4:
        s = s.title()
    if r.random() < 0.5:
        s += r.choice([".", "!", "?", "...", " !!!", ",", ";", " :)", " #tag", " @user"])
    return s


def script_text(r, ranges, n_words=(1, 8), word_len=(1, 8), joiner=" "):
    parts = []
    for _ in range(r.randint(*n_words)):
        lo, hi = r.choice(ranges)
        parts.append(rand_range(r, lo, hi, r.randint(*word_len)))
    return joiner.join(parts)


def latin(r):
    s = "".join(r.choice(ACCENTED + "abcdefghij ") for _ in range(r.randint(3, 30)))
    form = r.choice(["NFC", "NFD", "NFKC", "NFKD", None])
    if form:
        s = unicodedata.normalize(form, s)
    if r.random() < 0.3:  # stray combining marks on anything
        s = "".join(c + (chr(r.randint(0x300, 0x36F)) if r.random() < 0.2 else "") for c in s)
    return s


def greek(r):
    base = r.choice(["ΟΔΟΣ", "ΣΟΦΟΣ ΣΟΦΟΣ.", "Σ", "ΑΣ", "ΑΣ'", "Α\u0301Σ", "ΑΣ\u0301", "ὈΔΥΣΣΕΎΣ", "ΣΑΣ ΣΑΣ-ΣΑΣ",
                     "Σ1", "1Σ", "ΑΣΑ", "Α.Σ", "ᾼ ᾳ Ἄι", "ᾈ", "ΣΑΣ\u0345", "Ά\u0345Σ"])
    extra = script_text(r, [(0x370, 0x3FF), (0x1F00, 0x1FFF)], (0, 4))
    s = base + " " + extra
    return s.upper() if r.random() < 0.5 else s


def emoji(r):
    return " ".join(r.choice(EMOJI) + (r.choice(WORDS) if r.random() < 0.4 else "") for _ in range(r.randint(1, 6)))


def html_case(r):
    fixed = ["&amp;", "&amp", "&AMP;", "&AMP", "&lt;b&gt;", "&copy2024", "&copy;2024", "&not=", "&notin;", "&notit;",
             "&noti", "&EACUTE;", "&eacute", "&Eacute;", "&NTILDE;", "&nTILDE;", "&SZLIG;", "&FFLIG;", "&#65;", "&#65",
             "&#x41;", "&#X41", "&#x;", "&#;", "&#0;", "&#13;", "&#10;", "&#9;", "&#32;", "&#160;", "&#xa0;", "&#x85;",
             "&#xD800;", "&#xDFFF;", "&#x110000;", "&#99999999999;", "&#1;", "&#x7f;", "&#xfdd0;", "&#xFFFE;",
             "&#x10FFFF;", "&#59;", "&#x3b;", "&#12ab;", "&#x41g;", "&amp;amp;lt;", "&amp;lt;", "&amp;#65;",
             "&amp;amp;amp;amp;", "&ThisIsNotAnEntity;", "&CounterClockwiseContourIntegral;", "&  amp;", "&&amp;",
             "a&b", "&;", "&#x1F600;", "&#128512;", "&#x1c;", "&#x1f;", "&#8232;", "&#8203;", "&#173;", "&nbsp;",
             "&ensp;", "&Tab;", "&NewLine;", "&lpar;", "&apos;s", "&rsquo;s", "&lsquo;", "&ldquo;x&rdquo;",
             "&fflig;", "&filig;", "&#64257;", "&#xFF21;", "&#x3000;", "&amp;nbsp;", "&#38;#38;", "&#x26;amp;",
             "&lt;start_of_text&gt;", "&lt;end_of_text&gt;", "&#60;end_of_text&#62;", "&Alpha;&Sigma;",
             "&AElig", "&aelig;", "&AElig;", "&Auml", "&auml;x", "&yuml", "&Yuml;", "&frac12", "&frac12;3",
             "&sup2", "&sup23", "&micro", "&para", "&sect", "&reg", "&REG", "&COPY", "&QUOT", "&quot", "&GT", "&gt"]
    fixed += ["&#%d;" % c for c in range(0x80, 0xA0)] + ["&#x%X" % c for c in range(0x80, 0xA0)]
    pieces = []
    for _ in range(r.randint(1, 4)):
        k = r.random()
        if k < 0.45:
            pieces.append(r.choice(fixed))
        elif k < 0.8:
            name = r.choice(HTML5_NAMES)
            name = name.rstrip(";") + (";" if r.random() < 0.7 else "")
            if r.random() < 0.2:
                name = name.upper()
            pieces.append("&" + name + (r.choice(["", "x", "2024", "=", " "]) if r.random() < 0.4 else ""))
        else:
            c = r.choice([r.randint(0, 0x2FFFF), r.randint(0, 0xFF), r.randint(0xD700, 0xE000), 0x110000 + r.randint(0, 99)])
            fmt = r.choice(["&#%d;", "&#%d", "&#x%x;", "&#X%X", "&#x%04x;"])
            pieces.append(fmt % c)
    s = r.choice(["", "x ", "Tom ", "caf"]) + (" " if r.random() < 0.5 else "").join(pieces)
    ctx = r.random()
    if ctx < 0.15:
        s = "<b>" + s
    elif ctx < 0.25:
        s = s + " <i>"
    elif ctx < 0.35:
        s = s + "\n<p>\n" + s
    elif ctx < 0.45:
        s = "<br>\n" + s
    elif ctx < 0.55:
        s = s + "\r\n" + s
    return s


def quotes_width(r):
    parts = []
    for _ in range(r.randint(1, 8)):
        k = r.random()
        if k < 0.3:
            parts.append(r.choice(CURLY) + r.choice(WORDS) + r.choice(CURLY))
        elif k < 0.5:
            parts.append(r.choice(WORDS) + r.choice(CURLY) + r.choice(["s", "t", "re", "ll", "d", "m", "ve", "S"]))
        elif k < 0.7:
            parts.append("".join(r.choice(LIGATURES) + r.choice("aeiou") for _ in range(r.randint(1, 3))))
        else:
            parts.append(rand_range(r, 0xFF01, 0xFFEE, r.randint(1, 8)) + (chr(0x3000) if r.random() < 0.3 else ""))
    return " ".join(parts)


def numbers_punct(r):
    opts = ["3.14159", "1,000,000", "2024-06-11", "12:30pm", "$5.99", "50%", "½ ¾ ⅓", "Ⅻ ⅻ", "①②③", "٣٤٥", "१२३", "๑๒๓",
            "¹²³", "x²", "H₂O", "!!!", "???", "...", "—", "–", "--", "***", "(!)", "[...]", "{}", "<>", "<<>>", "/\\",
            "@#$%^&*", "~~~", "|||", "¯\\_(ツ)_/¯", "123abc456", "0x1F", "1e-5", "-42", "+7", "#1", "No. 5", "₿100"]
    return " ".join(r.choice(opts) for _ in range(r.randint(1, 6))) + ("" if r.random() < 0.5 else r.choice(opts))


def url_code(r):
    opts = ["https://example.com/path?q=1&lang=en#frag", "www.test.org/a_b-c", "user@mail.com", "http://x.y/%20z",
            "def f(x): return x**2", "if (a && b) { c++; }", "printf(\"%d\\n\", n);", "<div class=\"x\">hi</div>",
            "SELECT * FROM t WHERE id=1;", "a_b_c", "CamelCaseName", "snake_case_name", "x = y + z", "#include <vector>",
            "`code`", "$HOME/.bashrc", "C:\\Users\\me", "https://ex.com/?a=1&amp;b=2", "&lt;script&gt;"]
    return " ".join(r.choice(opts) for _ in range(r.randint(1, 3)))


def contractions(r):
    pron = ["it", "IT", "It", "we", "WE", "they", "You", "she", "I", "i", "he", "John", "Dog", "ΟΔΟΣ"]
    suf = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'Ll", "'d", "'D", "'ſ",
           "’s", "’LL", "ʼs", "''s", "'", "'x", "'st", "'sss", "'dd", "'mm", "n't", "N'T"]
    return " ".join(r.choice(pron) + r.choice(suf) for _ in range(r.randint(1, 6)))


def whitespace_controls(r):
    parts = []
    for _ in range(r.randint(1, 8)):
        k = r.random()
        if k < 0.35:
            parts.append(r.choice(SPACES) * r.randint(1, 3))
        elif k < 0.55:
            parts.append(r.choice(CONTROLS))
        elif k < 0.7:
            parts.append(r.choice(ODD_FORMAT))
        elif k < 0.8:
            parts.append(r.choice(["\x1b[31m", "\x1b[0m", "\x1b[1;2;3H", "\x1b[\u0663m", "\x1b[", "\x1b[12", "\x1b]0;t\x07",
                                   "\r\n", "\r", "\n\n", "\t"]))
        else:
            parts.append(r.choice(WORDS))
    return "".join(parts)


def empty_like(r):
    return "".join(r.choice(SPACES + ["\x00", "\x1c", "\u200b", "\ufeff", "&#32;", "&nbsp;", "\x1b[0m"])
                   for _ in range(r.randint(0, 5)))


def specials(r):
    opts = ["<start_of_text>", "<end_of_text>", "<START_OF_TEXT>", "<End_Of_Text>", "<|startoftext|>", "<|endoftext|>",
            "<ſtart_of_text>", "<start_of_text", "start_of_text>", "<<start_of_text>>", "!<end_of_text>", "x<end_of_text>y",
            "<end_of_text><end_of_text>", "<|STARTOFTEXT|>", "< end_of_text>", "<start_of_text>hello"]
    return " ".join(r.choice(opts + WORDS) for _ in range(r.randint(1, 5)))


def soup(r):
    n = r.randint(1, 25)
    chars = []
    for _ in range(n):
        k = r.random()
        if k < 0.6:
            chars.append(chr(r.choice(ASSIGNED)))
        elif k < 0.75:
            chars.append(chr(r.randint(0x300, 0x36F)))
        elif k < 0.85:
            chars.append(" ")
        else:
            chars.append(r.choice(["İ", "Σ", "ß", "ẞ", "ﬁ", "K", "Å", "Ω", "ͅ", "ǅ", "ᾼ", "ϴ", "ı", "ſ", "ǰ", "ΐ"]))
    return "".join(chars)


def mojibake(r):
    opts = ["cafÃ©", "â€œquotedâ€\x9d", "Ã  la mode", "Ã¼ber", "naÃ¯ve", "â€™s", "SmÃ¶rgÃ¥sbord", "Ã¢â‚¬â„¢",
            "ÐŸÑ€Ð¸Ð²ÐµÑ‚", "æ—¥æœ¬", "â˜ƒ", "Ã\xa0", "Ãƒ", "l'Ã©tÃ©"]
    return " ".join(r.choice(opts + WORDS) for _ in range(r.randint(1, 4)))


NEWER = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and icu_unassigned(cp)
         and LN.match(chr(cp))]


def newer_unicode(r):
    return " ".join(r.choice(WORDS) + chr(r.choice(NEWER)) + rand_range(r, 0x61, 0x7A, 2) for _ in range(r.randint(1, 3)))


def long_text(r):
    return " ".join(caption(r) for _ in range(r.randint(20, 120)))


def huge_word(r):
    return r.choice(["a", "ab", "x1", "é", "ж", "猫", "!?"]) * r.randint(100, 3000)


CATEGORIES = [
    ("caption", caption, 700),
    ("latin", latin, 400),
    ("cyrillic", lambda r: script_text(r, [(0x400, 0x4FF)]), 250),
    ("greek", greek, 300),
    ("arabic", lambda r: script_text(r, [(0x600, 0x6FF), (0x750, 0x77F)]), 200),
    ("hebrew", lambda r: script_text(r, [(0x591, 0x5F4)]), 150),
    ("devanagari", lambda r: script_text(r, [(0x900, 0x97F)]), 200),
    ("thai", lambda r: script_text(r, [(0xE01, 0xE5B)], word_len=(2, 12)), 150),
    ("cjk", lambda r: script_text(r, [(0x4E00, 0x9FFF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x20000, 0x2A6DF),
                                      (0xFF61, 0xFF9F)], joiner=""), 250),
    ("hangul", lambda r: script_text(r, [(0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F)], joiner=""), 200),
    ("emoji", emoji, 250),
    ("html", html_case, 700),
    ("quotes_width", quotes_width, 300),
    ("numbers", numbers_punct, 200),
    ("url_code", url_code, 150),
    ("contractions", contractions, 200),
    ("whitespace", whitespace_controls, 300),
    ("empty", empty_like, 50),
    ("specials", specials, 80),
    ("soup", soup, 800),
    ("mojibake", mojibake, 100),
    ("newer_unicode", newer_unicode, 20),
    ("long", long_text, 30),
    ("huge_word", huge_word, 10),
]


def exact_length_texts(r, oc):
    """Texts whose open_clip content length is exactly 75, 76 or 77 tokens (boundary of T = 77)."""
    out = []
    for target in [75, 76, 77, 74, 78]:
        made = 0
        while made < 8:
            s = ""
            while True:
                w = r.choice(WORDS + ["élan", "naïve", "ΣΟΦΟΣ", "🐱", "123", "...", "kiwi-fruit"])
                t = (s + " " + w).strip()
                n = len(oc.encode(t))
                if n == target:
                    out.append(("exact_length", t))
                    made += 1
                    break
                if n > target:
                    break
                s = t
    return out


def flags_for(text, clean_oc, norm_hf):
    flags = []
    if ftfy.fix_text(text) != ftfy.fix_text(text, ftfy.TextFixerConfig(fix_encoding=False)):
        flags.append("mojibake")
    # Entities can produce such code points, so look at the cleaned text too.
    if any(icu_unassigned(ord(c)) and LN.match(c) for c in text + clean_oc):
        flags.append("oc_newer_unicode")
    if any(icu_unassigned(ord(c)) and ASSIGNED17.match(c) for c in text + norm_hf):
        flags.append("hf_newer_unicode")
    return flags


def write_jsonl_gz(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as raw:
        # mtime=0 keeps the file byte-identical between runs.
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
            for row in rows:
                f.write((json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))


def coverage_rows(oc, hf):
    rows = []
    for prefix in ["", "A"]:
        for i in range(0, len(ASSIGNED), COVERAGE_CHUNK):
            text = " ".join(prefix + chr(cp) for cp in ASSIGNED[i:i + COVERAGE_CHUNK])
            rows.append({"cat": "coverage" + prefix, "text": text, "oc": oc.encode(text),
                         "hf": hf(text, add_special_tokens=False)["input_ids"],
                         "flags": flags_for(text, _clean_lower(text), hf.backend_tokenizer.normalizer.normalize_str(text))})
    return rows


def main():
    r = random.Random(SEED)
    oc = SimpleTokenizer()
    texts = []
    for cat, fn, n in CATEGORIES:
        for _ in range(n):
            texts.append((cat, fn(r)))
    texts += exact_length_texts(r, oc)
    texts.append(("empty", ""))

    with tempfile.TemporaryDirectory() as tmp:
        hf = make_hf_tokenizer(tmp)
        hf_norm = hf.backend_tokenizer.normalizer
        pad_hf = hf.pad_token_id
        assert pad_hf == 49407, pad_hf
        rows = []
        for cat, text in texts:
            ids_oc = oc.encode(text)
            ids_hf = hf(text, add_special_tokens=False)["input_ids"]
            # The padded layouts the C++ test derives: check them against both libraries here.
            oc77 = oc([text], context_length=CONTEXT)[0].tolist()
            want = [49406] + ids_oc[:CONTEXT - 2] + [49407]
            assert oc77 == want + [0] * (CONTEXT - len(want)), (cat, text)
            hf77 = hf(text, padding="max_length", truncation=True, max_length=CONTEXT)["input_ids"]
            want = [49406] + ids_hf[:CONTEXT - 2] + [49407]
            assert hf77 == want + [pad_hf] * (CONTEXT - len(want)), (cat, text)
            clean_oc, norm_hf = _clean_lower(text), hf_norm.normalize_str(text)
            flags = flags_for(text, clean_oc, norm_hf)
            rows.append({"cat": cat, "text": text, "oc": ids_oc, "oc_clean": clean_oc, "hf": ids_hf,
                         "hf_norm": norm_hf, "flags": flags})
        write_jsonl_gz(OUT, rows)
        cov = coverage_rows(oc, hf)
        write_jsonl_gz(COVERAGE_OUT, cov)
    n_flag = {k: sum(1 for row in rows if k in row["flags"]) for k in ["mojibake", "oc_newer_unicode", "hf_newer_unicode"]}
    print(f"wrote {OUT}: {len(rows)} strings, {os.path.getsize(OUT)} bytes; flags {n_flag}", file=sys.stderr)
    n_flag = {k: sum(1 for row in cov if k in row["flags"]) for k in ["mojibake", "oc_newer_unicode", "hf_newer_unicode"]}
    print(f"wrote {COVERAGE_OUT}: {len(cov)} strings, {os.path.getsize(COVERAGE_OUT)} bytes; flags {n_flag}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
