"""Temporal workflows: every TaskRun is one ``TaskRunWorkflow`` execution."""
