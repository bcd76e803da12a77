"""Compile the spec's lead and contact scoring (``lead_scoring:``) to one Ibis expression.

People — leads, or contacts with their account's size and industry — are
scored the same way (arithmetic in ``docs/lead-scoring.md``):

1. **fit**: points per criterion over the person's columns (title keywords,
   seniority, persona, company size, industry);
2. **behaviour**: per group, points per event within the window (each type
   capped), plus column criteria (visits, time on site); each group capped;
3. **negatives**: competitor domain, personal email domain, wrong company
   size and the spec's own penalty rules;
4. the sum clipped to ``[0, total_cap]`` and **decayed** by ``monthly_rate``
   for every whole idle month since the latest activity (or creation);
5. **MQL**: at or above a fixed threshold, or in the top share of scored
   people (ties go below, so the share is never exceeded);
6. the first matching **contact segment** (seed 002), else the default.

Every part is also a column (``fit__<name>``, ``behaviour__<group>``,
``penalty__<name>``) and the ``breakdown`` text lists the non-zero ones.

Examples
--------
>>> import ibis, datetime
>>> from tierwise.spec.loader import load_spec_text
>>> spec_file = load_spec_text('''
... data: {accounts: {path: a.csv}}
... fit: {criteria: [{name: size, field: employees, at_least: 100, points: 10}]}
... lead_scoring:
...   fit: [{name: title, field: title, contains: {vp: 15, director: 10}}]
...   behaviour: [{name: intent, cap: 40, events: {demo_request: 30}}]
...   mql: {threshold: 40}
... ''')
>>> leads = ibis.memtable({"lead_id": ["L1"], "email": ["ann@gmail.com"], "title": ["VP Sales"]})
>>> events = ibis.memtable({"lead_id": ["L1"], "event_type": ["demo_request"],
...                         "occurred_at": [datetime.datetime(2026, 10, 30)]})
>>> row = compile_lead_scores(spec_file, leads, events, as_of=datetime.date(2026, 11, 1)).to_pyarrow().to_pylist()[0]
>>> row["lead_score"], row["is_mql"], row["breakdown"]
(30.0, False, 'title = VP Sales +15; intent: demo_request x1 +30; personal email (gmail.com) -15')
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from tierwise.compile.conditions import FeatureKey, compile_condition, feature_column, feature_key
from tierwise.compile.scoring import _double, fit_points, whole_word
from tierwise.spec import expr as E
from tierwise.spec.loader import SpecFile, format_loc
from tierwise.spec.model import BehaviourGroup, LeadScoringSpec

LOC = ("lead_scoring",)
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _node(spec_file: SpecFile, loc: tuple, text: str) -> E.Node:
    return spec_file.conditions.get(format_loc(loc)) or E.parse_condition(text)


def _points_text(value: ir.FloatingValue) -> ir.StringValue:
    """``+15`` / ``-15`` / ``+7.5``: points as people write them."""
    text = value.round(1).cast("string").re_replace(r"\.0$", "")
    return ibis.ifelse(value >= 0, ibis.literal("+") + text, text)


def _at_most(value: ir.FloatingValue, cap: float) -> ir.FloatingValue:
    """``min(value, cap)`` for a value that is never null (LEAST: one reference, unlike ``clip``)."""
    return ibis.least(value, _double(cap))


def _persona(ls: LeadScoringSpec, t: ir.Table) -> ir.StringValue:
    """The stored persona (lower case), else the first persona whose title keyword appears."""
    given = t.persona.strip().lower().nullif("") if "persona" in t.columns else ibis.null().cast("string")
    if not ls.personas or "title" not in t.columns:
        return given
    title = t.title.lower()
    derived = ibis.cases(*[
        (title.re_search(whole_word(*keywords)), ibis.literal(name))
        for name, keywords in ls.personas.items() if keywords
    ], else_=ibis.null().cast("string"))
    return given.coalesce(derived)


def person_event_points(ls: LeadScoringSpec, events: ir.Table, key: str, as_of: date,
                        features: set[FeatureKey] = frozenset()) -> ir.Table:
    """Per person: count of every scored event type in its window, days since the latest event, and
    the ``event_count`` / ``days_since`` features segment rules ask for — one pass over the events.

    Any event type counts as activity (it resets decay); only the spec's types earn points.
    (A first aggregate per person and type, pivoted in a second, was measured: twice as slow.)
    """
    rules = ls.event_rules()
    age = ibis.literal(as_of).delta(events.occurred_at.date(), unit="day")
    e = events.filter(age >= 0).select(key, "event_type", _age=age)
    windows = {t: float(ls.window_days if r.window_days is None else r.window_days) for t, (_, r) in rules.items()}
    metrics: dict[str, ir.Value] = {"_last_age": e._age.min()}
    for etype, window in windows.items():
        metrics[f"_n__{etype}"] = e.count(where=(e.event_type == etype) & (e._age <= _whole(window)))
    for fn, etype, days in sorted(features, key=str):
        if fn == "event_count":
            metrics[feature_column((fn, etype, days))] = e.count(where=(e.event_type == etype) & (e._age <= _whole(days)))
        else:
            metrics[feature_column((fn, etype, days))] = e._age.min(where=e.event_type == etype)
    return e.group_by(key).aggregate(**metrics)


def _whole(days: float) -> int | float:
    """``14.0`` as ``14``: comparing the integer age with a float literal makes DuckDB cast every age to a decimal."""
    return int(days) if float(days).is_integer() else days


def _group(group: BehaviourGroup, t: ir.Table, conditions: dict) -> tuple[ir.FloatingValue, ir.StringValue]:
    """A behaviour group's capped points and its breakdown text (null when it adds nothing)."""
    parts, labels = [], []
    for etype, rule in group.events.items():
        n = t[f"_n__{etype}"]
        pts = n.cast("float64") * float(rule.points)
        if rule.cap is not None and rule.points > 0:
            pts = _at_most(pts, rule.cap)
        parts.append(pts)
        labels.append(ibis.ifelse(n > 0, ibis.literal(f"{etype} x") + n.cast("string"), ibis.null().cast("string")))
    for crit in group.criteria:
        pts, shown = fit_points(crit, t, conditions)
        parts.append(pts)
        labels.append(ibis.ifelse(pts != 0, shown, ibis.null().cast("string")))
    raw = sum(parts, _double(0.0))
    total = _at_most(raw, group.cap) if group.cap is not None else raw
    items = ibis.literal(", ").join(labels) if len(labels) > 1 else labels[0]
    capped = ibis.literal(f" (cap {group.cap:g})") if group.cap is not None else ibis.literal("")
    text = ibis.literal(f"{group.name}: ") + items + ibis.literal(" ") + _points_text(total) + ibis.ifelse(
        raw > total, capped, ibis.literal(""))
    return total, ibis.ifelse(total != 0, text, ibis.null().cast("string"))


