"""Background tasks of core: running jobs (imports, exports…) by id, idempotently."""

from __future__ import annotations

from django.tasks import task

from . import jobs


@task(queue_name="default")
def run_job(job_id: int) -> str:
    """Run job ``job_id``; enqueued on the kind's queue with ``run_job.using(queue_name=...)``."""
    return jobs.run_job(job_id)
