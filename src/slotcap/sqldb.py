"""Moved to :mod:`slotcap.sql` (one SQL layer for the stores and the migration toolkit);
this module re-exports what the migration toolkit, tests and benchmarks import."""

from slotcap.sql.connection import Params, Row, SqlConnection, open_sql
from slotcap.sql.dialect import Dialect
from slotcap.sql.names import quote_ident

__all__ = ["Dialect", "Params", "Row", "SqlConnection", "open_sql", "quote_ident"]
