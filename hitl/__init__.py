"""Human-in-the-loop: hi-latency tool calls pause a run on a question until a person answers.

* :mod:`hitl.spec` builds questions from calls and validates answers (used by the workflow
  and the API alike);
* the workflow side (ask, wait on a durable condition, resume) is
  :mod:`workflows.human_questions`, which uses this package; nothing here imports it;
* :mod:`hitl.notifiers` delivers questions (the built-in webhook, or a plugin's notifier);
* :mod:`hitl.tool` registers ``app::human::ask``.
"""

from .spec import (
    NOTIFIER_METADATA,
    QUESTION_METADATA,
    QuestionError,
    QuestionSpec,
    build_question,
    may_answer,
    normalize_responses,
    question_from_call,
    validate_answer,
)

__all__ = [
    "NOTIFIER_METADATA",
    "QUESTION_METADATA",
    "QuestionError",
    "QuestionSpec",
    "build_question",
    "may_answer",
    "normalize_responses",
    "question_from_call",
    "validate_answer",
]