def compile_lead_scores(
    spec_file: SpecFile,
    people: ir.Table,
    events: ir.Table | None,
    *,
    as_of: date,
    key: str = "lead_id",
    mql_threshold: float | None = None,
    spec_hash: str | None = None,
    passthrough: tuple[str, ...] = (),
) -> ir.Table:
    """Score every person of ``people`` (one row each, keyed by ``key``) from their ``events``.

    ``events`` has ``key``, ``event_type`` (lower case) and ``occurred_at``.
    ``mql_threshold`` overrides the spec's MQL rule (the API passes the
    threshold a batch run chose). Output: the person's key, ``email``,
    ``title``, ``persona``, ``fit_points``, ``behaviour_points``,
    ``negative_points``, ``days_since_activity``, ``decay_factor``,
    ``lead_score`` (0 to ``total_cap``), ``is_mql``, ``mql_threshold``,
    ``lead_segment``, ``motion``, ``breakdown`` and one column per part;
    ``passthrough`` names more of the person's columns to keep (typed as given).
    """
    spec = spec_file.spec
    ls = spec.lead_scoring
    if ls is None:
        raise ValueError(f"{spec_file.path}: the spec has no 'lead_scoring:' section (see docs/lead-scoring.md)")
    t = people
    for col, dtype in (("email", "string"), ("title", "string"), ("created_at", "timestamp")):
        if col not in t.columns:
            t = t.mutate(**{col: ibis.null().cast(dtype)})
    email = t.email.strip().lower()
    email_ok = email.re_search(_EMAIL).fill_null(False)
    t = t.mutate(
        persona=_persona(ls, t),
        _email_ok=email_ok,
        # a malformed address has no domain to penalise (or to match on)
        _domain=ibis.ifelse(email_ok, email.re_extract(r"@([^@\s]+)$", 1).nullif(""), ibis.null().cast("string")),
    )

    # ---- fit and column-based behaviour criteria
    conditions = {}
    for i, crit in enumerate(ls.fit):
        if crit.when:
            conditions[f"{crit.name}__when"] = _node(spec_file, (*LOC, "fit", i, "when"), crit.when)
    for g, group in enumerate(ls.behaviour):
        for i, crit in enumerate(group.criteria):
            if crit.when:
                conditions[f"{crit.name}__when"] = _node(spec_file, (*LOC, "behaviour", g, "criteria", i, "when"),
                                                         crit.when)
    # ---- events: scored counts, latest activity and the segments' features in one pass
    rules = ls.event_rules()
    seg = ls.segments
    nodes = [_node(spec_file, (*LOC, "segments", "rules", i, "when"), r.when or "") for i, r in enumerate(seg.rules)]
    keys: set[FeatureKey] = set()
    for node in nodes:
        keys |= {feature_key(c) for c in E.walk(node) if isinstance(c, E.Call) and c.name in ("event_count", "days_since")}
    counts = [f"_n__{x}" for x in rules] + [feature_column(k) for k in keys if k[0] == "event_count"]
    if events is not None:
        wide = person_event_points(ls, events, key, as_of, keys)
        t = t.left_join(wide, key).select(t, *[c for c in wide.columns if c != key])
        t = t.mutate(**{c: t[c].fill_null(0) for c in counts})
    else:
        t = t.mutate(_last_age=ibis.null().cast("int64"), **{c: ibis.literal(0) for c in counts},
                     **{feature_column(k): ibis.null().cast("int64") for k in keys if k[0] == "days_since"})

    parts: dict[str, ir.FloatingValue] = {}
    labels: list[ir.StringValue] = []
    for crit in ls.fit:
        pts, shown = fit_points(crit, t, conditions)
        parts[f"fit__{crit.name}"] = pts
        labels.append(ibis.ifelse(pts != 0, shown + ibis.literal(" ") + _points_text(pts),
                                  ibis.null().cast("string")))
    for group in ls.behaviour:
        pts, text = _group(group, t, conditions)
        parts[f"behaviour__{group.name}"] = pts
        labels.append(text)

    # ---- negatives
    neg = ls.negatives
    penalties: dict[str, tuple[ir.BooleanValue, float, ir.StringValue]] = {}
    if neg.competitor.domains and neg.competitor.points:
        penalties["competitor"] = (t._domain.isin(neg.competitor.domains), neg.competitor.points,
                                   ibis.literal("competitor domain (") + t._domain + ibis.literal(")"))
    if neg.personal_email.domains and neg.personal_email.points:
        penalties["personal_email"] = (t._domain.isin(neg.personal_email.domains), neg.personal_email.points,
                                       ibis.literal("personal email (") + t._domain + ibis.literal(")"))
    size = neg.wrong_size
    if (size.min is not None or size.max is not None) and size.points and size.field in t.columns:
        v = t[size.field]
        wrong = ibis.literal(False)
        if size.min is not None:
            wrong |= v < size.min
        if size.max is not None:
            wrong |= v >= size.max
        penalties["wrong_size"] = (wrong, size.points, ibis.literal(f"wrong size ({size.field} ") + v.cast("string")
                                   + ibis.literal(")"))
    for i, rule in enumerate(neg.rules):
        hit = compile_condition(_node(spec_file, (*LOC, "negatives", "rules", i, "when"), rule.when), t)
        penalties[rule.name] = (hit, rule.points, ibis.literal(rule.name))
    for name, (hit, points, label) in penalties.items():
        pts = ibis.ifelse(hit.fill_null(False), _double(points), _double(0.0))
        parts[f"penalty__{name}"] = pts
        labels.append(ibis.ifelse(pts != 0, label + ibis.literal(" ") + _points_text(pts), ibis.null().cast("string")))
    t = t.mutate(**parts)

    def total(prefix: str) -> ir.FloatingValue:
        return sum((t[c] for c in parts if c.startswith(prefix)), _double(0.0))

    fit, behaviour, negative = total("fit__"), total("behaviour__"), total("penalty__")
    # ---- decay: whole idle months since the latest activity, else since the person was created
    created_age = ibis.literal(as_of).delta(t.created_at.date(), unit="day")
    idle = t._last_age.coalesce(ibis.ifelse(created_age >= 0, created_age, ibis.null().cast("int64")))
    months = (idle.cast("float64") / ls.decay.month_days).floor().fill_null(0.0)
    factor = (ibis.literal(1.0 - ls.decay.monthly_rate) ** months) if ls.decay.monthly_rate else _double(1.0)
    cap = float(ls.total_cap)
    if ls.decay.applies_to == "total":
        score = ibis.greatest(_at_most(fit + behaviour + negative, cap), _double(0.0)) * factor
    else:
        score = ibis.greatest(_at_most(fit + behaviour * factor + negative, cap), _double(0.0))
    t = t.mutate(fit_points=fit.round(2), behaviour_points=behaviour.round(2), negative_points=negative.round(2),
                 days_since_activity=idle, decay_factor=factor.round(4), lead_score=score.round(2))
    decay_text = ibis.ifelse(
        months > 0,
        ibis.literal("idle ") + months.cast("int64").cast("string")
        + ibis.ifelse(months == 1, ibis.literal(" month x"), ibis.literal(" months x")) + t.decay_factor.round(2).cast("string"),
        ibis.null().cast("string"))
    no_email = ibis.ifelse(t.email.notnull() & ~t._email_ok, ibis.literal("malformed email"),
                           ibis.null().cast("string"))
    t = t.mutate(breakdown=ibis.literal("; ").join([*labels, decay_text, no_email]).nullif(""))

    # ---- MQL
    threshold = mql_threshold if mql_threshold is not None else ls.mql.threshold
    if threshold is not None:
        t = t.mutate(is_mql=(t.lead_score >= threshold) & (t.lead_score > 0), mql_threshold=_double(threshold))
    else:
        # The MQLs are the top share, ties left out: the line is the lowest positive score s that at most
        # top_share of the scored people reach. Found over the distinct scores (thousands of rows), not
        # by sorting every person with all their columns.
        scored = t.filter(t.lead_score.notnull())
        dist = scored.group_by("lead_score").aggregate(_k=scored.count())
        dist = dist.mutate(_n_ge=dist._k.sum().over(ibis.window(order_by=ibis.desc(dist.lead_score), rows=(None, 0))),
                           _n=dist._k.sum().over(ibis.window()))
        line = dist.filter((dist._n_ge <= ls.mql.top_share * dist._n) & (dist.lead_score > 0)).aggregate(
            mql_threshold=dist.lead_score.min())
        t = t.cross_join(line)
        t = t.mutate(is_mql=(t.lead_score >= t.mql_threshold).fill_null(False))

    # ---- contact segments
    features = {k: feature_column(k) for k in keys}
    index = ibis.cases(*[(compile_condition(n, t, features), i) for i, n in enumerate(nodes)],
                       else_=len(nodes)) if nodes else ibis.literal(0)
    t = t.mutate(_seg=index)
    every = [*seg.rules, seg.default]

    def by_segment(values: list[str]) -> ir.StringValue:
        if len(set(values)) == 1:
            return ibis.literal(values[0])
        return ibis.cases(*[(t._seg == i, v) for i, v in enumerate(values)], else_=values[-1])

    extra = [c for c in ("account_id", "company", *passthrough) if c in people.columns and c != key
             and c not in ("email", "title", "persona")]
    return t.select(
        key, *dict.fromkeys(extra), "email", "title", "persona", "fit_points", "behaviour_points", "negative_points",
        "days_since_activity", "decay_factor", "lead_score", "is_mql", "mql_threshold",
        lead_segment=by_segment([s.name for s in every]),
        motion=by_segment([s.motion for s in every]),
        breakdown=t.breakdown,
        email_valid=t._email_ok | t.email.isnull(),
        **{c: t[c].round(2) for c in parts},
        spec_hash=ibis.literal(spec_hash or spec.fingerprint()),
        as_of=ibis.literal(as_of),
    )
