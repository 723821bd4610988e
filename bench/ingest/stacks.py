"""Summarize py-spy raw (collapsed) stacks: samples per thread, top frames by self and
inclusive share, per thread. ``python stacks.py FILE.raw [--top N] [--match TEXT]``."""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", help="only stacks containing this text")
    args = parser.parse_args()
    per_thread: Counter[str] = Counter()
    self_t: dict[str, Counter[str]] = defaultdict(Counter)
    incl_t: dict[str, Counter[str]] = defaultdict(Counter)
    total = 0
    with open(args.raw) as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or (args.match and args.match not in stack):
                continue
            n = int(count_text)
            frames = stack.split(";")
            thread = re.sub(r"\s*\(?0x[0-9a-f]+\)?", "", frames[0]).strip() if frames else "?"
            frames = [re.sub(r" \(([^)]*?):\d+\)$", r" (\1)", f) for f in frames[1:]]
            total += n
            per_thread[thread] += n
            if frames:
                self_t[thread][frames[-1]] += n
            for f in set(frames):
                incl_t[thread][f] += n
    print(f"{total} samples")
    for thread, n in per_thread.most_common():
        print(f"\n== {thread}: {n} samples ({100 * n / total:.1f}%)")
        print("  self:")
        for f, c in self_t[thread].most_common(args.top):
            print(f"    {100 * c / n:5.1f}%  {f}")
        print("  inclusive:")
        for f, c in incl_t[thread].most_common(args.top):
            print(f"    {100 * c / n:5.1f}%  {f}")


if __name__ == "__main__":
    main()
