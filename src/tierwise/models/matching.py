"""Lead-to-account matching: email domain, then website, then fuzzy company name.

Every lead gets exactly one row back, in the input order, saying which account
it belongs to, how (``email_domain``, ``website`` or ``company_name``), how
sure the match is (0-100) and why, in plain words. Nothing is dropped: leads
that match nothing are ``unmatched`` and leads whose candidates cannot be told
apart are ``ambiguous``, both with a reason.

Matching order
--------------
1. **Email domain.** The part after ``@``, normalised like a website (see
   :func:`normalise_domain`). Personal and free-mail domains (gmail.com,
   yahoo.*, gmx.*, ...) are skipped with a note; malformed addresses (no
   ``@``, two ``@``, spaces, no domain) are noted and skipped.
2. **Lead website**, normalised the same way.
3. **Company name**, normalised by :func:`normalise_company` and compared with
   :mod:`rapidfuzz` (``token_sort_ratio`` by default); the best score must
   reach ``min_score``.

A domain matches an account when it is the account's domain (confidence 100),
or else when both share the same *registrable* domain (``mail.acme.com`` and
``acme.com`` both sit under ``acme.com``; confidence 90). The registrable
domain is the last two labels, or the last three under a two-level public
suffix such as ``co.uk`` or ``com.au`` (see :func:`registrable_domain`).

Tie-breakers
------------
When several accounts share the domain, or several names score within
``ambiguity_margin`` points of the best, the matcher prefers, in order: an
account with an owner, then the larger one (``employees``; unknown counts as
smallest), then the lower ``account_id``. The result is ``matched`` with
``candidates`` > 1 and the tie-breaker named in the reason. It is
``ambiguous`` (``account_id`` None, the tied accounts listed in the reason)
only when the tied accounts have no owner and the same size, so nothing but
the identifier would separate them.

Scale
-----
Names are deduplicated on both sides, then *blocked*: a lead name is only
compared with account names that share a blocking key — the first or last
three letters (two for short words) of the first word, or of the
alphabetically first word (what ``token_sort_ratio`` lines up). One typo in
that word keeps one of its keys, so recall is kept for the near-identical
names a score >= 85 requires; two typos in the same blocking word, or a typo
together with reordered words, can be missed. Each block is scored
with :func:`rapidfuzz.process.cdist` and ``score_cutoff``.

Domains and names are normalised once per distinct value, a whole column at a time with
:mod:`pyarrow.compute`: RE2 patterns written to give exactly what :func:`normalise_domain`,
:func:`normalise_company` and :func:`registrable_domain` give, with Python's own case mapping and accent
folding for the (rare) text that is not ASCII. Small batches, and columns holding other things than text,
take those functions directly.

Examples
--------
>>> import pandas as pd
>>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "name": ["Acme Inc.", "Globex GmbH"],
...                          "domain": ["acme.com", None], "website": [None, "https://www.globex.de/en"]})
>>> leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"],
...                       "email": ["jo@mail.acme.com", "al@gmail.com", None],
...                       "company": [None, "Globex", "Initech"]})
>>> out = LeadAccountMatcher().fit(accounts).match(leads)
>>> print(out[["lead_id", "account_id", "method", "confidence", "status"]].to_string(index=False))
lead_id account_id       method  confidence    status
     L1         A1 email_domain        90.0   matched
     L2         A2 company_name       100.0   matched
     L3       None         None         0.0 unmatched
>>> out.loc[1, "reason"]
"personal email domain gmail.com: not used for matching; company 'Globex' ~ 'Globex GmbH' (score 100)"
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from tierwise.errors import DataError

__all__ = [
    "LEGAL_SUFFIXES",
    "PERSONAL_DOMAINS",
    "LeadAccountMatcher",
    "normalise_company",
    "normalise_domain",
    "registrable_domain",
]

#: Free-mail and personal email domains never used for matching. ``name.*`` means any
#: domain whose registrable part starts with that label (``gmx.de``, ``gmx.net``, ...).
PERSONAL_DOMAINS: frozenset[str] = frozenset({
    "gmail.com", "googlemail.com", "yahoo.*", "ymail.com", "rocketmail.com", "hotmail.*", "outlook.*",
    "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "aim.com", "gmx.*", "web.de",
    "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com", "zoho.mail", "mail.com",
    "qq.com", "163.com", "126.com", "sina.com", "naver.com", "daum.net", "mail.ru", "yandex.ru",
    "yandex.com", "ya.ru", "rambler.ru", "t-online.de", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr",
    "libero.it", "btinternet.com", "comcast.net", "verizon.net", "att.net", "rediffmail.com", "hey.com",
    "fastmail.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "bol.com.br", "uol.com.br",
})

#: Two-level public suffixes: under these the registrable domain keeps three labels.
MULTI_LEVEL_SUFFIXES: frozenset[str] = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "net.nz",
    "co.jp", "ne.jp", "or.jp", "ac.jp", "co.kr", "or.kr", "com.cn", "net.cn", "org.cn", "com.hk", "com.tw",
    "com.sg", "com.my", "co.id", "co.th", "com.ph", "com.vn", "co.in", "net.in", "org.in", "com.pk",
    "com.br", "net.br", "org.br", "com.mx", "com.ar", "com.co", "com.pe", "com.uy", "com.ve", "com.ec",
    "co.za", "org.za", "com.ng", "co.ke", "com.eg", "co.il", "org.il", "com.tr", "com.sa", "com.ua",
    "co.at", "or.at", "com.pl", "com.es", "com.pt", "com.gr",
})

#: Legal-form words removed from the end of company names (after dots are dropped,
#: so ``S.A.`` is ``sa`` and ``L.L.C.`` is ``llc``).
LEGAL_SUFFIXES: frozenset[str] = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "gmbh", "mbh", "corp", "corporation",
    "co", "company", "sa", "ag", "plc", "bv", "nv", "kg", "kgaa", "ug", "se", "srl", "sarl", "sas", "spa",
    "sl", "slu", "pty", "pte", "oy", "oyj", "ab", "asa", "aps", "kk", "bhd", "sdn", "pvt", "private",
    "sro", "zoo", "doo", "kft", "rt", "sp",
})

#: Words too common to block on.
_STOP_WORDS = frozenset({"the", "and", "of", "de", "la", "le", "der", "die", "das", "el", "y", "et", "und"})

_SCORERS = {
    "ratio": fuzz.ratio, "token_sort_ratio": fuzz.token_sort_ratio, "token_set_ratio": fuzz.token_set_ratio,
    "QRatio": fuzz.QRatio, "WRatio": fuzz.WRatio,
}

_DOMAIN_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/:?#]*).*$", re.S)
_HOST_RE = re.compile(r"^[^\s.@]+(?:\.[^\s.@]+)+$")
_EMAIL_RE = r"^[^@\s]+@([^@\s]+)$"
_PUNCT_RE = re.compile(r"[^\w\s]|_")
_PARALLEL_CELLS = 200_000  # cdist cells from which worker threads are used
_CELLS_PER_CALL = 4_000_000  # bounds the float32 score matrix of one cdist call (16 MB)

# Whole columns are normalised with pyarrow.compute, by RE2 patterns that give exactly what the scalar
# rules above give (the tests compare them); only str.lower and normalise_company's accent folding and
# Unicode word characters are left to Python, for the rare values that are not ASCII.

#: What str.strip(), str.split() and re's \s take for white space (every character whose isspace() is true).
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_RE2_SPACE = "".join(f"\\x{{{ord(ch):x}}}" for ch in _WHITESPACE)
# re's "$" also matches before a final newline, RE2's only at the very end: hence "\n?$"
_HOST_RE2 = rf"^[^{_RE2_SPACE}.@]+(?:\.[^{_RE2_SPACE}.@]+)+\n?$"
_EMAIL_RE2 = rf"^[^@{_RE2_SPACE}]+@(?P<domain>[^@{_RE2_SPACE}]+)\n?$"
_EMAIL_PY = re.compile(_EMAIL_RE)
_REGISTRABLE_RE2 = (r"(?P<registrable>[^.]*\.(?:" + "|".join(sorted(map(re.escape, MULTI_LEVEL_SUFFIXES)))
                    + r")|[^.]*\.[^.]*)$")
_TRAILING_LEGAL_RE2 = "(?: (?:" + "|".join(sorted(LEGAL_SUFFIXES | {"and"})) + "))+$"

COLUMNS = ["lead_id", "account_id", "method", "confidence", "status", "candidates", "reason"]


# --------------------------------------------------------------------------- helpers


def normalise_domain(text: object) -> str | None:
    """``https://www.Acme.com/about`` -> ``acme.com``; None when there is no domain.

    The rules mirror :func:`tierwise.io.loader.normalise_domain` (lower case,
    scheme, a leading ``www.``, path, port, query and fragment removed), and in
    addition trim spaces and a trailing dot, and return None for text that is
    not a host name with at least one dot (``n/a``, ``localhost``, ``a b.com``).

    Examples
    --------
    >>> normalise_domain(" HTTPS://www.Acme.com:443/about?x=1 ")
    'acme.com'
    >>> normalise_domain("mail.acme.co.uk."), normalise_domain("n/a"), normalise_domain(None)
    ('mail.acme.co.uk', None, None)
    """
    if not isinstance(text, str):
        return None
    host = _DOMAIN_RE.sub(r"\1", text.strip().lower()).rstrip(".")
    return host if _HOST_RE.match(host) else None


def registrable_domain(domain: str) -> str:
    """The registrable part of a normalised domain: the last two labels, three under ``co.uk`` and the like.

    Examples
    --------
    >>> registrable_domain("mail.eu.acme.com"), registrable_domain("shop.acme.co.uk"), registrable_domain("acme.io")
    ('acme.com', 'acme.co.uk', 'acme.io')
    """
    labels = domain.split(".")
    keep = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_LEVEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def normalise_company(text: object) -> str | None:
    """A company name reduced for comparison; None when nothing is left.

    Lower case, accents folded, ``&`` read as ``and``, apostrophes and dots
    dropped (``S.A.`` -> ``sa``), other punctuation turned into spaces, a
    leading ``the`` and trailing legal forms (:data:`LEGAL_SUFFIXES`, e.g.
    inc, llc, ltd, gmbh, corp, co, sa, ag, plc, bv) removed — unless the name
    is nothing but such words.

    Examples
    --------
    >>> normalise_company("The Société Générale S.A.")
    'societe generale'
    >>> normalise_company("Müller & Söhne GmbH & Co. KG"), normalise_company("Inc."), normalise_company("  ")
    ('muller and sohne', 'inc', None)
    """
    if not isinstance(text, str):
        return None
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = folded.replace("&", " and ").replace(".", "").replace("'", "").replace("\u2019", "")
    tokens = _PUNCT_RE.sub(" ", folded).split()
    if not tokens:
        return None
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    while len(tokens) > 1 and (tokens[-1] in LEGAL_SUFFIXES or tokens[-1] == "and"):
        tokens.pop()
    return " ".join(tokens)


def _blocking_keys(name: str) -> set[str]:
    """Blocking keys of a normalised name: the first word and the alphabetically first word
    (what ``token_sort_ratio`` lines up) each give their first three and last three letters, plus
    their first two and last two when the word is short (six letters or fewer). One insertion,
    deletion or substitution in such a word keeps at least one of its keys."""
    tokens = name.split()
    words = [t for t in tokens if t not in _STOP_WORDS] or tokens
    keys = set()
    for word in {words[0], min(words)}:
        keys.add(word[:3] + "<")
        keys.add(">" + word[-3:])
        if len(word) <= 6:
            keys.add(word[:2] + "<<")
            keys.add(">>" + word[-2:])
    return keys


def _is_personal(host: str, exact: frozenset[str], wildcard: frozenset[str]) -> bool:
    reg = registrable_domain(host)
    return host in exact or reg in exact or reg.split(".")[0] in wildcard


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stripped(value: object) -> str | None:
    """A lead's text as :func:`_text_codes` reads it: stripped, None when missing or blank."""
    if isinstance(value, str):
        return value.strip() or None
    return None if value is None or pd.isna(value) else str(value)


