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
from collections.abc import Iterable

import numpy as np
import pandas as pd
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
_CELLS_PER_CALL = 4_000_000  # bounds the float32 score matrix of one cdist call (16 MB)

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


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Stripped text (None for missing or blank) as an object Series aligned with ``frame``."""
    if name not in frame.columns:
        values = [None] * len(frame)
    else:
        values = [(v.strip() or None) if isinstance(v, str) else (None if pd.isna(v) else str(v))
                  for v in frame[name].to_numpy(dtype=object)]
    return pd.Series(values, index=frame.index, dtype=object)


def _object_map(values: pd.Series, func) -> pd.Series:
    """``func`` over the strings of ``values`` (None elsewhere), kept as an object Series with None."""
    return pd.Series([func(v) if isinstance(v, str) else None for v in values.to_numpy(dtype=object)],
                     index=values.index, dtype=object)


# --------------------------------------------------------------------------- the matcher


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

        def column(name: str) -> pd.Series:
            return _text_column(frame, name)

        domain = _object_map(column("domain"), normalise_domain)
        website = _object_map(column("website"), normalise_domain)
        domain = pd.Series([d if d is not None else w for d, w in zip(domain, website, strict=True)], dtype=object)
        owner = column("owner_id")
        employees = (pd.to_numeric(frame["employees"], errors="coerce").astype("float64")
                     if "employees" in frame.columns else pd.Series(np.nan, index=frame.index))
        names = column("name")
        table = pd.DataFrame({
            "account_id": ids.astype("object"),
            "name": names,
            "domain": domain,
            "registrable": _object_map(domain, registrable_domain),
            "name_key": _object_map(names, normalise_company),
            "has_owner": owner.notna().to_numpy(),
            "employees": employees.to_numpy(),
        })
        # tie-breaker order: with an owner first, then larger (unknown size last), then lower account_id
        size = table["employees"].to_numpy()
        order = np.lexsort((ids.to_numpy(dtype=str), np.where(np.isnan(size), np.inf, -size),
                            ~table["has_owner"].to_numpy()))
        rank = np.empty(len(table), dtype=np.int64)
        rank[order] = np.arange(len(table))
        table["rank"] = rank
        self._rank, self._owned, self._size = rank, table["has_owner"].to_numpy(), size
        self._ids = table["account_id"].to_numpy(dtype=object)
        self._domains = table["domain"].to_numpy(dtype=object)
        self.accounts_ = table
        self.n_accounts_ = len(table)

        self.domain_index_ = self._group(table["domain"])
        self.registrable_index_ = self._group(table["registrable"])
        keyed = table["name_key"].dropna()
        self.name_keys_ = sorted(keyed.unique())
        position = {k: i for i, k in enumerate(self.name_keys_)}
        by_name: dict[int, list[int]] = defaultdict(list)
        for row, key in keyed.items():
            by_name[position[key]].append(int(row))
        self.name_accounts_ = [sorted(by_name[i], key=lambda r: rank[r]) for i in range(len(self.name_keys_))]
        blocks: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.name_keys_):
            for b in _blocking_keys(key):
                blocks[b].append(i)
        self.blocks_ = {b: np.asarray(v, dtype=np.int64) for b, v in blocks.items()}
        personal = PERSONAL_DOMAINS if self.personal_domains is None else self.personal_domains
        personal = {p.strip().lower() for p in personal}
        self._personal_exact = frozenset(p for p in personal if not p.endswith(".*"))
        self._personal_wild = frozenset(p[:-2] for p in personal if p.endswith(".*"))
        return self

    def _group(self, keys: pd.Series) -> dict[str, list[int]]:
        """Key -> account rows, best first by tie-breaker rank."""
        rank = self.accounts_["rank"].to_numpy()
        out: dict[str, list[int]] = defaultdict(list)
        for row, key in keys.dropna().items():
            out[key].append(int(row))
        return {k: sorted(v, key=lambda r: rank[r]) for k, v in out.items()}

    # -- tie-breaking ---------------------------------------------------------------
    def _choose(self, rows: list[int]) -> tuple[int | None, str, str]:
        """(chosen row or None when ambiguous, status, why) for candidate rows sorted by rank."""
        if len(rows) == 1:
            return rows[0], "matched", ""
        owned, size, ids = self._owned, self._size, self._ids
        first, second = rows[0], rows[1]
        name = ids[first]
        n_owned = sum(bool(owned[r]) for r in rows)
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

    def _resolve_domain(self, host: str, source: str) -> tuple | None:
        """(row, status, candidates, confidence, reason) for a lead host, or None when no account has it."""
        ids, domains = self._ids, self._domains
        rows = self.domain_index_.get(host)
        if rows is not None:
            row, status, why = self._choose(rows)
            if len(rows) == 1:
                reason = f"{source} {host} is account {ids[rows[0]]}'s domain"
            else:
                reason = f"{source} {host} is the domain of {len(rows)} accounts; {why}"
            return row, status, len(rows), 100.0, reason
        reg = registrable_domain(host)
        rows = self.registrable_index_.get(reg)
        if rows is None:
            return None
        row, status, why = self._choose(rows)
        if len(rows) == 1:
            reason = (f"{source} {host} and account {ids[rows[0]]}'s domain "
                      f"{domains[rows[0]]} are both under {reg}")
        else:
            reason = f"{source} {host} is under {reg}, like the domains of {len(rows)} accounts; {why}"
        return row, status, len(rows), 90.0, reason

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
        acc_ids = self._ids
        account = np.full(n, None, dtype=object)
        method = np.full(n, None, dtype=object)
        confidence = np.zeros(n, dtype=np.float64)
        status = np.full(n, "unmatched", dtype=object)
        candidates = np.zeros(n, dtype=np.int64)
        reason = np.full(n, None, dtype=object)
        notes: list[list[str]] = [[] for _ in range(n)]
        done = np.zeros(n, dtype=bool)

        email = _object_map(_text_column(leads, "email"), str.lower)
        extracted = email.astype("str").str.extract(_EMAIL_RE, expand=False)
        email_domain = pd.Series([v if isinstance(v, str) else None for v in extracted.to_numpy(dtype=object)],
                                 index=leads.index, dtype=object)
        website = _text_column(leads, "website")
        for source, raw, parsed in (("email domain", email, email_domain), ("website", website, website)):
            self._match_domains(source, raw, parsed, done, account, method, confidence, status, candidates,
                                reason, notes, acc_ids)

        company = _text_column(leads, "company")
        self._match_names(company, done, account, method, confidence, status, candidates, reason, acc_ids)

        for i in np.flatnonzero(~done):
            text = company.iat[i]
            if text is None:
                reason[i] = "no company name" if notes[i] else "no email domain, website or company name"
            elif normalise_company(text) is None:
                reason[i] = f"company '{_shorten(text)}' has no letters or digits to compare"
            else:
                reason[i] = f"no account name scoring >= {self.min_score:g} for company '{_shorten(text)}'"
            if not notes[i] and text is not None:
                reason[i] = "no email domain or website; " + reason[i]
        full_reason = [("; ".join(nt) + "; " + r) if nt else r for nt, r in zip(notes, reason, strict=True)]
        # object columns keep None for "no account" / "no method" (pandas 3 would turn str columns' None into NaN)
        return pd.DataFrame({
            "lead_id": pd.Series(leads["lead_id"].to_numpy(dtype=object), dtype=object),
            "account_id": pd.Series(account, dtype=object),
            "method": pd.Series(method, dtype=object),
            "confidence": confidence,
            "status": pd.Series(status, dtype=object),
            "candidates": candidates,
            "reason": pd.Series(full_reason, dtype=object),
        }, columns=COLUMNS)

    def _match_domains(self, source, raw, parsed, done, account, method, confidence, status, candidates,
                       reason, notes, acc_ids) -> None:
        method_name = "email_domain" if source == "email domain" else "website"
        rows = np.flatnonzero(~done & raw.notna().to_numpy())
        if len(rows) == 0:
            return
        raw_values = raw.to_numpy(dtype=object)
        parsed_values = parsed.to_numpy(dtype=object)[rows]
        hosts = {v: normalise_domain(v) for v in pd.unique(parsed_values) if v is not None}
        host = np.array([hosts.get(v) if v is not None else None for v in parsed_values], dtype=object)
        unique_hosts = sorted(set(hosts.values()) - {None})
        # per distinct host: 0 personal, 1 no account, 2 + k the k-th resolution
        code_of: dict[str, int] = {}
        found: list[tuple] = []
        for h in unique_hosts:
            if _is_personal(h, self._personal_exact, self._personal_wild):
                code_of[h] = 0
                continue
            res = self._resolve_domain(h, source)
            if res is None:
                code_of[h] = 1
            else:
                code_of[h] = 2 + len(found)
                found.append(res)
        code = np.array([code_of[h] if h is not None else -1 for h in host], dtype=np.int64)
        for i, h in zip(rows[code == -1], (raw_values[r] for r in rows[code == -1]), strict=True):
            if source == "email domain":
                notes[i].append(f"malformed email '{_shorten(h)}' ({_email_problem(h)}): not used for matching")
            else:
                notes[i].append(f"website '{_shorten(h)}' is not a domain: not used for matching")
        for i, h in zip(rows[code == 0], host[code == 0], strict=True):
            notes[i].append(f"personal {source} {h}: not used for matching")
        for i, h in zip(rows[code == 1], host[code == 1], strict=True):
            notes[i].append(f"no account with {source} {h}")
        hit = code >= 2
        if not hit.any():
            return
        k = code[hit] - 2
        target = rows[hit]
        account[target] = np.array([acc_ids[f[0]] if f[0] is not None else None for f in found], dtype=object)[k]
        status[target] = np.array([f[1] for f in found], dtype=object)[k]
        candidates[target] = np.array([f[2] for f in found], dtype=np.int64)[k]
        confidence[target] = np.array([f[3] for f in found], dtype=np.float64)[k]
        reason[target] = np.array([f[4] for f in found], dtype=object)[k]
        method[target] = method_name
        done[target] = True

    def _match_names(self, company, done, account, method, confidence, status, candidates, reason,
                     acc_ids) -> None:
        todo = np.flatnonzero(~done & company.notna().to_numpy())
        if len(todo) == 0 or not self.name_keys_:
            return
        raw = company.to_numpy(dtype=object)
        key_of = {v: normalise_company(v) for v in pd.unique(raw[todo])}
        lead_keys = sorted({k for k in key_of.values() if k is not None})
        names = self.accounts_["name"].to_numpy(dtype=object)
        results: dict[str, tuple] = {}
        for li, (name_idx, scores) in self._score_names(lead_keys).items():
            score_of: dict[int, float] = {}
            for j, sc in zip(name_idx, scores, strict=True):
                for r in self.name_accounts_[j]:
                    score_of[r] = sc
            rows = sorted(score_of, key=self._rank.__getitem__)
            row, st, why = self._choose(rows)
            score = round(score_of[row] if row is not None else max(scores), 1)
            results[lead_keys[li]] = (row, st, len(rows), score, why)
        margin = f"{self.ambiguity_margin:g}"
        for i in todo:
            found = results.get(key_of[raw[i]])
            if found is None:
                continue
            row, st, n_cand, score, why = found
            if row is None:
                text = f"company '{_shorten(raw[i])}' ~ {n_cand} accounts within {margin} points " \
                       f"(best score {score:g}); {why}"
            else:
                text = f"company '{_shorten(raw[i])}' ~ '{_shorten(str(names[row]))}' (score {score:g})"
                if n_cand > 1:
                    text += f"; {n_cand} accounts within {margin} points of the best; {why}"
            account[i] = acc_ids[row] if row is not None else None
            method[i], status[i], candidates[i], confidence[i], reason[i] = "company_name", st, n_cand, score, text
            done[i] = True

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
            choices = [account_keys[j] for j in acc_idx]
            step = max(1, _CELLS_PER_CALL // len(acc_idx))
            for start in range(0, len(lead_idx), step):
                part = lead_idx[start:start + step]
                scores = process.cdist([lead_keys[li] for li in part], choices, scorer=scorer,
                                       processor=None, score_cutoff=cutoff, dtype=np.float32, workers=-1)
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
        starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]]) if len(lead) else np.array([], dtype=np.int64)
        ends = np.r_[starts[1:], len(lead)]
        return {int(lead[a]): (name[a:b], score[a:b]) for a, b in zip(starts, ends, strict=True)}
