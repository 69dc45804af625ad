"""Temporal activities: tool calls with side effects and the run's bookkeeping."""
