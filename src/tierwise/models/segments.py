"""Micro-segments: readable rules found by a shallow decision tree.

A scikit-learn :class:`~sklearn.tree.DecisionTreeClassifier` is grown on one
random half of the records (the *discovery* half). Categorical attributes enter
as target-ordered codes (values ranked by their win rate in the discovery half),
so every split reads as ``attribute in {…}``; numeric attributes enter raw
(missing values are routed by the tree itself); list items enter as 0/1
columns. Each leaf becomes a :class:`Segment` described on all records; its
significance is tested on the *other* half only, which the tree never saw, so
the test is not flattered by the search (Holm-corrected over the leaves kept).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> industry = rng.integers(0, 3, 2000)  # codes of "retail", "software", "fintech"
>>> won = rng.random(2000) < np.where(industry == 1, 0.6, 0.2)
>>> segs, notes = find_segments(
...     [SegmentInput("industry", "categorical", industry, labels=("retail", "software", "fintech"))],
...     won, None, max_depth=2, min_leaf=100, n_segments=5)
>>> segs[0].rule, segs[0].significant
('industry in {software}', True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from tierwise.models.stats import adjust_p_values, format_number, two_by_two_p_value, wilson_interval

#: At most this many values are spelled out in a rule's ``{…}`` set; the rest are counted.
SHOWN_VALUES = 8


@dataclass(frozen=True)
class SegmentInput:
    """One tree input column, prepared by the caller.

    Parameters
    ----------
    attribute : str
        Attribute (column) name used in rule text.
    kind : {"categorical", "numeric", "list"}
        ``categorical``: ``values`` are int codes into ``labels``; ``numeric``:
        float values (``nan`` = missing); ``list``: 0/1 presence of ``item``.
    values : ndarray
        One entry per record.
    labels : tuple of str
        Categorical only: the label of each code.
    item : str, optional
        List only: the item whose presence ``values`` holds.
    """

    attribute: str
    kind: str
    values: np.ndarray
    labels: tuple[str, ...] = ()
    item: str | None = None


@dataclass(frozen=True)
class Segment:
    """A micro-segment: a conjunction of conditions and its performance.

    ``conditions`` holds ``(attribute, op, operand)`` with ``op`` one of
    ``"in"`` / ``"not in"`` (operand: tuple of values), ``"range"`` /
    ``"range or missing"`` (operand: ``(low, high)``, meaning
    ``low < x <= high``, ``None`` for an open end), ``"has"`` / ``"lacks"``
    (operand: a list item). ``support`` counts all records in the segment;
    ``won``, ``win_rate``, the interval, ``lift``, ``expected_value``, ``p_value``
    and ``significant`` come from the half of the records the tree did not see
    (the tree picks leaves on its own half only, so these are unbiased).
    ``mean_acv`` is the mean amount of the segment's won records
    (``None`` without amounts); ``expected_value`` is ``win_rate * mean_acv``
    (or ``win_rate`` without amounts).
    """

    rule: str
    conditions: tuple[tuple[str, str, Any], ...]
    support: int
    won: int
    win_rate: float
    ci_low: float
    ci_high: float
    lift: float
    mean_acv: float | None
    expected_value: float
    holdout_support: int
    holdout_win_rate: float
    p_value: float
    p_adjusted: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (conditions as lists), e.g. for JSON.

        Examples
        --------
        >>> Segment("a in {x}", (("a", "in", ("x",)),), 10, 5, .5, .2, .8, 1.2, None, .5, 5, .6, .3, .3,
        ...         False).to_dict()["conditions"]
        [['a', 'in', ['x']]]
        """
        out = asdict(self)
        out["conditions"] = [[a, op, list(v) if isinstance(v, tuple) else v] for a, op, v in self.conditions]
        return out


