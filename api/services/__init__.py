"""What the API does behind its routes: every write, every check that needs more than the
request, and every call to Temporal (only `services.runs` and `services.schedules` talk to it)."""
