"""Compile parsed conditions (:mod:`tierwise.spec.expr`) to Ibis boolean expressions.

A missing value never satisfies a condition: the compiled expression is
``false`` wherever SQL would give ``NULL``. Text equality and ``in`` lists
compare case-insensitively after trimming, the way people write rules.

Examples
--------
>>> import ibis
>>> from tierwise.spec.expr import parse_condition
>>> t = ibis.table({"employees": "int64", "industry": "string"}, name="accounts")
>>> cond = compile_condition(parse_condition("employees >= 500 and industry in ['Software']"), t)
>>> cond.type()
Boolean(nullable=True)
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from tierwise.spec import expr as E

FeatureKey = tuple[str, str, float | None]


def feature_column(key: FeatureKey) -> str:
    """Column name holding an event feature such as ``event_count('demo_request', 14)``."""
    fn, etype, days = key
    return f"_{fn}__{etype}" + (f"__{days:g}" if days is not None else "")


def compile_condition(node: E.Node, table: ir.Table, features: Mapping[FeatureKey, str] | None = None) -> ir.BooleanValue:
    """A boolean expression over ``table`` that is never NULL."""
    value = _compile(node, table, features or {})
    return value.fill_null(False)


def _compile(node: E.Node, t: ir.Table, features: Mapping[FeatureKey, str]) -> ir.Value:
    if isinstance(node, E.Column):
        return t[node.name]
    if isinstance(node, E.Literal):
        return ibis.literal(node.value) if node.value is not None else ibis.null()
    if isinstance(node, E.Logical):
        parts = [_compile(op, t, features).fill_null(False) for op in node.operands]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if node.op == "and" else (out | p)
        return out
    if isinstance(node, E.Not):
        return ~_compile(node.operand, t, features).fill_null(False)
    if isinstance(node, E.Compare):
        left, right = _compile(node.left, t, features), _compile(node.right, t, features)
        if node.op in ("==", "!=") and _is_text(left) and _is_text(right):
            left, right = _fold(left), _fold(right)
        return {
            "<": lambda: left < right, "<=": lambda: left <= right, ">": lambda: left > right,
            ">=": lambda: left >= right, "==": lambda: left == right, "!=": lambda: left != right,
        }[node.op]()
    if isinstance(node, E.Membership):
        item = _compile(node.item, t, features)
        if _is_text(item):
            hit = _fold(item).isin([str(v).strip().lower() for v in node.values])
        else:
            hit = item.isin(list(node.values))
        return ~hit if node.negate else hit
    if isinstance(node, E.Contains):
        column = t[node.column.name]
        hit = column.contains(node.value.strip().lower())
        return ~hit if node.negate else hit
    if isinstance(node, E.Arithmetic):
        left, right = _compile(node.left, t, features), _compile(node.right, t, features)
        if node.op == "/":
            return left / ibis.ifelse(right == 0, ibis.null(), right)
        return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    if isinstance(node, E.Call):
        if node.name == "is_null":
            return _compile(node.args[0], t, features).isnull()
        if node.name == "not_null":
            return _compile(node.args[0], t, features).notnull()
        key = feature_key(node)
        return t[features[key]]
    raise AssertionError(f"unhandled node {node!r}")


def compile_value(node: E.Node, table: ir.Table) -> ir.Value:
    """A value expression (arithmetic over columns, e.g. a territory potential) over ``table``; NULL stays NULL."""
    return _compile(node, table, {})


def value_type_problem(node: E.Node, column_types: Mapping[str, str]) -> str | None:
    """Why an expression is not a number over columns of these logical types, or None."""
    from ibis.common.exceptions import IbisTypeError

    from tierwise.datamodel import IBIS_TYPES

    for child in E.walk(node):
        if isinstance(child, E.Call) and child.name in ("event_count", "days_since"):
            return f"{child.name}() is not available here"
    schema = {name: IBIS_TYPES[dtype] for name, dtype in column_types.items()}
    try:
        value = _compile(node, ibis.table(schema, name="accounts"), {})
    except IbisTypeError as exc:
        return f"types do not fit: {str(exc).splitlines()[0]}"
    except Exception:  # Ibis signature errors: an operator applied to the wrong kind of value
        return "types do not fit: an operator or function is applied to the wrong kind of value"
    if not value.type().is_numeric() or value.type().is_boolean():
        return f"must give a number, but gives a value of type {value.type()}"
    return None


def feature_key(node: E.Call) -> FeatureKey:
    etype = str(node.args[0].value).strip().lower()  # type: ignore[union-attr]
    days = float(node.args[1].value) if node.name == "event_count" else None  # type: ignore[union-attr]
    return (node.name, etype, days)


def _is_text(value: ir.Value) -> bool:
    return value.type().is_string()


def _fold(value: ir.StringValue) -> ir.StringValue:
    return value.strip().lower()


def type_problem(node: E.Node, column_types: Mapping[str, str]) -> str | None:
    """Why a condition does not type-check against columns of these logical types, or None.

    Compiles the condition against an unbound table, so ``employees == 'big'``
    is reported when the spec loads rather than when it is scored.
    """
    from ibis.common.exceptions import IbisTypeError

    from tierwise.datamodel import IBIS_TYPES

    schema = {name: IBIS_TYPES[dtype] for name, dtype in column_types.items()}
    for child in E.walk(node):
        if isinstance(child, E.Contains) and column_types.get(child.column.name) != "list":
            return (f"'{child.value}' in {child.column.name}: 'in' on a column needs a multi-valued (list) column, "
                    f"and {child.column.name} is {column_types.get(child.column.name)}")
    features = {}
    for child in E.walk(node):
        if isinstance(child, E.Call) and child.name in ("event_count", "days_since"):
            key = feature_key(child)
            features[key] = feature_column(key)
            schema[features[key]] = "int64"
    try:
        value = _compile(node, ibis.table(schema, name="accounts"), features)
    except IbisTypeError as exc:
        return f"types do not fit: {str(exc).splitlines()[0]}"
    except Exception:  # Ibis signature errors: an operator applied to the wrong kind of value
        return "types do not fit: an operator or function is applied to the wrong kind of value"
    if not value.type().is_boolean():
        return f"a condition must be true or false, but this gives a value of type {value.type()}"
    return None
