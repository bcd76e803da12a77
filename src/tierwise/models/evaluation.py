"""How good is a propensity model? Ranking, calibration, lift and tier capture.

:func:`evaluate` measures predictions against outcomes; :func:`cross_validate`
and :func:`time_holdout` produce honest predictions to measure (no record is
scored by a model that saw it).

Default tiers (when none are given) are by rank of the predicted probability:
A the top 10% of records, B the next 20%, C the next 30%, D the last 40%
(``tier_shares``). Records with equal probabilities always share a tier (the
lower one), so a tier never holds more than its share: "tiers A+B hold at most
30% of records" stays true with ties.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

from tierwise.errors import DataError
from tierwise.models.stats import wilson_interval

DEFAULT_TIER_SHARES = (0.1, 0.2, 0.3, 0.4)
MIN_RECORDS = 10


def assign_tiers(
    p: Sequence[float], shares: Sequence[float] = DEFAULT_TIER_SHARES, labels: Sequence[Any] | None = None
) -> np.ndarray:
    """Tier labels by rank of ``p``: the first label for the top ``shares[0]`` of records, and so on.

    Examples
    --------
    >>> assign_tiers([0.9, 0.1, 0.5, 0.7, 0.2, 0.3, 0.8, 0.4, 0.6, 0.05]).tolist()
    ['A', 'D', 'C', 'B', 'D', 'D', 'B', 'C', 'C', 'D']
    """
    shares = np.asarray(shares, dtype=float)
    if len(shares) == 0 or (shares <= 0).any() or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"The 'tier_shares' parameter must be positive shares summing to 1; got {tuple(shares)}.")
    labels = np.asarray(list(labels) if labels is not None else [chr(ord("A") + i) for i in range(len(shares))])
    if len(labels) != len(shares):
        raise ValueError(f"{len(labels)} tier labels for {len(shares)} tier shares.")
    p = np.asarray(p, dtype=float)
    rank = rankdata(-p, method="max")  # 1 = highest; ties share the worse rank, so no tier exceeds its share
    bounds = np.floor(np.cumsum(shares) * len(p) + 1e-9)  # floor: a tier never holds more than its share
    bounds[-1] = len(p)
    return labels[np.searchsorted(bounds, rank, side="left")]


def _outcome(y: Sequence[Any], p: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if not (pd.api.types.is_bool_dtype(y) or pd.api.types.is_numeric_dtype(y)) or not np.isin(y, (0, 1)).all():
        raise DataError("The outcome must be won/lost as True/False or 1/0.")
    p = np.asarray(p, dtype=float)
    if len(p) != len(y):
        raise DataError(f"{len(y)} outcomes but {len(p)} predictions.")
    if np.isnan(p).any():
        raise DataError("Predictions contain NaN: evaluate only the records that were scored.")
    if len(y) < MIN_RECORDS:
        raise DataError(f"Evaluation needs at least {MIN_RECORDS} records (one per decile); got {len(y)}.")
    if len(np.unique(y)) < 2:
        raise DataError("Evaluation needs both won and lost records; all records have the same outcome.")
    return y.astype(int), p


def _group_table(y: np.ndarray, groups: np.ndarray, order: Sequence[Any], name: str) -> list[dict]:
    n, total_wins, base = len(y), int(y.sum()), float(y.mean())
    rows, cumulative = [], 0
    for label in order:
        members = groups == label
        records, wins = int(members.sum()), int(y[members].sum())
        cumulative += wins
        rate = wins / records if records else 0.0
        low, high = (float(b[0]) for b in wilson_interval([wins], [records])) if records else (0.0, 1.0)
        rows.append({
            name: label.item() if hasattr(label, "item") else label,
            "records": records, "share_of_records": records / n, "wins": wins, "win_rate": rate,
            "ci_low": float(low), "ci_high": float(high), "lift": rate / base,
            "share_of_wins": wins / total_wins, "cumulative_share_of_wins": cumulative / total_wins,
        })
    return rows


def evaluate(
    y: Sequence[Any],
    p: Sequence[float],
    *,
    tiers: Sequence[Any] | None = None,
    tier_shares: Sequence[float] = DEFAULT_TIER_SHARES,
) -> dict:
    """Ranking, calibration, lift by decile and tier capture of predictions ``p`` for outcomes ``y``.

    ``tiers`` gives each record's tier label; tiers are ordered by sorted label
    (A before B, 1 before 2), best first. Without it tiers are assigned by rank
    of ``p`` with ``tier_shares``.

    Returns a dict: ``records``, ``wins``, ``base_rate``, ``auc``, ``pr_auc``
    (average precision), ``brier``, ``calibration`` (10 equal-width bins of
    ``p``, non-empty ones: ``low``, ``high``, ``mean_predicted``, ``observed``,
    ``count``), ``lift_by_decile`` (decile 1 = the top 10% by ``p``: records,
    wins, win_rate, lift, share_of_wins, cumulative_share_of_wins, ...),
    ``by_tier`` (tier, records, share_of_records, wins, win_rate, ci_low,
    ci_high (Wilson 95%), lift, share_of_wins; an empty tier has win_rate 0
    and interval 0-1) and ``top_tiers_capture`` (the top two tiers' share of
    wins and of records).

    Examples
    --------
    >>> y = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    >>> p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    >>> result = evaluate(y, p)
    >>> round(result["auc"], 4), result["base_rate"]  # 20 of 24 won-lost pairs in order
    (0.8333, 0.4)
    >>> result["top_tiers_capture"]  # A = {0.9}, B = {0.8, 0.7}: 2 of 4 wins
    {'tiers': ['A', 'B'], 'share_of_wins': 0.5, 'share_of_records': 0.3}
    """
    y, p = _outcome(y, p)
    if tiers is None:
        tiers = assign_tiers(p, tier_shares)
        tier_order = [chr(ord("A") + i) for i in range(len(tier_shares))]  # empty tiers (ties) still listed
    else:
        tiers = np.asarray(tiers)
        tier_order = sorted(pd.unique(tiers).tolist())
    if len(tiers) != len(y):
        raise DataError(f"{len(y)} outcomes but {len(tiers)} tier labels.")

    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    edges = np.linspace(0.0, 1.0, 11)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=10)  # calibration_curve's own binning
    calibration = [
        {"low": float(edges[b]), "high": float(edges[b + 1]), "mean_predicted": float(mp), "observed": float(ob),
         "count": int(counts[b])}
        for b, mp, ob in zip(np.flatnonzero(counts), predicted, observed, strict=True)
    ]
    deciles = assign_tiers(p, (0.1,) * 10, labels=range(1, 11))
    by_tier = _group_table(y, tiers, tier_order, "tier")
    top = by_tier[:2]
    return {
        "records": len(y),
        "wins": int(y.sum()),
        "base_rate": float(y.mean()),
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "calibration": calibration,
        "lift_by_decile": _group_table(y, deciles, range(1, 11), "decile"),
        "by_tier": by_tier,
        "top_tiers_capture": {
            "tiers": [row["tier"] for row in top],
            "share_of_wins": sum(row["wins"] for row in top) / int(y.sum()),
            "share_of_records": sum(row["records"] for row in top) / len(y),
        },
    }


def _fold_metrics(fold: int, y: np.ndarray, p: np.ndarray) -> dict:
    single = len(np.unique(y)) < 2
    return {
        "fold": fold, "records": len(y), "wins": int(y.sum()),
        "auc": float("nan") if single else float(roc_auc_score(y, p)),
        "pr_auc": float("nan") if single else float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
    }


def _fit(model: Any, X: pd.DataFrame, y: np.ndarray, time: pd.Series | None) -> Any:
    """``model.fit(X, y)``, with ``time=`` when given and the model's ``fit`` takes it."""
    if time is not None and "time" in inspect.signature(model.fit).parameters:
        return model.fit(X, y, time=time)
    return model.fit(X, y)


