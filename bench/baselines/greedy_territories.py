"""Greedy territory plans a RevOps analyst might hand-write in pandas (the baselines of bench_territories.py).

Both read the benchmark workspace's Parquet files, derive tier, role and potential exactly as its spec does
(grade -> score -> tier; employees -> segment -> role; potential = score / 100 x expected_value; tier D not
covered), plan within each (role, region) and write ``plan.parquet`` (account_id, owner_after).

* ``lpt`` -- the textbook balancing heuristic: accounts by potential, largest first, each to the active rep of
  its role and region with the least potential so far that has room. Ignores the current owners.
* ``keep`` -- keep every account with its current owner when the owner can keep it; hand the rest (no,
  inactive or wrong owner) to the least-loaded rep with room; then, while the most-loaded rep is above the
  band, move its smallest account that does not overshoot to the least-loaded rep.

Usage: python greedy_territories.py --accounts A.parquet --reps R.parquet --out DIR --method lpt|keep
"""

from __future__ import annotations

import argparse
import heapq
from pathlib import Path

import numpy as np
import pandas as pd

SCORE = {"a": 90.0, "b": 70.0, "c": 50.0, "d": 10.0}
WORKLOAD = {"A": 1 / 17.5, "B": 1 / 40, "C": 1 / 150}
TOLERANCE = 0.05


def prepare(accounts_path: Path, reps_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    acc = pd.read_parquet(accounts_path, columns=["account_id", "employees", "region", "owner_id", "grade",
                                                  "expected_value"])
    score = acc["grade"].str.strip().str.lower().map(SCORE).fillna(0.0)
    acc["tier"] = np.select([score >= 80, score >= 60, score >= 40], ["A", "B", "C"], "D")
    acc["role"] = np.select([acc["employees"] >= 1000, acc["employees"] >= 100], ["enterprise_ae", "mid_market_ae"],
                            "smb_pool")
    acc["potential"] = score / 100 * acc["expected_value"]
    acc = acc[acc["tier"] != "D"].reset_index(drop=True)
    acc["workload"] = acc["tier"].map(WORKLOAD)
    reps = pd.read_parquet(reps_path)
    return acc, reps[reps["active"]].reset_index(drop=True)


def lpt(acc: pd.DataFrame, reps: pd.DataFrame) -> pd.Series:
    owner = pd.Series(None, index=acc.index, dtype=object)
    for (role, region), grp in acc.groupby(["role", "region"], sort=False):
        cell = reps[(reps["role"] == role) & (reps["region"] == region)]
        if cell.empty:
            continue
        heap = [(0.0, i, rid, float(cap)) for i, (rid, cap) in enumerate(zip(cell["rep_id"], cell["capacity"],
                                                                                strict=True))]
        counts = dict.fromkeys(cell["rep_id"], 0)
        heapq.heapify(heap)
        for idx, p in grp["potential"].sort_values(ascending=False).items():
            full = []
            while heap:
                load, i, rid, cap = heapq.heappop(heap)
                if counts[rid] < cap:
                    owner[idx] = rid
                    counts[rid] += 1
                    heapq.heappush(heap, (load + p, i, rid, cap))
                    break
                full.append((load, i, rid, cap))
            for item in full:
                heapq.heappush(heap, item)
    return owner


def keep(acc: pd.DataFrame, reps: pd.DataFrame) -> pd.Series:
    owner = pd.Series(None, index=acc.index, dtype=object)
    for (role, region), grp in acc.groupby(["role", "region"], sort=False):
        cell = reps[(reps["role"] == role) & (reps["region"] == region)]
        if cell.empty:
            continue
        cap = dict(zip(cell["rep_id"], cell["capacity"], strict=True))
        ok = grp["owner_id"].isin(cap)
        books: dict[str, list] = {r: [] for r in cap}
        for idx, rid, p in zip(grp.index[ok], grp.loc[ok, "owner_id"], grp.loc[ok, "potential"], strict=True):
            books[rid].append((p, idx))
        load = {r: sum(p for p, _ in b) for r, b in books.items()}
        for idx, p in grp.loc[~ok, "potential"].sort_values(ascending=False).items():
            room = [r for r in cap if len(books[r]) < cap[r]]
            if room:
                r = min(room, key=load.get)
                books[r].append((p, idx))
                load[r] += p
        mean = sum(load.values()) / len(load)
        for b in books.values():
            b.sort()
        for _ in range(len(grp)):
            hi = max(load, key=load.get)
            lo = min((r for r in cap if len(books[r]) < cap[r]), key=load.get, default=None)
            if lo is None or load[hi] <= mean * (1 + TOLERANCE):
                break
            excess = load[hi] - mean
            # the largest account that does not take the giver below the mean
            pots = [p for p, _ in books[hi]]
            k = int(np.searchsorted(pots, excess, side="right")) - 1
            if k < 0:
                k = 0
            p, idx = books[hi].pop(k)
            load[hi] -= p
            load[lo] += p
            books[lo].insert(int(np.searchsorted([q for q, _ in books[lo]], p)), (p, idx))
        for r, b in books.items():
            for _, idx in b:
                owner[idx] = r
    return owner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=Path, required=True)
    ap.add_argument("--reps", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--method", choices=("lpt", "keep"), required=True)
    a = ap.parse_args()
    acc, reps = prepare(a.accounts, a.reps)
    owner = lpt(acc, reps) if a.method == "lpt" else keep(acc, reps)
    a.out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"account_id": acc["account_id"], "owner_after": owner.astype(object)}).to_parquet(
        a.out / "plan.parquet", index=False)


if __name__ == "__main__":
    main()
