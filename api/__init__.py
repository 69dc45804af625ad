"""The cytasks HTTP API."""