def find_segments(inputs: list[SegmentInput], won: np.ndarray, amount: np.ndarray | None, *, max_depth: int,
                  min_leaf: int, n_segments: int, alpha: float = 0.05, correction: str = "holm",
                  random_state: int | None = 0) -> tuple[list[Segment], list[str]]:
    """Grow the tree and return the best leaves with lift > 1, ranked by expected value.

    Parameters
    ----------
    inputs : list of SegmentInput
        Tree input columns.
    won : ndarray of bool
        Outcome per record.
    amount : ndarray of float or None
        Deal amount per record (``nan`` = unknown); ranks leaves by expected value.
    max_depth, min_leaf : int
        Tree depth and the smallest leaf, in records over all the data (the tree,
        grown on half the records, uses half of ``min_leaf``).
    n_segments : int
        Most segments returned.
    alpha, correction : float, str
        Significance level and multiple-comparison correction over the kept leaves.
    random_state : int or None
        Seed of the discovery/holdout split and the tree.

    Returns
    -------
    (segments, notes) : list of Segment, list of str
    """
    won = np.asarray(won, dtype=bool)
    n = won.size
    notes: list[str] = []
    if not inputs:
        return [], ["No attribute to segment on."]
    if n < 4 * min_leaf:
        return [], [f"Micro-segments need at least {4 * min_leaf:,} records (4 x the minimum segment support "
                    f"{min_leaf:,}); there are {n:,}."]
    rng = np.random.default_rng(random_state)
    discover = np.zeros(n, dtype=bool)
    for cls in (False, True):  # stratified half split
        idx = np.flatnonzero(won == cls)
        discover[rng.permutation(idx)[: idx.size // 2]] = True
    X = _design_matrix(inputs, won, discover)
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=max(1, math.ceil(min_leaf / 2)),
                                  random_state=random_state)
    tree.fit(X[discover], won[discover])
    leaf_of = tree.apply(X)
    paths = _leaf_paths(tree)
    holdout = ~discover
    hold_n, hold_won = int(holdout.sum()), int(won[holdout].sum())

    found_rate = won[discover].mean()
    rows: list[dict[str, Any]] = []
    for leaf in sorted(paths):
        members = leaf_of == leaf
        support = int(members.sum())
        d_members = members & discover
        # kept when it wins more often on the half the tree was grown on: the held-out half takes no part
        if not d_members.any() or won[d_members].mean() <= found_rate:
            continue
        h_members = members & holdout
        h_support, h_won = int(h_members.sum()), int(won[h_members].sum())
        if h_support == 0:
            continue
        conditions, text = _describe(paths[leaf], inputs, X, members)
        acv = None
        if amount is not None:
            vals = amount[members & won]
            vals = vals[~np.isnan(vals)]
            acv = float(vals.mean()) if vals.size else None
        # rates, interval, lift and expected value are the held-out half's: unbiased by the selection
        rate = h_won / h_support
        p = two_by_two_p_value(h_won, h_support - h_won, hold_won - h_won, (hold_n - hold_won) - (h_support - h_won))
        rows.append(dict(rule=text or "(all records)", conditions=conditions, support=support, won=h_won,
                         win_rate=rate, lift=rate / (hold_won / hold_n), mean_acv=acv,
                         expected_value=rate * acv if acv is not None else rate,
                         holdout_support=h_support, holdout_win_rate=rate, p_value=p))
    if not rows:
        notes.append("The segment tree found no group of records winning more often than average.")
        return [], notes
    p_adj = adjust_p_values([r["p_value"] for r in rows], correction)
    lo, hi = wilson_interval([r["won"] for r in rows], [r["holdout_support"] for r in rows], alpha)
    segments = [
        Segment(**r, ci_low=float(lo[i]), ci_high=float(hi[i]), p_adjusted=float(p_adj[i]),
                significant=bool(p_adj[i] < alpha and r["lift"] > 1))
        for i, r in enumerate(rows)
    ]
    segments.sort(key=lambda s: (-s.expected_value, -s.support, s.rule))
    if not any(s.significant for s in segments):
        notes.append("No micro-segment holds up on the held-out half of the records: treat the segments as "
                     "descriptive, not as evidence.")
    return segments[:n_segments], notes


def _design_matrix(inputs: list[SegmentInput], won: np.ndarray, discover: np.ndarray) -> np.ndarray:
    """Numeric matrix for the tree; categorical codes replaced by their win-rate rank in the discovery half."""
    cols = []
    for inp in inputs:
        if inp.kind == "categorical":
            cols.append(_target_ranks(inp, won, discover)[inp.values].astype(float))
        else:
            cols.append(np.asarray(inp.values, dtype=float))
    return np.column_stack(cols)


def _target_ranks(inp: SegmentInput, won: np.ndarray, discover: np.ndarray) -> np.ndarray:
    """Rank of every code by its discovery-half win rate (ties and unseen codes ordered by label)."""
    k = len(inp.labels)
    codes = inp.values[discover]
    support = np.bincount(codes, minlength=k)
    wins = np.bincount(codes, weights=won[discover], minlength=k)
    overall = won[discover].mean()
    rate = np.where(support > 0, wins / np.maximum(support, 1), overall)
    order = sorted(range(k), key=lambda c: (rate[c], inp.labels[c]))
    ranks = np.empty(k, dtype=np.int64)
    ranks[order] = np.arange(k)
    return ranks


def _leaf_paths(tree: DecisionTreeClassifier) -> dict[int, list[tuple[int, bool, float]]]:
    """Leaf node id -> [(feature, went_left, threshold), …] from the root."""
    t = tree.tree_
    out: dict[int, list[tuple[int, bool, float]]] = {}
    stack: list[tuple[int, list[tuple[int, bool, float]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if t.children_left[node] == -1:
            out[node] = path
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        stack.append((int(t.children_left[node]), [*path, (f, True, thr)]))
        stack.append((int(t.children_right[node]), [*path, (f, False, thr)]))
    return out


def _describe(path: list[tuple[int, bool, float]], inputs: list[SegmentInput], X: np.ndarray,
              members: np.ndarray) -> tuple[tuple[tuple[str, str, Any], ...], str]:
    """Merge a leaf's splits per input column into structured conditions and rule text."""
    bounds: dict[int, list[float]] = {}
    for f, left, thr in path:
        lo, hi = bounds.setdefault(f, [-math.inf, math.inf])
        bounds[f] = [lo, min(hi, thr)] if left else [max(lo, thr), hi]
    conditions: list[tuple[str, str, Any]] = []
    texts: list[str] = []
    for f in sorted(bounds):
        inp, (lo, hi) = inputs[f], bounds[f]
        col = X[members, f]
        if inp.kind == "list":
            present = lo >= 0.5  # a 0/1 column: "> 0.5" means the item is there
            conditions.append((inp.attribute, "has" if present else "lacks", inp.item))
            texts.append(f"{inp.attribute} {'has' if present else 'lacks'} {inp.item}")
        elif inp.kind == "numeric":
            seen = col[~np.isnan(col)]
            missing = bool(np.isnan(col).any())
            low = None if lo == -math.inf else lo
            high = None if hi == math.inf else hi
            conditions.append((inp.attribute, "range or missing" if missing else "range", (low, high)))
            if seen.size == 0:
                text = f"{inp.attribute} is missing"
            elif low is not None and high is not None:
                text = f"{inp.attribute} {format_number(seen.min())}–{format_number(seen.max())}"
            elif low is not None:
                text = f"{inp.attribute} ≥ {format_number(seen.min())}"
            else:
                text = f"{inp.attribute} ≤ {format_number(seen.max())}"
            texts.append(text + (" (or missing)" if missing and seen.size else ""))
        else:
            codes = np.flatnonzero(np.bincount(inp.values[members], minlength=len(inp.labels)))
            chosen = sorted(inp.labels[c] for c in codes)
            others = sorted(set(inp.labels) - set(chosen))
            op, shown = ("not in", others) if len(others) < len(chosen) else ("in", chosen)
            conditions.append((inp.attribute, op, tuple(shown)))
            listed = ", ".join(shown[:SHOWN_VALUES])
            if len(shown) > SHOWN_VALUES:
                listed += f", … +{len(shown) - SHOWN_VALUES} more"
            texts.append(f"{inp.attribute} {op} {{{listed}}}")
    return tuple(conditions), " and ".join(texts)