def cross_validate(
    make_model: Callable[[], Any],
    X: pd.DataFrame,
    y: Sequence[Any],
    *,
    folds: int = 5,
    time: Sequence[Any] | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, list[dict]]:
    """Out-of-fold probabilities from a fresh ``make_model()`` per fold, and per-fold metrics.

    Stratified shuffled K-fold; with ``time``, time-ordered folds instead
    (scikit-learn's ``TimeSeriesSplit``: each fold is scored by a model trained
    only on earlier records, so the earliest block gets no prediction and stays
    NaN) and ``time`` is passed on to ``fit`` when it takes it.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": np.arange(40) % 10})
    >>> y = (np.arange(40) % 10 >= 5).astype(int)
    >>> oof, per_fold = cross_validate(LogisticRegression, X, y, folds=4)
    >>> round(evaluate(y, oof)["auc"], 3), len(per_fold)
    (1.0, 4)
    """
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise ValueError(f"The 'folds' parameter of cross_validate must be an int >= 2; got {folds!r}.")
    y = np.asarray(y)
    if len(y) != len(X):
        raise DataError(f"X has {len(X)} rows but y has {len(y)}.")
    counts = np.unique(y, return_counts=True)[1]
    if len(counts) < 2:
        raise DataError("Cross-validation needs both won and lost records; all records have the same outcome.")
    if time is None and counts.min() < folds:
        raise DataError(f"{folds}-fold cross-validation needs at least {folds} records of each outcome;"
                        f" the smaller has {counts.min()}.")
    if time is None:
        order = np.arange(len(y))
        splits = StratifiedKFold(folds, shuffle=True, random_state=random_state).split(order, y)
    else:
        time = pd.Series(pd.to_datetime(pd.Series(time)).to_numpy())
        order = np.argsort(time.to_numpy(), kind="stable")
        splits = ((order[a], order[b]) for a, b in TimeSeriesSplit(folds).split(order))
    oof = np.full(len(y), np.nan)
    per_fold = []
    for k, (train, test) in enumerate(splits, start=1):
        model = _fit(make_model(), X.iloc[train], y[train], None if time is None else time.iloc[train])
        oof[test] = model.predict_proba(X.iloc[test])[:, 1]
        per_fold.append(_fold_metrics(k, y[test].astype(int), oof[test]))
    return oof, per_fold


