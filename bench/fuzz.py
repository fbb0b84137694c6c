"""Fuzz ``digitocr.read``: N mutants of the sample files (and raw bytes), every record checked
against ``digitocr/schema.json``; counts tracebacks (exceptions out of ``read``) and invalid
records.

    python bench/fuzz.py -n 2000 --seed 1            # the fake font model: no TensorFlow
    python bench/fuzz.py -n 300 --model cnn          # through the shipped CNN
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = sorted(p for p in (REPO / "samples").rglob("*")
               if p.suffix.lower() in {".png", ".jpg", ".tif", ".pdf", ".bmp"})
#: bytes of interest to image parsers: sizes, counts and offsets at their limits
MAGIC = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
         b"\x7f\xff\xff\xff", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"\xff\xd8\xff"]


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """One to eight random edits: flip, overwrite with a magic value, insert, delete, cut."""
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        if not buf:
            buf.extend(rnd.choice(MAGIC))
            continue
        op = rnd.randrange(5)
        at = rnd.randrange(len(buf))
        if op == 0:
            buf[at] ^= 1 << rnd.randrange(8)
        elif op == 1:
            m = rnd.choice(MAGIC)
            buf[at : at + len(m)] = m
        elif op == 2:
            buf[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
        elif op == 3:
            del buf[at : at + rnd.randint(1, 64)]
        else:
            del buf[rnd.randint(0, len(buf)) :]  # truncation
    return bytes(buf)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500, help="mutants to read")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None,
                    help="model name or directory [default: the tests' fake font model]")
    ap.add_argument("--layout", default="auto")
    ap.add_argument("--timeout", type=float, default=30.0, help="--timeout-per-file")
    args = ap.parse_args(argv)

    import digitocr
    from digitocr.results import validate

    model = args.model
    if model is None:  # the template-matching fake of the tests: seconds, not minutes
        sys.path.insert(0, str(REPO / "tests"))
        from read_helpers import FontTemplateClassifier

        model = FontTemplateClassifier()
    rnd = random.Random(args.seed)
    seeds = [p.read_bytes() for p in SEEDS]
    counts: Counter[str] = Counter()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="digitocr-fuzz-") as tmp:
        for i in range(args.n):
            raw = rnd.random() < 0.1
            data = (bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 4096))) if raw
                    else mutate(rnd.choice(seeds), rnd))
            path = Path(tmp) / f"m{i}{rnd.choice(['.png', '.jpg', '.tif', '.pdf', '.bmp'])}"
            path.write_bytes(data)
            try:
                for page in digitocr.read([path], model, args.layout,
                                          timeout_per_file=args.timeout):
                    rec = page.to_dict()
                    try:
                        validate(rec)
                    except Exception as exc:
                        counts["invalid records"] += 1
                        print(f"{i}: invalid record: {exc}", file=sys.stderr)
                    counts["errors" if page.error else "pages"] += 1
            except Exception:
                counts["tracebacks"] += 1
                keep = Path(tmp).parent / f"digitocr-fuzz-crash-{args.seed}-{i}{path.suffix}"
                keep.write_bytes(data)
                print(f"{i}: traceback (input kept as {keep}):\n{traceback.format_exc()}",
                      file=sys.stderr)
            path.unlink()
    took = time.monotonic() - t0
    print(f"{args.n} mutants in {took:.0f} s: {counts['pages']} pages read, "
          f"{counts['errors']} error records, {counts['invalid records']} invalid records, "
          f"{counts['tracebacks']} tracebacks")
    return 1 if counts["tracebacks"] or counts["invalid records"] else 0


if __name__ == "__main__":
    sys.exit(main())
