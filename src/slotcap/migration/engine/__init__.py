"""The step machinery, independent of what any step does: :mod:`.steps` (the
``Step`` / ``Transition`` values and the ``StepContext`` that carries a run's lock
policy, hold observer and checkpoint hook), :mod:`.runner` (runs a transition and
journals each step) and :mod:`.runlock` (one run per database). It imports no
transition: :mod:`slotcap.migration.transitions` imports it."""

__all__: list[str] = []
