from __future__ import annotations

from huey.contrib.djhuey import db_task

from avis.customers import import_jobs


@db_task()
def check_import(import_id: int) -> None:
    """The dry run of an uploaded file, in the background: it may read a million rows."""
    import_jobs.check_import(import_id=import_id)


@db_task()
def run_import(import_id: int) -> None:
    """A confirmed import, in the background; running it twice creates nothing twice."""
    import_jobs.run_import(import_id=import_id)
