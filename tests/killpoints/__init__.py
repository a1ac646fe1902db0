"""The kill-point harness: SIGKILL the real ``slotcap migrate`` at many points of every
phase and rollback, then check that ``status`` tells the truth and that both the rerun
and the inverse command finish exactly where an uninterrupted run does.

Run it on its own (an operator can watch it): ``scripts/killtest --help``.
"""
