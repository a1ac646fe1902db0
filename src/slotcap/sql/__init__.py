"""slotcap's one SQL layer, shared by the stores and the migration toolkit.

* :mod:`~slotcap.sql.connection` — :class:`SqlConnection`, one wrapper, pyformat params;
* :mod:`~slotcap.sql.dialect` — PostgreSQL and SQLite differences as data;
* :mod:`~slotcap.sql.names` — quoted identifiers and the column lists;
* :mod:`~slotcap.sql.catalog` — one introspection, a typed snapshot;
* :mod:`~slotcap.sql.errors` — driver errors → ``StoreBusy`` / one-line ``DatabaseError``.
"""

from slotcap.sql.catalog import Catalog, Column, read_catalog
from slotcap.sql.connection import Params, Row, SqlConnection, open_sql
from slotcap.sql.dialect import POSTGRES_RULES, SQLITE_RULES, Dialect, DialectRules, rules_of
from slotcap.sql.names import quote_ident

__all__ = [
    "POSTGRES_RULES",
    "SQLITE_RULES",
    "Catalog",
    "Column",
    "Dialect",
    "DialectRules",
    "Params",
    "Row",
    "SqlConnection",
    "open_sql",
    "quote_ident",
    "read_catalog",
    "rules_of",
]
