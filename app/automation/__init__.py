"""Automation: what starts runs without a person (schedules, sensors, declarative conditions).

Definitions and pure evaluation only: a tick takes an instant, a cursor and the events the
runtime read, and returns a ``TickResult``; the runtime's tick loop stores ticks, cursors and
run keys and launches the runs.
"""
