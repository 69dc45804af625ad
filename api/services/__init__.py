"""What the API does behind its routes: every write, every lookup, every check that needs more
than the request itself. Temporal is reached only from here: runs' workflows through
`services.runs`, Temporal Schedules through `services.schedules`."""
