"""Small async data-access functions over an AsyncSession; callers own the transaction."""

from persistence.repository.api_keys import (
    BOOTSTRAP_KEY_NAME,
    create_api_key,
    delete_api_key,
    ensure_api_key,
    ensure_bootstrap_api_key,
    find_api_key,
    generate_api_key,
    hash_api_key,
)
from persistence.repository.idempotency import (
    IdempotencyClaim,
    claim_idempotency_key,
    request_hash,
)
from persistence.repository.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from persistence.repository.questions import (
    answer_audit,
    answer_question,
    audit_answer,
    create_question,
    expire_question,
    get_question,
    list_questions,
    open_question_of_run,
    record_notification,
    reopen_question,
    run_questions,
)
from persistence.repository.runs import (
    InvalidRunStatus,
    append_logs,
    create_run,
    finish_run,
    get_logs,
    get_run,
    list_runs,
    list_stale_pending_runs,
    mark_run_running,
    set_run_status,
    set_run_workflow,
    workflow_id_for,
)
from persistence.repository.schedules import (
    backfill_creator,
    backfill_id_of,
    find_run_by_workflow_run,
    list_schedule_runs,
    list_scheduled_tasks,
    runs_by_workflow_run_ids,
    set_task_schedule,
)
from persistence.repository.tasks import (
    TaskNameConflict,
    TaskNotFound,
    archive_task,
    create_task,
    cy_name_from,
    get_task,
    get_task_by_id_or_cy_name,
    get_version,
    list_tasks,
    list_versions,
    update_task,
)

__all__ = [name for name in dir() if not name.startswith("_")]