def _email_problem(text: str) -> str:
    n_at = text.count("@")
    if n_at == 0:
        return "no @"
    if n_at > 1:
        return "more than one @"
    if any(ch.isspace() for ch in text):
        return "contains spaces"
    if text.startswith("@"):
        return "nothing before the @"
    return "no valid domain after the @"


# A text column is handled as (codes, values): row i holds values[codes[i]], -1 for none. Values are an Arrow
# string array (or chunked array), or an object array for text Arrow cannot hold (lone surrogates), which
# then takes the scalar functions' path.
Strings = pa.Array | pa.ChunkedArray | np.ndarray
_ARROW_FROM = 100  # fewer values than this take the scalar functions (Arrow's per-call cost is not worth it)
_LOOKUP_IN_ARROW = 10_000  # from this many values, look keys up with pyarrow (it hashes the keys per call)


def _arrow_strings(column: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """``column`` as Arrow strings (nulls for missing values), or None unless it holds only text."""
    dtype = column.dtype
    try:
        if isinstance(dtype, pd.StringDtype) or (
                isinstance(dtype, pd.ArrowDtype) and (pa.types.is_string(dtype.pyarrow_dtype)
                                                      or pa.types.is_large_string(dtype.pyarrow_dtype))):
            return pa.array(column.array)
        if pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(column, skipna=True) in (
                "string", "empty"):
            return pa.array(column.to_numpy(), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, ValueError, TypeError):  # e.g. text with lone surrogates (not UTF-8)
        pass
    return None


def _text_codes(frame: pd.DataFrame, name: str, distinct: bool = True) -> tuple[np.ndarray, Strings]:
    """The column's text, stripped, as (codes, values); code -1 for missing or blank text. The values are
    the distinct texts, or with ``distinct=False`` one per row (for columns with few repeats)."""
    n = len(frame)
    if name not in frame.columns:
        return np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object)
    arr = _arrow_strings(frame[name]) if n >= _ARROW_FROM else None
    if arr is None:
        values = np.array([(v.strip() or None) if isinstance(v, str) else (None if pd.isna(v) else str(v))
                           for v in frame[name].to_numpy(dtype=object)], dtype=object)
        if distinct:
            return _factorize(values)
        return np.where(pd.notna(values), np.arange(n), -1), values
    if distinct:
        codes, arr = _factorize(arr)
    else:
        codes = np.arange(n)
    values = pc.utf8_trim(arr, characters=_WHITESPACE)
    blank = pc.equal(pc.binary_length(values), 0).fill_null(True)
    if pc.any(blank).as_py():
        blank_np = blank.to_numpy(zero_copy_only=False)
        codes = np.where(blank_np[np.maximum(codes, 0)] | (codes < 0), -1, codes)
        values = pc.if_else(blank, pa.scalar(None, values.type), values)
    return codes, values


