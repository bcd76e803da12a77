"""Win propensity: a calibrated LightGBM model of P(won), with per-record reasons.

How :meth:`PropensityModel.fit` spends the data
-----------------------------------------------
The latest ``calibration_share`` of records (by ``time``; a random stratified
share when there is no time) is held out. The booster is trained on the rest,
with early stopping on the held-out log-loss (``n_estimators`` is a maximum:
small data sets stop early instead of over-fitting). The calibrator is then
fitted on the booster's held-out probabilities. The booster is *not* refitted
on all records: the calibrator describes exactly the booster that scores, and
one fit keeps training on 500k opportunities within budget.

The isotonic calibrator is "centred" (Oron & Flournoy, 2017): the
isotonic step function of scikit-learn's :class:`~sklearn.isotonic.IsotonicRegression`
is replaced by straight lines through the middle of its steps, plus a 1e-6
slope, so it is strictly increasing and never ties records the booster ranks
apart (calibration must not cost ranking). A model is saved as LightGBM's own
text format plus a JSON file; no pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import sklearn
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import tierwise
from tierwise.engine.base import write_text_atomic
from tierwise.errors import DataError

FORMAT = "tierwise-propensity/1"
EARLY_STOPPING_ROUNDS = 50
_TIE_SLOPE = 1e-6
_EPS = 1e-12


@dataclass(frozen=True)
class Contribution:
    """One feature's push on one record's log-odds (LightGBM's TreeSHAP contribution)."""

    feature: str
    value: Any
    log_odds: float

    def describe(self) -> str:
        """Plain words, e.g. ``industry is software: raises the odds (+0.42)``.

        Examples
        --------
        >>> Contribution("industry", "software", 0.4213).describe()
        'industry is software: raises the odds (+0.42)'
        >>> Contribution("pricing_page_visit_90d", 4.0, 0.31).describe()
        'pricing_page_visit_90d = 4: raises the odds (+0.31)'
        >>> Contribution("employees", None, -0.1).describe()
        'employees is missing: lowers the odds (-0.10)'
        """
        if _is_missing(self.value):
            what = f"{self.feature} is missing"
        elif isinstance(self.value, str):
            what = f"{self.feature} is {self.value}"
        else:
            what = f"{self.feature} = {_format_number(self.value)}"
        effect = "raises the odds" if self.log_odds > 0 else "lowers the odds" if self.log_odds < 0 else "no effect"
        return f"{what}: {effect} ({self.log_odds:+.2f})"


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _format_number(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.4g}"


@dataclass(frozen=True)
class Calibrator:
    """Maps the booster's probability to a calibrated one.

    ``method`` ``"isotonic"``: piecewise linear through (``x``, ``y``) with a tiny
    slope so order is kept; ``"sigmoid"``: Platt scaling of the log-odds,
    ``1 / (1 + exp(-(slope * logit(p) + intercept)))``.

    Examples
    --------
    >>> Calibrator("isotonic", x=(0.2, 0.6), y=(0.1, 0.5))(np.array([0.4, 0.9])).round(4)
    array([0.3, 0.5])
    """

    method: str
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if self.method == "isotonic":
            return np.clip(np.interp(p, self.x, self.y) + _TIE_SLOPE * (p - 0.5), 0.0, 1.0)
        logit = np.log(np.clip(p, _EPS, 1 - _EPS) / np.clip(1 - p, _EPS, 1))
        return 1.0 / (1.0 + np.exp(-(self.slope * logit + self.intercept)))

    @classmethod
    def fit(cls, method: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
        if method == "sigmoid":
            logit = np.log(np.clip(p, _EPS, 1 - _EPS) / np.clip(1 - p, _EPS, 1)).reshape(-1, 1)
            lr = LogisticRegression(C=1e6).fit(logit, y)
            return cls("sigmoid", slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]))
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit_transform(p, y)
        # Centred isotonic regression: one point per step, at the mean score of its records.
        steps = pd.DataFrame({"p": p, "fitted": fitted}).groupby("fitted", sort=True)["p"].mean()
        return cls("isotonic", x=tuple(map(float, steps.to_numpy())), y=tuple(map(float, steps.index)))

    def to_dict(self) -> dict:
        return {"method": self.method, "x": list(self.x), "y": list(self.y), "slope": self.slope,
                "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(data["method"], tuple(data["x"]), tuple(data["y"]), data["slope"], data["intercept"])


#: Fewest calibration records for ``calibration="auto"`` to choose isotonic regression.
ISOTONIC_MIN_RECORDS = 1000


class PropensityModel:
    """Calibrated probability that a deal is won (or a lead converts).

    Parameters
    ----------
    n_estimators : int, default 600
        Maximum number of boosting rounds (early stopping on the calibration holdout).
    learning_rate : float, default 0.03
    num_leaves : int, default 31
    min_child_samples : int, default 50
    calibration : {"auto", "isotonic", "sigmoid"}, default "auto"
        ``auto``: isotonic when the calibration holdout has at least
        :data:`ISOTONIC_MIN_RECORDS` records, else sigmoid (Platt) — isotonic
        steps fitted on a few hundred records overfit (a top step of 1.0).
    calibration_share : float, default 0.2
        Share of records held out (the latest by ``time``) for calibration and early stopping.
    random_state : int, default 0
    max_bin : int, default 1023
        Histogram bins per numeric feature (fine bins matter for amounts).
    subsample, colsample_bytree : float, default 0.8
        Row and column sampling per tree.
    n_jobs : int or None, default None
        LightGBM threads (None: LightGBM's default, all cores).

    Attributes
    ----------
    booster_ : lightgbm.Booster
    feature_names_ : list of str
    categories_ : dict of str to list of str
        The categorical (non-numeric) features and their values seen in fit;
        other values are scored as missing.
    calibrator_ : Calibrator
    classes_ : ndarray of shape (2,)
        Sorted outcome classes; ``classes_[1]`` (``True`` for a bool ``won``) is the positive one.
    n_features_in_ : int
    best_iteration_ : int
        Boosting rounds kept.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"industry": rng.choice(["software", "retail"], 400),
    ...                   "visits": rng.poisson(3, 400).astype(float)})
    >>> y = rng.random(400) < np.where(X.industry == "software", 0.6, 0.2)
    >>> model = PropensityModel(n_estimators=50, min_child_samples=10, n_jobs=1).fit(X, y)
    >>> model.predict_proba(X).shape
    (400, 2)
    >>> model.categories_
    {'industry': ['retail', 'software']}
    >>> print(model.explain(X.head(1), top=1)[0][0].describe())  # doctest: +ELLIPSIS
    industry is retail: lowers the odds (-0.5...)
    """

    def __init__(
        self,
        n_estimators: int = 600,
        learning_rate: float = 0.03,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        calibration: str = "auto",
        calibration_share: float = 0.2,
        random_state: int = 0,
        max_bin: int = 1023,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        n_jobs: int | None = None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.calibration_share = calibration_share
        self.random_state = random_state
        self.max_bin = max_bin
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.n_jobs = n_jobs

    # -- parameters ---------------------------------------------------------------
    def _validate_params(self) -> None:
        def bad(name: str, need: str) -> ValueError:
            return ValueError(f"The '{name}' parameter of PropensityModel must be {need}; got {getattr(self, name)!r}.")

        for name, low in (("n_estimators", 1), ("num_leaves", 2), ("min_child_samples", 1), ("max_bin", 2)):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise bad(name, f"an int >= {low}")
        for name, low, high in (("learning_rate", 0, 1), ("subsample", 0, 1), ("colsample_bytree", 0, 1),
                                ("calibration_share", 0, 0.5)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not low < value <= high:
                raise bad(name, f"a float in ({low}, {high}]")
        if self.calibration not in ("auto", "isotonic", "sigmoid"):
            raise bad("calibration", "'auto', 'isotonic' or 'sigmoid'")

    def _lgb_params(self) -> dict:
        params = {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "max_bin": self.max_bin,
            "bagging_fraction": self.subsample, "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree, "seed": self.random_state, "verbosity": -1,
            # the same data, seed and thread count give the same trees (and byte-identical model files)
            "deterministic": True, "force_col_wise": True,
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        return params

    # -- data -----------------------------------------------------------------------
    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in fit order; categoricals as pandas category with the categories learned in fit."""
        if not isinstance(X, pd.DataFrame):
            raise DataError("PropensityModel needs a pandas DataFrame of features.")
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"Features the model was trained on are missing: {missing}.")
        out = {}
        for column in self.feature_names_:
            values = X[column]
            if column in self.categories_:
                categories = self.categories_[column]
                codes = pd.Index(categories).get_indexer(values.astype("string"))  # unseen or missing: -1
                out[column] = pd.Categorical.from_codes(codes, categories=categories)
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
        return pd.DataFrame(out, index=X.index)

    def _learn_columns(self, X: pd.DataFrame) -> None:
        if not isinstance(X, pd.DataFrame):
            raise DataError("PropensityModel needs a pandas DataFrame of features.")
        if X.shape[1] == 0:
            raise DataError("PropensityModel needs at least one feature column.")
        self.feature_names_ = [str(c) for c in X.columns]
        if len(set(self.feature_names_)) != len(self.feature_names_):
            raise DataError("Feature column names must be unique.")
        self.categories_ = {}
        for column in X.columns:
            values = X[column]
            if pd.api.types.is_datetime64_any_dtype(values):
                raise DataError(f"Feature '{column}' is a date: pass it as time= or derive a number (e.g. days since).")
            if pd.api.types.is_numeric_dtype(values):  # bool included: 0/1
                continue
            first = values.dropna().head(1).tolist()
            if first and isinstance(first[0], list | tuple | np.ndarray):
                raise DataError(f"Feature '{column}' holds lists: expand it into 0/1 item columns first.")
            self.categories_[str(column)] = sorted(values.dropna().astype("string").unique().tolist())
        self.n_features_in_ = len(self.feature_names_)

    # -- fit / predict --------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Sequence[Any], *, time: Sequence[Any] | None = None) -> PropensityModel:
        """Train on features ``X`` and outcome ``y`` (two classes); ``time`` orders the calibration holdout."""
        self._validate_params()
        y = np.asarray(y)
        if len(y) != len(X):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}.")
        self.classes_, target = np.unique(y, return_inverse=True)
        if len(self.classes_) != 2:
            raise DataError(
                f"A propensity model needs both won and lost records; the outcome has {len(self.classes_)} class(es)."
            )
        counts = np.bincount(target)
        needed = math.ceil(2 / self.calibration_share)
        if counts.min() < needed:
            raise DataError(
                f"Too few records to train and calibrate: each outcome needs at least {needed} records"
                f" (calibration_share={self.calibration_share}); the smaller has {counts.min()}."
            )
        self._learn_columns(X)
        data = self._prepare(X)
        train, hold = self._split(target, time)
        if np.bincount(target[hold], minlength=2).min() == 0 or np.bincount(target[train], minlength=2).min() == 0:
            raise DataError("The time-ordered calibration holdout (or the records before it) has a single outcome;"
                            " more records of both outcomes are needed.")
        train_set = lgb.Dataset(data.iloc[train], target[train], free_raw_data=True)
        valid_set = lgb.Dataset(data.iloc[hold], target[hold], reference=train_set)
        booster = lgb.train(
            self._lgb_params(), train_set, num_boost_round=self.n_estimators, valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        # Keep exactly the rounds used, so a saved model predicts the same.
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=self.best_iteration_))
        raw = self.booster_.predict(data.iloc[hold])
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(hold) >= ISOTONIC_MIN_RECORDS else "sigmoid"
        self.calibrator_ = Calibrator.fit(method, raw, target[hold])
        return self

    def _split(self, target: np.ndarray, time: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
        n = len(target)
        if time is None:
            return train_test_split(np.arange(n), test_size=self.calibration_share, stratify=target,
                                    random_state=self.random_state)
        when = pd.to_datetime(pd.Series(time)).to_numpy()
        if len(when) != n:
            raise DataError(f"time has {len(when)} values for {n} records.")
        if pd.isna(when).any():
            raise DataError(f"time is missing for {int(pd.isna(when).sum())} records: every record needs one.")
        order = np.argsort(when, kind="stable")
        cut = n - max(1, round(n * self.calibration_share))
        return np.sort(order[:cut]), np.sort(order[cut:])

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise DataError("This PropensityModel is not fitted yet: call fit() or PropensityModel.load().")

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's raw log-odds (before calibration)."""
        self._check_fitted()
        return self.booster_.predict(self._prepare(X), raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns ``classes_[0]``, ``classes_[1]``."""
        self._check_fitted()
        p = self.calibrator_(self.booster_.predict(self._prepare(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more likely class."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def score_0_100(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability x 100, rounded to one decimal."""
        return np.round(self.predict_proba(X)[:, 1] * 100.0, 1)

    # -- reasons --------------------------------------------------------------------
    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Every feature's log-odds contribution plus a ``bias`` column; each row sums to the raw log-odds."""
        self._check_fitted()
        values = self.booster_.predict(self._prepare(X), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names_, "bias"], index=X.index)

    def explain(self, X: pd.DataFrame, top: int | None = 3) -> list[list[Contribution]]:
        """The ``top`` strongest contributions per record (all when ``top`` is None), strongest first."""
        contrib = self.contributions(X)[self.feature_names_].to_numpy()
        raw = X[self.feature_names_].to_numpy(dtype=object)
        order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, : top if top is not None else None]
        names = self.feature_names_
        return [
            [Contribution(names[j], _plain(raw[i, j]), float(contrib[i, j])) for j in order[i]]
            for i in range(len(contrib))
        ]

    # -- persistence ----------------------------------------------------------------
    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in (
            "n_estimators", "learning_rate", "num_leaves", "min_child_samples", "calibration",
            "calibration_share", "random_state", "max_bin", "subsample", "colsample_bytree", "n_jobs")}

    def save(self, directory: str | Path, metadata: dict | None = None) -> Path:
        """Write ``model.txt`` (LightGBM's text model) and ``model.json`` into ``directory``, atomically."""
        self._check_fitted()
        directory = Path(directory)
        doc = {
            "format": FORMAT,
            "params": self.get_params(),
            "features": self.feature_names_,
            "categories": self.categories_,
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
            "best_iteration": self.best_iteration_,
            "calibrator": self.calibrator_.to_dict(),
            "metadata": metadata or {},
            "versions": {"lightgbm": lgb.__version__, "sklearn": sklearn.__version__,
                         "tierwise": tierwise.__version__},
        }
        write_text_atomic(directory / "model.txt", self.booster_.model_to_string())
        write_text_atomic(directory / "model.json", json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> PropensityModel:
        """Restore a model written by :meth:`save`; the saved ``metadata`` is in ``metadata_``."""
        directory = Path(directory)
        try:
            doc = json.loads((directory / "model.json").read_text(encoding="utf-8"))
            text = (directory / "model.txt").read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise DataError(f"No saved propensity model in {directory}: {exc.filename} is missing.") from exc
        if doc.get("format") != FORMAT:
            raise DataError(f"{directory / 'model.json'} is not a {FORMAT} model (format {doc.get('format')!r}).")
        model = cls(**doc["params"])
        model.booster_ = lgb.Booster(model_str=text)
        model.feature_names_ = list(doc["features"])
        model.categories_ = {k: list(v) for k, v in doc["categories"].items()}
        model.classes_ = np.array(doc["classes"])
        model.n_features_in_ = len(model.feature_names_)
        model.best_iteration_ = doc["best_iteration"]
        model.calibrator_ = Calibrator.from_dict(doc["calibrator"])
        model.metadata_ = doc["metadata"]
        return model


def _plain(value: Any) -> Any:
    """A cell as a plain Python value (None when missing)."""
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)
