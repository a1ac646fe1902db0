"""The step machinery, independent of what any step does: :mod:`.steps` (the
``Step`` / ``Transition`` values), :mod:`.runner` (runs a transition and journals each
step), :mod:`.checkpoint` (the kill-point hook) and :mod:`.runlock` (one run per
database). It imports no transition: :mod:`slotcap.migration.transitions` imports it."""

__all__: list[str] = []