def _factorize(values: Strings) -> tuple[np.ndarray, Strings]:
    """(codes, distinct values) of values that may be null (code -1)."""
    if isinstance(values, np.ndarray):
        codes, uniques = pd.factorize(values)
        return codes.astype(np.int64, copy=False), uniques
    encoded = values.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        chunks = encoded.chunks
        # the chunks of an encoded chunked array share one dictionary; combine them if ever not
        if not chunks or any(not c.dictionary.equals(chunks[-1].dictionary) for c in chunks[:-1]):
            encoded = values.combine_chunks().dictionary_encode() if chunks else pa.DictionaryArray.from_arrays(
                pa.array([], type=pa.int32()), pa.array([], type=values.type))
        else:
            codes = np.concatenate([c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks])
            return codes.astype(np.int64), chunks[-1].dictionary
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _objects(values: Strings) -> np.ndarray:
    """Values as an object array (None for nulls)."""
    return values if isinstance(values, np.ndarray) else values.to_numpy(zero_copy_only=False)


def _take(values: Strings, idx: np.ndarray) -> Strings:
    return values[idx] if isinstance(values, np.ndarray) else values.take(pa.array(idx, type=pa.int64()))


def _gather(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``values[codes]`` as an object array, None where a code is -1."""
    return np.concatenate([np.asarray(values, dtype=object), np.array([None], dtype=object)])[codes]


def _as_arrow(values: Strings) -> pa.Array | pa.ChunkedArray | None:
    """Values as Arrow strings; None for a few values, or when some text cannot be held by Arrow."""
    if not isinstance(values, np.ndarray):
        return values
    if len(values) < _ARROW_FROM:
        return None
    try:
        return pa.array(values, type=pa.large_string())
    except (pa.ArrowException, ValueError, TypeError):
        return None


def _combined(arr):
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _per_value(values: Strings, arrow_rule, python_rule) -> np.ndarray:
    """``python_rule`` of each text value (None stays None) as an object array, computed by ``arrow_rule``
    when Arrow can hold the values."""
    arr = _as_arrow(values)
    if arr is None:
        return np.array([None if v is None else python_rule(v) for v in values], dtype=object)
    return _objects(arrow_rule(arr))


def _with_python(result, arr, python_rule):
    """``result`` with the values of ``arr`` that are not ASCII replaced by ``python_rule`` of them."""
    other = pc.invert(pc.string_is_ascii(arr)).fill_null(False)
    if not pc.any(other).as_py():
        return result
    arr, result, other = _combined(arr), _combined(result), _combined(other)
    fixed = [python_rule(v) for v in arr.filter(other).to_pylist()]
    return pc.replace_with_mask(result, other, pa.array(fixed, type=result.type))


def _lower_arrow(arr):
    """``str.lower`` of each value (Arrow's case mapping differs from Python's outside ASCII)."""
    return _with_python(pc.ascii_lower(arr), arr, str.lower)


def _domains_arrow(arr):
    """:func:`normalise_domain` of each value. What _DOMAIN_RE keeps, found in steps that run fast: the
    scheme (it has no ":", so the first "://" ends it) and then a leading "www." are dropped, and everything
    from the first "/", ":", "?" or "#"."""
    text = _lower_arrow(pc.utf8_trim(_combined(arr), characters=_WHITESPACE))
    scheme = pc.match_substring_regex(text, "^[a-z][a-z0-9+.-]*://").fill_null(False)
    if pc.any(scheme).as_py():
        rest = pc.list_element(pc.split_pattern(text.filter(scheme), "://", max_splits=1), 1)
        text = pc.replace_with_mask(text, scheme, rest)
    www = pc.starts_with(text, "www.").fill_null(False)
    if pc.any(www).as_py():
        text = pc.replace_with_mask(text, www, pc.utf8_slice_codeunits(text.filter(www), 4))
    host = pc.list_element(pc.split_pattern_regex(text, "[/:?#]", max_splits=1), 0)
    host = pc.utf8_rtrim(host, characters=".")
    return pc.if_else(pc.match_substring_regex(host, _HOST_RE2), host, pa.scalar(None, host.type))


def _companies_arrow(arr):
    """:func:`normalise_company` of each value; for ASCII text the words are the runs of [a-z0-9]."""
    name = pc.ascii_lower(arr)
    for old, new in (("&", " and "), (".", ""), ("'", "")):
        name = pc.replace_substring(name, old, new)
    name = pc.utf8_trim(pc.replace_substring_regex(name, "[^a-z0-9]+", " "), characters=" ")
    name = pc.replace_substring_regex(name, "^the ", "", max_replacements=1)
    name = pc.replace_substring_regex(name, _TRAILING_LEGAL_RE2, "")
    name = pc.if_else(pc.equal(pc.binary_length(name), 0), pa.scalar(None, name.type), name)
    return _with_python(name, arr, normalise_company)


def _registrables_arrow(arr):
    """:func:`registrable_domain` of each value (a domain with one dot is its own)."""
    arr = _combined(arr)
    longer = pc.greater(pc.count_substring(arr, "."), 1).fill_null(False)
    if not pc.any(longer).as_py():
        return arr
    part = arr.filter(longer)
    part = pc.coalesce(pc.struct_field(pc.extract_regex(part, _REGISTRABLE_RE2), [0]), part)
    return pc.replace_with_mask(arr, longer, part)


def _email_domain(email: str) -> str | None:
    found = _EMAIL_PY.search(email)
    return found.group(1) if found else None


def _emails(values: Strings) -> tuple[Strings, Strings]:
    """(lower-cased emails, their domain or None) of stripped email texts."""
    arr = _as_arrow(values)
    if arr is None:
        lowered = np.array([None if v is None else v.lower() for v in values], dtype=object)
        return lowered, np.array([None if v is None else _email_domain(v) for v in lowered], dtype=object)
    lowered = _lower_arrow(arr)
    return lowered, pc.struct_field(pc.extract_regex(lowered, _EMAIL_RE2), [0])


class _Groups:
    """Account rows grouped by a key, each group best first by tie-breaker rank: the rows of ``keys[i]``
    are ``rows[starts[i]:starts[i + 1]]``. Keys in order of first appearance, or sorted; None is no key."""

    def __init__(self, keys: np.ndarray, rank: np.ndarray, sort_keys: bool = False):
        codes, distinct = pd.factorize(keys)
        if sort_keys:
            order = np.argsort(distinct, kind="stable")
            distinct = distinct[order]
            position = np.empty(len(order), dtype=np.int64)
            position[order] = np.arange(len(order))
            codes = np.where(codes >= 0, position[np.maximum(codes, 0)], -1)
        rows = np.flatnonzero(codes >= 0)
        self.rows = rows[np.lexsort((rank[rows], codes[rows]))]
        self.starts = np.searchsorted(codes[self.rows], np.arange(len(distinct) + 1))
        self.sizes = np.diff(self.starts)
        self.keys = np.asarray(distinct, dtype=object)
        self._arrow_keys: pa.Array | None = None
        self._positions: dict | None = None

    def group(self, i: int) -> list[int]:
        return self.rows[self.starts[i]:self.starts[i + 1]].tolist()

    def groups(self) -> list[list[int]]:
        listed, starts = self.rows.tolist(), self.starts.tolist()
        return [listed[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]

    def position(self, value: str) -> int:
        """The position of one value among the keys, -1 when it is none of them."""
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.keys.tolist())}
        return self._positions.get(value, -1)

    def find(self, values: Strings) -> np.ndarray:
        """The position of each value among the keys, -1 when it is none of them (or null)."""
        if len(values) >= _LOOKUP_IN_ARROW:
            if self._arrow_keys is None:
                self._arrow_keys = _as_arrow(self.keys)
            arr = _as_arrow(values) if self._arrow_keys is not None else None
            if arr is not None:
                found = pc.index_in(arr, value_set=self._arrow_keys).fill_null(-1)
                return found.to_numpy(zero_copy_only=False).astype(np.int64)
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.keys.tolist())}
        positions = self._positions
        return np.array([positions.get(v, -1) for v in _objects(values).tolist()], dtype=np.int64)


class LeadAccountMatcher:
    """Match leads to accounts by email domain, website and fuzzy company name.

    Parameters
    ----------
    min_score : float, default 85
        Lowest company-name score (0-100) that counts as a match.
    ambiguity_margin : float, default 3
        Names scoring within this many points of the best are tied, and the
        tie-breakers (owner, size, account_id) choose between them.
    scorer : str, default "token_sort_ratio"
        A :mod:`rapidfuzz.fuzz` scorer: ``ratio``, ``token_sort_ratio``,
        ``token_set_ratio``, ``QRatio`` or ``WRatio``.
    personal_domains : iterable of str, optional
        Email domains never used for matching; ``name.*`` matches any domain
        whose registrable part starts with ``name``. None uses
        :data:`PERSONAL_DOMAINS`.

    Attributes
    ----------
    n_accounts_ : int
        Accounts learned by :meth:`fit`.
    accounts_ : pandas.DataFrame
        One row per account: ``account_id``, ``name``, normalised ``domain``
        (the domain, else the website's), ``registrable``, ``name_key`` (the
        normalised name), ``has_owner``, ``employees`` and ``rank`` (its
        position in the tie-breaker order).
    """

    def __init__(self, min_score: float = 85.0, ambiguity_margin: float = 3.0, scorer: str = "token_sort_ratio",
                 personal_domains: Iterable[str] | None = None):
        self.min_score = min_score
        self.ambiguity_margin = ambiguity_margin
        self.scorer = scorer
        self.personal_domains = personal_domains

    # -- parameters ----------------------------------------------------------------
    def _check_params(self) -> None:
        def bad(name: str, need: str) -> ValueError:
            return ValueError(f"The '{name}' parameter of LeadAccountMatcher must be {need}; "
                              f"got {getattr(self, name)!r}.")

        number = (int, float, np.integer, np.floating)
        if not isinstance(self.min_score, number) or isinstance(self.min_score, bool) \
                or not 0 < self.min_score <= 100:
            raise bad("min_score", "a float in (0, 100]")
        if not isinstance(self.ambiguity_margin, number) or isinstance(self.ambiguity_margin, bool) \
                or not 0 <= self.ambiguity_margin < 100:
            raise bad("ambiguity_margin", "a float in [0, 100)")
        if self.scorer not in _SCORERS:
            raise bad("scorer", "one of " + ", ".join(repr(s) for s in _SCORERS))
        if self.personal_domains is not None and (
                isinstance(self.personal_domains, str)
                or not all(isinstance(d, str) for d in self.personal_domains)):
            raise bad("personal_domains", "None or a list of domain strings")

    # -- learning ------------------------------------------------------------------
    def fit(self, accounts: pd.DataFrame) -> LeadAccountMatcher:
        """Learn the domain and name indexes of ``accounts`` (needs ``account_id``; other columns optional)."""
        self._check_params()
        if not isinstance(accounts, pd.DataFrame):
            raise DataError(f"accounts must be a table (a pandas DataFrame); got {type(accounts).__name__}.")
        if "account_id" not in accounts.columns:
            raise DataError("accounts needs an account_id column to match leads to; columns are: "
                            + ", ".join(map(str, accounts.columns)))
        ids = accounts["account_id"]
        if ids.isna().any():
            raise DataError(f"accounts has {int(ids.isna().sum())} rows without an account_id; every account "
                            "needs one.")
        ids = ids.astype(str).reset_index(drop=True)
        dupes = ids[ids.duplicated()].unique()
        if len(dupes):
            raise DataError(f"account_id must be unique; repeated: {', '.join(map(str, dupes[:5]))}"
                            + (" ..." if len(dupes) > 5 else ""))
        frame = accounts.reset_index(drop=True)
        n = len(frame)

        # the account's domain, else its website's (only looked at where there is no domain)
        codes, values = _text_codes(frame, "domain", distinct=False)
        domain = _gather(_per_value(values, _domains_arrow, normalise_domain), codes)
        missing = np.flatnonzero(pd.isna(domain))
        codes, values = _text_codes(frame, "website", distinct=False)
        missing = missing[codes[missing] >= 0]
        if len(missing):
            domain[missing] = _per_value(_take(values, codes[missing]), _domains_arrow, normalise_domain)
        codes, distinct = pd.factorize(domain)
        registrable = _gather(_per_value(distinct, _registrables_arrow, registrable_domain), codes)
        has_owner = _text_codes(frame, "owner_id", distinct=False)[0] >= 0
        employees = (pd.to_numeric(frame["employees"], errors="coerce").astype("float64")
                     if "employees" in frame.columns else pd.Series(np.nan, index=frame.index))
        codes, values = _text_codes(frame, "name")
        names = _gather(_objects(values), codes)
        name_key = _gather(_per_value(values, _companies_arrow, normalise_company), codes)
        table = pd.DataFrame({
            "account_id": ids.astype("object"),
            "name": pd.Series(names, dtype=object),
            "domain": pd.Series(domain, dtype=object),
            "registrable": pd.Series(registrable, dtype=object),
            "name_key": pd.Series(name_key, dtype=object),
            "has_owner": has_owner,
            "employees": employees.to_numpy(),
        })
        # tie-breaker order: with an owner first, then larger (unknown size last), then lower account_id
        size = table["employees"].to_numpy()
        order = np.lexsort((ids.to_numpy(dtype=str), np.where(np.isnan(size), np.inf, -size), ~has_owner))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        table["rank"] = rank
        self._rank, self._owned, self._size = rank, table["has_owner"].to_numpy(), size
        self._ids = table["account_id"].to_numpy(dtype=object)
        self._domains = table["domain"].to_numpy(dtype=object)
        self._names = table["name"].to_numpy(dtype=object)
        self.accounts_ = table
        self.n_accounts_ = n

        self._domain_groups = _Groups(domain, rank)
        self._registrable_groups = _Groups(registrable, rank)
        self._name_groups = _Groups(name_key, rank, sort_keys=True)
        self.name_keys_ = self._name_groups.keys.tolist()
        blocks: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.name_keys_):
            for b in _blocking_keys(key):
                blocks[b].append(i)
        self.blocks_ = {b: np.asarray(v, dtype=np.int64) for b, v in blocks.items()}
        self._block_choices: dict[str, list[str]] = {}
        personal = PERSONAL_DOMAINS if self.personal_domains is None else self.personal_domains
        personal = {p.strip().lower() for p in personal}
        self._personal_exact = frozenset(p for p in personal if not p.endswith(".*"))
        self._personal_wild = frozenset(p[:-2] for p in personal if p.endswith(".*"))
        return self

    # the indexes as dictionaries and lists, built when first asked for (matching reads the arrays)
    @property
    def domain_index_(self) -> dict[str, list[int]]:
        """Normalised domain -> account rows, best first by tie-breaker rank."""
        return dict(zip(self._domain_groups.keys.tolist(), self._domain_groups.groups(), strict=True))

    @property
    def registrable_index_(self) -> dict[str, list[int]]:
        """Registrable domain -> account rows, best first by tie-breaker rank."""
        return dict(zip(self._registrable_groups.keys.tolist(), self._registrable_groups.groups(), strict=True))

    @property
    def name_accounts_(self) -> list[list[int]]:
        """For each of :attr:`name_keys_`, its account rows, best first by tie-breaker rank."""
        return self._name_groups.groups()

    # -- tie-breaking ---------------------------------------------------------------
    def _choose(self, rows: list[int]) -> tuple[int | None, str, str]:
        """(chosen row or None when ambiguous, status, why) for candidate rows sorted by rank."""
        if len(rows) == 1:
            return rows[0], "matched", ""
        owned, size, ids = self._owned, self._size, self._ids
        first, second = rows[0], rows[1]
        name = ids[first]
        n_owned = int(np.count_nonzero(owned[rows]))
        if n_owned == 1:
            return first, "matched", f"chose {name}: the only one with an owner"

        def same(a: float, b: float) -> bool:
            return (np.isnan(a) and np.isnan(b)) or a == b

        # rank order puts owned accounts first, so the first two are both owned or both not
        if not same(size[first], size[second]):
            among = " with an owner" if 0 < n_owned < len(rows) else ""
            return first, "matched", f"chose {name}: the largest{among} ({size[first]:,.0f} employees)"
        if owned[first]:
            return first, "matched", f"chose {name}: lowest account_id among owned accounts of the same size"
        tied = [r for r in rows if same(size[r], size[first])]
        listed = ", ".join(ids[tied[:5]]) + (" ..." if len(tied) > 5 else "")
        return None, "ambiguous", f"cannot choose between {listed}: no owner and the same size; left for review"

    def _classify(self, hosts: Strings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For normalised hosts (not None): (registrable domain, personal?, position among the account domains,
        position among the accounts' registrable domains), positions -1 for none."""
        exact, wild = self._personal_exact, self._personal_wild
        arr = _as_arrow(hosts)
        try:
            exact_set = pa.array(sorted(exact), type=pa.large_string())
            wild_set = pa.array(sorted(wild), type=pa.large_string())
        except (pa.ArrowException, ValueError, TypeError):
            arr = None
        if arr is None:
            hosts = _objects(hosts)
            registrable = np.array([registrable_domain(h) for h in hosts], dtype=object)
            personal = np.array([_is_personal(h, exact, wild) for h in hosts], dtype=bool)
            return (registrable, personal, self._domain_groups.find(hosts),
                    self._registrable_groups.find(registrable))
        reg = _registrables_arrow(arr)
        first_label = pc.struct_field(pc.extract_regex(reg, "^(?P<label>[^.]*)"), [0])
        personal = pc.or_(pc.or_(pc.is_in(arr, value_set=exact_set), pc.is_in(reg, value_set=exact_set)),
                          pc.is_in(first_label, value_set=wild_set))
        return (_objects(reg), personal.to_numpy(zero_copy_only=False).astype(bool), self._domain_groups.find(arr),
                self._registrable_groups.find(reg))

    # -- matching --------------------------------------------------------------------
    def match(self, leads: pd.DataFrame) -> pd.DataFrame:
        """One row per lead, in order: lead_id, account_id, method, confidence, status, candidates, reason."""
        if not hasattr(self, "accounts_"):
            raise DataError("This LeadAccountMatcher is not fitted yet: call fit(accounts) first.")
        if not isinstance(leads, pd.DataFrame):
            raise DataError(f"leads must be a table (a pandas DataFrame); got {type(leads).__name__}.")
        if "lead_id" not in leads.columns:
            raise DataError("leads needs a lead_id column; columns are: " + ", ".join(map(str, leads.columns)))
        n = len(leads)
        account = np.full(n, None, dtype=object)
        method = np.full(n, None, dtype=object)
        confidence = np.zeros(n, dtype=np.float64)
        status = np.full(n, "unmatched", dtype=object)
        candidates = np.zeros(n, dtype=np.int64)
        reason = np.full(n, None, dtype=object)
        done = np.zeros(n, dtype=bool)
        out = (account, method, confidence, status, candidates, reason, done)
        email_notes = np.full(n, None, dtype=object)
        website_notes = np.full(n, None, dtype=object)

        codes, emails = _text_codes(leads, "email", distinct=False)  # emails seldom repeat
        lowered, domains = _emails(emails)
        self._match_domains("email domain", codes, lowered, domains, out, email_notes)
        codes, websites = _text_codes(leads, "website")
        self._match_domains("website", codes, websites, websites, out, website_notes)
        has_email_note, has_website_note = pd.notna(email_notes), pd.notna(website_notes)
        noted = has_email_note | has_website_note

        codes, companies = _text_codes(leads, "company")
        keys = self._match_names(codes, companies, out)

        left = np.flatnonzero(~done)
        without = left[codes[left] < 0]
        reason[without] = np.array(["no email domain, website or company name", "no company name"],
                                   dtype=object)[noted[without].astype(np.int64)]
        named = left[codes[left] >= 0]
        if len(named):
            distinct, inverse = np.unique(codes[named], return_inverse=True)
            text = np.array([
                f"company '{_shorten(t)}' has no letters or digits to compare" if key is None
                else f"no account name scoring >= {self.min_score:g} for company '{_shorten(t)}'"
                for t, key in zip(_objects(_take(companies, distinct)), keys[distinct], strict=True)],
                dtype=object)
            reason[named] = np.where(noted[named], text[inverse], ("no email domain or website; " + text)[inverse])
        # the notes go first: "<email note>; <website note>; <reason>"
        for rows, parts in ((has_email_note & ~has_website_note, (email_notes,)),
                            (has_website_note & ~has_email_note, (website_notes,)),
                            (has_email_note & has_website_note, (email_notes, website_notes))):
            rows = np.flatnonzero(rows)
            for part in parts[::-1]:
                reason[rows] = part[rows] + "; " + reason[rows]
        # object columns keep None for "no account" / "no method" (pandas 3 would turn str columns' None into NaN)
        return pd.DataFrame({
            "lead_id": pd.Series(leads["lead_id"].to_numpy(dtype=object), dtype=object),
            "account_id": pd.Series(account, dtype=object),
            "method": pd.Series(method, dtype=object),
            "confidence": confidence,
            "status": pd.Series(status, dtype=object),
            "candidates": candidates,
            "reason": pd.Series(reason, dtype=object),
        }, columns=COLUMNS)

    def match_records(self, leads: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`match` for a few leads given as mappings (the API matches one per request), without pandas.

        Gives what :meth:`match` gives for the same leads as a DataFrame — the same
        account, status, method, confidence, candidates and reason — with plain
        Python values: one dict per lead with the keys of :data:`COLUMNS`. A lead
        lacking ``email``, ``website`` or ``company`` is matched as if that column
        were empty.

        Examples
        --------
        >>> accounts = pd.DataFrame({"account_id": ["A1"], "name": ["Acme Inc."], "domain": ["acme.com"]})
        >>> out, = LeadAccountMatcher().fit(accounts).match_records([{"lead_id": "L1", "email": "jo@acme.com"}])
        >>> out["account_id"], out["method"], out["confidence"], out["candidates"], out["reason"]
        ('A1', 'email_domain', 100.0, 1, "email domain acme.com is account A1's domain")
        """
        if not hasattr(self, "accounts_"):
            raise DataError("This LeadAccountMatcher is not fitted yet: call fit(accounts) first.")
        out = []
        for pos, lead in enumerate(leads):
            if not isinstance(lead, Mapping) or "lead_id" not in lead:
                raise DataError(f"lead #{pos + 1} to match has no lead_id; every lead needs one")
            out.append(self._match_one(lead))
        return out

    def _match_one(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        """One lead, step by step as :meth:`match` does it for a whole column (the tests hold the two equal)."""
        found: tuple | None = None  # (account, method, confidence, status, candidates, reason)
        notes: list[str] = []
        email = _stripped(lead.get("email"))
        if email is not None:
            lowered = email.lower()
            found = self._domain_one("email domain", lowered, _email_domain(lowered), notes)
        website = _stripped(lead.get("website"))
        if found is None and website is not None:
            found = self._domain_one("website", website, website, notes)
        company = _stripped(lead.get("company"))
        if found is None:
            if company is None:
                reason = "no company name" if notes else "no email domain, website or company name"
            else:
                key = normalise_company(company)
                found = self._name_one(company, key)
                if found is None:
                    text = (f"company '{_shorten(company)}' has no letters or digits to compare" if key is None
                            else f"no account name scoring >= {self.min_score:g} for company '{_shorten(company)}'")
                    reason = text if notes else "no email domain or website; " + text
        if found is None:
            found = (None, None, 0.0, "unmatched", 0, reason)
        account, method, confidence, status, candidates, reason = found
        if notes:  # the notes go first: "<email note>; <website note>; <reason>"
            reason = "; ".join([*notes, reason])
        return {"lead_id": lead["lead_id"], "account_id": account, "method": method, "confidence": confidence,
                "status": status, "candidates": candidates, "reason": reason}

    def _domain_one(self, source: str, raw: str, parsed: str | None, notes: list[str]) -> tuple | None:
        """:meth:`_match_domains` for one lead: the match, or None with a note added."""
        host = normalise_domain(parsed) if parsed is not None else None
        if host is None:
            notes.append(f"malformed email '{_shorten(raw)}' ({_email_problem(raw)}): not used for matching"
                         if source == "email domain" else f"website '{_shorten(raw)}' is not a domain: not used for "
                                                          "matching")
            return None
        registrable = registrable_domain(host)
        if _is_personal(host, self._personal_exact, self._personal_wild):
            notes.append(f"personal {source} {host}: not used for matching")
            return None
        groups, group, confidence = self._domain_groups, self._domain_groups.position(host), 100.0
        if group < 0:
            groups, group, confidence = self._registrable_groups, self._registrable_groups.position(registrable), 90.0
        if group < 0:
            notes.append(f"no account with {source} {host}")
            return None
        size = int(groups.sizes[group])
        method = "email_domain" if source == "email domain" else "website"
        if size == 1:
            first = int(groups.rows[groups.starts[group]])
            account = self._ids[first]
            text = (f"{source} {host} is account {account}'s domain" if confidence == 100.0 else
                    f"{source} {host} and account {account}'s domain {self._domains[first]} are both under "
                    f"{registrable}")
            return account, method, confidence, "matched", 1, text
        row, status, why = self._choose(groups.group(group))
        text = (f"{source} {host} is the domain of {size} accounts; {why}" if confidence == 100.0 else
                f"{source} {host} is under {registrable}, like the domains of {size} accounts; {why}")
        return (self._ids[row] if row is not None else None), method, confidence, status, size, text

    def _name_one(self, company: str, key: str | None) -> tuple | None:
        """:meth:`_match_names` for one lead: the match, or None."""
        if key is None or not self.name_keys_:
            return None
        scored = self._score_names([key]).get(0)
        if scored is None:
            return None
        name_idx, scores = scored
        score_of: dict[int, float] = {}
        for j, sc in zip(name_idx, scores, strict=True):
            for r in self._name_groups.group(j):
                score_of[r] = sc
        rows = sorted(score_of, key=self._rank.__getitem__)
        row, status, why = self._choose(rows)
        # rounded as numpy rounds (numpy's round is not Python's): the confidence match() gives
        score = float(round(score_of[row] if row is not None else max(scores), 1))
        margin = f"{self.ambiguity_margin:g}"
        if row is None:
            text = f"company '{_shorten(company)}' ~ {len(rows)} accounts within {margin} points " \
                   f"(best score {score:g}); {why}"
        else:
            text = f"company '{_shorten(company)}' ~ '{_shorten(str(self._names[row]))}' (score {score:g})"
            if len(rows) > 1:
                text += f"; {len(rows)} accounts within {margin} points of the best; {why}"
        return (self._ids[row] if row is not None else None), "company_name", score, status, len(rows), text

    def _match_domains(self, source: str, codes: np.ndarray, raw: Strings, parsed: Strings, out: tuple,
                       notes: np.ndarray) -> None:
        """Match the rows not done yet by a domain. Row i has the text ``codes[i]`` (-1: none); ``raw``
        holds the texts (quoted when malformed) and ``parsed`` the text to normalise for each (the email's
        domain; None when there is none). Rows left unmatched get a note."""
        account, method, confidence, status, candidates, reason, done = out
        rows = np.flatnonzero(~done & (codes >= 0))
        if len(rows) == 0:
            return
        to_parsed, distinct = (np.arange(len(raw)), raw) if parsed is raw else _factorize(parsed)
        parsed_of = to_parsed[codes[rows]]  # per row: its distinct parsed text, -1 for none
        wanted = np.zeros(len(distinct), dtype=bool)
        wanted[parsed_of[parsed_of >= 0]] = True
        arr = _as_arrow(distinct)
        if arr is None:
            host = np.array([normalise_domain(v) for v in distinct], dtype=object)
            valid = np.flatnonzero(wanted & pd.notna(host))
            hosts = host[valid]
            registrable, personal, exact, under = self._classify(hosts)
        else:
            host_arr = _domains_arrow(arr)
            valid = np.flatnonzero(wanted & host_arr.is_valid().to_numpy(zero_copy_only=False))
            hosts_arr = host_arr.take(pa.array(valid, type=pa.int64()))
            hosts = _objects(hosts_arr)
            registrable, personal, exact, under = self._classify(hosts_arr)
        # per distinct parsed text (and -1, last): -1 no host, 0 personal, 1 no account, 2 an account found
        slots = len(distinct) + 1
        kind = np.full(slots, -1, dtype=np.int64)
        kind[valid] = np.where(personal, 0, np.where((exact >= 0) | (under >= 0), 2, 1))
        note = np.full(slots, None, dtype=object)
        for k, text in ((0, "personal {source} {host}: not used for matching"), (1, "no account with {source} {host}")):
            sel = kind[valid] == k
            note[valid[sel]] = [text.format(source=source, host=h) for h in hosts[sel].tolist()]
        found = np.flatnonzero(kind[valid] == 2)
        found_account = np.full(slots, None, dtype=object)
        found_status = np.full(slots, None, dtype=object)
        found_candidates = np.zeros(slots, dtype=np.int64)
        found_confidence = np.zeros(slots, dtype=np.float64)
        found_reason = np.full(slots, None, dtype=object)
        ids, domains = self._ids, self._domains
        by_domain = found[exact[found] >= 0]  # an account's own domain (confidence 100), else under one
        for groups, hit, group, confidence_of in (
                (self._domain_groups, by_domain, exact[by_domain], 100.0),
                (self._registrable_groups, found[exact[found] < 0], under[found[exact[found] < 0]], 90.0)):
            size = groups.sizes[group]
            first = groups.rows[groups.starts[group]]
            target = valid[hit]
            found_candidates[target] = size
            found_confidence[target] = confidence_of
            one = size == 1
            found_account[target[one]] = ids[first[one]]
            found_status[target[one]] = "matched"
            h, i = hosts[hit[one]].tolist(), ids[first[one]].tolist()
            if confidence_of == 100.0:
                found_reason[target[one]] = [f"{source} {a} is account {b}'s domain" for a, b in zip(h, i, strict=True)]
            else:
                found_reason[target[one]] = [
                    f"{source} {a} and account {b}'s domain {d} are both under {r}" for a, b, d, r in
                    zip(h, i, domains[first[one]].tolist(), registrable[hit[one]].tolist(), strict=True)]
            for j in np.flatnonzero(~one).tolist():
                row, st, why = self._choose(groups.group(group[j]))
                if confidence_of == 100.0:
                    text = f"{source} {hosts[hit[j]]} is the domain of {size[j]} accounts; {why}"
                else:
                    text = (f"{source} {hosts[hit[j]]} is under {registrable[hit[j]]}, like the domains of "
                            f"{size[j]} accounts; {why}")
                found_account[target[j]] = ids[row] if row is not None else None
                found_status[target[j]] = st
                found_reason[target[j]] = text
        row_kind = kind[parsed_of]
        noted = (row_kind == 0) | (row_kind == 1)
        notes[rows[noted]] = note[parsed_of[noted]]
        bad = rows[row_kind == -1]
        if len(bad):
            distinct_bad, inverse = np.unique(codes[bad], return_inverse=True)
            texts = _objects(_take(raw, distinct_bad))
            if source == "email domain":
                texts = [f"malformed email '{_shorten(t)}' ({_email_problem(t)}): not used for matching"
                         for t in texts]
            else:
                texts = [f"website '{_shorten(t)}' is not a domain: not used for matching" for t in texts]
            notes[bad] = np.array(texts, dtype=object)[inverse]
        hit = row_kind == 2
        target, k = rows[hit], parsed_of[hit]
        account[target] = found_account[k]
        status[target] = found_status[k]
        candidates[target] = found_candidates[k]
        confidence[target] = found_confidence[k]
        reason[target] = found_reason[k]
        method[target] = "email_domain" if source == "email domain" else "website"
        done[target] = True

    def _match_names(self, codes: np.ndarray, companies, out: tuple) -> np.ndarray:
        """Match the rows not done yet by company name (row i has the distinct name ``codes[i]``, -1: none);
        returns the normalised names of the distinct names of those rows (None elsewhere, and last for -1)."""
        account, method, confidence, status, candidates, reason, done = out
        keys = np.full(len(companies) + 1, None, dtype=object)
        todo = np.flatnonzero(~done & (codes >= 0))
        if len(todo) == 0:
            return keys
        used = np.unique(codes[todo])
        texts = _take(companies, used)
        raw = _objects(texts)
        keys[used] = _per_value(texts, _companies_arrow, normalise_company)
        if not self.name_keys_:
            return keys
        lead_keys = sorted(set(keys[used].tolist()) - {None})
        names = self.accounts_["name"].to_numpy(dtype=object)
        results: dict[str, tuple] = {}
        for li, (name_idx, scores) in self._score_names(lead_keys).items():
            score_of: dict[int, float] = {}
            for j, sc in zip(name_idx, scores, strict=True):
                for r in self._name_groups.group(j):
                    score_of[r] = sc
            rows = sorted(score_of, key=self._rank.__getitem__)
            row, st, why = self._choose(rows)
            score = round(score_of[row] if row is not None else max(scores), 1)
            results[lead_keys[li]] = (row, st, len(rows), score, why)
        margin = f"{self.ambiguity_margin:g}"
        slot = np.full(len(companies) + 1, -1, dtype=np.int64)
        found: list[tuple] = []
        for u, company, key in zip(used.tolist(), raw, keys[used].tolist(), strict=True):
            result = results.get(key)
            if result is None:
                continue
            row, st, n_cand, score, why = result
            if row is None:
                text = f"company '{_shorten(company)}' ~ {n_cand} accounts within {margin} points " \
                       f"(best score {score:g}); {why}"
            else:
                text = f"company '{_shorten(company)}' ~ '{_shorten(str(names[row]))}' (score {score:g})"
                if n_cand > 1:
                    text += f"; {n_cand} accounts within {margin} points of the best; {why}"
            slot[u] = len(found)
            found.append((self._ids[row] if row is not None else None, st, n_cand, score, text))
        k = slot[codes[todo]]
        target = todo[k >= 0]
        k = k[k >= 0]
        if len(target):
            account[target] = np.array([f[0] for f in found], dtype=object)[k]
            status[target] = np.array([f[1] for f in found], dtype=object)[k]
            candidates[target] = np.array([f[2] for f in found], dtype=np.int64)[k]
            confidence[target] = np.array([f[3] for f in found], dtype=np.float64)[k]
            reason[target] = np.array([f[4] for f in found], dtype=object)[k]
            method[target] = "company_name"
            done[target] = True
        return keys

    def _score_names(self, lead_keys: list[str]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Lead name index -> (account-name indexes, scores) within the margin of a best score >= min_score."""
        cutoff = max(float(self.min_score) - float(self.ambiguity_margin), 0.01)
        scorer = _SCORERS[self.scorer]
        account_keys = self.name_keys_
        by_block: dict[str, list[int]] = defaultdict(list)
        for li, key in enumerate(lead_keys):
            for b in _blocking_keys(key):
                if b in self.blocks_:
                    by_block[b].append(li)
        found_l, found_a, found_s = [], [], []
        for block in sorted(by_block):
            lead_idx = np.asarray(by_block[block], dtype=np.int64)
            acc_idx = self.blocks_[block]
            choices = self._block_choices.get(block)
            if choices is None:  # kept: a single lead (the API) must not rebuild a large block's list
                choices = self._block_choices[block] = [account_keys[j] for j in acc_idx]
            step = max(1, _CELLS_PER_CALL // len(acc_idx))
            for start in range(0, len(lead_idx), step):
                part = lead_idx[start:start + step]
                # threads pay off on big calls only; a few leads (the API) score faster on one
                workers = -1 if len(part) * len(choices) >= _PARALLEL_CELLS else 1
                scores = process.cdist([lead_keys[li] for li in part], choices, scorer=scorer,
                                       processor=None, score_cutoff=cutoff, dtype=np.float32, workers=workers)
                r, c = np.nonzero(scores >= cutoff)
                if len(r):
                    found_l.append(part[r])
                    found_a.append(acc_idx[c])
                    found_s.append(scores[r, c])
        if not found_l:
            return {}
        lead = np.concatenate(found_l)
        name = np.concatenate(found_a)
        score = np.concatenate(found_s).astype(np.float64)
        # one row per (lead, name) pair (a pair can share several blocks), best score first per lead
        order = np.lexsort((name, -score, lead))
        lead, name, score = lead[order], name[order], score[order]
        pair = lead * len(account_keys) + name
        first_seen = np.unique(pair, return_index=True)[1]
        keep = np.zeros(len(pair), dtype=bool)
        keep[first_seen] = True
        lead, name, score = lead[keep], name[keep], score[keep]
        starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]])
        best = np.repeat(score[starts], np.diff(np.r_[starts, len(lead)]))
        within = (best >= self.min_score) & (score >= best - self.ambiguity_margin - 1e-9)
        lead, name, score = lead[within], name[within], score[within]
        if not len(lead):  # every candidate scored within the margin below min_score
            return {}
        starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]])
        ends = np.r_[starts[1:], len(lead)]
        return {int(lead[a]): (name[a:b], score[a:b]) for a, b in zip(starts, ends, strict=True)}
