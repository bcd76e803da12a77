"""Compile the spec's account prioritisation model to one Ibis expression.

The arithmetic is documented in ``docs/scoring.md``; this module is its only
implementation, shared by every engine. It holds no connection: it takes
tables (bound to any backend, or unbound for SQL generation) and returns an
expression.

Examples
--------
>>> import ibis, datetime
>>> from tierwise.spec.loader import load_spec_text
>>> spec_file = load_spec_text('''
... data: {accounts: {path: a.csv}}
... fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}
... ''')
>>> accounts = ibis.table({"account_id": "string", "employees": "int64"}, name="accounts")
>>> expr = compile_scores(spec_file, accounts, None, as_of=datetime.date(2026, 1, 1))
>>> expr.columns[:6]
('account_id', 'account_name', 'owner_id', 'fit_score', 'signal_score', 'engagement_score')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from tierwise.compile.conditions import FeatureKey, compile_condition, feature_column, feature_key
from tierwise.spec import expr as E
from tierwise.spec.loader import SpecFile, format_loc
from tierwise.spec.model import EventCategorySpec, FitCriterion, Spec

OUTPUT_COLUMNS = (
    "account_id", "account_name", "owner_id", "fit_score", "signal_score", "engagement_score", "score", "tier",
    "segment", "priority", "motion", "touches_per_month", "reason_1", "reason_2", "reason_3", "spec_hash", "as_of",
)
_NULL_TEXT = ibis.null().cast("string")


@dataclass(frozen=True)
class Contribution:
    """One candidate reason: its value in score points and its label."""

    points: ir.FloatingValue
    label: ir.StringValue


def _double(value: float) -> ir.FloatingValue:
    """A DOUBLE literal. SQL engines read a bare ``7.0`` as DECIMAL (Ibis drops the
    no-op cast), and DECIMAL arithmetic overflows: ``7.0 * 2.6666666666666665``."""
    return ibis.literal(repr(float(value))).cast("float64")


# --------------------------------------------------------------------------- fit


def fit_points(crit: FitCriterion, t: ir.Table, conditions: dict) -> tuple[ir.FloatingValue, ir.StringValue]:
    """Points a criterion earns on each account, and a plain-words label."""
    pts = _double(crit.max_points)
    zero = _double(0.0)
    if crit.matcher == "when":
        node = conditions.get(f"{crit.name}__when") or E.parse_condition(crit.when or "")
        return ibis.ifelse(compile_condition(node, t), pts, zero), ibis.literal(crit.name)
    v = t[crit.field]
    shown = ibis.literal(f"{crit.field} = ") + v.cast("string")
    if crit.matcher == "bands":
        cases = []
        for band in crit.bands or []:
            cond = ibis.literal(True)
            if band.min is not None:
                cond &= v >= band.min
            if band.max is not None:
                cond &= v < band.max
            cases.append((cond, _double(band.points)))
        return ibis.cases(*cases, else_=zero).fill_null(0.0), shown
    if crit.matcher == "values":
        folded = v.cast("string").strip().lower()
        cases = [(folded == str(k).strip().lower(), _double(p)) for k, p in (crit.values or {}).items()]
        return ibis.cases(*cases, else_=zero).fill_null(0.0), ibis.literal(f"{crit.field} = ") + folded
    if crit.matcher == "in":
        if v.type().is_string():
            folded = v.strip().lower()
            hit = folded.isin([str(x).strip().lower() for x in crit.in_ or []])
            shown = ibis.literal(f"{crit.field} = ") + v.strip()
        else:
            hit = v.isin([float(x) for x in crit.in_ or []])
        return ibis.ifelse(hit, pts, zero).fill_null(0.0), shown
    if crit.matcher == "contains":
        text = v.cast("string").lower()
        cases = [(text.re_search(whole_word(*kws)), _double(p)) for kws, p in keyword_groups(crit.contains or {})]
        return ibis.cases(*cases, else_=zero).fill_null(0.0), shown
    if crit.matcher == "share_of":
        items = [str(x).strip().lower() for x in crit.share_of or []]
        matched = v.filter(lambda x: x.isin(items))
        full_at = crit.full_at or len(items)
        earned = (matched.length().cast("float64") / full_at).clip(upper=1.0) * pts
        return earned.fill_null(0.0), ibis.literal(f"{crit.field} has ") + matched.join(", ")
    if crit.matcher == "at_least":
        return ibis.ifelse(v >= crit.at_least, pts, zero).fill_null(0.0), shown
    if crit.matcher == "at_most":
        return ibis.ifelse(v <= crit.at_most, pts, zero).fill_null(0.0), shown
    raise AssertionError(crit.matcher)


# --------------------------------------------------------------------------- events


def _by_event_type(etype: ir.StringValue, values: dict[str, float], default: float) -> ir.Value:
    """A per-type parameter as one CASE branch per distinct value (few branches, cheap per row)."""
    groups: dict[float, list[str]] = {}
    for t, v in values.items():
        groups.setdefault(v, []).append(t)
    if len(groups) == 1:
        return ibis.literal(next(iter(groups)))
    return ibis.cases(*[(etype.isin(types), v) for v, types in groups.items()], else_=default)


def event_points(spec: Spec, activities: ir.Table, as_of: date) -> ir.Table | None:
    """Per account: count, decayed points and latest age of every scored event type (one wide row).

    ``activities.event_type`` is stored lower case by the loader.
    """
    rules = spec.event_rules()
    if not rules:
        return None
    a = activities
    windows = {t: float(cat.window_days if r.window_days is None else r.window_days) for t, (_, r, cat) in rules.items()}
    half_lives = {t: float(r.half_life_days or cat.half_life_days) for t, (_, r, cat) in rules.items()}
    age = ibis.literal(as_of).delta(a.occurred_at.date(), unit="day")
    recent = a.filter(a.event_type.isin(list(rules)), age >= 0, age <= max(windows.values()))
    recent = recent.select("account_id", "event_type", _age=age)
    if len(set(windows.values())) > 1:
        recent = recent.filter(recent._age <= _by_event_type(recent.event_type, windows, -1.0))
    half_life = _by_event_type(recent.event_type, half_lives, 1.0)
    per_type = recent.group_by(["account_id", "event_type"]).aggregate(
        _n=recent.count(),
        _decay=(ibis.literal(0.5) ** (recent._age.cast("float64") / half_life)).sum(),
        _min_age=recent._age.min(),
    )
    per_type = per_type.mutate(_p=_type_points(per_type.event_type, per_type._decay, rules))
    # One filtered aggregate per type pivots (account, type) rows into one row per account.
    wide = per_type.group_by("account_id").aggregate(**{
        f"_e__{t}": ibis.struct({"n": per_type._n, "p": per_type._p, "a": per_type._min_age}).first(
            where=per_type.event_type == t)
        for t in rules
    })
    return wide.select("account_id", **{
        col: wide[f"_e__{t}"][field]
        for t in rules for col, field in ((f"_n__{t}", "n"), (f"_p__{t}", "p"), (f"_a__{t}", "a"))
    })


def _type_points(etype: ir.StringValue, decay: ir.FloatingValue, rules: dict) -> ir.FloatingValue:
    """points x decay, capped by the type's cap, for every scored type."""
    branches = []
    for t, (_, rule, _cat) in rules.items():
        value = decay * float(rule.points)
        if rule.cap is not None and rule.points > 0:
            value = value.clip(upper=float(rule.cap))
        branches.append((etype == t, value))
    return ibis.cases(*branches, else_=0.0)


