"""What the dashboard shows, computed in the engine: the scored accounts kept as one table, queried per page.

The accounts are scored **once** (by :class:`~tierwise.api.service.ScoringService` when served, or by
:func:`score_table` for the static report) and registered with a dashboard engine of their own
(an in-memory DuckDB, so the pages never wait on the API's connection), stored best score first. A list
page is one filtered ``COUNT`` and one ``LIMIT/OFFSET`` query, the filter values as query parameters
(placeholders, never SQL text); the scan stops once the page is full — no page pulls all rows into Python.

Examples
--------
>>> import pyarrow as pa
>>> data = DashboardData.from_arrow(pa.table({
...     "account_id": ["A1", "A2", "A3"], "account_name": ["Acme", "Bolt", "Crux"], "owner_id": ["R1", "R2", None],
...     "score": [91.0, 55.5, 12.0], "fit_score": [90.0, 50.0, 10.0], "signal_score": [80.0, 60.0, 0.0],
...     "engagement_score": [100.0, 60.0, 30.0], "tier": ["A", "C", "D"], "segment": ["Ent", "SMB", "SMB"]}))
>>> page = data.accounts(Filters(segment="SMB"))
>>> page.total, [r["account_id"] for r in page.rows]
(2, ['A2', 'A3'])
>>> data.close()
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from tierwise.engine import connect

GUARDRAIL_MIN_SHARE = 0.15
GUARDRAIL_MAX_SHARE = 0.60
GUARDRAIL_MAX_SEGMENTS = 8
PAGE_SIZES = (25, 50, 100)
#: A search matching at most this many accounts is answered by one scan (rows and count together).
SEARCH_CAP = 1000
LIST_COLUMNS = ("account_id", "account_name", "owner_id", "score", "tier", "segment", "priority", "motion")
TABLE = "tw_dashboard_accounts"


@dataclass(frozen=True)
class Filters:
    """The list filters; every value is handed to the engine as a query parameter."""

    q: str = ""
    tier: str = ""
    segment: str = ""
    owner: str = ""
    min_score: float | None = None
    max_score: float | None = None
    page: int = 1
    per_page: int = 50

    def where(self, *, exact_id: bool = False) -> tuple[str, list[Any]]:
        """The SQL ``WHERE`` clause (placeholders only) and its parameters; ``exact_id``: ``q`` is an account id.

        >>> Filters(q="Ac", tier="A", min_score=50).where()
        ('WHERE contains(_search, ?) AND tier = ? AND score >= ?', ['ac', 'A', 50.0])
        >>> Filters(q="A0042").where(exact_id=True)
        ('WHERE _id_key = ?', ['a0042'])
        """
        parts, params = [], []
        if self.q.strip():
            # _search: lower-cased "account_id account_name"; _id_key: lower-cased account_id
            parts.append("_id_key = ?" if exact_id else "contains(_search, ?)")
            params.append(self.q.strip().lower())
        for column, value in (("tier", self.tier), ("segment", self.segment), ("owner_id", self.owner)):
            if value:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.min_score is not None:
            parts.append("score >= ?")
            params.append(float(self.min_score))
        if self.max_score is not None:
            parts.append("score <= ?")
            params.append(float(self.max_score))
        return ("WHERE " + " AND ".join(parts) if parts else ""), params

    def query(self, **changes: Any) -> dict[str, Any]:
        """The filters as URL query parameters (empty ones left out), with ``changes`` applied."""
        values = {"q": self.q, "tier": self.tier, "segment": self.segment, "owner": self.owner,
                  "min_score": self.min_score, "max_score": self.max_score, "page": self.page,
                  "per_page": self.per_page, **changes}
        return {k: (f"{v:g}" if isinstance(v, float) else v) for k, v in values.items()
                if v not in (None, "") and not (k == "page" and v == 1) and not (k == "per_page" and v == 50)}


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    filters: Filters

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.filters.per_page))


@dataclass
class Overview:
    accounts: int
    tiers: list[dict[str, Any]]
    segments: list[dict[str, Any]]
    histogram: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    mean_score: float | None = None


class DashboardData:
    """The scored accounts in a dashboard engine: overview figures (computed once) and list/detail queries."""

    def __init__(self, scores: pa.Table, *, tiers: list[dict[str, Any]] | None = None,
                 segment_order: list[str] | None = None):
        missing = {"account_id", "score", "tier", "segment"} - set(scores.column_names)
        if missing:
            raise ValueError(f"the scored accounts lack {', '.join(sorted(missing))}")
        for name in ("account_name", "owner_id", "priority", "motion", "reason_1", "reason_2", "reason_3",
                     "fit_score", "signal_score", "engagement_score"):
            if name not in scores.column_names:
                kind = pa.float64() if name.endswith("_score") else pa.string()
                scores = scores.append_column(name, pa.nulls(scores.num_rows, kind))
        self.engine = connect("duckdb://")
        self._con = self.engine.backend.con  # parameterised page queries (placeholders, no SQL built from values)
        self._lock = threading.Lock()
        self._con.register("_tw_dashboard_in", scores)
        # Stored best score first: a page is then the first rows a scan finds (no ORDER BY, so no sort of
        # every matching row; DuckDB keeps insertion order for queries without ORDER BY while
        # preserve_insertion_order is on), and the scan stops once the page is full.
        self._con.execute("SET preserve_insertion_order = true")
        self._con.execute(f"CREATE TEMP TABLE {TABLE} AS SELECT *, lower(concat_ws(' ', account_id, account_name)) "
                          f"AS _search, lower(account_id) AS _id_key FROM _tw_dashboard_in "
                          "ORDER BY score DESC NULLS LAST, account_id")
        self._con.unregister("_tw_dashboard_in")
        self.columns = scores.column_names
        self.tier_specs = tiers or []
        self.segment_order = segment_order or []
        self.overview = self._overview()
        self.owners = [r[0] for r in self._sql(f"SELECT DISTINCT owner_id FROM {TABLE} WHERE owner_id IS NOT NULL "
                                               "ORDER BY 1")]
        self.tier_names = [t["tier"] for t in self.overview.tiers]
        self.segment_names = [s["segment"] for s in self.overview.segments]

    @classmethod
    def from_arrow(cls, scores: pa.Table, **kwargs: Any) -> DashboardData:
        return cls(scores, **kwargs)

    def close(self) -> None:
        self.engine.close()

    def _sql(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self._lock:
            return self._con.execute(sql, params or []).fetchall()

    def _dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- overview (once, at start-up) ---------------------------------------------------------
    def _overview(self) -> Overview:
        total, mean = self._sql(f"SELECT COUNT(*), AVG(score) FROM {TABLE}")[0]
        by_tier = {r["tier"]: r for r in self._dicts(
            f"SELECT tier, COUNT(*) AS accounts, AVG(score) AS mean_score FROM {TABLE} GROUP BY tier")}
        names = [t["name"] for t in self.tier_specs] or sorted(k for k in by_tier if k is not None)
        names += sorted(k for k in by_tier if k not in names and k is not None)
        specs = {t["name"]: t for t in self.tier_specs}
        tiers = [{"tier": n, "accounts": int(by_tier.get(n, {}).get("accounts", 0)),
                  "share": by_tier.get(n, {}).get("accounts", 0) / total if total else 0.0,
                  "mean_score": by_tier.get(n, {}).get("mean_score"), **{k: v for k, v in specs.get(n, {}).items()
                                                                          if k != "name"}} for n in names]
        segs = self._dicts(f"SELECT segment, ANY_VALUE(priority) AS priority, ANY_VALUE(motion) AS motion, "
                           f"COUNT(*) AS accounts, AVG(score) AS mean_score FROM {TABLE} GROUP BY segment")
        order = {name: i for i, name in enumerate(self.segment_order)}
        segs.sort(key=lambda r: (order.get(r["segment"], len(order)), str(r["segment"])))
        warnings = []
        for s in segs:
            s["share"] = s["accounts"] / total if total else 0.0
            s["guardrail"] = ("too small" if s["share"] < GUARDRAIL_MIN_SHARE
                              else "too broad" if s["share"] > GUARDRAIL_MAX_SHARE else "ok")
            if s["guardrail"] == "too small":
                warnings.append(f"segment {s['segment']} holds {s['share']:.0%} of accounts, under the "
                                f"{GUARDRAIL_MIN_SHARE:.0%} guardrail: merge it or widen its rule")
            elif s["guardrail"] == "too broad":
                warnings.append(f"segment {s['segment']} holds {s['share']:.0%} of accounts, over the "
                                f"{GUARDRAIL_MAX_SHARE:.0%} guardrail: split it")
        if len(segs) > GUARDRAIL_MAX_SEGMENTS:
            warnings.insert(0, f"{len(segs)} segments: more than {GUARDRAIL_MAX_SEGMENTS} is more than reps can "
                               "act on; merge segments with the same message, cadence and rep behaviour")
        bins = {int(b): int(n) for b, n in self._sql(
            f"SELECT LEAST(CAST(FLOOR(score / 10) AS INTEGER), 9) AS b, COUNT(*) FROM {TABLE} "
            "WHERE score IS NOT NULL GROUP BY b")}
        histogram = [{"low": b * 10, "high": b * 10 + 10, "accounts": bins.get(b, 0)} for b in range(10)]
        return Overview(int(total), tiers, segs, histogram, warnings, mean)

    # -- pages -----------------------------------------------------------------------------------
    def accounts(self, filters: Filters) -> Page:
        """One page of accounts, best score first: a COUNT and a LIMIT/OFFSET query, filters as parameters.

        A search is the substring of an id or name, except that an exact account id (any case) finds just
        that account: an equality test instead of a substring scan. A search that matches at most
        ``SEARCH_CAP`` accounts is answered by one scan that returns rows and count together.
        """
        offset = (max(filters.page, 1) - 1) * filters.per_page
        columns = ", ".join(LIST_COLUMNS)
        q = filters.q.strip()
        exact = bool(q) and self._sql(f"SELECT COUNT(*) FROM {TABLE} WHERE _id_key = ?", [q.lower()])[0][0] > 0
        where, params = filters.where(exact_id=exact)
        if q:
            # a search is selective: one scan collects the first SEARCH_CAP + 1 matches in score order
            found = self._dicts(f"SELECT {columns} FROM {TABLE} {where} LIMIT ?", [*params, SEARCH_CAP + 1])
            if len(found) <= SEARCH_CAP:
                return Page(found[offset:offset + filters.per_page], len(found), filters)
        total = self._sql(f"SELECT COUNT(*) FROM {TABLE} {where}", params)[0][0]
        rows = self._dicts(f"SELECT {columns} FROM {TABLE} {where} LIMIT ? OFFSET ?",
                           [*params, filters.per_page, offset])  # stored in score order (see __init__)
        return Page(rows, int(total), filters)

    def top(self, n: int = 25) -> list[dict[str, Any]]:
        return self.accounts(Filters(per_page=n)).rows

    def account(self, account_id: str) -> dict[str, Any] | None:
        rows = self._dicts(f"SELECT * EXCLUDE (_search, _id_key) FROM {TABLE} WHERE account_id = ?", [account_id])
        return rows[0] if rows else None


# --------------------------------------------------------------------------- building it


def spec_context(spec_file: Any) -> dict[str, Any]:
    """Tier definitions and segment order from a spec (for the guardrails and tier colours)."""
    s = spec_file.spec
    tiers = [{"name": t.name, "min_score": t.min_score, "action": t.action, "coverage": t.coverage} for t in s.tiers]
    segments = [r.name for r in [*s.segments.rules, s.segments.default]]
    return {"tiers": tiers, "segment_order": segments}


def score_table(spec_file: Any, *, as_of: date | None = None, engine_url: str | None = None,
                progress: Any = None) -> tuple[pa.Table, date]:
    """Score every account as ``tierwise score`` does (no files written) and return the scores as Arrow."""
    from tierwise.jobs.score import SCORING_COLUMNS, account_scores_expr, scoring_tables
    from tierwise.jobs.workspace import load_workspace, resolve_as_of
    from tierwise.progress import NULL_PROGRESS

    progress = progress or NULL_PROGRESS
    s = spec_file.spec
    with connect(engine_url or s.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=scoring_tables(s), columns=SCORING_COLUMNS, progress=progress)
        scores = account_scores_expr(ws, day, progress)
        with progress.step("scoring accounts"):
            return engine.to_arrow(scores.order_by("account_id")), day


def run_changes(spec_file: Any) -> dict[str, Any] | None:
    """What changed between the latest recorded run and the one before it (None: fewer than two runs)."""
    from tierwise.jobs.governance import history_target
    from tierwise.store.history import open_history

    try:
        target = history_target(spec_file, None)
        if not target.startswith("postgres") and not Path(target).exists():
            return None
        with open_history(target) as store:
            runs = store.runs()
            if len(runs) < 2:
                return None
            after, before = runs[-1], runs[-2]
            events = store.changes(before.run_id, after.run_id).to_pylist()
    except Exception:  # the history is a nice-to-have on the overview: never break the page on it
        return None
    counts: dict[str, int] = {}
    for e in events:
        key = f"tier {e['direction']}" if e["change"] == "tier" and e["direction"] else e["change"]
        counts[key] = counts.get(key, 0) + 1

    def tier_counts(run: Any) -> dict[str, int]:
        tiers = run.summary.get("tiers") or {}
        return {k: int(v.get("accounts", 0) if isinstance(v, dict) else v or 0) for k, v in tiers.items()}

    before_tiers, after_tiers = tier_counts(before), tier_counts(after)
    tiers = [{"tier": t, "before": before_tiers.get(t, 0), "after": after_tiers.get(t, 0),
              "delta": after_tiers.get(t, 0) - before_tiers.get(t, 0)} for t in (after.tiers or before.tiers)]
    movers = sorted((e for e in events if e["change"] == "tier"),
                    key=lambda e: -abs((e["score_to"] or 0) - (e["score_from"] or 0)))[:10]
    return {"before": {"run_id": before.run_id, "as_of": before.as_of.isoformat(), "accounts": before.accounts},
            "after": {"run_id": after.run_id, "as_of": after.as_of.isoformat(), "accounts": after.accounts},
            "counts": counts, "tiers": tiers, "movers": movers, "events": len(events)}
