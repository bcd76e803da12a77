"""A guard against leaky features: columns that describe the outcome instead of predicting it.

A win model trained on "days in stage" or "stage change count" looks excellent
in a back-test and is useless on open deals, because those columns are only
complete once the deal is closed. :class:`LeakageGuard` looks for such columns
in three ways and excludes them before training:

1. **Process features by name** -- days in stage, elapsed days, stage change
   count, ratio days, total days identified through ..., duration, days to
   close, stage, closed at, is closed, ... (:data:`DEFAULT_PATTERNS`).
2. **Too good to be true** -- each column alone is scored by a cross-validated
   single-feature AUC (categoricals and binned numerics by out-of-fold target
   encoding, numerics also by their rank). A column with AUC >= ``auc_threshold``
   that is clearly (``margin``) better than the best other column is excluded; a
   strong column that is not clearly better, or whose *missingness* alone
   predicts the outcome (a field sales fills in after contact), is a warning.
3. **Timestamps** -- a column whose own timestamp is after the outcome time in
   most rows was filled in after the outcome and is excluded.

``include=`` keeps a column whatever the checks say (and records the override);
``exclude=`` always drops one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from tierwise.errors import DataError

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"\bdays? in (sales |deal )?stage\b",
    r"\belapsed days\b",
    r"\bstage change",
    r"\bstage changed\b",
    r"\bratio days\b",
    r"\btotal days\b",
    r"\bdays identified through\b",
    r"\bduration\b",
    r"\bdays to (close|closing|win|won|convert|conversion)\b",
    r"\btime to (close|win|convert)\b",
    r"\bcycle days\b",
    r"\bclosed? (at|date|reason|time)\b",
    r"\b(is|was) (closed|won|lost|converted)\b",
    r"\b(win|loss|lost) reason\b",
    r"^(deal |sales |opportunity )?stage$",
    r"^outcome\b",
)
"""Regular expressions for process features, matched against the lower-cased column
name with every run of non-alphanumeric characters (``_``, ``-``, spaces) turned
into one space."""

ASSESSMENT_PATTERNS: tuple[str, ...] = (
    r"\btags?\b",
    r"\bquality\b",
    r"\brating\b",
    r"\bgrade\b",
    r"\bscore\b",
    r"\bprofile\b",
    r"\bstatus\b",
    r"\bdisposition\b",
    r"\bnotes?\b",
    r"\blast\b.*\bactivit",
)
"""Names of assessments sales usually records *after* contact (lead quality, rating,
tags, lead profile, status, the last activity seen, ...): reported with action ``warn``,
or ``exclude`` when the column alone also predicts the outcome with AUC at least
:data:`ASSESSMENT_EXCLUDE_AUC`."""

ASSESSMENT_EXCLUDE_AUC = 0.70
"""An assessment-like column (by name) this predictive alone is excluded: Leads X Education's
Lead Quality (0.80) and Last Activity (0.72) are; its Lead Profile (0.66 with "Select" read as
missing), Last Notable Activity (0.70 just under) and Asymmetrique scores (0.55-0.65) are only
reported."""

IDENTIFIER_NAME = r"(^|\b)(id|uuid|guid|key|number|no)$"
"""A numeric column with (almost) all values distinct is an identifier when its name matches this."""

MAX_ROWS = 200_000
"""Single-feature AUCs use a stratified sample of this many records on larger data (precise to ~0.002)."""

MISSING_WARN_AUC = 0.70
"""Missingness alone at or above this AUC is reported (action ``warn``)."""

_N_BINS = 20
_SMOOTHING = 20.0


@dataclass(frozen=True)
class LeakageFinding:
    """Why a column is suspected of leaking the outcome, and what the guard did.

    ``kind`` is ``"process"`` (name), ``"auc"`` (single-feature AUC),
    ``"missingness"``, ``"timestamp"``, ``"assessment"`` (name; excluded when also strongly predictive),
    ``"identifier"`` or ``"user"`` (``exclude=``).
    ``action`` is ``"exclude"`` or ``"warn"``.
    """

    column: str
    kind: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    action: str = "exclude"


def normalise_name(name: str) -> str:
    """The form a column name has when :data:`DEFAULT_PATTERNS` are matched.

    Examples
    --------
    >>> normalise_name("Elapsed_Days-In Sales Stage")
    'elapsed days in sales stage'
    """
    return re.sub(r"[^0-9a-z]+", " ", str(name).lower()).strip()


def _discrete_codes(column: pd.Series) -> np.ndarray:
    """Integer codes for target encoding: categories as they are, numerics in quantile bins; -1 = missing."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype(float)
        if values.nunique() > _N_BINS:
            values = pd.qcut(values.rank(method="average"), _N_BINS, labels=False, duplicates="drop")
        codes = pd.factorize(values, sort=True)[0]
    else:
        codes = pd.factorize(column.astype("string"), sort=True)[0]
    return codes.astype(np.int64)


