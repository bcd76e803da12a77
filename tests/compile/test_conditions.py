"""The condition language: parsing (tierwise.spec.expr) and compiling to Ibis on DuckDB."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from tierwise.compile.conditions import compile_condition
from tierwise.spec.expr import (
    Call,
    Column,
    Compare,
    ConditionError,
    Contains,
    Literal,
    Logical,
    Membership,
    parse_condition,
    referenced_columns,
)

ACCOUNTS = pa.table({
    "id": ["a", "b", "c", "d", "e"],
    "employees": pa.array([50, 500, 5000, None, 0], pa.int64()),
    "annual_revenue": pa.array([1e6, 50e6, 900e6, 10e6, 2e6], pa.float64()),
    "industry": ["Software", "RETAIL", " software ", None, "Healthcare"],
    "country": ["US", "gb", "DE", "US", None],
    "tech_stack": pa.array([["salesforce", "snowflake"], [], ["snowflake"], None, ["hubspot"]],
                           pa.list_(pa.string())),
})


@pytest.fixture
def matching(engine):
    """``matching("condition")`` -> sorted ids of the rows where the condition holds."""
    table = ibis.memtable(ACCOUNTS)

    def run(text: str) -> list[str]:
        cond = compile_condition(parse_condition(text), table)
        rows = engine.to_arrow(table.filter(cond).select("id")).to_pylist()
        return sorted(r["id"] for r in rows)

    return run


# --------------------------------------------------------------------------- parsing


def test_chained_comparison_parses_to_and():
    node = parse_condition("100 <= employees < 1000")
    assert node == Logical("and", (
        Compare("<=", Literal(100), Column("employees")),
        Compare("<", Column("employees"), Literal(1000)),
    ))


def test_parse_literals_and_functions():
    node = parse_condition("event_count('demo_request', 14) >= 2 and industry in ['Software', 5_000] and -x > 1e3")
    assert isinstance(node, Logical) and node.op == "and"
    count, member, _neg = node.operands
    assert count == Compare(">=", Call("event_count", (Literal("demo_request"), Literal(14))), Literal(2))
    assert member == Membership(Column("industry"), ("Software", 5000))
    assert referenced_columns(node) == {"industry", "x"}


def test_list_column_membership_parses_to_contains():
    assert parse_condition("'snowflake' not in tech_stack") == Contains(Column("tech_stack"), "snowflake", negate=True)


@pytest.mark.parametrize(("text", "message"), [
    ("account.name == 'x'", "'account.name' is not allowed in a condition"),
    ("lambda x: x", "'lambda x: x' is not allowed in a condition"),
    ("(lambda: 1)() == 1", "'lambda: 1' is not allowed; use one of: days_since, event_count, is_null, not_null"),
    ("[x for x in tech_stack] == []", "'[x for x in tech_stack]' is not allowed in a condition"),
    ("event_count(type='demo', days=3) > 1", "event_count() takes positional arguments only"),
    ("tech_stack[0] == 'salesforce'", "'tech_stack[0]' is not allowed in a condition"),
    ("__import__('os')", "function '__import__' is not allowed; use one of: days_since, event_count, is_null, not_null"),
    ("os.system('ls')", "'os.system' is not allowed; use one of: days_since, event_count, is_null, not_null"),
    ("employees ** 2 > 1", "operator 'employees ** 2' is not allowed; use + - * /"),
    ("employees is None", "comparison 'employees is None' is not allowed; use < <= > >= == != in"),
    ("event_count('demo') > 1", "event_count() takes 2 argument(s), got 1"),
    ("event_count('demo', -1) > 0", "event_count(): argument '-1' must be a number"),
    ("days_since(industry) < 3", "days_since(): argument 'industry' must be a text"),
    ("industry in tech_stack", "'industry in tech_stack' needs quoted text on the left"),
    ("industry in [1, null]", "'in' needs a list of text or numbers, got 'null'"),
    ("", "a condition must be a non-empty text"),
    ("employees >=", "cannot parse condition"),
])
def test_rejected_constructs(text, message):
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert str(info.value).startswith(message)


# --------------------------------------------------------------------------- compiled on DuckDB


def test_chained_comparison(matching):
    assert matching("100 <= employees < 1000") == ["b"]
    assert matching("50 <= employees <= 5000") == ["a", "b", "c"]


def test_in_list_is_case_insensitive_and_trimmed(matching):
    assert matching("industry in ['software', 'Retail']") == ["a", "b", "c"]
    assert matching("country in ['GB', 'de']") == ["b", "c"]


def test_text_equality_is_case_insensitive(matching):
    assert matching("industry == 'SOFTWARE'") == ["a", "c"]
    assert matching("industry != 'software'") == ["b", "e"]


def test_contains_on_a_list_column(matching):
    assert matching("'snowflake' in tech_stack") == ["a", "c"]
    assert matching("'Snowflake ' in tech_stack") == ["a", "c"]
    # d has no tech stack at all: unknown, so neither `in` nor `not in` holds
    assert matching("'snowflake' not in tech_stack") == ["b", "e"]


def test_missing_value_never_satisfies_a_comparison(matching):
    """Row d has no employees, row e no country: every comparison on them is false."""
    assert "d" not in matching("employees >= 0")
    assert "d" not in matching("employees < 1000000")
    assert "d" not in matching("employees != 5")
    assert "e" not in matching("country not in ['US']")
    assert matching("country not in ['US']") == ["b", "c"]


def test_not(matching):
    assert matching("not (employees >= 500)") == ["a", "d", "e"]
    assert matching("not industry in ['software'] and not_null(industry)") == ["b", "e"]


def test_not_negates_a_false_comparison_on_missing_values(matching):
    """Per docs/scoring.md a comparison on a missing value is false, so `not (...)` of it holds.

    (Unlike `x not in [...]`, which is itself a comparison and false on a missing value.)
    """
    assert "d" in matching("not (employees >= 500)")
    assert "d" not in matching("employees < 500")


def test_null_functions(matching):
    assert matching("is_null(employees)") == ["d"]
    assert matching("not_null(country) and is_null(industry)") == ["d"]
    # comparing with the literal null is an explicit null test, never a silent false
    assert matching("employees == null") == ["d"]
    assert matching("employees != null") == ["a", "b", "c", "e"]
    assert matching("employees > null") == []


def test_or_with_a_missing_side(matching):
    assert matching("employees >= 5000 or country == 'us'") == ["a", "c", "d"]


def test_arithmetic_and_division_by_zero_is_false(matching):
    # revenue per employee: e has 0 employees (division by zero -> no match), d has none
    assert matching("annual_revenue / employees >= 20000") == ["a", "b", "c"]
    assert matching("annual_revenue / employees < 20000") == []
    assert matching("employees * 2 + 1 == 1001") == ["b"]
    assert matching("employees - 100 < 0") == ["a", "e"]
    assert matching("-employees < -1000") == ["c"]


def test_numbers_with_underscores_and_exponents(matching):
    assert matching("annual_revenue >= 50e6") == ["b", "c"]
    assert matching("employees >= 5_000") == ["c"]