def whole_word(*keywords: str) -> str:
    r"""A regular expression (RE2 and POSIX alike) finding any of ``keywords`` as whole words in lower-case text.

    >>> print(whole_word("vp", "c.e.o"))
    (^|[^a-z0-9])(vp|c\.e\.o)($|[^a-z0-9])
    """
    escaped = ["".join("\\" + ch if ch in ".^$*+?()[]{}|\\" else ch for ch in k.strip().lower()) for k in keywords]
    return rf"(^|[^a-z0-9])({'|'.join(escaped)})($|[^a-z0-9])"


def keyword_groups(points: dict[str, float]) -> list[tuple[list[str], float]]:
    """Keywords grouped by their points, best first: one pattern per group (fewer regex scans per row)."""
    groups: dict[float, list[str]] = {}
    for keyword, value in points.items():
        groups.setdefault(float(value), []).append(keyword)
    return sorted(((kws, value) for value, kws in groups.items()), key=lambda g: -g[1])


def event_features(activities: ir.Table, keys: set[FeatureKey], as_of: date, *, by: str = "account_id") -> ir.Table:
    """Per account (or per person, ``by``): the ``event_count`` / ``days_since`` values rules ask for."""
    a = activities
    age = ibis.literal(as_of).delta(a.occurred_at.date(), unit="day")
    a = a.filter(age >= 0).mutate(_type=a.event_type, _age=age)
    metrics = {}
    for key in sorted(keys, key=str):
        fn, t, days = key
        if fn == "event_count":
            metrics[feature_column(key)] = ((a._type == t) & (a._age <= days)).cast("int64").sum()
        else:
            metrics[feature_column(key)] = ibis.ifelse(a._type == t, a._age, ibis.null().cast("int64")).min()
    return a.group_by(by).aggregate(**metrics)


