"""The case KPIs kept current by the job-queue worker (gridgov.jobs.queue): every minute,
:func:`gridgov.cases.kpis.keep` computes the weeks and months that writes have marked, and the
running ones in which a case has fallen due, so that a read (the API, the wall screen, a
notebook) finds them computed. A province's first year of KPIs (some 10 s for 3 million cases,
after a bulk import of 12345 orders) is computed here too, not in somebody's request.

Each run is keyed by its scheduled time (procrastinate's periodic deferrer passes it); a
queueing lock keeps a second one from being enqueued while one waits, and a day of runs is
kept. The task registers when gridgov.jobs.notify (the worker's import path) is imported.
"""

from __future__ import annotations

import logging

from gridgov.jobs import queue

log = logging.getLogger(__name__)

KEEP = "gridgov.cases.kpis.keep"
QUEUE = "kpis"  # apart, so that a backlog of notices cannot hold it, nor it them


@queue.app.periodic(cron="* * * * *", periodic_id="case_kpis")
@queue.app.task(name=KEEP, queue=QUEUE, queueing_lock=KEEP, pass_context=True)
def keep_task(context, timestamp: int) -> None:
    """Every minute: :func:`gridgov.cases.kpis.keep` on the worker's database."""
    from gridgov.cases import kpis

    engine = queue.engine_of(context)
    computed = kpis.keep(engine)
    if computed:
        log.info("case KPIs: %d (county, period) computed", computed)
    with engine.begin() as conn:
        queue.prune(conn, QUEUE, KEEP, timestamp - 86400)
