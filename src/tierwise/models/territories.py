"""Territory design: balanced, minimally disruptive account-to-rep plans from a MIP solver (HiGHS).

:class:`TerritoryPlanner` assigns every covered account to an active rep of the
role the account needs (and, by default, of the account's region), so that
each rep's **potential** and **workload** sit within ``±tolerance`` of the
mean of the reps around them, within each rep's capacity and the coverage
model's per-tier limits, while keeping current owners wherever possible: every
move costs ``move_penalty``, a move of a protected tier (A) costs far more, an
optional cap bounds the number of moves. Accounts that cannot be covered
(capacity below demand) are left uncovered and explained.

The model (docs/territories.md has it as equations)
----------------------------------------------------
The instance decomposes into independent **cells**: one per (role, region)
(per role when regions are not matched). Within a cell, accounts fall into
**classes** of interchangeable accounts — same tier, same specialisation key
and a narrow (10%, log-scale) potential bucket; in small cells every account
is its own class, so the model is exact — and each class into **groups** by
current owner. Variables:

* ``r_g`` (integer): accounts of group ``g`` released by their owner (a move);
  accounts whose owner cannot keep them (no, unknown or inactive owner, wrong
  role, region or specialisation) are released by force;
* ``t_kj`` (integer): accounts of class ``k`` taken by rep ``j``;
* ``u_k`` (integer): accounts of class ``k`` left uncovered;
* per rep: potential ``P_j`` and workload ``W_j``, band slacks, the largest
  deviations.

Constraints: what is released is taken or left uncovered; capacity and
per-tier limits per rep; ``|P_j − P̄| ≤ tol + s`` and the same for workload;
the move cap. The objective, in "moves": uncovered accounts ≫ protected
(tier-A) moves ≫ band violations (``band_penalty`` moves per percentage
point per rep) ≫ moves ≫ the largest deviation (a tie-breaker).

HiGHS solves the LP relaxation of each cell (the **bound**), the LP optimum is
rounded to a plan, and a MIP started from that plan improves it — the full
model in exact and small cells, the LP's neighbourhood in large ones — until
``mip_gap`` or the cell's share of ``time_limit``. ``gap_`` is ``(objective −
bound) / objective`` over all cells.

Classes are turned back into accounts exactly: a group releases the run of its
accounts (sorted by potential) whose sum is nearest the model's, and each
taker receives the run of the class's pool nearest its share; aggregated cells
aim at ``band_share × tolerance`` to absorb what remains, and a last swap pass
(same tier, no extra move) brings any rep still outside the band back in.

Examples
--------
>>> import pandas as pd
>>> accounts = pd.DataFrame({
...     "account_id": [f"a{i}" for i in range(6)],
...     "owner_id": ["r1"] * 5 + ["r2"],
...     "tier": ["B"] * 6, "role": ["ae"] * 6, "region": ["east"] * 6,
...     "potential": [10.0, 10, 10, 10, 10, 10], "workload": [1.0] * 6})
>>> reps = pd.DataFrame({"rep_id": ["r1", "r2"], "role": ["ae", "ae"], "region": ["east", "east"],
...                      "capacity": [10, 10], "active": [True, True]})
>>> planner = TerritoryPlanner(tolerance=0.05).fit(accounts, reps)
>>> planner.reps_.set_index("rep_id")["accounts_after"].to_dict()
{'r1': 3, 'r2': 3}
>>> int(planner.plan_["moved"].sum()), planner.status_
(2, 'optimal')
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Why an account's owner cannot keep it (index = reason code).
FORCED_REASONS = (
    "",  # 0: the owner may keep it
    "no current owner",
    "owner {owner} is not in the reps table",
    "owner {owner} is inactive",
    "owner {owner} is {owner_role}; the account needs {role}",
    "owner {owner} covers {owner_region}; the account is in {region}",
    "owner {owner} specialises in {owner_spec}",
)
_NO_OWNER, _UNKNOWN, _INACTIVE, _ROLE, _REGION, _SPEC = range(1, 7)
#: Short codes of the same reasons (the plan's ``why`` column).
FORCED_CODES = ("", "no_owner", "unknown_owner", "owner_inactive", "owner_role", "owner_region", "owner_specialisation")

_INF = float("inf")
_HIGHS_LOCK = threading.Lock()
_HIGHS_BANNER_DONE = False


# --------------------------------------------------------------------------- solver plumbing


@contextlib.contextmanager
def _quiet_stdout():
    """HiGHS prints a banner on stdout when the first solver object is made: keep it off the user's output."""
    try:
        libc = ctypes.CDLL(None)
        fd = os.dup(1)
    except OSError:  # pragma: no cover - no libc or no stdout
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        libc.fflush(None)
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(fd, 1)
        os.close(fd)
        os.close(devnull)


def _new_highs():
    import highspy

    global _HIGHS_BANNER_DONE
    with _HIGHS_LOCK:
        if not _HIGHS_BANNER_DONE:
            with _quiet_stdout():
                h = highspy.Highs()
                h.setOptionValue("output_flag", False)
            _HIGHS_BANNER_DONE = True
            return h
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


# --------------------------------------------------------------------------- inputs


def _split_list(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, list | tuple | np.ndarray):
        items = [str(v) for v in value]
    else:
        items = str(value).replace(",", ";").split(";")
    return tuple(sorted({v.strip().lower() for v in items if v and v.strip()}))


def _text(values: pd.Series) -> np.ndarray:
    """Trimmed text with missing values as None (object array)."""
    out = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    return np.array([None if v is None else (str(v).strip() or None) for v in out], dtype=object) \
        if len(out) < 50_000 else _text_fast(values)