def time_holdout(
    make_model: Callable[[], Any],
    X: pd.DataFrame,
    y: Sequence[Any],
    *,
    time: Sequence[Any],
    holdout_share: float = 0.2,
    tier_shares: Sequence[float] = DEFAULT_TIER_SHARES,
) -> dict:
    """Train on the earlier records, evaluate on the latest ``holdout_share``.

    Returns ``cutoff`` (the first holdout time), ``train_records``,
    ``test_records``, ``probabilities`` (a Series on the holdout rows of ``X``)
    and ``metrics`` (:func:`evaluate` on the holdout).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": np.arange(50) % 10})
    >>> y = (np.arange(50) % 10 >= 5).astype(int)
    >>> result = time_holdout(LogisticRegression, X, y, time=pd.date_range("2024-01-01", periods=50))
    >>> result["train_records"], result["test_records"], str(result["cutoff"].date())
    (40, 10, '2024-02-10')
    """
    if not 0 < holdout_share < 1:
        raise ValueError(f"The 'holdout_share' parameter of time_holdout must be in (0, 1); got {holdout_share!r}.")
    y = np.asarray(y)
    time = pd.Series(pd.to_datetime(pd.Series(time)).to_numpy())
    if len(y) != len(X) or len(time) != len(X):
        raise DataError(f"X has {len(X)} rows, y {len(y)} and time {len(time)}: they must match.")
    order = np.argsort(time.to_numpy(), kind="stable")
    cut = len(y) - max(1, round(len(y) * holdout_share))
    train, test = order[:cut], order[cut:]
    if len(np.unique(y[train])) < 2:
        raise DataError("The records before the time holdout have a single outcome: more history is needed.")
    model = _fit(make_model(), X.iloc[train], y[train], time.iloc[train])
    p = model.predict_proba(X.iloc[test])[:, 1]
    return {
        "cutoff": time.iloc[test].min(),
        "train_records": int(len(train)),
        "test_records": int(len(test)),
        "probabilities": pd.Series(p, index=X.index[test]),
        "metrics": evaluate(y[test], p, tier_shares=tier_shares),
    }