def _category(spec: Spec, name: str, t: ir.Table) -> tuple[ir.FloatingValue, ir.FloatingValue, list[Contribution]]:
    """Category score (0-100), the capping factor, and each type's contribution in score points."""
    cat: EventCategorySpec = getattr(spec, name)
    types = list(cat.events)
    if not types:
        return _double(0.0), _double(0.0), []
    raw = sum((t[f"_p__{x}"] for x in types), ibis.literal(0.0))
    kept = raw.clip(lower=0.0, upper=float(cat.cap))
    factor = ibis.ifelse(raw > 0, kept / raw, 0.0)
    contributions = []
    for x in types:
        n, age = t[f"_n__{x}"], t[f"_a__{x}"]
        ago = ibis.cases((age == 0, ibis.literal("today")), (age == 1, ibis.literal("1 day ago")),
                         else_=age.cast("string") + ibis.literal(" days ago"))
        when = ibis.ifelse(n == 1, ibis.literal(" ") + ago,
                           ibis.literal(" x") + n.cast("string") + ibis.literal(", latest ") + ago)
        contributions.append(Contribution(t[f"_p__{x}"] * factor * (cat.weight / cat.cap), ibis.literal(x) + when))
    return 100.0 * kept / cat.cap, factor, contributions


# --------------------------------------------------------------------------- assembly


