"""Lookalikes: how much an account resembles the best customers, and why.

For every attribute value (a category, a quantile bin of a number, the
presence or absence of a list item) the model learns how over- or
under-represented it is among the best customers compared with all accounts:
the log of the ratio of the two shares, shrunk towards zero when the best
customers are few (an m-estimate). An account's similarity is the sum over
its attributes — the naive-Bayes log odds of "looks like a best customer" —
rescaled to 0-100 between the least and the most similar profile the model
can express. The largest terms are the reasons ("industry = software: 2.9x as
common among best customers").

Examples
--------
>>> import pandas as pd
>>> accounts = pd.DataFrame({"industry": ["software"] * 6 + ["retail"] * 14,
...                          "employees": list(range(100, 2100, 100))})
>>> best = accounts.index < 5  # five software companies
>>> model = LookalikeModel(n_bins=2, prior_weight=1.0).fit(accounts, best)
>>> scores = model.score(accounts)
>>> bool(scores[5] > scores[10])   # the sixth software company looks more alike than a retailer
True
>>> model.explain(accounts.iloc[[5]])[0][0]
'industry = software: 2.9x as common among best customers'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tierwise.errors import DataError
from tierwise.models.frame import explode_list, infer_kinds
from tierwise.models.stats import format_number

MISSING = "(missing)"
OTHER = "(other)"


@dataclass(frozen=True)
class Term:
    """One attribute level and its log share ratio (best customers vs all)."""

    attribute: str
    level: str
    log_ratio: float
    share_best: float
    share_all: float


def _check_param(name: str, value: float, low: float, high: float | None = None, *, kind: str = "a float") -> None:
    ok = value > low if high is None else low < value <= high
    if not ok:
        bound = f"> {low:g}" if high is None else f"in ({low:g}, {high:g}]"
        raise ValueError(f"The '{name}' parameter of LookalikeModel must be {kind} {bound}; got {value!r}.")


class LookalikeModel:
    """Similarity to a set of best customers, with the attributes that make it.

    Parameters
    ----------
    n_bins : int, default 5
        Quantile bins for numeric attributes.
    prior_weight : float, default 10
        Pseudo-count pulling the best customers' shares towards the population's
        (an m-estimate): with few best customers, differences count less.
    min_share : float, default 0.005
        Categories rarer than this share of accounts are pooled as ``(other)``.
    """

    def __init__(self, n_bins: int = 5, prior_weight: float = 10.0, min_share: float = 0.005):
        self.n_bins = n_bins
        self.prior_weight = prior_weight
        self.min_share = min_share

    def fit(self, frame: pd.DataFrame, best: np.ndarray | pd.Series, kinds: Mapping[str, str] | None = None
            ) -> LookalikeModel:
        """Learn level shares on ``frame`` (all accounts) and its ``best`` rows (a boolean mask)."""
        if not (isinstance(self.n_bins, int) and self.n_bins >= 2):
            raise ValueError(f"The 'n_bins' parameter of LookalikeModel must be an int >= 2; got {self.n_bins!r}.")
        _check_param("prior_weight", self.prior_weight, 0.0)
        _check_param("min_share", self.min_share, 0.0, 1.0)
        best = np.asarray(best, dtype=bool)
        if len(best) != len(frame):
            raise ValueError(f"best has {len(best)} entries for {len(frame)} rows")
        if best.sum() == 0:
            raise DataError("no best customers to compare with: lookalikes need accounts with won deals or revenue")
        self.kinds_ = dict(kinds) if kinds is not None else infer_kinds(frame)
        self.n_best_, self.n_all_ = int(best.sum()), len(frame)
        self.edges_: dict[str, np.ndarray] = {}
        self.levels_: dict[str, list[str]] = {}
        self.terms_: dict[str, dict[str, Term]] = {}
        for col, kind in self.kinds_.items():
            if kind == "list":
                self._fit_list(col, frame[col], best)
            else:
                if kind == "numeric":
                    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
                    edges = np.unique(np.nanquantile(values, np.linspace(0, 1, self.n_bins + 1)[1:-1]))
                    self.edges_[col] = edges if np.isfinite(edges).all() else np.array([])
                else:
                    counts = frame[col].astype("object").where(frame[col].notna(), MISSING).astype(str).value_counts()
                    self.levels_[col] = sorted(counts[counts >= self.min_share * len(frame)].index)
                levels = self._levels(col, frame[col])
                self.terms_[col] = self._terms(col, levels, best)
        self.low_, self.high_ = self._range()
        return self

    # -- learning ------------------------------------------------------------------
    def _ratio(self, n_best: float, n_all: float) -> tuple[float, float, float]:
        share_all = n_all / self.n_all_
        share_best = (n_best + self.prior_weight * share_all) / (self.n_best_ + self.prior_weight)
        return float(np.log(share_best / share_all)), share_best, share_all

    def _terms(self, col: str, levels: pd.Series, best: np.ndarray) -> dict[str, Term]:
        all_counts = levels.value_counts()
        best_counts = levels[best].value_counts()
        out = {}
        for level, n_all in all_counts.items():
            lr, sb, sa = self._ratio(float(best_counts.get(level, 0)), float(n_all))
            out[str(level)] = Term(col, str(level), lr, sb, sa)
        return out

    def _fit_list(self, col: str, series: pd.Series, best: np.ndarray) -> None:
        pairs = explode_list(series).drop_duplicates()
        n_all = pairs["item"].value_counts()
        n_all = n_all[n_all >= self.min_share * self.n_all_]
        n_best = pairs[best[pairs["row"].to_numpy()]]["item"].value_counts()
        terms = {}
        for item, count in n_all.items():
            nb = float(n_best.get(item, 0))
            terms[f"has {item}"] = Term(col, f"has {item}", *self._ratio(nb, float(count)))
            terms[f"lacks {item}"] = Term(col, f"lacks {item}", *self._ratio(self.n_best_ - nb, self.n_all_ - count))
        self.levels_[col] = sorted(n_all.index)
        self.terms_[col] = terms

    def _levels(self, col: str, series: pd.Series) -> pd.Series:
        """Each row's level of a categorical or numeric attribute, as text."""
        if self.kinds_[col] == "numeric":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
            edges = self.edges_[col]
            idx = np.searchsorted(edges, values, side="right")
            labels = np.array([_bin_label(edges, i) for i in range(len(edges) + 1)], dtype=object)
            out = labels[np.minimum(idx, len(edges))]
            out[np.isnan(values)] = MISSING
            return pd.Series(out, index=series.index, dtype="object")
        text = series.astype("object").where(series.notna(), MISSING).astype(str)
        return text.where(text.isin(self.levels_[col]), OTHER)

    def _range(self) -> tuple[float, float]:
        low = high = 0.0
        for col, terms in self.terms_.items():
            if self.kinds_[col] == "list":
                for item in self.levels_[col]:
                    pair = (terms[f"has {item}"].log_ratio, terms[f"lacks {item}"].log_ratio)
                    low, high = low + min(pair), high + max(pair)
            elif terms:
                values = [t.log_ratio for t in terms.values()]
                low, high = low + min(min(values), 0.0), high + max(max(values), 0.0)
        return low, high

    # -- scoring ---------------------------------------------------------------------
    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row and attribute: the log share ratio the row's level contributes."""
        out = {}
        for col, terms in self.terms_.items():
            if self.kinds_[col] == "list":
                pairs = explode_list(frame[col].reset_index(drop=True)).drop_duplicates()
                total = np.zeros(len(frame))
                for item in self.levels_[col]:
                    has = np.zeros(len(frame), dtype=bool)
                    has[pairs.loc[pairs["item"] == item, "row"].to_numpy()] = True
                    total += np.where(has, terms[f"has {item}"].log_ratio, terms[f"lacks {item}"].log_ratio)
                out[col] = total
            else:
                ratios = {level: t.log_ratio for level, t in terms.items()}
                out[col] = self._levels(col, frame[col]).map(ratios).fillna(0.0).to_numpy(dtype="float64")
        return pd.DataFrame(out, index=frame.index)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Similarity 0-100 (1 decimal) between the least and most best-customer-like profiles."""
        total = self.contributions(frame).sum(axis=1).to_numpy()
        span = self.high_ - self.low_
        scaled = 100 * (total - self.low_) / span if span > 0 else np.zeros(len(frame))
        return np.round(np.clip(scaled, 0, 100), 1)

    def explain(self, frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
        """Per row, up to ``top`` attributes that make it similar, in plain words (largest first)."""
        reasons: list[list[str]] = []
        words = {}
        for col in self.terms_:
            if self.kinds_[col] != "list":
                words[col] = self._levels(col, frame[col]).to_numpy()
        lists = {col: frame[col].to_numpy() for col in self.terms_ if self.kinds_[col] == "list"}
        for i in range(len(frame)):
            found: list[tuple[float, str]] = []
            for col, terms in self.terms_.items():
                if self.kinds_[col] == "list":
                    cell = lists[col][i]
                    present = set(cell) if isinstance(cell, list | tuple | np.ndarray) else set()
                    for item in self.levels_[col]:
                        if item in present:
                            found.append(_reason(terms[f"has {item}"], f"{col} has {item}"))
                else:
                    term = terms.get(words[col][i])
                    if term is not None:
                        shown = f"{col} {term.level}" if self.kinds_[col] == "numeric" else f"{col} = {term.level}"
                        found.append(_reason(term, shown))
            found = sorted((f for f in found if f[0] > 0), key=lambda f: (-f[0], f[1]))
            reasons.append([text for _, text in found[:top]])
        return reasons

    def profile(self) -> pd.DataFrame:
        """Every learned level: attribute, level, share among best customers and all, ratio."""
        rows = [
            {"attribute": t.attribute, "level": t.level, "share_best": round(t.share_best, 4),
             "share_all": round(t.share_all, 4), "ratio": round(float(np.exp(t.log_ratio)), 3)}
            for terms in self.terms_.values() for t in terms.values()
        ]
        return pd.DataFrame(rows).sort_values(["ratio", "attribute", "level"], ascending=[False, True, True],
                                              ignore_index=True)


def _reason(term: Term, label: str) -> tuple[float, str]:
    return term.log_ratio, f"{label}: {np.exp(term.log_ratio):.1f}x as common among best customers"


def _bin_label(edges: np.ndarray, i: int) -> str:
    """``< 162``, ``162 to < 1,000``, ``>= 1,000`` (the bins' own bounds, readable)."""
    if len(edges) == 0:
        return "any"
    if i == 0:
        return f"< {format_number(edges[0])}"
    if i == len(edges):
        return f">= {format_number(edges[-1])}"
    return f"{format_number(edges[i - 1])} to < {format_number(edges[i])}"
