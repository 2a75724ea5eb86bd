"""Benchmark: the query parser's time per KB of query text, from 1 KB to 1 MB (goal: flat).

``Reader.search`` parses text a user, a script or another program wrote; a parser
whose time grows faster than the text (the old number pattern backtracked: 50,000
digits took over 30 s) lets one query hang a notebook or ``mlxlaunch runs``. Each
shape of query is generated at each size and parsed (``mlxlaunch.reader.query.parse``)
several times; the best time is kept. The last column is the time per KB at 1 MB
divided by the time per KB at 1 KB: linear parsing keeps it near 1 (goal <= 2).

    .venv/bin/python benchmarks/bench_query_parse.py [--repeat 3] [--max-kb 1024]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

from mlxlaunch.reader.query import QueryError, parse


def _chain(size: int, joint: str) -> str:
    parts, total, i = [], 0, 0
    while total < size:
        part = f"config.seed == {i}"
        parts.append(part)
        total += len(part) + len(joint)
        i += 1
    return joint.join(parts)


def _groups(size: int) -> str:
    """``(a & b) | (c & ~d) | ...``: parentheses, not, both operators, lists and strings."""
    parts, total, i = [], 0, 0
    while total < size:
        part = (
            f"(config.lr <= {i}e-3 & ~info.status in ['FAILED', 'LOST'] & train.loss.last < .{i})"
        )
        parts.append(part)
        total += len(part) + 3
        i += 1
    return " | ".join(parts)


#: name -> (query of about ``size`` characters, whether it is valid)
SHAPES: dict[str, Callable[[int], str]] = {
    "chain of | ": lambda n: _chain(n, " | "),
    "chain of & ": lambda n: _chain(n, " & "),
    "groups": _groups,
    "long string literal": lambda n: "config.name == '" + "a" * n + "'",
    "long key": lambda n: "config." + "a" * n + " == 1",
    "bad number 111...1x": lambda n: "config.seed == " + "1" * n + "x",
    "unterminated string": lambda n: "config.name == '" + "a" * n,
}


def best_time(query: str, repeat: int) -> float:
    """The best of at least ``repeat`` parses, and of as many as fit in half a second
    (small queries take microseconds: one descheduling would swamp a single run)."""
    best = float("inf")
    spent, runs = 0.0, 0
    while runs < repeat or spent < 0.5:
        runs += 1
        start = time.perf_counter()
        try:
            parse(query)
        except QueryError:
            pass  # the error paths must be linear too
        took = time.perf_counter() - start
        best = min(best, took)
        spent += took
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-kb", type=int, default=1024)
    args = parser.parse_args()
    sizes = []
    kb = 1
    while kb <= args.max_kb:
        sizes.append(kb)
        kb *= 4
    header = f"{'query shape':<22}" + "".join(f"{f'{s} KB':>10}" for s in sizes) + "   ratio"
    print("time per KB of query text, microseconds")
    print(header)
    worst = 0.0
    for name, make in SHAPES.items():
        per_kb = []
        for size_kb in sizes:
            query = make(size_kb * 1024)
            per_kb.append(best_time(query, args.repeat) / (len(query) / 1024) * 1e6)
        ratio = per_kb[-1] / per_kb[0]
        worst = max(worst, ratio)
        print(f"{name:<22}" + "".join(f"{t:>10.1f}" for t in per_kb) + f"   {ratio:5.2f}x")
    print(f"worst ratio (largest / smallest, per KB): {worst:.2f}x (goal <= 2: linear)")


if __name__ == "__main__":
    main()
