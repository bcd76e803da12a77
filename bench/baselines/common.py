"""The command line every baseline shares: the same inputs, date, hash and output folder."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def main(run: Callable[..., None], description: str, argv: list[str] | None = None) -> None:
    """Parse ``--accounts --activities --out --as-of [--spec-hash]`` and call ``run`` with them."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--accounts", required=True)
    p.add_argument("--activities", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", required=True)
    p.add_argument("--spec-hash", default="")
    a = p.parse_args(argv)
    run(a.accounts, a.activities, a.out, a.as_of, a.spec_hash)
