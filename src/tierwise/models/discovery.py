"""ICP discovery: which attributes of past deals go with winning, and how sure we can be.

:class:`ICPDiscovery` reads an *outcome frame* (one row per closed deal: ``won``
plus optional ``amount``, ``cycle_days``, ``ltv``, ``time``; every other column is
an attribute) and reports, for every attribute value, its win rate with a Wilson
interval, lift, weight of evidence and a two-sided test against all other
records, Holm-corrected over every test of every attribute. Only attributes that
survive the correction are *validated*; when none does, the verdict says so and
no fit criteria are suggested.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> industry = rng.choice(["software", "retail", "energy"], 3000)
>>> frame = pd.DataFrame({
...     "won": rng.random(3000) < np.where(industry == "software", 0.45, 0.2),
...     "industry": industry,
...     "noise": rng.choice(["a", "b"], 3000),
... })
>>> icp = ICPDiscovery().fit(frame)
>>> icp.has_signal_, icp.validated_["attribute"].tolist()
(True, ['industry'])
>>> sorted(icp.suggest_fit()["criteria"][0]["values"])
['software']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from tierwise.errors import DataError
from tierwise.models.segments import Segment, SegmentInput, find_segments
from tierwise.models.stats import (
    CORRECTIONS,
    adjust_p_values,
    assign_bins,
    quantile_lows,
    range_label,
    two_by_two_p_value,
    weight_of_evidence,
    wilson_interval,
)

#: Columns of the outcome frame that are not attributes.
OUTCOME_COLUMNS = ("won", "amount", "cycle_days", "ltv", "time")
KINDS = ("categorical", "numeric", "list")
MISSING = "(missing)"
OTHER = "(other)"
#: A categorical attribute keeps its most frequent values up to this many rows; the rest become "(other)".
MAX_VALUES = 200
#: Tree inputs per list attribute (the most frequent items with enough support).
MAX_TREE_ITEMS = 30
#: Information value above which an attribute is flagged as possibly leaking the outcome.
SUSPICIOUS_IV = 0.5

ATTRIBUTE_COLUMNS = [
    "attribute", "kind", "value", "low", "high", "support", "won", "win_rate", "ci_low", "ci_high", "lift",
    "mean_acv", "median_cycle_days", "mean_ltv", "woe", "iv", "p_value", "p_adjusted", "significant",
]
SUMMARY_COLUMNS = ["attribute", "kind", "information_value", "values", "significant_values", "best_value",
                   "best_lift", "significant"]
VALIDATED_COLUMNS = ["rank", "attribute", "kind", "information_value", "significant_values", "best_value",
                     "support", "win_rate", "ci_low", "ci_high", "lift", "p_adjusted", "evidence"]
BEST_CUSTOMER_COLUMNS = ["attribute", "kind", "value", "support", "top_count", "share_top", "share_all",
                         "over_index", "p_value", "p_adjusted", "significant"]


@dataclass
class _Prepared:
    """One attribute, encoded: a value code per record (or per record/item pair for lists)."""

    name: str
    kind: str
    labels: list[str]
    codes: np.ndarray
    rows: np.ndarray | None = None  # list kind: the record of each (record, item) pair
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    lows: np.ndarray | None = None  # numeric kind: lower bin edges
    raw: np.ndarray | None = None  # numeric kind: the values


class ICPDiscovery:
    """Find the attribute values that go with winning, with honest statistics.

    Parameters
    ----------
    min_support : int, default 30
        Fewest records a value needs before it can be called significant.
    n_bins : int, default 5
        Quantile bins per numeric attribute (duplicate edges merged; one bin per
        value when there are at most ``n_bins`` distinct values).
    alpha : float, default 0.05
        Significance level after correction.
    correction : {"holm", "bonferroni", "fdr_bh", "none"}, default "holm"
        Multiple-comparison correction over every value test of every attribute.
    top_share : float, default 0.10
        Share of won records, by ``ltv`` (else ``amount``), that are the "best customers".
    max_depth : int, default 3
        Depth of the micro-segment tree.
    min_segment_support : int, optional
        Smallest micro-segment; default ``max(min_support, 2% of records)``.
    n_segments : int, default 10
        Most micro-segments kept.
    max_attributes : int, default 10
        Most validated attributes (never padded with non-significant ones).
    random_state : int or None, default 0
        Seed of the micro-segment discovery/holdout split.

    Attributes
    ----------
    overall_ : dict
        ``records``, ``won``, ``win_rate`` (+ ``ci_low``, ``ci_high``), ``mean_acv`` (mean amount of won
        records), ``median_cycle_days`` (won records), ``mean_ltv`` (won records); ``None`` when the column
        is absent.
    kinds_ : dict
        Attribute -> kind used.
    attributes_ : DataFrame
        One row per attribute value (columns :data:`ATTRIBUTE_COLUMNS`). ``mean_acv``,
        ``median_cycle_days`` and ``mean_ltv`` are over the value's won records. ``woe``
        is ``ln(share of wins / share of losses)``; for a list item it is taken from the
        has-item / lacks-item split.
    attribute_summary_ : DataFrame
        One row per attribute, sorted by information value (:data:`SUMMARY_COLUMNS`).
    validated_ : DataFrame
        The best significant attributes by information value (:data:`VALIDATED_COLUMNS`).
    best_customers_ : DataFrame
        Over-index of attribute values among the top ``top_share`` won records vs all won
        records (:data:`BEST_CUSTOMER_COLUMNS`).
    best_customers_basis_ : {"ltv", "amount"} or None
    bin_edges_ : dict
        Numeric attribute -> lower bin edges.
    segments_ : list of Segment
        Micro-segments with lift > 1, ranked by expected value.
    has_signal_ : bool
        Whether any attribute value is significant.
    n_comparisons_ : int
        Number of value tests the correction ran over.
    notes_ : list of str
        Caveats, in plain words.
    """

    def __init__(self, min_support: int = 30, n_bins: int = 5, alpha: float = 0.05, correction: str = "holm",
                 top_share: float = 0.10, max_depth: int = 3, min_segment_support: int | None = None,
                 n_segments: int = 10, max_attributes: int = 10, random_state: int | None = 0):
        self.min_support = min_support
        self.n_bins = n_bins
        self.alpha = alpha
        self.correction = correction
        self.top_share = top_share
        self.max_depth = max_depth
        self.min_segment_support = min_segment_support
        self.n_segments = n_segments
        self.max_attributes = max_attributes
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> ICPDiscovery:
        """Analyse an outcome frame.

        Parameters
        ----------
        frame : DataFrame
            One row per closed deal: ``won`` (bool) plus optional ``amount``, ``cycle_days``,
            ``ltv``, ``time``; every other column is an attribute.
        kinds : dict, optional
            Attribute -> ``"categorical"``, ``"numeric"`` or ``"list"``; inferred for
            attributes not listed.

        Returns
        -------
        self
        """
        self._validate_params()
        self.notes_: list[str] = []
        won, extras = self._outcomes(frame)
        self.kinds_ = self._kinds(frame, kinds)
        n, n_won = won.size, int(won.sum())
        lo, hi = wilson_interval([n_won], [n], self.alpha)
        self.overall_ = {
            "records": n, "won": n_won, "win_rate": n_won / n, "ci_low": float(lo[0]), "ci_high": float(hi[0]),
            "mean_acv": _mean_or_none(extras.get("amount"), won),
            "median_cycle_days": _median_or_none(extras.get("cycle_days"), won),
            "mean_ltv": _mean_or_none(extras.get("ltv"), won),
        }
        prepared = [self._prepare(name, kind, frame[name]) for name, kind in self.kinds_.items()]
        self.bin_edges_ = {p.name: p.lows.tolist() for p in prepared if p.kind == "numeric"}
        self.attributes_ = self._attribute_table(prepared, won, extras)
        self.n_comparisons_ = len(self.attributes_)
        self.has_signal_ = bool(self.attributes_["significant"].any())
        self.attribute_summary_ = self._summary()
        self.validated_ = self._validated()
        self._best_customers(prepared, won, extras)
        self._segments(prepared, won, extras.get("amount"))
        self._signal_notes()
        return self

    def _validate_params(self) -> None:
        def bad(name: str, need: str) -> ValueError:
            return ValueError(f"The '{name}' parameter of ICPDiscovery must be {need}; got {getattr(self, name)!r}.")

        def is_int(v: Any) -> bool:
            return isinstance(v, Integral) and not isinstance(v, bool)

        for name, low in (("min_support", 1), ("n_bins", 2), ("max_depth", 1), ("n_segments", 1),
                          ("max_attributes", 1)):
            if not is_int(getattr(self, name)) or getattr(self, name) < low:
                raise bad(name, f"an int >= {low}")
        for name in ("alpha", "top_share"):
            v = getattr(self, name)
            if not isinstance(v, Real) or isinstance(v, bool) or not 0 < v < 1:
                raise bad(name, "a float in (0, 1)")
        if self.correction not in CORRECTIONS:
            raise bad("correction", "one of " + ", ".join(repr(c) for c in CORRECTIONS))
        if self.min_segment_support is not None and (not is_int(self.min_segment_support)
                                                     or self.min_segment_support < 1):
            raise bad("min_segment_support", "None or an int >= 1")
        if self.random_state is not None and not is_int(self.random_state):
            raise bad("random_state", "None or an int")

    def _outcomes(self, frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"ICPDiscovery.fit needs a pandas DataFrame; got {type(frame).__name__}.")
        if "won" not in frame.columns:
            raise DataError("The outcome frame needs a 'won' column (True for won deals, False for lost).")
        if len(frame) == 0:
            raise DataError("The outcome frame has no rows: ICP discovery needs closed (won and lost) deals.")
        col = frame["won"]
        if col.isna().any():
            raise DataError(f"'won' is missing in {int(col.isna().sum()):,} rows; every closed deal needs an outcome.")
        if pd.api.types.is_bool_dtype(col):
            won = col.to_numpy(dtype=bool)
        elif pd.api.types.is_numeric_dtype(col) and set(np.unique(col.to_numpy())) <= {0, 1}:
            won = col.to_numpy() == 1
        else:
            raise DataError("'won' must be boolean (or 0/1); got values such as "
                            f"{', '.join(map(repr, col.drop_duplicates().head(3).tolist()))}.")
        n_won = int(won.sum())
        if n_won == 0 or n_won == won.size:
            raise DataError(f"Every one of the {won.size:,} deals is {'won' if n_won else 'lost'}: ICP discovery "
                            "needs both won and lost deals to compare.")
        if won.size < self.min_support:
            raise DataError(f"ICP discovery needs at least min_support={self.min_support} closed deals; "
                            f"got {won.size:,}.")
        extras: dict[str, np.ndarray] = {}
        for name in ("amount", "cycle_days", "ltv"):
            if name in frame.columns:
                if not pd.api.types.is_numeric_dtype(frame[name]):
                    raise DataError(f"'{name}' must be numeric; got dtype {frame[name].dtype}.")
                extras[name] = frame[name].to_numpy(dtype=float, na_value=np.nan)
        return won, extras

    def _kinds(self, frame: pd.DataFrame, kinds: Mapping[str, str] | None) -> dict[str, str]:
        kinds = dict(kinds or {})
        for name, kind in kinds.items():
            if name not in frame.columns:
                raise DataError(f"kinds names the column '{name}', which is not in the outcome frame.")
            if name in OUTCOME_COLUMNS:
                raise DataError(f"'{name}' is an outcome column, not an attribute; remove it from kinds.")
            if kind not in KINDS:
                raise DataError(f"kinds['{name}'] must be one of {', '.join(KINDS)}; got {kind!r}.")
        out: dict[str, str] = {}
        for name in frame.columns:
            if name in OUTCOME_COLUMNS:
                continue
            if not isinstance(name, str):
                raise DataError(f"Attribute column names must be text; got {name!r}.")
            kind = kinds.get(name) or _infer_kind(frame[name])
            if kind is None:
                self.notes_.append(f"'{name}' holds dates; it is not analysed as an attribute.")
                continue
            out[name] = kind
        if not out:
            raise DataError("The outcome frame has no attribute columns besides "
                            f"{', '.join(c for c in OUTCOME_COLUMNS if c in frame.columns)}.")
        return out

    # ------------------------------------------------------------------ encoding
    def _prepare(self, name: str, kind: str, col: pd.Series) -> _Prepared:
        if kind == "numeric":
            return self._prepare_numeric(name, col)
        if kind == "list":
            return self._prepare_list(name, col)
        return self._prepare_categorical(name, col)

    def _prepare_categorical(self, name: str, col: pd.Series) -> _Prepared:
        text = _as_labels(col)
        codes, uniques = pd.factorize(text)
        counts = np.bincount(codes, minlength=len(uniques))
        order = sorted(range(len(uniques)), key=lambda i: (uniques[i] == MISSING, -counts[i], uniques[i]))
        labels = [str(uniques[i]) for i in order]
        remap = np.empty(len(uniques), dtype=np.int64)
        remap[order] = np.arange(len(order))
        codes = remap[codes]
        if len(labels) > MAX_VALUES:
            keep = [i for i, lab in enumerate(labels) if lab != MISSING][: MAX_VALUES - 1]
            new = np.full(len(labels), len(keep), dtype=np.int64)
            new[keep] = np.arange(len(keep))
            kept_labels = [labels[i] for i in keep] + [OTHER]
            if MISSING in labels:
                new[labels.index(MISSING)] = len(kept_labels)
                kept_labels.append(MISSING)
            self.notes_.append(f"'{name}' has {len(labels):,} distinct values; the {len(keep)} most frequent are "
                               f"analysed and the rest grouped as {OTHER}.")
            labels, codes = kept_labels, new[codes]
        nan = np.full(len(labels), np.nan)
        return _Prepared(name, "categorical", labels, codes, low=nan, high=nan)

    def _prepare_numeric(self, name: str, col: pd.Series) -> _Prepared:
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            converted = pd.to_numeric(col, errors="coerce")
            if (converted.isna() & col.notna()).any():
                raise DataError(f"'{name}' is declared numeric but holds non-numeric values such as "
                                f"{col[converted.isna() & col.notna()].iloc[0]!r}.")
            col = converted
        values = col.to_numpy(dtype=float, na_value=np.nan)
        lows = quantile_lows(values, self.n_bins)
        codes = assign_bins(values, lows)
        k = len(lows)
        ok = codes >= 0
        low = np.full(k, np.inf)
        high = np.full(k, -np.inf)
        np.minimum.at(low, codes[ok], values[ok])
        np.maximum.at(high, codes[ok], values[ok])
        labels = [range_label(a, b) for a, b in zip(low, high, strict=True)]
        if (~ok).any():
            codes = np.where(ok, codes, k)
            labels.append(MISSING)
            low, high = np.append(low, np.nan), np.append(high, np.nan)
        return _Prepared(name, "numeric", labels, codes, low=low, high=high, lows=lows, raw=values)

    def _prepare_list(self, name: str, col: pd.Series) -> _Prepared:
        cells = pd.Series(col.to_numpy(dtype=object), dtype=object)
        odd = {t for t in set(map(type, cells)) if not issubclass(t, list | tuple | set | frozenset | np.ndarray)}
        if odd:
            bad = cells.map(lambda v: not (v is None or _is_listlike(v) or (isinstance(v, float) and math.isnan(v))))
            if bad.any():
                raise DataError(f"'{name}' is a list attribute but holds a non-list value such as "
                                f"{cells[bad].iloc[0]!r}; cells must be lists of strings or missing.")
        exploded = cells.explode().dropna()
        items = exploded.astype(str).str.strip()
        items = items[items != ""]
        codes, uniques = pd.factorize(items.to_numpy())
        rows = items.index.to_numpy(dtype=np.int64)
        if len(uniques):
            pair = pd.unique(rows * len(uniques) + codes)  # one count per record and item
            rows, codes = pair // len(uniques), pair % len(uniques)
        counts = np.bincount(codes, minlength=len(uniques))
        order = sorted(range(len(uniques)), key=lambda i: (-counts[i], str(uniques[i])))
        if len(order) > MAX_VALUES:
            self.notes_.append(f"'{name}' has {len(order):,} distinct items; the {MAX_VALUES} most frequent are "
                               "analysed.")
            order = order[:MAX_VALUES]
        remap = np.full(len(uniques), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        codes = remap[codes]
        keep = codes >= 0
        labels = [str(uniques[i]) for i in order]
        nan = np.full(len(labels), np.nan)
        return _Prepared(name, "list", labels, codes[keep], rows=rows[keep], low=nan, high=nan)

    # ------------------------------------------------------------------ value statistics
    def _attribute_table(self, prepared: list[_Prepared], won: np.ndarray,
                         extras: dict[str, np.ndarray]) -> pd.DataFrame:
        n, n_won = won.size, int(won.sum())
        frames = []
        for p in prepared:
            k = len(p.labels)
            rows = np.arange(n) if p.rows is None else p.rows
            w = won[rows]
            support = np.bincount(p.codes, minlength=k).astype(np.int64)
            wins = np.bincount(p.codes, weights=w, minlength=k).astype(np.int64)
            lost = support - wins
            if p.kind == "list":
                woe = np.empty(k)
                iv = np.empty(k)
                for i in range(k):  # each item against the records without it
                    wo, contrib = weight_of_evidence(np.array([wins[i], n_won - wins[i]]),
                                                     np.array([lost[i], (n - n_won) - lost[i]]))
                    woe[i], iv[i] = wo[0], contrib.sum()
            else:
                woe, iv = weight_of_evidence(wins, lost)
            rate = wins / np.maximum(support, 1)
            lo, hi = wilson_interval(wins, support, self.alpha)
            p_values = [two_by_two_p_value(int(wins[i]), int(lost[i]), int(n_won - wins[i]),
                                           int((n - n_won) - lost[i])) for i in range(k)]
            frames.append(pd.DataFrame({
                "attribute": p.name, "kind": p.kind, "value": p.labels, "low": p.low, "high": p.high,
                "support": support, "won": wins, "win_rate": rate, "ci_low": lo, "ci_high": hi,
                "lift": rate / (n_won / n),
                "mean_acv": _group_mean(extras.get("amount"), rows, p.codes, w, k),
                "median_cycle_days": _group_median(extras.get("cycle_days"), rows, p.codes, w, k),
                "mean_ltv": _group_mean(extras.get("ltv"), rows, p.codes, w, k),
                "woe": woe, "iv": iv, "p_value": p_values,
            }))
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ATTRIBUTE_COLUMNS)
        table["p_adjusted"] = adjust_p_values(table["p_value"].to_numpy(dtype=float), self.correction)
        table["significant"] = (table["p_adjusted"] < self.alpha) & (table["support"] >= self.min_support)
        return table[ATTRIBUTE_COLUMNS]

    def _summary(self) -> pd.DataFrame:
        rows = []
        for name, kind in self.kinds_.items():
            part = self.attributes_[self.attributes_["attribute"] == name]
            sig = part[part["significant"]]
            best = _best_row(part, sig, self.min_support)
            # A list's items are overlapping has/lacks splits: their IVs do not add up (60 random items
            # would sum to a "strong" 0.37), so the attribute's IV is its most informative item's.
            info = float(part["iv"].max()) if kind == "list" and len(part) else float(part["iv"].sum())
            rows.append({
                "attribute": name, "kind": kind, "information_value": info, "values": len(part),
                "significant_values": len(sig), "best_value": None if best is None else best["value"],
                "best_lift": math.nan if best is None else float(best["lift"]), "significant": len(sig) > 0,
            })
        out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        out = out.sort_values(["information_value", "attribute"], ascending=[False, True], kind="stable")
        return out.reset_index(drop=True)

    def _validated(self) -> pd.DataFrame:
        rows = []
        overall = self.overall_["win_rate"]
        for _, s in self.attribute_summary_[self.attribute_summary_["significant"]].iterrows():
            part = self.attributes_[self.attributes_["attribute"] == s["attribute"]]
            best = _best_row(part, part[part["significant"]], self.min_support)
            evidence = (f"{best['value']}: win rate {best['win_rate']:.1%} (95% CI {best['ci_low']:.1%}–"
                        f"{best['ci_high']:.1%}) vs {overall:.1%} overall, lift {best['lift']:.2f}, "
                        f"{int(best['support']):,} records")
            rows.append({
                "rank": len(rows) + 1, "attribute": s["attribute"], "kind": s["kind"],
                "information_value": s["information_value"], "significant_values": s["significant_values"],
                "best_value": best["value"], "support": int(best["support"]), "win_rate": best["win_rate"],
                "ci_low": best["ci_low"], "ci_high": best["ci_high"], "lift": best["lift"],
                "p_adjusted": best["p_adjusted"], "evidence": evidence,
            })
            if len(rows) == self.max_attributes:
                break
        return pd.DataFrame(rows, columns=VALIDATED_COLUMNS)

    # ------------------------------------------------------------------ best customers
    def _best_customers(self, prepared: list[_Prepared], won: np.ndarray, extras: dict[str, np.ndarray]) -> None:
        self.best_customers_ = pd.DataFrame(columns=BEST_CUSTOMER_COLUMNS)
        basis = next((b for b in ("ltv", "amount") if b in extras and not np.isnan(extras[b][won]).all()), None)
        self.best_customers_basis_ = basis
        if basis is None:
            self.notes_.append("Best customers are not analysed: the frame has neither 'ltv' nor 'amount' for "
                               "won deals.")
            return
        value = extras[basis]
        eligible = won & ~np.isnan(value)
        idx = np.flatnonzero(eligible)
        n_all = idx.size
        n_top = math.ceil(self.top_share * n_all)
        if n_top < 1 or n_all - n_top < 1:
            self.notes_.append(f"Best customers are not analysed: only {n_all} won deals have '{basis}'.")
            return
        top = np.zeros(won.size, dtype=bool)
        top[idx[np.argsort(-value[idx], kind="stable")[:n_top]]] = True
        frames = []
        for p in prepared:
            k = len(p.labels)
            rows = np.arange(won.size) if p.rows is None else p.rows
            in_all = eligible[rows]
            all_count = np.bincount(p.codes[in_all], minlength=k)
            top_count = np.bincount(p.codes[in_all & top[rows]], minlength=k)
            present = all_count > 0
            n_rest = n_all - n_top
            p_values = [two_by_two_p_value(int(t), int(n_top - t), int(a - t), int(n_rest - (a - t)))
                        for t, a in zip(top_count[present], all_count[present], strict=True)]
            share_top, share_all = top_count[present] / n_top, all_count[present] / n_all
            frames.append(pd.DataFrame({
                "attribute": p.name, "kind": p.kind, "value": np.array(p.labels, dtype=object)[present],
                "support": all_count[present], "top_count": top_count[present], "share_top": share_top,
                "share_all": share_all, "over_index": share_top / share_all, "p_value": p_values,
            }))
        table = pd.concat(frames, ignore_index=True)
        table["p_adjusted"] = adjust_p_values(table["p_value"].to_numpy(dtype=float), self.correction)
        table["significant"] = (table["p_adjusted"] < self.alpha) & (table["support"] >= self.min_support)
        self.best_customers_ = table[BEST_CUSTOMER_COLUMNS]

    # ------------------------------------------------------------------ segments
    def _segments(self, prepared: list[_Prepared], won: np.ndarray, amount: np.ndarray | None) -> None:
        n = won.size
        min_leaf = self.min_segment_support or max(self.min_support, math.ceil(0.02 * n))
        inputs: list[SegmentInput] = []
        for p in prepared:
            if p.kind == "categorical":
                inputs.append(SegmentInput(p.name, "categorical", p.codes, labels=tuple(p.labels)))
            elif p.kind == "numeric":
                inputs.append(SegmentInput(p.name, "numeric", p.raw))
            else:
                counts = np.bincount(p.codes, minlength=len(p.labels))
                for code in [c for c in range(len(p.labels)) if counts[c] >= min_leaf][:MAX_TREE_ITEMS]:
                    present = np.zeros(n)
                    present[p.rows[p.codes == code]] = 1.0
                    inputs.append(SegmentInput(p.name, "list", present, item=p.labels[code]))
        self.segments_: list[Segment]
        self.segments_, notes = find_segments(inputs, won, amount, max_depth=self.max_depth, min_leaf=min_leaf,
                                              n_segments=self.n_segments, alpha=self.alpha,
                                              correction=self.correction, random_state=self.random_state)
        self.notes_.extend(notes)

    def _signal_notes(self) -> None:
        m = self.n_comparisons_
        label = "Holm correction" if self.correction == "holm" else f"{self.correction} correction"
        if not self.has_signal_:
            self.notes_.insert(0, f"No attribute is significant after {label} over {m:,} comparisons: the data "
                                  "does not support a data-derived ICP.")
            return
        sig = self.attributes_[self.attributes_["significant"]]
        self.notes_.insert(0, f"{len(sig):,} values of {sig['attribute'].nunique():,} attributes are significant "
                              f"after {label} over {m:,} comparisons.")
        for _, row in self.attribute_summary_.iterrows():
            if row["information_value"] > SUSPICIOUS_IV:
                self.notes_.append(f"'{row['attribute']}' is suspiciously predictive (information value "
                                   f"{row['information_value']:.2f} > {SUSPICIOUS_IV}): check that it is known "
                                   "before the outcome and not filled in during or after the sale (leakage).")
        self.notes_.append("Win rates describe past deals: they show association, not cause, and reflect where "
                           "the team chose to sell.")

    # ------------------------------------------------------------------ outputs
    def suggest_fit(self, total_points: float = 40) -> dict[str, Any]:
        """A ``fit:`` spec section with data-derived points from the validated attributes.

        Only significant values with lift > 1 earn points: categorical attributes
        become ``values:``, numeric ones ``bands:`` (one band per such bin, from its
        lower edge to the next bin's; the first and last bands are open-ended), list
        ones ``share_of:`` (points times the share of the listed items present).
        Missing and "(other)" never earn points. Points are proportional to the
        weight of evidence and scaled so the maximum total is ``total_points``;
        ``weight`` is ``total_points`` too.

        Parameters
        ----------
        total_points : float, default 40
            Maximum total points (and the section's weight), in (0, 100].

        Returns
        -------
        dict
            ``{"weight": ..., "criteria": [...]}``; validates under :class:`tierwise.spec.model.FitSpec`.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(1)
        >>> emp = rng.integers(10, 10_000, 4000).astype(float)
        >>> frame = pd.DataFrame({"won": rng.random(4000) < np.where(emp > 5000, 0.5, 0.2), "employees": emp})
        >>> fit = ICPDiscovery(n_bins=4).fit(frame).suggest_fit(total_points=40)
        >>> crit = fit["criteria"][0]
        >>> crit["name"], crit["field"], [(b.get("min"), b.get("max"), b["points"]) for b in crit["bands"]]
        ('employees', 'employees', [(5018.0, 7582.0, 36.07), (7582.0, None, 40.0)])
        """
        _check_fitted(self)
        if not isinstance(total_points, Real) or isinstance(total_points, bool) or not 0 < total_points <= 100:
            raise ValueError(f"The 'total_points' parameter of suggest_fit must be a number in (0, 100]; "
                             f"got {total_points!r}.")
        raw: list[tuple[str, str, dict[str, Any], float]] = []  # name, field, criterion body, raw max
        names: set[str] = set()
        for _, v in self.validated_.iterrows():
            part = self.attributes_[self.attributes_["attribute"] == v["attribute"]]
            part = part[~part["value"].isin([MISSING, OTHER])]
            body, top = self._criterion(v["attribute"], v["kind"], part)
            if body is None or top <= 0:
                continue
            name = _criterion_name(v["attribute"], names)
            raw.append((name, v["attribute"], body, top))
        if not raw:
            note = ("suggest_fit: no significant attribute value raises the win rate, so no fit criteria are "
                    "suggested (a spec with fit weight above 0 needs at least one).")
            if note not in self.notes_:  # the reports call this too
                self.notes_.append(note)
            return {"weight": float(total_points), "criteria": []}
        scale = total_points / sum(top for *_, top in raw)
        criteria = []
        for name, field, body, _ in raw:
            crit: dict[str, Any] = {"name": name, "field": field}
            if "values" in body:
                crit["values"] = {k: round(p * scale, 2) for k, p in body["values"].items() if round(p * scale, 2) > 0}
            elif "bands" in body:
                crit["bands"] = [{**b, "points": round(b["points"] * scale, 2)} for b in body["bands"]]
            else:
                crit["share_of"] = body["share_of"]
                crit["points"] = round(body["points"] * scale, 2)
            criteria.append(crit)
        return {"weight": float(total_points), "criteria": criteria}

    def _criterion(self, attribute: str, kind: str, part: pd.DataFrame) -> tuple[dict[str, Any] | None, float]:
        good = part[(part["lift"] > 1) & (part["woe"] > 0) & part["significant"]]
        if good.empty:
            return None, 0.0
        if kind == "numeric":
            lows = self.bin_edges_[attribute]
            bands = []
            for _, row in good.iterrows():
                i = int(np.searchsorted(lows, row["low"], side="right") - 1)
                band = {"min": None if i == 0 else float(lows[i]),
                        "max": None if i == len(lows) - 1 else float(lows[i + 1])}
                if band["min"] is None and band["max"] is None:
                    continue
                bands.append({k: v for k, v in band.items() if v is not None} | {"points": float(row["woe"])})
            return ({"bands": bands}, max(b["points"] for b in bands)) if bands else (None, 0.0)
        if kind == "list":
            return {"share_of": good["value"].tolist(), "points": float(good["woe"].max())}, float(good["woe"].max())
        return {"values": dict(zip(good["value"], good["woe"].astype(float), strict=True))}, float(good["woe"].max())

    def segments_frame(self) -> pd.DataFrame:
        """The micro-segments as a DataFrame (one row per segment, conditions left out).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> frame = pd.DataFrame({"won": rng.random(500) < 0.3, "tier": rng.choice(["x", "y"], 500)})
        >>> list(ICPDiscovery().fit(frame).segments_frame().columns)[:3]
        ['rule', 'support', 'won']
        """
        _check_fitted(self)
        cols = [f for f in Segment.__dataclass_fields__ if f != "conditions"]
        return pd.DataFrame([{c: getattr(s, c) for c in cols} for s in self.segments_], columns=cols)


# ---------------------------------------------------------------------- helpers
def _check_fitted(model: ICPDiscovery) -> None:
    if not hasattr(model, "attributes_"):
        raise ValueError("This ICPDiscovery instance is not fitted yet; call fit(frame) first.")


def _is_listlike(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset | np.ndarray)


def _infer_kind(col: pd.Series) -> str | None:
    """categorical / numeric / list, or None for dates (not analysed)."""
    if pd.api.types.is_bool_dtype(col):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        return None
    if pd.api.types.is_numeric_dtype(col):
        return "numeric"
    first = col.dropna()
    if len(first) and _is_listlike(first.iloc[0]):
        return "list"
    return "categorical"


def _as_labels(col: pd.Series) -> np.ndarray:
    """Text label of every cell; integer-valued floats lose their ``.0``; missing -> "(missing)"."""
    missing = col.isna().to_numpy()
    if pd.api.types.is_float_dtype(col):
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        integral = ~missing & (vals == np.round(vals))
        text = np.where(integral, pd.Series(np.where(integral, vals, 0)).astype(np.int64).astype(str),
                        col.astype(str).to_numpy(dtype=object))
    else:
        text = col.astype(str).to_numpy(dtype=object)
    return np.where(missing, MISSING, text).astype(object)


def _group_mean(values: np.ndarray | None, rows: np.ndarray, codes: np.ndarray, won: np.ndarray,
                k: int) -> np.ndarray:
    """Mean of ``values`` over each code's won records (nan when none)."""
    if values is None:
        return np.full(k, np.nan)
    v = values[rows]
    ok = won & ~np.isnan(v)
    total = np.bincount(codes[ok], weights=v[ok], minlength=k)
    count = np.bincount(codes[ok], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _group_median(values: np.ndarray | None, rows: np.ndarray, codes: np.ndarray, won: np.ndarray,
                  k: int) -> np.ndarray:
    """Median of ``values`` over each code's won records (nan when none)."""
    if values is None:
        return np.full(k, np.nan)
    v = values[rows]
    ok = won & ~np.isnan(v)
    med = pd.Series(v[ok]).groupby(codes[ok]).median()
    return med.reindex(range(k)).to_numpy(dtype=float)


def _mean_or_none(values: np.ndarray | None, won: np.ndarray) -> float | None:
    if values is None:
        return None
    v = values[won]
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else None


def _median_or_none(values: np.ndarray | None, won: np.ndarray) -> float | None:
    if values is None:
        return None
    v = values[won]
    v = v[~np.isnan(v)]
    return float(np.median(v)) if v.size else None


def _best_row(part: pd.DataFrame, significant: pd.DataFrame, min_support: int) -> pd.Series | None:
    """The significant value with the highest lift above 1 (else the lowest lift); without significant
    values, the highest-lift value with enough support."""
    if not significant.empty:
        up = significant[significant["lift"] > 1]
        pool, best_high = (up, True) if not up.empty else (significant, False)
    else:
        pool, best_high = part[part["support"] >= min_support], True
        if pool.empty:
            return None
    ordered = pool.sort_values(["lift", "support", "value"], ascending=[not best_high, False, True], kind="stable")
    return ordered.iloc[0]


def _criterion_name(attribute: str, taken: set[str]) -> str:
    """lower_snake_case criterion name from an attribute, unique among ``taken``.

    Examples
    --------
    >>> _criterion_name("Revenue From Client (Past 2 Years)", set()), _criterion_name("2nd tier", set())
    ('revenue_from_client_past_2_years', 'f_2nd_tier')
    """
    base = re.sub(r"[^a-z0-9]+", "_", attribute.lower()).strip("_") or "attribute"
    if not base[0].isalpha():
        base = f"f_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name
