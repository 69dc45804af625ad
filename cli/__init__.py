"""The ``cytasks`` command-line interface."""