def compile_scores(
    spec_file: SpecFile,
    accounts: ir.Table,
    activities: ir.Table | None,
    *,
    as_of: date,
    spec_hash: str | None = None,
    components: Mapping[str, ir.Table] | None = None,
) -> ir.Table:
    """The scores table: one row per account, columns :data:`OUTPUT_COLUMNS` (unordered; writers sort).

    ``components`` holds the learned score components the spec uses —
    ``propensity`` and ``lookalike`` — each a table of ``account_id``, ``score``
    (0-100) and ``reason`` computed outside SQL (:mod:`tierwise.jobs.model`).
    Their columns (``propensity_score``, ``lookalike_score``) follow
    ``engagement_score`` in the output.
    """
    spec = spec_file.spec
    conditions = {}
    for i, crit in enumerate(spec.fit.criteria):
        if crit.when:
            conditions[f"{crit.name}__when"] = spec_file.conditions.get(format_loc(("fit", "criteria", i, "when")))
    conditions = {k: v for k, v in conditions.items() if v is not None}

    t = accounts
    # ---- fit
    fit_parts = {c.name: fit_points(c, t, conditions) for c in spec.fit.criteria}
    max_fit = spec.fit.max_points
    cols: dict[str, ir.Value] = {}
    for name, (pts, label) in fit_parts.items():
        cols[f"_fit__{name}"] = pts
        cols[f"_fitlabel__{name}"] = label
    t = t.mutate(**cols) if cols else t

    # ---- events
    event_types = list(spec.event_rules())
    wide = event_points(spec, activities, as_of) if activities is not None else None
    if event_types:
        if wide is not None:
            t = t.left_join(wide, "account_id").select(t, *[c for c in wide.columns if c != "account_id"])
        fills = {}
        for x in event_types:
            for prefix, null_value in (("_n__", 0), ("_p__", 0.0)):
                col = f"{prefix}{x}"
                fills[col] = t[col].fill_null(null_value) if col in t.columns else (
                    ibis.literal(null_value) if prefix == "_n__" else _double(null_value))
            if f"_a__{x}" not in t.columns:
                fills[f"_a__{x}"] = ibis.null().cast("int64")
        t = t.mutate(**fills)

    # ---- learned components (0-100 each, computed outside SQL)
    learned = _learned_weights(spec)
    missing = sorted(set(learned) - set(components or {}))
    if missing:
        raise ValueError(f"the spec uses {', '.join(missing)} but no {', '.join(missing)} scores were given")
    for name in learned:
        comp = components[name]  # type: ignore[index]
        comp = comp.select(account_id=comp.account_id, **{f"_{name}": comp.score.cast("float64"),
                                                          f"_{name}_why": comp.reason.cast("string")})
        t = t.left_join(comp, "account_id").select(t, comp[f"_{name}"], comp[f"_{name}_why"])
        t = t.mutate(**{f"_{name}": t[f"_{name}"].fill_null(0.0)})

    # ---- category scores, total, tier
    fit_raw = sum((t[f"_fit__{c.name}"] for c in spec.fit.criteria), ibis.literal(0.0))
    fit_score = 100.0 * fit_raw / max_fit if max_fit else _double(0.0)
    if spec.propensity.replaces_fit:
        fit_score = t._propensity
    signal_score, _, signal_contrib = _category(spec, "signals", t)
    engagement_score, _, engagement_contrib = _category(spec, "engagement", t)
    total = (spec.fit.weight * fit_score + spec.signals.weight * signal_score
             + spec.engagement.weight * engagement_score
             + sum((w * t[f"_{name}"] for name, w in learned.items() if w), _double(0.0))) / 100.0
    t = t.mutate(
        fit_score=fit_score.round(2),
        signal_score=signal_score.round(2),
        engagement_score=engagement_score.round(2),
        **{f"{name}_score": t[f"_{name}"].round(2) for name in learned},
        score=total.round(2),
    )
    t = t.mutate(tier=ibis.cases(*[(t.score >= tier.min_score, tier.name) for tier in spec.tiers[:-1]],
                                 else_=spec.tiers[-1].name))

    # ---- reasons: every contribution as (−points, label); sorted, the first three kept
    if spec.propensity.replaces_fit:
        fit_contrib = [_learned_contribution(t, "propensity", spec.fit.weight)]
    else:
        fit_contrib = [Contribution(t[f"_fit__{c.name}"] * (spec.fit.weight / max_fit), t[f"_fitlabel__{c.name}"])
                       for c in spec.fit.criteria]
    contributions = fit_contrib + signal_contrib + engagement_contrib + [
        _learned_contribution(t, name, w) for name, w in learned.items() if w]
    if contributions:
        # Sort (−points, index) pairs and word only the three kept: formatting
        # every candidate's label would cost far more than the sort.
        t = t.mutate(**{f"_c{i}": c.points for i, c in enumerate(contributions)})
        entries = ibis.array([ibis.struct({"k": -t[f"_c{i}"].round(6), "i": ibis.literal(i)})
                              for i in range(len(contributions))])
        t = t.mutate(_top=entries.filter(lambda e: e.k < -0.05).sort()[:3])
        reasons = {}
        for rank in range(3):
            pick = t._top[rank].i
            reasons[f"reason_{rank + 1}"] = ibis.cases(
                *[(pick == i, c.label + ibis.literal(": +") + t[f"_c{i}"].round(1).cast("string"))
                  for i, c in enumerate(contributions)],
                else_=_NULL_TEXT,
            )
    else:
        reasons = {f"reason_{i + 1}": _NULL_TEXT for i in range(3)}
    t = t.mutate(**reasons)

    # ---- segments (may read scores, tier and event features)
    keys = _segment_feature_keys(spec_file)
    if keys:
        if activities is None:
            feats = None
        else:
            feats = event_features(activities, keys, as_of)
            t = t.left_join(feats, "account_id").select(t, *[c for c in feats.columns if c != "account_id"])
        fills = {}
        for key in keys:
            col = feature_column(key)
            if key[0] == "event_count":
                fills[col] = t[col].fill_null(0) if feats is not None else ibis.literal(0)
            elif feats is None:
                fills[col] = ibis.null().cast("int64")
        if fills:
            t = t.mutate(**fills)
    features = {k: feature_column(k) for k in keys}
    rules = spec.segments.rules
    seg_index = ibis.cases(
        *[(compile_condition(spec_file.conditions.get(format_loc(("segments", "rules", i, "when")))
                             or E.parse_condition(r.when or ""), t, features), i) for i, r in enumerate(rules)],
        else_=len(rules),
    ) if rules else ibis.literal(0)
    all_segments = [*rules, spec.segments.default]

    def by_segment(values: list[str]) -> ir.StringValue:
        if len(set(values)) == 1:
            return ibis.literal(values[0])
        return ibis.cases(*[(seg_index == i, v) for i, v in enumerate(values)], else_=values[-1])

    t = t.mutate(_seg=seg_index)
    seg_index = t._seg
    touches = [f"{s.touches_per_month[0]}-{s.touches_per_month[1]}" if s.touches_per_month else "" for s in all_segments]
    out = t.select(
        account_id=t.account_id,
        account_name=t["name"] if "name" in t.columns else _NULL_TEXT,
        owner_id=t.owner_id if "owner_id" in t.columns else _NULL_TEXT,
        fit_score=t.fit_score,
        signal_score=t.signal_score,
        engagement_score=t.engagement_score,
        **{f"{name}_score": t[f"{name}_score"] for name in learned},
        score=t.score,
        tier=t.tier,
        segment=by_segment([s.name for s in all_segments]),
        priority=by_segment([s.priority for s in all_segments]),
        motion=by_segment([s.motion for s in all_segments]),
        touches_per_month=by_segment(touches),
        reason_1=t.reason_1,
        reason_2=t.reason_2,
        reason_3=t.reason_3,
        spec_hash=ibis.literal(spec_hash or spec.fingerprint()),
        as_of=ibis.literal(as_of),
    )
    return out


