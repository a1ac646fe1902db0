"""DDL shipped with slotcap: the reference legacy schema, for the demo and tests."""