def _text_fast(values: pd.Series) -> np.ndarray:
    s = values.astype("string").str.strip()
    s = s.where(s != "", None)
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _fold(values: np.ndarray) -> np.ndarray:
    """Case-folded text for matching (None stays None)."""
    return np.array([None if v is None else v.casefold() for v in values], dtype=object)


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Integer codes for an object array (None gets -1) and the sorted distinct values."""
    s = pd.Series(values, dtype=object)
    codes, uniques = pd.factorize(s, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64), list(uniques)


@dataclass
class _Cell:
    key: tuple
    accounts: np.ndarray  # global account indices
    reps: np.ndarray  # global rep indices (active reps of the cell)


@dataclass
class _CellSolution:
    assign: np.ndarray  # per cell account: local rep index, -1 uncovered
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- the estimator


class TerritoryPlanner:
    """Balanced, minimally disruptive territory plans (estimator conventions; see the module docstring).

    Parameters
    ----------
    tolerance : float
        Target band: every rep's potential and workload within ``±tolerance``
        of the mean of its cell (0.05 = ±5%).
    tier_limits : dict, optional
        Tier -> ``(min, max)`` accounts of that tier per rep (``max`` None:
        no limit). Only ``max`` is enforced; reps below ``min`` are reported.
    role_limits : dict, optional
        Role -> most accounts a rep of that role may own (None: no limit). A
        rep's limit is the smaller of this and its own ``capacity``.
    match_region : bool
        Assign accounts only to reps of the account's region.
    move_penalty : float
        Cost of moving one account (the unit of the objective).
    protected_tiers : sequence of str
        Tiers whose relationships are kept unless impossible (seed: A).
    protected_move_penalty : float
        Cost of moving one account of a protected tier, in moves.
    band_penalty : float
        Cost, in moves, of one percentage point outside the band, per rep and
        metric.
    spread_penalty : float
        Cost, in moves, of one percentage point of the largest deviation in
        a cell (breaks ties towards tighter plans).
    uncovered_penalty : float
        Cost, in moves, of leaving one account uncovered.
    max_moves : int, optional
        Most discretionary moves (forced moves of accounts whose owner cannot
        keep them do not count). Shared among cells in proportion to the
        moves each wants without the cap.
    time_limit : float
        Solver seconds for the whole plan, shared among cells by size.
    mip_gap : float
        Relative optimality gap at which a cell's solve stops.
    mip_abs_gap : float
        Absolute gap, in moves, at which a cell's solve stops (1: within one move of the best possible).
    mip_max_variables : int
        Aggregated cells with more columns than this keep the rounded LP plan (the LP still gives the bound).
    exact_pairs : int
        Cells with at most this many (account, rep) pairs are solved exactly,
        one class per account.
    max_pairs : int
        Budget of (class, rep) pairs per aggregated cell; buckets widen until
        the cell fits.
    bucket_ratio : float
        Relative width of a potential bucket in aggregated cells (0.1: the
        largest account of a bucket is at most 10% above the smallest).
    workload_weight : float
        Weight of workload against potential in the band and spread costs.
    band_share : float
        Aggregated cells aim at ``band_share × tolerance`` so that turning
        classes back into accounts stays inside the band.
    n_jobs : int
        Cells solved in parallel (threads; HiGHS releases the GIL).

    Attributes
    ----------
    plan_ : DataFrame
        One row per account: ``account_id``, ``tier``, ``role``, ``region``,
        ``potential``, ``workload``, ``owner_before``, ``owner_after`` (None:
        uncovered), ``moved``, ``change`` (kept, moved, assigned, uncovered)
        and ``reason``.
    reps_ : DataFrame
        One row per rep: accounts, potential and workload before and after,
        deviation from the role mean, status (ok, overloaded, starved, over
        capacity, inactive).
    spread_ : DataFrame
        Per role and metric: mean, largest deviation and coefficient of
        variation before and after.
    shortfall_ : DataFrame
        Demand against capacity per role, region and tier; ``shortfall`` > 0
        where capacity is below demand.
    cells_ : list of dict
        Per cell: method, size, variables, status, objective, bound, gap, seconds.
    objective_, bound_, gap_ : float
        Objective of the plan, the solver's lower bound and the relative gap.
    status_ : str
        ``optimal`` when every cell reached ``mip_gap`` (or ``mip_abs_gap``)
        of its bound; ``time_limit`` when a cell stopped at its time share;
        ``gap_above_target`` when a large cell's neighbourhood search ended
        with the gap to the LP bound above ``mip_gap`` (the plan is the best
        found; ``gap_`` says how far it can be from the optimum).
    """

    def __init__(self, *, tolerance: float = 0.05, tier_limits: dict[str, tuple[int | None, int | None]] | None = None,
                 role_limits: dict[str, int | None] | None = None, match_region: bool = True,
                 move_penalty: float = 1.0, protected_tiers: tuple[str, ...] | list[str] = ("A",),
                 protected_move_penalty: float = 1e6, band_penalty: float = 100.0, spread_penalty: float = 0.1,
                 uncovered_penalty: float = 1e7, max_moves: int | None = None, time_limit: float = 60.0,
                 mip_gap: float = 0.01, mip_abs_gap: float = 1.0, mip_max_variables: int = 3_000, exact_pairs: int = 1_000, max_pairs: int = 40_000,
                 bucket_ratio: float = 0.1, band_share: float = 0.8, workload_weight: float = 1.0, n_jobs: int = 1):
        self.tolerance = tolerance
        self.tier_limits = tier_limits
        self.role_limits = role_limits
        self.match_region = match_region
        self.move_penalty = move_penalty
        self.protected_tiers = protected_tiers
        self.protected_move_penalty = protected_move_penalty
        self.band_penalty = band_penalty
        self.spread_penalty = spread_penalty
        self.uncovered_penalty = uncovered_penalty
        self.max_moves = max_moves
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.mip_abs_gap = mip_abs_gap
        self.mip_max_variables = mip_max_variables
        self.exact_pairs = exact_pairs
        self.max_pairs = max_pairs
        self.bucket_ratio = bucket_ratio
        self.band_share = band_share
        self.workload_weight = workload_weight
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit

    def fit(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> TerritoryPlanner:
        """Plan territories.

        Parameters
        ----------
        accounts : DataFrame
            ``account_id``, ``owner_id``, ``tier``, ``role`` (the role that
            must cover it), ``region``, ``potential``, ``workload``; optional
            ``industry`` and ``segment`` (matched against specialisations).
        reps : DataFrame
            ``rep_id``, ``role``, ``region``; optional ``capacity`` (accounts),
            ``active`` (default true), ``specialisation`` (industries or
            segments, a list or ``;``-separated text; empty: any).
        """
        t_start = time.perf_counter()
        self._prepare(accounts, reps)
        cells = self._cells()
        self.shortfall_ = self._shortfall(cells)
        budget = float(self.time_limit)
        solutions = self._solve_cells(cells, budget, caps=None)
        if self.max_moves is not None:
            wanted = {c.key: s.info["discretionary_moves"] for c, s in zip(cells, solutions, strict=True)}
            total = sum(wanted.values())
            if total > self.max_moves:
                caps = _share_cap(self.max_moves, wanted)
                remaining = max(1.0, budget - (time.perf_counter() - t_start))
                solutions = self._solve_cells(cells, remaining, caps=caps)
        owner_after = np.full(self._n, -1, dtype=np.int64)
        for cell, sol in zip(cells, solutions, strict=True):
            hit = sol.assign >= 0
            owner_after[cell.accounts[hit]] = cell.reps[sol.assign[hit]]
        self._owner_after = owner_after
        self.cells_ = [s.info for s in solutions]
        self._finish(cells, solutions)
        self.seconds_ = round(time.perf_counter() - t_start, 3)
        return self

    # ------------------------------------------------------------------ preparation

    def _prepare(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> None:
        need = {"account_id", "owner_id", "tier", "role", "region", "potential", "workload"}
        missing = need - set(accounts.columns)
        if missing:
            raise ValueError(f"accounts need columns {', '.join(sorted(missing))}")
        missing = {"rep_id", "role", "region"} - set(reps.columns)
        if missing:
            raise ValueError(f"reps need columns {', '.join(sorted(missing))}")
        n = len(accounts)
        self._n = n
        self._account_ids = accounts["account_id"].astype(str).to_numpy(dtype=object)
        pot = pd.to_numeric(accounts["potential"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
        wl = pd.to_numeric(accounts["workload"], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)
        self._p = np.clip(pot, 0.0, None)
        self._w = np.clip(wl, 0.0, None)
        self._tier_text = _text(accounts["tier"])
        self._tier, self._tiers = _codes(self._tier_text)
        self._role_text = _text(accounts["role"])
        self._region_text = _text(accounts["region"])
        self._region_key = _fold(self._region_text) if self.match_region else np.full(n, None, dtype=object)
        self._owner_text = _text(accounts["owner_id"])

        rep_ids = reps["rep_id"].astype(str).str.strip().to_numpy(dtype=object)
        if len(set(rep_ids)) != len(rep_ids):
            dup = pd.Series(rep_ids).value_counts()
            raise ValueError(f"rep_id {dup.index[0]!r} appears {dup.iloc[0]} times in the reps")
        self._rep_ids = rep_ids
        m = len(rep_ids)
        self._m = m
        self._rep_role = _text(reps["role"])
        self._rep_region_text = _text(reps["region"])
        self._rep_region = _fold(self._rep_region_text) if self.match_region else np.full(m, None, dtype=object)
        active = reps["active"] if "active" in reps.columns else pd.Series([True] * m)
        self._rep_active = np.array([True if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v)
                                     for v in active.astype(object)], dtype=bool)
        cap = pd.to_numeric(reps["capacity"], errors="coerce") if "capacity" in reps.columns else \
            pd.Series([np.nan] * m)
        cap = cap.to_numpy(dtype=np.float64)
        cap = np.where(np.isnan(cap), _INF, cap)
        role_limit = np.array([_INF if (self.role_limits or {}).get(r) is None else float(self.role_limits[r])
                               for r in self._rep_role], dtype=np.float64)
        self._rep_capacity = cap
        self._rep_cap = np.minimum(cap, role_limit)
        spec = reps["specialisation"] if "specialisation" in reps.columns else pd.Series([None] * m)
        self._rep_spec = [_split_list(v) for v in spec.astype(object)]

        # the values an account offers to specialists: its industry and segment, lower case
        offers = []
        for col in ("industry", "segment"):
            if col in accounts.columns:
                offers.append(accounts[col].astype("string").str.strip().str.lower())
        wanted = sorted({s for spec_ in self._rep_spec for s in spec_})
        if wanted and offers:
            key_cols = [o.where(o.isin(wanted), None).astype(object).to_numpy() for o in offers]
            combo = pd.Series(["|".join(str(v) if v is not None and v is not pd.NA else "" for v in vals)
                               for vals in zip(*key_cols, strict=True)])
            self._key, keys = _codes(combo.to_numpy(dtype=object))
            self._keys = [frozenset(k.split("|")) - {""} for k in keys]
        else:
            self._key = np.zeros(n, dtype=np.int64)
            self._keys = [frozenset()]

        lim = self.tier_limits or {}
        self._tier_max = np.array([_INF if (lim.get(t) or (None, None))[1] is None else float(lim[t][1])
                                   for t in self._tiers], dtype=np.float64)
        self._tier_min = np.array([0.0 if (lim.get(t) or (None, None))[0] is None else float(lim[t][0])
                                   for t in self._tiers], dtype=np.float64)
        prot = {str(t) for t in self.protected_tiers}
        self._tier_move_cost = np.array([self.protected_move_penalty if t in prot else self.move_penalty
                                         for t in self._tiers], dtype=np.float64)

        # current owner -> rep index, and why the owner cannot keep the account
        index = {rid: i for i, rid in enumerate(rep_ids)}
        owner_idx = np.array([index.get(o, -1) if o is not None else -1 for o in self._owner_text], dtype=np.int64)
        self._owner_before = owner_idx
        reason = np.zeros(n, dtype=np.int64)
        reason[np.array([o is None for o in self._owner_text], dtype=bool)] = _NO_OWNER
        reason[(owner_idx < 0) & (reason == 0)] = _UNKNOWN
        known = owner_idx >= 0
        oi = np.where(known, owner_idx, 0)
        reason[known & ~self._rep_active[oi] & (reason == 0)] = _INACTIVE
        role_ok = np.array([a == b for a, b in zip(self._role_text, self._rep_role[oi], strict=True)], dtype=bool)
        reason[known & ~role_ok & (reason == 0)] = _ROLE
        if self.match_region:
            reg_ok = np.array([a == b for a, b in zip(self._region_key, self._rep_region[oi], strict=True)],
                              dtype=bool)
            reason[known & ~reg_ok & (reason == 0)] = _REGION
        spec_ok = np.array([self._eligible(int(r), int(k)) for r, k in zip(oi, self._key, strict=True)], dtype=bool) \
            if any(self._rep_spec) else np.ones(n, dtype=bool)
        reason[known & ~spec_ok & (reason == 0)] = _SPEC
        self._forced = reason

    def _eligible(self, rep: int, key: int) -> bool:
        spec = self._rep_spec[rep]
        return not spec or bool(self._keys[key] & set(spec))

    def _cells(self) -> list[_Cell]:
        acc_key = pd.Series(list(zip(self._role_text, self._region_key, strict=True)), dtype=object)
        codes, uniques = pd.factorize(acc_key, sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        rep_cells: dict[tuple, list[int]] = {}
        for j in range(self._m):
            if self._rep_active[j]:
                rep_cells.setdefault((self._rep_role[j], self._rep_region[j]), []).append(j)
        cells = []
        for c, key in enumerate(uniques):
            idx = order[bounds[c]:bounds[c + 1]]
            label = (key[0], self._region_text[idx[0]] if self.match_region else None)
            cells.append(_Cell(label, idx, np.array(rep_cells.get(tuple(key), []), dtype=np.int64)))
        cells.sort(key=lambda c: (str(c.key[0]), str(c.key[1])))
        return cells

    def _shortfall(self, cells: list[_Cell]) -> pd.DataFrame:
        rows = []
        for cell in cells:
            role, region = cell.key
            tiers = self._tier[cell.accounts]
            cap = self._rep_cap[cell.reps]
            total_cap = float(cap.sum()) if len(cap) else 0.0
            demand = len(cell.accounts)
            rows.append({"role": role, "region": region, "tier": None, "accounts": demand, "reps": len(cell.reps),
                         "capacity": total_cap, "shortfall": max(0.0, demand - total_cap)})
            for t in np.unique(tiers):
                tcap = float(np.minimum(cap, self._tier_max[t]).sum()) if len(cap) else 0.0
                d = int((tiers == t).sum())
                rows.append({"role": role, "region": region, "tier": self._tiers[t], "accounts": d,
                             "reps": len(cell.reps), "capacity": tcap, "shortfall": max(0.0, d - tcap)})
        out = pd.DataFrame(rows, columns=["role", "region", "tier", "accounts", "reps", "capacity", "shortfall"])
        for col in ("capacity", "shortfall"):
            out[col] = out[col].astype(float)
        return out

    # ------------------------------------------------------------------ solving

    def _solve_cells(self, cells: list[_Cell], budget: float, caps: dict[tuple, int] | None) -> list[_CellSolution]:
        sizes = np.array([max(1, len(c.accounts)) * max(1, len(c.reps)) for c in cells], dtype=np.float64)
        weights = np.sqrt(sizes)
        limits = np.maximum(1.0, budget * weights / weights.sum()) if len(cells) else []
        jobs = [(c, float(limit), None if caps is None else caps.get(c.key)) for c, limit in zip(cells, limits,
                                                                                                   strict=True)]
        if self.n_jobs and self.n_jobs > 1 and len(cells) > 1:
            with ThreadPoolExecutor(max_workers=self.n_jobs) as pool:
                return list(pool.map(lambda job: self._solve_cell(*job), jobs))
        return [self._solve_cell(*job) for job in jobs]

    def _solve_cell(self, cell: _Cell, time_limit: float, move_cap: int | None) -> _CellSolution:
        t0 = time.perf_counter()
        n, m = len(cell.accounts), len(cell.reps)
        info: dict[str, Any] = {"role": cell.key[0], "region": cell.key[1], "accounts": n, "reps": m}
        if m == 0 or n == 0:
            info.update(method="none", status="optimal" if n == 0 else "no reps", objective=0.0, bound=0.0, gap=0.0,
                        seconds=0.0, variables=0, constraints=0, classes=0, groups=0, discretionary_moves=0,
                        uncovered=n)
            return _CellSolution(np.full(n, -1, dtype=np.int64), info)
        model = _CellModel(self, cell, move_cap)
        assign, solve_info = model.solve(time_limit)
        info.update(solve_info)
        info["seconds"] = round(time.perf_counter() - t0, 3)
        return _CellSolution(assign, info)

    # ------------------------------------------------------------------ results

    def _finish(self, cells: list[_Cell], solutions: list[_CellSolution]) -> None:
        before, after = self._owner_before, self._owner_after
        forced = self._forced
        kept = (before == after) & (after >= 0)
        change = np.where(after < 0, "uncovered", np.where(kept, "kept", "moved"))
        change = np.where((change == "moved") & (before < 0) & (forced == _NO_OWNER), "assigned", change)
        rep_stats = self._rep_stats()
        self.reps_ = rep_stats
        self.plan_ = pd.DataFrame({
            "account_id": self._account_ids,
            "tier": self._tier_text,
            "role": self._role_text,
            "region": self._region_text,
            "potential": self._p,
            "workload": self._w,
            "owner_before": self._owner_text,
            "owner_after": np.where(after >= 0, self._rep_ids[np.where(after >= 0, after, 0)], None),
            "moved": change == "moved",
            "change": change,
        })
        self.plan_["why"], self.plan_["reason"] = self._reasons(change, rep_stats)
        self.spread_ = self._spread(rep_stats)
        role_mean = rep_stats[rep_stats["active"]].groupby("role")[["potential_after", "workload_after"]].mean()
        for cell, sol in zip(cells, solutions, strict=True):
            info = sol.info
            if len(cell.reps) == 0:
                continue
            sub = rep_stats.iloc[cell.reps]
            for metric in ("potential", "workload"):
                v = sub[f"{metric}_after"].to_numpy(dtype=np.float64)
                mean = float(v.mean())
                info[f"{metric}_per_rep"] = round(mean, 6)
                info[f"{metric}_max_dev"] = round(float(np.abs(v / mean - 1).max()), 6) if mean > 0 else 0.0
                rm = float(role_mean.at[cell.key[0], f"{metric}_after"]) if cell.key[0] in role_mean.index else 0.0
                info[f"{metric}_vs_role"] = round(mean / rm - 1, 6) if rm > 0 else 0.0
        objective = sum(float(s.info.get("objective") or 0.0) for s in solutions)
        bound = sum(float(s.info.get("bound") or 0.0) for s in solutions)
        self.objective_ = objective
        self.bound_ = bound
        self.gap_ = _gap(objective, bound)
        statuses = {s.info.get("status") for s in solutions}
        self.status_ = ("optimal" if statuses <= {"optimal", "no reps"}
                        else "time_limit" if "time_limit" in statuses else "gap_above_target")

    def _reasons(self, change: np.ndarray, reps: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Why each account changed hands (or was left uncovered): a short code and plain words; empty when kept."""
        n = self._n
        before, after, forced = self._owner_before, self._owner_after, self._forced
        out = np.full(n, "", dtype=object)
        code = np.full(n, "", dtype=object)
        held = dict(zip(reps["rep_id"], reps["accounts_before"], strict=True))
        dev_p = dict(zip(reps["rep_id"], reps["potential_dev_before"], strict=True))
        dev_w = dict(zip(reps["rep_id"], reps["workload_dev_before"], strict=True))
        over_cap = set(reps.loc[reps["accounts_before"] > reps["limit"], "rep_id"])
        tier_over: set[tuple[int, int]] = set()
        if np.isfinite(self._tier_max).any():
            own = before >= 0
            counts = pd.DataFrame({"rep": before[own], "tier": self._tier[own]}).value_counts()
            tier_over = {(int(r), int(t)) for (r, t), c in counts.items() if c > self._tier_max[t]}
        uncovered_why: dict[tuple, str] = {}
        for i in np.flatnonzero(change != "kept"):
            b, a = int(before[i]), int(after[i])
            if forced[i]:
                code[i] = FORCED_CODES[forced[i]]
                text = FORCED_REASONS[forced[i]].format(
                    owner=self._owner_text[i], owner_role=self._rep_role[b] if b >= 0 else None,
                    role=self._role_text[i], owner_region=self._rep_region_text[b] if b >= 0 else None,
                    region=self._region_text[i], owner_spec=", ".join(self._rep_spec[b]) if b >= 0 else "")
            else:
                rid = self._rep_ids[b]
                code[i] = "balance"
                if rid in over_cap:
                    code[i] = "capacity"
                    text = f"capacity: {rid} owned {held[rid]} accounts, limit {_fmt_limit(self._rep_cap[b])}"
                elif (b, int(self._tier[i])) in tier_over:
                    code[i] = "coverage"
                    text = (f"coverage: {rid} owned more tier {self._tier_text[i]} accounts than the "
                            f"{_fmt_limit(self._tier_max[self._tier[i]])} per rep allowed")
                else:
                    text = f"balance: {rid} was at {dev_p[rid]:+.1%} potential, {dev_w[rid]:+.1%} workload"
            if a >= 0:
                to = self._rep_ids[a]
                text += f"; to {to} ({dev_p[to]:+.1%} potential, {dev_w[to]:+.1%} workload)"
            else:
                key = (self._role_text[i], self._region_key[i], int(self._key[i]))
                if key not in uncovered_why:
                    uncovered_why[key] = self._uncovered_reason(i)
                text = (text + "; " if text else "") + uncovered_why[key]
                code[i] = "uncovered"
            out[i] = text
        return code, out

    def _uncovered_reason(self, i: int) -> str:
        role, region = self._role_text[i], self._region_text[i]
        where = f"{role}" + (f" in {region}" if self.match_region else "")
        cell_reps = [j for j in range(self._m) if self._rep_active[j] and self._rep_role[j] == role
                     and (not self.match_region or self._rep_region[j] == self._region_key[i])]
        if not cell_reps:
            return f"uncovered: no active {where} rep"
        if not any(self._eligible(j, int(self._key[i])) for j in cell_reps):
            return f"uncovered: no {where} rep is eligible for its industry or segment"
        return f"uncovered: {where} capacity is below demand"

    def _rep_stats(self) -> pd.DataFrame:
        m = self._m
        rows = {}
        for label, owner in (("before", self._owner_before), ("after", self._owner_after)):
            own = owner >= 0
            rows[f"accounts_{label}"] = np.bincount(owner[own], minlength=m)
            rows[f"potential_{label}"] = np.bincount(owner[own], weights=self._p[own], minlength=m)
            rows[f"workload_{label}"] = np.bincount(owner[own], weights=self._w[own], minlength=m)
        demand = set(self._role_text.tolist())  # roles some account needs
        df = pd.DataFrame({"rep_id": self._rep_ids, "role": self._rep_role, "region": self._rep_region_text,
                           "active": self._rep_active, "in_scope": [r in demand for r in self._rep_role],
                           "capacity": np.where(np.isfinite(self._rep_capacity), self._rep_capacity, np.nan),
                           "limit": np.where(np.isfinite(self._rep_cap), self._rep_cap, np.nan), **rows})
        tol = self.tolerance
        for label in ("before", "after"):
            for metric in ("potential", "workload"):
                col = f"{metric}_{label}"
                means = df[df["active"] & df["in_scope"]].groupby("role", dropna=False)[col].mean()
                mean = df["role"].map(means).astype(float)
                df[f"{metric}_dev_{label}"] = np.where(mean > 0, df[col] / mean.where(mean > 0, 1.0) - 1.0, 0.0)
            status = np.full(m, "ok", dtype=object)
            over = (df["potential_dev_" + label] > tol + 1e-9) | (df["workload_dev_" + label] > tol + 1e-9)
            under = (df["potential_dev_" + label] < -tol - 1e-9) | (df["workload_dev_" + label] < -tol - 1e-9)
            status[under.to_numpy()] = "starved"
            status[over.to_numpy()] = "overloaded"
            status[(df[f"accounts_{label}"] > df["limit"].fillna(_INF)).to_numpy()] = "over capacity"
            status[~df["in_scope"].to_numpy()] = "no demand"
            status[~df["active"].to_numpy()] = "inactive"
            df[f"status_{label}"] = status
        return df

    def _spread(self, reps: pd.DataFrame) -> pd.DataFrame:
        rows = []
        active = reps[reps["active"] & reps["in_scope"]]
        for role, grp in active.groupby("role", dropna=False, sort=True):
            for metric in ("potential", "workload", "accounts"):
                row: dict[str, Any] = {"role": role, "metric": metric, "reps": len(grp)}
                for label in ("before", "after"):
                    v = grp[f"{metric}_{label}"].to_numpy(dtype=np.float64)
                    mean = float(v.mean()) if len(v) else 0.0
                    row[f"mean_{label}"] = mean
                    row[f"max_dev_{label}"] = float(np.abs(v / mean - 1).max()) if mean > 0 else 0.0
                    row[f"cv_{label}"] = float(v.std() / mean) if mean > 0 else 0.0
                rows.append(row)
        return pd.DataFrame(rows, columns=["role", "metric", "reps", "mean_before", "max_dev_before", "cv_before",
                                           "mean_after", "max_dev_after", "cv_after"])