def _learned_weights(spec: Spec) -> dict[str, float]:
    """The learned components the spec uses, with their weights (replaces_fit: 0, weighed as fit)."""
    out = {}
    if spec.uses_propensity:
        out["propensity"] = 0.0 if spec.propensity.replaces_fit else spec.propensity.weight
    if spec.lookalike.weight > 0:
        out["lookalike"] = spec.lookalike.weight
    return out


def _learned_contribution(t: ir.Table, name: str, weight: float) -> Contribution:
    """A learned component's points and label, e.g. ``propensity 72.4 (industry is software ...)``."""
    label = ibis.literal(f"{name} ") + t[f"_{name}"].round(1).cast("string")
    label = ibis.ifelse(t[f"_{name}_why"].notnull(), label + ibis.literal(" (") + t[f"_{name}_why"]
                        + ibis.literal(")"), label)
    return Contribution(t[f"_{name}"] * (weight / 100.0), label)


def _segment_feature_keys(spec_file: SpecFile) -> set[FeatureKey]:
    keys: set[FeatureKey] = set()
    for i, rule in enumerate(spec_file.spec.segments.rules):
        node = spec_file.conditions.get(format_loc(("segments", "rules", i, "when"))) or E.parse_condition(rule.when or "")
        for child in E.walk(node):
            if isinstance(child, E.Call) and child.name in ("event_count", "days_since"):
                keys.add(feature_key(child))
    return keys
