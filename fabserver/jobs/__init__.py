"""The job lifecycle: the state machine, the queue (Huey) and the tasks that plan and dispatch.

The web layer and the ``worker`` command both build a :class:`~fabserver.jobs.runtime.Runtime`
and call the functions of :mod:`fabserver.jobs.service`; neither talks to Huey or
changes a job's state directly.
"""