def _gap(objective: float, bound: float) -> float:
    """Relative optimality gap: (objective - bound) / objective, the objective counted as at least one move."""
    if objective - bound <= 1e-9:
        return 0.0
    return (objective - bound) / max(abs(objective), 1.0)


def _fmt_limit(x: float) -> str:
    return "none" if not np.isfinite(x) else f"{x:g}"


def _share_cap(cap: int, wanted: dict[tuple, int]) -> dict[tuple, int]:
    """Split a move cap among cells in proportion to the moves each wants (largest remainders)."""
    total = sum(wanted.values())
    raw = {k: cap * v / total for k, v in wanted.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    left = cap - sum(out.values())
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[:left]:
        out[k] += 1
    return out


# --------------------------------------------------------------------------- one cell's MIP


class _CellModel:
    """The MIP of one (role, region) cell: classes, groups, columns, rows; solve; turn back into accounts."""

    def __init__(self, planner: TerritoryPlanner, cell: _Cell, move_cap: int | None):
        self.pl = planner
        self.cell = cell
        self.move_cap = move_cap
        idx = cell.accounts
        self.n, self.m = len(idx), len(cell.reps)
        self.p = planner._p[idx]
        self.w = planner._w[idx]
        self.tier = planner._tier[idx]
        self.key = planner._key[idx]
        local = np.full(planner._m, -1, dtype=np.int64)
        local[cell.reps] = np.arange(self.m)
        owner = planner._owner_before[idx]
        own = np.where(owner >= 0, local[np.where(owner >= 0, owner, 0)], -1)
        own[planner._forced[idx] != 0] = -1
        self.owner = own  # local rep index of an owner who may keep the account, else -1 (forced)
        self.cap = planner._rep_cap[cell.reps]
        keys = np.unique(self.key)
        self.elig = np.ones((len(planner._keys), self.m), dtype=bool)
        for k in keys:
            self.elig[k] = [planner._eligible(int(j), int(k)) for j in cell.reps]
        total_p, total_w = float(self.p.sum()), float(self.w.sum())
        self.scale_p = total_p / self.m if total_p > 0 else 1.0
        self.scale_w = total_w / self.m if total_w > 0 else 1.0
        self.exact = self.n * self.m <= planner.exact_pairs
        self.full_cover = self._can_cover_all()
        self.band_share = 1.0 if self.exact else float(planner.band_share)
        self._classes()

    def _can_cover_all(self) -> bool:
        """Whether capacity, tier limits and eligibility leave room for every account of the cell."""
        if self.cap.sum() < self.n:
            return False
        tmax = self.pl._tier_max
        for t in np.unique(self.tier):
            if (self.tier == t).sum() > np.minimum(self.cap, tmax[t]).sum():
                return False
        return bool(self.elig[np.unique(self.key)].any(axis=1).all())

    # ---------------------------------------------------------------- classes and groups

    def _classes(self) -> None:
        pl = self.pl
        n, m = self.n, self.m
        pn = self.p / self.scale_p
        base = self.tier * len(pl._keys) + self.key  # (tier, key)
        if self.exact:
            cls = np.arange(n)
        else:
            # log-scale buckets of relative width `ratio` above a floor (a small share of the mean account of the
            # tier); everything below the floor shares one bucket. Widen until the cell fits the pair budget.
            ratio = pl.bucket_ratio
            mean_acc = pd.Series(pn).groupby(base).transform("mean").to_numpy()
            floor = np.maximum(0.05 * mean_acc, 1e-12)
            while True:
                step = np.log1p(ratio)
                bucket = np.where(pn <= floor, 0, 1 + np.floor(np.log(np.maximum(pn, floor) / floor) / step))
                bucket = bucket.astype(np.int64)
                combo = base * (int(bucket.max()) + 1) + bucket
                cls = pd.factorize(combo, sort=True)[0]
                k = int(cls.max()) + 1
                if k * m <= pl.max_pairs or ratio >= 4.0:
                    break
                ratio *= 1.5
            self.width = ratio
        self.cls = cls.astype(np.int64)
        K = int(self.cls.max()) + 1
        self.K = K
        cnt = np.bincount(self.cls, minlength=K).astype(np.float64)
        self.k_n = cnt
        self.k_p = np.bincount(self.cls, weights=pn, minlength=K)
        self.k_w = np.bincount(self.cls, weights=self.w / self.scale_w, minlength=K)
        order = np.lexsort((pn, self.cls))
        starts = np.searchsorted(self.cls[order], np.arange(K))
        ends = np.searchsorted(self.cls[order], np.arange(K), side="right")
        self.k_lo = pn[order][starts]
        self.k_hi = pn[order][ends - 1]
        self.k_tier = np.zeros(K, dtype=np.int64)
        self.k_tier[self.cls] = self.tier
        self.k_key = np.zeros(K, dtype=np.int64)
        self.k_key[self.cls] = self.key
        self.pn = pn

        keepable = self.owner >= 0
        gcode = self.cls[keepable] * m + self.owner[keepable]
        gid, ginv = np.unique(gcode, return_inverse=True)
        self.g_class = gid // m
        self.g_owner = gid % m
        G = len(gid)
        self.G = G
        self.g_n = np.bincount(ginv, minlength=G).astype(np.float64)
        self.g_p = np.bincount(ginv, weights=pn[keepable], minlength=G)
        self.g_w = np.bincount(ginv, weights=self.w[keepable] / self.scale_w, minlength=G)
        self.acc_group = np.full(n, -1, dtype=np.int64)
        self.acc_group[keepable] = ginv
        forced = ~keepable
        self.k_forced_n = np.bincount(self.cls[forced], minlength=K).astype(np.float64)
        self.k_forced_p = np.bincount(self.cls[forced], weights=pn[forced], minlength=K)

        # (class, rep) pairs a rep may take; in exact mode an owner keeps through r_g, never "takes"
        kk, jj = np.nonzero(self.elig[self.k_key][:, :])
        if self.exact:
            owner_of_class = np.full(K, -1, dtype=np.int64)
            owner_of_class[self.cls] = self.owner
            keep = owner_of_class[kk] != jj
            kk, jj = kk[keep], jj[keep]
        self.q_class, self.q_rep = kk.astype(np.int64), jj.astype(np.int64)
        self.Q = len(kk)

    # ---------------------------------------------------------------- building

    def _build(self):
        import scipy.sparse as sp

        pl = self.pl
        m, K, G, Q = self.m, self.K, self.G, self.Q
        tol = float(pl.tolerance) * self.band_share
        mu = self.k_p / np.maximum(self.k_n, 1)  # potential of one account of the class (normalised)
        wu = self.k_w / np.maximum(self.k_n, 1)
        # column layout
        c_r = 0
        c_t = c_r + G
        c_u = c_t + Q
        c_P = c_u + K
        c_W = c_P + m
        c_Pbar = c_W + m
        c_Wbar = c_Pbar + 1
        c_s = c_Wbar + 1  # sP+, sP-, sW+, sW- blocks of m
        c_z = c_s + 4 * m  # zP, zW
        ncol = c_z + 2
        self.layout = dict(r=c_r, t=c_t, u=c_u, P=c_P, W=c_W, bar=c_Pbar, s=c_s, z=c_z, n=ncol)

        cost = np.zeros(ncol)
        cost[c_r:c_r + G] = pl._tier_move_cost[self.k_tier[self.g_class]]
        cost[c_u:c_u + K] = pl.uncovered_penalty * (1.0 + mu)
        cost[c_s:c_s + 4 * m] = pl.band_penalty * 100.0  # per unit = 100 percentage points
        cost[c_s + 2 * m:c_s + 4 * m] *= pl.workload_weight
        cost[c_z:c_z + 2] = pl.spread_penalty * 100.0
        cost[c_z + 1] *= pl.workload_weight
        lower = np.zeros(ncol)
        upper = np.full(ncol, _INF)
        upper[c_r:c_r + G] = self.g_n
        upper[c_t:c_t + Q] = self.k_n[self.q_class]
        upper[c_u:c_u + K] = self.k_n
        integer = np.zeros(ncol, dtype=bool)
        integer[c_r:c_P] = True

        rows, cols, vals, rlo, rhi = [], [], [], [], []
        nrow = 0

        def add(r, c, v):
            rows.append(np.asarray(r, dtype=np.int64))
            cols.append(np.asarray(c, dtype=np.int64))
            vals.append(np.asarray(v, dtype=np.float64))

        def bounds(lo, hi):
            rlo.append(np.asarray(lo, dtype=np.float64))
            rhi.append(np.asarray(hi, dtype=np.float64))

        # 1. per class: what is released (by choice or by force) is taken or left uncovered
        add(nrow + self.q_class, c_t + np.arange(Q), np.ones(Q))
        add(nrow + np.arange(K), c_u + np.arange(K), np.ones(K))
        add(nrow + self.g_class, c_r + np.arange(G), -np.ones(G))
        bounds(self.k_forced_n, self.k_forced_n)
        nrow += K
        # 2. P_j + sum_g mu r_g - sum_q mu t_q = what j holds now; W_j alike
        base_p = np.bincount(self.g_owner, weights=self.g_p, minlength=m).astype(np.float64)
        base_w = np.bincount(self.g_owner, weights=self.g_w, minlength=m).astype(np.float64)
        base_n = np.bincount(self.g_owner, weights=self.g_n, minlength=m).astype(np.float64)
        for c_x, unit, base in ((c_P, mu, base_p), (c_W, wu, base_w)):
            add(nrow + np.arange(m), c_x + np.arange(m), np.ones(m))
            add(nrow + self.g_owner, c_r + np.arange(G), unit[self.g_class])
            add(nrow + self.q_rep, c_t + np.arange(Q), -unit[self.q_class])
            bounds(base, base)
            nrow += m
        # 3. capacity: -sum_g r + sum_q t <= limit - held
        capped = np.flatnonzero(np.isfinite(self.cap))
        if len(capped):
            crow = np.full(m, -1, dtype=np.int64)
            crow[capped] = nrow + np.arange(len(capped))
            gsel = np.flatnonzero(crow[self.g_owner] >= 0)
            add(crow[self.g_owner[gsel]], c_r + gsel, -np.ones(len(gsel)))
            qsel = np.flatnonzero(crow[self.q_rep] >= 0)
            add(crow[self.q_rep[qsel]], c_t + qsel, np.ones(len(qsel)))
            bounds(np.full(len(capped), -_INF), self.cap[capped] - base_n[capped])
            nrow += len(capped)
        # 4. per-tier limits
        tmax = pl._tier_max
        for t in np.unique(self.k_tier):
            if not np.isfinite(tmax[t]):
                continue
            gsel = np.flatnonzero(self.k_tier[self.g_class] == t)
            qsel = np.flatnonzero(self.k_tier[self.q_class] == t)
            add(nrow + self.g_owner[gsel], c_r + gsel, -np.ones(len(gsel)))
            add(nrow + self.q_rep[qsel], c_t + qsel, np.ones(len(qsel)))
            base_t = np.bincount(self.g_owner[gsel], weights=self.g_n[gsel], minlength=m)
            bounds(np.full(m, -_INF), tmax[t] - base_t)
            nrow += m
        # 5. the cell means: every account can be covered, so the means are the cell's totals over its reps
        # (1 in normalised units); otherwise m * Pbar - sum_j P_j = 0
        if self.full_cover:
            lower[[c_Pbar, c_Wbar]] = 1.0
            upper[[c_Pbar, c_Wbar]] = 1.0
        else:
            add(np.full(m + 1, nrow), np.r_[c_P + np.arange(m), c_Pbar], np.r_[-np.ones(m), float(m)])
            add(np.full(m + 1, nrow + 1), np.r_[c_W + np.arange(m), c_Wbar], np.r_[-np.ones(m), float(m)])
            bounds([0.0, 0.0], [0.0, 0.0])
            nrow += 2
        # 5b. exact cells: a rep holding an account worth more than the top of the band is above it by at least
        # the difference (tightens the LP bound where single accounts are large)
        if self.exact and self.full_cover:
            big = np.flatnonzero(self.pn > 1.0 + tol)
            qpos = {(int(k), int(j)): q for q, (k, j) in enumerate(zip(self.q_class, self.q_rep, strict=True))}
            for i in big:
                excess = float(self.pn[i] - 1.0 - tol)
                k = int(self.cls[i])
                for jj in np.flatnonzero(self.elig[self.key[i]]):
                    if self.owner[i] == jj:
                        add([nrow, nrow], [c_s + jj, c_r + int(self.acc_group[i])], [1.0, excess])
                        bounds([excess], [_INF])
                    elif (k, int(jj)) in qpos:
                        add([nrow, nrow], [c_s + jj, c_t + qpos[(k, int(jj))]], [1.0, -excess])
                        bounds([0.0], [_INF])
                    else:
                        continue
                    nrow += 1
        # 6. bands (soft) and the largest deviation
        j = np.arange(m)
        for c_x, c_bar, s_plus, s_minus, c_zz in ((c_P, c_Pbar, c_s, c_s + m, c_z),
                                                   (c_W, c_Wbar, c_s + 2 * m, c_s + 3 * m, c_z + 1)):
            for slack, sign, lo, hi in ((s_plus, -1.0, -_INF, tol), (s_minus, 1.0, -tol, _INF),
                                        (None, -1.0, -_INF, 0.0), (None, 1.0, 0.0, _INF)):
                third = slack + j if slack is not None else np.full(m, c_zz)
                add(np.repeat(nrow + j, 3), np.column_stack([c_x + j, np.full(m, c_bar), third]).ravel(),
                    np.tile([1.0, -1.0, sign], m))
                bounds(np.full(m, lo), np.full(m, hi))
                nrow += m
        # 7. the move cap over discretionary releases
        if self.move_cap is not None and G:
            add(np.full(G, nrow), c_r + np.arange(G), np.ones(G))
            bounds([-_INF], [float(self.move_cap)])
            nrow += 1

        A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, ncol))
        self.base = (base_p, base_w, base_n)
        self.mu, self.wu = mu, wu
        return cost, lower, upper, integer, A, np.concatenate(rlo), np.concatenate(rhi)

    def _greedy(self) -> np.ndarray:
        """A feasible start: owners keep what fits their limits; the rest goes to the eligible rep with the
        lowest potential that has room (per class, largest classes first)."""
        L = self.layout
        m, K, G = self.m, self.K, self.G
        x = np.zeros(L["n"])
        base_p, base_w, base_n = self.base
        # release the least valuable groups of a rep over its capacity or tier limit
        r = np.zeros(G)
        held = base_n.copy()
        tmax = self.pl._tier_max
        held_t: dict[tuple[int, int], float] = {}
        for g in range(G):
            key = (int(self.g_owner[g]), int(self.k_tier[self.g_class[g]]))
            held_t[key] = held_t.get(key, 0.0) + self.g_n[g]
        for g in np.argsort(self.g_p / self.g_n):
            j, t = int(self.g_owner[g]), int(self.k_tier[self.g_class[g]])
            over = max(held[j] - self.cap[j], held_t[(j, t)] - tmax[t], 0.0)
            if over > 0:
                take = min(self.g_n[g], over)
                r[g] = take
                held[j] -= take
                held_t[(j, t)] -= take
        pool = self.k_forced_n.copy()
        np.add.at(pool, self.g_class, r)
        load = np.bincount(self.g_owner, weights=self.g_p - r * self.g_p / self.g_n, minlength=m)
        t_q = np.zeros(self.Q)
        q_of = {}
        for q in range(self.Q):
            q_of.setdefault(int(self.q_class[q]), []).append(q)
        for k in np.argsort(-self.k_p / np.maximum(self.k_n, 1)):
            left = pool[k]
            if left <= 0:
                continue
            unit = self.k_p[k] / self.k_n[k]
            t = int(self.k_tier[k])
            qs = q_of.get(int(k), [])
            while left > 0 and qs:
                room = np.array([min(self.cap[self.q_rep[q]] - held[self.q_rep[q]],
                                     tmax[t] - held_t.get((int(self.q_rep[q]), t), 0.0)) for q in qs])
                ok = room > 0
                if not ok.any():
                    break
                cand = [q for q, o in zip(qs, ok, strict=True) if o]
                q = min(cand, key=lambda q: load[self.q_rep[q]])
                j = int(self.q_rep[q])
                target = float(np.mean(load)) + 1e-9
                # hand a chunk: enough to bring the rep to the mean, at least one account
                chunk = max(1.0, math.floor(max(0.0, target - load[j]) / max(unit, 1e-12)))
                chunk = min(chunk, left, min(self.cap[j] - held[j], tmax[t] - held_t.get((j, t), 0.0)))
                t_q[q] += chunk
                left -= chunk
                held[j] += chunk
                held_t[(j, t)] = held_t.get((j, t), 0.0) + chunk
                load[j] += chunk * unit
            pool[k] = left
        x[L["r"]:L["r"] + G] = r
        x[L["t"]:L["t"] + self.Q] = t_q
        x[L["u"]:L["u"] + K] = pool
        self._complete(x)
        return x

    def _complete(self, x: np.ndarray) -> None:
        """Fill the continuous columns (loads, means, slacks, deviations) implied by the integer ones."""
        L = self.layout
        m, G, Q = self.m, self.G, self.Q
        r = x[L["r"]:L["r"] + G]
        t = x[L["t"]:L["t"] + Q]
        base_p, base_w, _ = self.base
        tol = float(self.pl.tolerance) * self.band_share
        for i, (unit, base) in enumerate(((self.mu, base_p), (self.wu, base_w))):
            X = base - np.bincount(self.g_owner, weights=r * unit[self.g_class], minlength=m) \
                + np.bincount(self.q_rep, weights=t * unit[self.q_class], minlength=m)
            x[(L["P"] if i == 0 else L["W"]):(L["P"] if i == 0 else L["W"]) + m] = X
            bar = 1.0 if self.full_cover else X.mean()
            x[L["bar"] + i] = bar
            dev = X - bar
            x[L["s"] + 2 * i * m:L["s"] + (2 * i + 1) * m] = np.maximum(0.0, dev - tol)
            x[L["s"] + (2 * i + 1) * m:L["s"] + (2 * i + 2) * m] = np.maximum(0.0, -dev - tol)
            x[L["z"] + i] = float(np.abs(dev).max()) if m else 0.0

    # ---------------------------------------------------------------- solve and turn back into accounts

    def _highs(self, cost, lower, upper, integer, A, rlo, rhi, *, mip: bool, time_limit: float,
               rel_gap: float | None = None):
        import highspy

        ncol, nrow = A.shape[1], A.shape[0]
        lp = highspy.HighsLp()
        lp.num_col_ = ncol
        lp.num_row_ = nrow
        lp.col_cost_ = cost
        lp.col_lower_ = lower
        lp.col_upper_ = np.where(np.isfinite(upper), upper, highspy.kHighsInf)
        lp.row_lower_ = np.where(np.isfinite(rlo), rlo, -highspy.kHighsInf)
        lp.row_upper_ = np.where(np.isfinite(rhi), rhi, highspy.kHighsInf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data
        if mip:
            lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                               for i in integer]
        h = _new_highs()
        h.setOptionValue("time_limit", float(max(0.2, time_limit)))
        h.setOptionValue("threads", 1)
        h.setOptionValue("random_seed", 0)
        if mip:
            h.setOptionValue("mip_rel_gap", float(self.pl.mip_gap if rel_gap is None else rel_gap))
            h.setOptionValue("mip_abs_gap", float(self.pl.mip_abs_gap))
        h.passModel(lp)
        return h

    def solve(self, time_limit: float) -> tuple[np.ndarray, dict[str, Any]]:
        """LP relaxation (the bound), its rounding (a plan), then the MIP from that plan while time allows."""
        import highspy

        t0 = time.perf_counter()
        cost, lower, upper, integer, A, rlo, rhi = self._build()
        ncol, nrow = A.shape[1], A.shape[0]
        h = self._highs(cost, lower, upper, integer, A, rlo, rhi, mip=False, time_limit=time_limit)
        h.run()
        t_lp = time.perf_counter() - t0
        lp_ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if lp_ok:
            x_lp = np.asarray(h.getSolution().col_value, dtype=np.float64)
            bound = float(h.getInfo().objective_function_value)
            x = self._round(x_lp)
        else:  # no LP optimum in time: the greedy plan, no bound
            bound = 0.0
            x = self._greedy()
        objective = float(cost @ x)
        rounded_objective = objective
        method = "lp_rounding" if lp_ok else "greedy"
        nodes = 0
        hit_limit = not lp_ok
        left = time_limit - (time.perf_counter() - t0)
        wants_mip = _gap(objective, bound) > self.pl.mip_gap and objective - bound > self.pl.mip_abs_gap
        if wants_mip and left > 0.2 and lp_ok:
            full = self.exact or ncol <= self.pl.mip_max_variables
            ub = upper
            if not full:
                # the neighbourhood of the LP optimum: integer columns at 0 in both the LP and its rounding stay 0
                ub = upper.copy()
                ub[integer & (x_lp < 1e-6) & (x < 0.5)] = 0.0
            # the neighbourhood's own bound is above the LP's: aim tighter so the plan lands within mip_gap of it
            h = self._highs(cost, lower, ub, integer, A, rlo, rhi, mip=True, time_limit=left,
                            rel_gap=None if full else self.pl.mip_gap / 4)
            try:
                sol = highspy.HighsSolution()
                sol.col_value = x
                sol.value_valid = True
                h.setSolution(sol)
            except Exception:  # noqa: BLE001 - a rejected start only costs time
                pass
            h.run()
            hit_limit = h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit
            info = h.getInfo()
            nodes = int(info.mip_node_count)
            if info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible:
                x_mip = np.asarray(h.getSolution().col_value, dtype=np.float64)
                obj_mip = float(info.objective_function_value)
                if len(x_mip) == ncol and obj_mip < objective - 1e-9:
                    x, objective = x_mip, obj_mip
                    method = "mip" if full else "lp + neighbourhood mip"
            if full and np.isfinite(info.mip_dual_bound):
                bound = max(bound, float(info.mip_dual_bound))
        bound = min(bound, objective)
        gap = _gap(objective, bound)
        done = gap <= self.pl.mip_gap or objective - bound <= self.pl.mip_abs_gap
        assign = self._accounts(x)
        L = self.layout
        result = {
            "method": ("exact " if self.exact else "aggregated ") + method,
            "classes": int(self.K), "groups": int(self.G), "variables": int(ncol), "constraints": int(nrow),
            "status": "optimal" if done else ("time_limit" if hit_limit or left <= 0.2 else "gap_above_target"),
            "objective": round(objective, 6), "bound": round(bound, 6), "gap": round(gap, 6),
            "discretionary_moves": int(np.rint(x[L["r"]:L["r"] + self.G]).sum()),
            "uncovered": int(np.rint(x[L["u"]:L["u"] + self.K]).sum()),
            "bucket_ratio": None if self.exact else round(self.width, 4),
            "nodes": nodes, "rounded_objective": round(rounded_objective, 6),
            "seconds_lp": round(t_lp, 3),
        }
        # classes turned back into accounts can leave a rep just outside the band: swap to bring it back
        result["polish_swaps"] = 0 if self.exact else self._polish(assign)
        return assign, result

    def _round(self, x_lp: np.ndarray) -> np.ndarray:
        """An integer plan from the LP optimum: releases to the nearest integer, then each class's pool shared
        among its takers by largest remainder within capacity and tier limits (the rest uncovered)."""
        L = self.layout
        m, G, K = self.m, self.G, self.K
        x = np.zeros(L["n"])
        r = np.clip(np.floor(x_lp[L["r"]:L["r"] + G] + 0.5 - 1e-7), 0, self.g_n)
        t_lp = x_lp[L["t"]:L["t"] + self.Q]
        u_lp = x_lp[L["u"]:L["u"] + K]
        tiers = self.pl._tier_max
        nt = len(tiers)
        held = (self.base[2] - np.bincount(self.g_owner, weights=r, minlength=m)).astype(np.float64)
        held_t = np.zeros((m, nt))
        np.add.at(held_t, (self.g_owner, self.k_tier[self.g_class]), self.g_n - r)
        pool = self.k_forced_n + np.bincount(self.g_class, weights=r, minlength=K)
        t_int = np.zeros(self.Q)
        u_int = np.zeros(K)
        q_order = np.argsort(self.q_class, kind="stable")
        qstart = np.searchsorted(self.q_class[q_order], np.arange(K + 1))
        for k in np.argsort(-pool, kind="stable"):
            total = int(pool[k])
            if total <= 0:
                continue
            qs = q_order[qstart[k]:qstart[k + 1]]
            reps = self.q_rep[qs]
            tier = int(self.k_tier[k])
            room = np.maximum(0.0, np.minimum(self.cap[reps] - held[reps], tiers[tier] - held_t[reps, tier]))
            want = np.minimum(t_lp[qs], room)
            base = np.minimum(np.floor(want + 1e-7), room)
            ub = min(float(np.floor(u_lp[k] + 1e-7)), float(total))
            over = base.sum() + ub - total
            if over > 0:  # nearest-rounded releases left less in the pool than the LP gave out
                for i in np.argsort(want - base)[::-1]:  # drop from the smallest fractional parts... largest counts
                    cut = min(base[i], over)
                    base[i] -= cut
                    over -= cut
                    if over <= 0:
                        break
            rem = total - base.sum() - ub
            if rem > 0 and len(qs):
                frac = want - base
                for i in np.argsort(-frac, kind="stable"):
                    if rem <= 0:
                        break
                    if room[i] - base[i] >= 1 and frac[i] > 1e-7:
                        base[i] += 1
                        rem -= 1
                if rem > 0:  # more than the LP gave: to the reps with room, the lightest first
                    load = held[reps] / np.maximum(1.0, np.where(np.isfinite(self.cap[reps]), self.cap[reps], 1.0))
                    for i in np.argsort(load, kind="stable"):
                        extra = min(rem, room[i] - base[i])
                        if extra > 0:
                            base[i] += extra
                            rem -= extra
                        if rem <= 0:
                            break
            t_int[qs] = base
            u_int[k] = ub + max(rem, 0)
            held[reps] += base
            held_t[reps, tier] += base
        x[L["r"]:L["r"] + G] = r
        x[L["t"]:L["t"] + self.Q] = t_int
        x[L["u"]:L["u"] + K] = u_int
        self._complete(x)
        return x

    def _accounts(self, x: np.ndarray) -> np.ndarray:
        """Turn the class-level solution into one rep (or -1: uncovered) per account.

        Every released or taken account is worth the class mean in the model, so each group releases the
        run of its accounts (sorted by potential) whose sum is nearest ``r_g x mean``, and each taker gets
        the run of the class's pool nearest ``t_kj x mean`` (largest takes first; the uncovered last).
        """
        L = self.layout
        G, Q, K = self.G, self.Q, self.K
        r = np.rint(x[L["r"]:L["r"] + G]).astype(np.int64)
        t = np.rint(x[L["t"]:L["t"] + Q]).astype(np.int64)
        mu = self.mu
        pn = self.pn
        assign = np.where(self.owner >= 0, self.owner, -1).astype(np.int64)
        released = self.owner < 0
        if (r > 0).any():
            order = np.lexsort((pn, self.acc_group))
            order = order[self.acc_group[order] >= 0]
            gstart = np.searchsorted(self.acc_group[order], np.arange(G))
            for g in np.flatnonzero(r > 0):
                members = order[gstart[g]:gstart[g] + int(self.g_n[g])]
                k = int(r[g])
                released[members[_nearest_run(pn[members], k, k * mu[self.g_class[g]])]] = True
        pool_idx = np.flatnonzero(released)
        assign[pool_idx] = -1
        if len(pool_idx) == 0:
            return assign
        pc = self.cls[pool_idx]
        order = np.lexsort((pn[pool_idx], pc))
        pool_sorted = pool_idx[order]
        pstart = np.searchsorted(pc[order], np.arange(K + 1))
        q_order = np.lexsort((-t, self.q_class))
        qstart = np.searchsorted(self.q_class[q_order], np.arange(K + 1))
        for k in np.unique(pc):
            remaining = pool_sorted[pstart[k]:pstart[k + 1]]
            takers = [(int(self.q_rep[q]), int(t[q])) for q in q_order[qstart[k]:qstart[k + 1]] if t[q] > 0]
            for j, cnt in takers:
                if len(remaining) == 0:
                    break
                cnt = min(cnt, len(remaining))
                pick = _nearest_run(pn[remaining], cnt, cnt * mu[k])
                assign[remaining[pick]] = j
                keep = np.ones(len(remaining), dtype=bool)
                keep[pick] = False
                remaining = remaining[keep]
            # what no taker took stays uncovered (the model's u_k)
        return assign

    def _polish(self, assign: np.ndarray) -> int:
        """Swap same-tier accounts between reps outside the band (no extra move); return the swaps made."""
        tol = float(self.pl.tolerance)
        protected = {i for i, t in enumerate(self.pl._tiers) if t in set(self.pl.protected_tiers)}
        m = self.m
        pn = self.pn
        covered = assign >= 0
        if m < 2 or not covered.any():
            return 0
        P = np.bincount(assign[covered], weights=pn[covered], minlength=m)
        swaps = 0
        for _ in range(4 * m):
            bar = P.mean()
            if bar <= 0:
                break
            dev = P / bar - 1
            hi, lo = int(np.argmax(dev)), int(np.argmin(dev))
            if dev[hi] <= tol and dev[lo] >= -tol:
                break
            # candidates: accounts that moved (or were forced) into hi / lo, so swapping adds no move
            moved = (assign != self.owner)
            a_idx = np.flatnonzero((assign == hi) & moved)
            b_idx = np.flatnonzero((assign == lo) & moved)
            if not len(a_idx) or not len(b_idx):
                break
            want = min(P[hi] - bar, bar - P[lo])
            best = None
            for t in np.intersect1d(self.tier[a_idx], self.tier[b_idx]):
                if int(t) in protected:
                    continue
                a = a_idx[self.tier[a_idx] == t]
                b = b_idx[self.tier[b_idx] == t]
                if not (self.elig[self.key[a]][:, lo].all() and self.elig[self.key[b]][:, hi].all()):
                    a = a[self.elig[self.key[a], lo]]
                    b = b[self.elig[self.key[b], hi]]
                    if not len(a) or not len(b):
                        continue
                bs = np.sort(pn[b])
                border = np.argsort(pn[b])
                targets = pn[a] - want
                pos = np.clip(np.searchsorted(bs, targets), 0, len(bs) - 1)
                for cand in (pos, np.clip(pos - 1, 0, len(bs) - 1)):
                    diff = pn[a] - bs[cand]
                    gain = np.abs(want - diff)
                    i = int(np.argmin(gain))
                    if diff[i] > 0 and (best is None or gain[i] < best[0]):
                        best = (gain[i], int(a[i]), int(b[border[cand[i]]]), float(diff[i]))
            if best is None:
                break
            _, ai, bi, diff = best
            new_hi, new_lo = P[hi] - diff, P[lo] + diff
            if max(abs(new_hi / bar - 1), abs(new_lo / bar - 1)) >= max(abs(dev[hi]), abs(dev[lo])) - 1e-12:
                break
            assign[ai], assign[bi] = lo, hi
            P[hi], P[lo] = new_hi, new_lo
            swaps += 1
        return swaps


def _nearest_run(sorted_values: np.ndarray, k: int, target: float) -> np.ndarray:
    """Indices of the run of ``k`` consecutive sorted values whose sum is nearest ``target``."""
    n = len(sorted_values)
    if k >= n:
        return np.arange(n)
    if k <= 0:
        return np.arange(0)
    c = np.concatenate([[0.0], np.cumsum(sorted_values)])
    sums = c[k:] - c[:-k]  # non-decreasing in the start index
    i = int(np.searchsorted(sums, target))
    if i >= len(sums):
        i = len(sums) - 1
    elif i > 0 and abs(sums[i - 1] - target) <= abs(sums[i] - target):
        i -= 1
    return np.arange(i, i + k)
