"""Summarize py-spy ``--format raw`` (collapsed stacks) into hot spots.

    .venv/bin/python bench/sms_webhook/hotspots.py worker1.txt [worker2.txt ...] [--top 30]

Prints, as a share of all samples: the project's own functions (``contactcenter/``,
``channels/``) by inclusive time, every function by self time, and a few library buckets
(SQLAlchemy, psycopg, rq/redis, Flask/Werkzeug, gunicorn, twilio, phonenumbers, babel).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

PROJECT = ("contactcenter/", "channels/", "ivr/")
BUCKETS = {
    "sqlalchemy": "sqlalchemy/",
    "psycopg": "psycopg/",
    "rq": "rq/",
    "redis": "redis/",
    "flask/werkzeug": ("flask/", "werkzeug/"),
    "gunicorn": "gunicorn/",
    "twilio": "twilio/",
    "phonenumbers": "phonenumbers/",
    "babel": "babel/",
    "logging": "logging/",
}


def frame_key(frame: str) -> tuple[str, str]:
    """('module/path.py', 'function (path.py:line)') of one collapsed-stack frame."""
    name, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return path, f"{name} ({path})"


def summarize(paths: list[Path], top: int) -> str:
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            frames = [frame_key(f) for f in stack.split(";")]
            seen: set[str] = set()
            for file, key in frames:
                if file.startswith(PROJECT) and key not in seen:
                    seen.add(key)
                    inclusive[key] += count
            leaf = frames[-1][1]
            own[leaf] += count
            # Attribute the sample to the innermost library bucket on the stack.
            for file, _key in reversed(frames):
                bucket = next(
                    (
                        name
                        for name, prefix in BUCKETS.items()
                        if file.startswith(prefix if isinstance(prefix, tuple) else (prefix,))
                    ),
                    None,
                )
                if bucket:
                    buckets[bucket] += count
                    break
                if file.startswith(PROJECT):
                    buckets["project code itself"] += count
                    break
            else:
                buckets["other"] += count
    if not total:
        return "no samples"
    out = [f"{total} samples"]
    out.append("\nproject functions, inclusive (share of all samples):")
    out += [f"  {100 * c / total:5.1f}%  {k}" for k, c in inclusive.most_common(top)]
    out.append("\nfunctions by self time:")
    out += [f"  {100 * c / total:5.1f}%  {k}" for k, c in own.most_common(top)]
    out.append("\ninnermost library on the stack:")
    out += [f"  {100 * c / total:5.1f}%  {k}" for k, c in buckets.most_common()]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    print(summarize(args.paths, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
