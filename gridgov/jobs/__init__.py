"""Background jobs on a PostgreSQL-backed queue (procrastinate): notifications of dispatched,
nearly due, overdue and closed cases to webhooks (SMS and WeChat gateways behind the same
interface), with retries and a dead-letter list.

- :mod:`gridgov.jobs.queue`: the procrastinate app, in-transaction enqueueing, the worker,
  dead letters;
- :mod:`gridgov.jobs.notify`: what is notified to whom, the delivery task and the periodic sweep;
- :mod:`gridgov.jobs.channels`: the ``Channel`` interface, signed webhooks, gateway outlines.

Run the worker with ``gridgov worker`` (``scripts/up`` starts it beside the service).
"""