def _oof_target_encoding(codes: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold smoothed mean of ``y`` per code (missing, code -1, is its own level)."""
    codes = codes + 1
    size = int(codes.max()) + 1
    encoded = np.empty(len(y), dtype=float)
    for train, test in splits:
        prior = y[train].mean()
        wins = np.bincount(codes[train], weights=y[train], minlength=size)
        counts = np.bincount(codes[train], minlength=size)
        means = (wins + _SMOOTHING * prior) / (counts + _SMOOTHING)
        encoded[test] = means[codes[test]]
    return encoded


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """Direction-free AUC: max(AUC, 1 - AUC); 0.5 when the score is constant."""
    if np.all(score == score[0]):
        return 0.5
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def single_feature_auc(column: pd.Series, y: Sequence[Any], *, folds: int = 5, random_state: int = 0) -> dict:
    """How well one column alone separates the outcome.

    Returns ``auc`` (the larger of the out-of-fold target-encoding AUC and, for
    numerics, the rank AUC), ``missing_share`` and ``missing_auc`` (the AUC of
    "is missing" alone). All AUCs are direction-free (>= 0.5).

    Examples
    --------
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1] * 5
    >>> single_feature_auc(pd.Series([1, 2, 3, 4, 5, 6, 7, 8] * 5), y)["auc"]
    1.0
    """
    y = np.asarray(y).astype(int)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))
    return _column_evidence(column, y, splits)


def _column_evidence(column: pd.Series, y: np.ndarray, splits: list) -> dict:
    missing = column.isna().to_numpy()
    auc = _auc(y, _oof_target_encoding(_discrete_codes(column), y, splits))
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) and not missing.all():
        values = column.astype(float).to_numpy()
        filled = np.where(missing, np.nanmedian(values), values)
        auc = max(auc, _auc(y, filled))
    return {
        "auc": round(auc, 4),
        "missing_share": round(float(missing.mean()), 4),
        "missing_auc": round(_auc(y, missing.astype(float)), 4),
    }


class LeakageGuard:
    """Find and exclude columns that leak the outcome.

    Parameters
    ----------
    auc_threshold : float, default 0.85
        A column whose single-feature AUC reaches this is suspicious.
    margin : float, default 0.08
        ... and is excluded when its AUC is at least this much above the best
        other column's (otherwise it is a warning: several strong honest
        columns are normal, one far ahead of the rest is not).
    name_patterns : sequence of str, default :data:`DEFAULT_PATTERNS`
        Regular expressions for process features, matched against
        :func:`normalise_name` of each column.
    exclude, include : iterable of str
        Columns always excluded / always kept (an override is recorded as a
        finding with action ``"warn"``).
    warn_patterns : sequence of str, default :data:`ASSESSMENT_PATTERNS`
        Names of fields sales fills in after contact: reported, not excluded.

    Attributes
    ----------
    findings_ : list of LeakageFinding
    excluded_ : list of str
        Columns to drop, in the order of ``X``.
    kept_ : list of str
    auc_ : dict
        Every column's single-feature evidence (``auc``, ``missing_share``, ``missing_auc``).

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> X = pd.DataFrame({"region": ["n", "s", "s", "n"] * 25,
    ...                   "days_in_stage": np.arange(100), "status_code": y * 3})
    >>> guard = LeakageGuard().fit(X, y)
    >>> guard.excluded_
    ['days_in_stage', 'status_code']
    >>> guard.kept_
    ['region']
    """

    def __init__(
        self,
        auc_threshold: float = 0.85,
        margin: float = 0.08,
        name_patterns: Sequence[str] = DEFAULT_PATTERNS,
        exclude: Iterable[str] = (),
        include: Iterable[str] = (),
        warn_patterns: Sequence[str] = ASSESSMENT_PATTERNS,
    ):
        self.auc_threshold = auc_threshold
        self.margin = margin
        self.name_patterns = name_patterns
        self.exclude = exclude
        self.include = include
        self.warn_patterns = warn_patterns

    def _validate(self, X: pd.DataFrame) -> tuple[set[str], set[str]]:
        if not (isinstance(self.auc_threshold, int | float) and 0.5 < self.auc_threshold <= 1):
            raise ValueError(
                f"The 'auc_threshold' parameter of LeakageGuard must be a float in (0.5, 1]; got {self.auc_threshold!r}."
            )
        if not (isinstance(self.margin, int | float) and 0 <= self.margin < 0.5):
            raise ValueError(f"The 'margin' parameter of LeakageGuard must be a float in [0, 0.5); got {self.margin!r}.")
        exclude, include = set(self.exclude), set(self.include)
        for name, given in (("exclude", exclude), ("include", include)):
            unknown = sorted(given - set(map(str, X.columns)))
            if unknown:
                raise ValueError(f"The '{name}' parameter of LeakageGuard names unknown columns: {unknown}.")
        if exclude & include:
            raise ValueError(f"Columns both in 'exclude' and 'include' of LeakageGuard: {sorted(exclude & include)}.")
        return exclude, include

    def fit(
        self,
        X: pd.DataFrame,
        y: Sequence[Any],
        *,
        outcome_time: pd.Series | None = None,
        timestamps: Mapping[str, pd.Series] | None = None,
    ) -> LeakageGuard:
        """Check every column of ``X`` against the outcome ``y`` (two classes).

        ``outcome_time`` is when each record's outcome became known (e.g. the
        close date); ``timestamps`` maps a column to the Series of times its
        value was set. Both are aligned with ``X`` by position.
        """
        exclude, include = self._validate(X)
        y = np.asarray(y)
        classes = np.unique(y)
        if len(classes) != 2:
            raise DataError(f"The leakage guard needs an outcome with exactly two classes; got {len(classes)}.")
        y = (y == classes[1]).astype(int)
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} rows but the outcome has {len(y)}.")
        folds = int(min(5, np.bincount(y).min()))
        if folds < 2:
            raise DataError("The leakage guard needs at least 2 records of each class for a cross-validated AUC.")
        rows = np.arange(len(y))
        if len(y) > MAX_ROWS:
            rows = np.sort(train_test_split(rows, train_size=MAX_ROWS, stratify=y, random_state=0)[0])
        sample, y_sample = X.iloc[rows], y[rows]
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(rows, y_sample))

        columns = [str(c) for c in X.columns]
        self.auc_ = {c: _column_evidence(sample.iloc[:, i], y_sample, splits) for i, c in enumerate(columns)}
        patterns = [re.compile(p) for p in self.name_patterns]
        warn_patterns = [re.compile(p) for p in self.warn_patterns]
        findings: list[LeakageFinding] = []
        for i, column in enumerate(columns):
            findings += self._check_column(column, patterns, exclude, outcome_time, timestamps)
            findings += self._check_name_and_values(X.iloc[:, i], column, warn_patterns)

        # An override keeps the column whatever was found; record it.
        excluded = {f.column for f in findings if f.action == "exclude"}
        for column in columns:
            if column in include and column in excluded:
                findings = [
                    LeakageFinding(f.column, f.kind, f"{f.reason} (kept: include= overrides the guard)",
                                   {**f.evidence, "overridden": True}, "warn")
                    if f.column == column else f
                    for f in findings
                ]
        self.findings_ = findings
        excluded = {f.column for f in findings if f.action == "exclude"}
        self.excluded_ = [c for c in columns if c in excluded]
        self.kept_ = [c for c in columns if c not in excluded]
        return self

    def _check_column(self, column, patterns, exclude, outcome_time, timestamps) -> list[LeakageFinding]:
        found = []
        evidence = self.auc_[column]
        others = [e["auc"] for c, e in self.auc_.items() if c != column]
        best_other = max(others, default=0.5)
        if column in exclude:
            found.append(LeakageFinding(column, "user", "excluded by exclude=", dict(evidence)))
        name = normalise_name(column)
        matched = next((p.pattern for p in patterns if p.search(name)), None)
        if matched is not None:
            found.append(LeakageFinding(
                column, "process", "describes the sales process itself (durations, stage changes): complete only once the deal is decided",
                {**evidence, "pattern": matched}))
        if evidence["auc"] >= self.auc_threshold:
            clear = evidence["auc"] - best_other >= self.margin
            reason = (f"alone predicts the outcome with AUC {evidence['auc']:.3f}"
                      f" (best other column {best_other:.3f})")
            found.append(LeakageFinding(column, "auc", reason, {**evidence, "best_other_auc": best_other},
                                        "exclude" if clear else "warn"))
        if evidence["missing_auc"] >= MISSING_WARN_AUC:
            found.append(LeakageFinding(
                column, "missingness",
                f"whether it is filled in alone predicts the outcome (AUC {evidence['missing_auc']:.3f}):"
                " probably filled in after contact", dict(evidence), "warn"))
        if timestamps and column in timestamps:
            if outcome_time is None:
                raise DataError("timestamps= needs outcome_time= to compare against.")
            set_at = pd.to_datetime(pd.Series(timestamps[column]).reset_index(drop=True))
            outcome = pd.to_datetime(pd.Series(outcome_time).reset_index(drop=True))
            both = set_at.notna() & outcome.notna()
            compared = int(both.sum())
            share_after = float((set_at[both] > outcome[both]).mean()) if compared else 0.0
            if share_after > 0.5:
                found.append(LeakageFinding(
                    column, "timestamp", f"set after the outcome in {share_after:.0%} of {compared:,} records",
                    {**evidence, "share_after_outcome": round(share_after, 4), "records_compared": compared}))
        return found

    def _check_name_and_values(self, values: pd.Series, column: str, warn_patterns) -> list[LeakageFinding]:
        found = []
        name = normalise_name(column)
        evidence = self.auc_[column]
        matched = next((p.pattern for p in warn_patterns if p.search(name)), None)
        if matched is not None:
            strong = evidence["auc"] >= ASSESSMENT_EXCLUDE_AUC
            reason = "looks like an assessment sales records after contact" + (
                f", and alone predicts the outcome with AUC {evidence['auc']:.3f}" if strong
                else ": check when it is set")
            found.append(LeakageFinding(column, "assessment", reason, {**evidence, "pattern": matched},
                                        "exclude" if strong else "warn"))
        present = values.dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if (len(present) >= 20 and present.nunique() >= 0.99 * len(present)
                and (not numeric or re.search(IDENTIFIER_NAME, name))):
            found.append(LeakageFinding(
                column, "identifier", "an identifier (every value is different), not a feature",
                {**evidence, "distinct_share": round(present.nunique() / len(present), 4)}))
        return found

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` without the excluded columns."""
        return X.drop(columns=[c for c in X.columns if str(c) in set(self.excluded_)])

    def fit_transform(self, X: pd.DataFrame, y: Sequence[Any], **kwargs: Any) -> pd.DataFrame:
        return self.fit(X, y, **kwargs).transform(X)

    def summary(self) -> pd.DataFrame:
        """One row per finding: column, kind, action, auc, reason."""
        return pd.DataFrame(
            [{"column": f.column, "kind": f.kind, "action": f.action, "auc": f.evidence.get("auc"),
              "reason": f.reason} for f in self.findings_],
            columns=["column", "kind", "action", "auc", "reason"],
        )
