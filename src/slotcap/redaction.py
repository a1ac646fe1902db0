"""The one place that hides secrets and patient data in text meant for people.

Every message, log line, error and debug traceback slotcap prints goes through here:

* :func:`redact_url` — a database URL (or a libpq ``key=value`` string) with its
  password replaced by ``***``. It never raises and does not rely on
  ``urllib.parse``, so a malformed URL (an IPv6 host without ``]``, a password with a
  ``/`` or ``#`` in it) is redacted too: everything between the first ``:`` after
  ``scheme://`` and the *last* ``@`` is treated as the password.
* :func:`url_secrets` — the passwords inside a piece of text (a command-line
  argument, an environment variable), so that they can be scrubbed literally from
  text that does not look like a URL any more (a driver's message, a traceback).
* :func:`scrub` — any text: the given secrets, then every URL-shaped substring and
  every ``password=…`` pair.
* :func:`redact_db_text` — a database driver's message with the row's values hidden:
  ``Failing row contains (…)``, key values of patient columns, and quoted literals
  (``invalid input syntax for type date: "…"``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

__all__ = [
    "MASK",
    "PATIENT_COLUMNS",
    "redact_db_text",
    "redact_url",
    "scrub",
    "url_secrets",
]

MASK = "***"

#: Columns (legacy camelCase and snake_case) whose values are a patient's own data.
PATIENT_COLUMNS: frozenset[str] = frozenset(
    {"patientname", "patient_name", "phone", "email", "birthdate", "birth_date", "notes",
     "gender"}
)

# Literal scrubbing of a one- or two-character "password" would garble every message;
# such URLs are still redacted structurally (redact_url / _URL_IN_TEXT).
_MIN_LITERAL = 3

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
# password=secret in a query string or a libpq DSN (also quoted: password='a b').
_PASSWORD_PAIR = re.compile(
    r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&;]*)"
)


def _hide_pairs(text: str) -> str:
    return _PASSWORD_PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``; never raises."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _hide_pairs(url)
    if "@" in rest:
        userinfo, _, hostpart = rest.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:{MASK}@{hostpart}" if colon else f"{userinfo}@{hostpart}"
    return f"{scheme}://{_hide_pairs(rest)}"


def url_secrets(text: str) -> list[str]:
    """Every password written in ``text`` (URL userinfo, ``password=`` pairs), raw and
    percent-decoded."""
    found: list[str] = []
    _, sep, rest = text.partition("://")
    if sep and "@" in rest:
        userinfo = rest.rpartition("@")[0]
        _, colon, password = userinfo.partition(":")
        if colon:
            found.append(password)
    for match in _PASSWORD_PAIR.finditer(text):
        value = match.group(2)
        if value.startswith("'"):
            value = value.strip("'")
        found.append(value)
    decoded = [urllib.parse.unquote(s) for s in found]
    return [s for s in dict.fromkeys([*found, *decoded]) if s]


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets, URL passwords or ``password=`` values."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_LITERAL:
            text = text.replace(secret, MASK)
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _hide_pairs(text)


# PostgreSQL's DETAIL lines that show a row or a key.
_FAILING_ROW = re.compile(r"(Failing row contains )\(.*\)(\.?)")
_KEY_VALUES = re.compile(r"(Key \(([^)]*)\)=\()(.*?)(\)(?: already exists| is not present| "
                         r"conflicts with|\.|$))")
# A double-quoted literal; the word before it says whether it names a catalog object.
_QUOTED = re.compile(r'(\w+)?(\s*)"((?:[^"]|"")*)"')
_CATALOG_WORDS = frozenset(
    {"constraint", "relation", "column", "table", "index", "type", "enum", "function",
     "schema", "database", "role", "sequence", "trigger", "extension", "view", "of",
     "operator", "domain", "collation", "server", "user", "file", "at"}
)
# Values that look like patient data wherever they appear.
# Not inside a longer token (a hex reservation id can hold "01234567890").
_PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+82[- ]?|0)\d{1,2}[- ]?\d{3,4}[- ]?\d{4}(?![0-9A-Za-z])"
)
# Not the user@host of a URL ("postgresql://app@db.example.com/x" stays readable).
_EMAIL = re.compile(r"(?<![\w/.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")


def _key_values(match: re.Match[str]) -> str:
    columns = {c.strip().strip('"').lower() for c in match.group(2).split(",")}
    values = MASK if columns & PATIENT_COLUMNS else match.group(3)
    return f"{match.group(1)}{values}{match.group(4)}"


def _quoted(match: re.Match[str]) -> str:
    word = (match.group(1) or "").lower()
    if word in _CATALOG_WORDS:
        return match.group(0)
    return f'{match.group(1) or ""}{match.group(2)}"{MASK}"'


def redact_db_text(text: str) -> str:
    """A driver's error text with row values, patient key values and quoted literal
    values hidden; catalog names (tables, columns, constraints, types) stay."""
    text = _FAILING_ROW.sub(lambda m: f"{m.group(1)}({MASK}){m.group(2)}", text)
    lines = []
    for line in text.split("\n"):
        keyed = _KEY_VALUES.sub(_key_values, line)
        lines.append(keyed if keyed != line or "Key (" in line else _QUOTED.sub(_quoted, line))
    text = "\n".join(lines)
    text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(MASK, text)
