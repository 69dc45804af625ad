"""Testing a task before it ships: data samples with expectations, tools answered from canned
results, and replay of a real run's recorded tool results against another version.

``samples`` parses samples and their ``tool_results``; ``host`` is the Cy host that answers
tool calls from them (no real tool is ever called); ``diff`` and ``expectations`` check an
output; ``runner`` runs samples and builds the report; ``history`` turns a run's Temporal
history into the answers a replay uses. Nothing here touches the database or Temporal: the
API's services fetch what these functions need.
"""

from .diff import json_diff
from .history import RecordedCall, recorded_answers, recorded_calls
from .runner import SampleReport, replay_run, run_samples, summary
from .samples import Sample, SampleError, parse_sample, parse_samples, parse_tool_results

__all__ = [
    "RecordedCall",
    "Sample",
    "SampleError",
    "SampleReport",
    "json_diff",
    "parse_sample",
    "parse_samples",
    "parse_tool_results",
    "recorded_answers",
    "recorded_calls",
    "replay_run",
    "run_samples",
    "summary",
]
