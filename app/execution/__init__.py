"""Running a plan: events, the scheduler, step launchers, contexts and results."""
