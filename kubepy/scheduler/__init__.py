"""kubepy's scheduler (kube-scheduler's default profile).

Entry point: ``kubepy.scheduler.setup.new_scheduler(client, informers, clock,
recorder_for) -> Scheduler``; ``await scheduler.run()`` until ``await
scheduler.shutdown()``. Modules: ``nodeinfo`` (PodInfo/NodeInfo), ``cache``, ``queue``,
``framework``, ``plugins/``, ``algorithm`` (one decision), ``preemption``, ``messages``,
``binder`` (API writes), ``scheduler`` (the loop), ``setup`` (wiring).
"""

from kubepy.scheduler.setup import new_scheduler
from kubepy.scheduler.scheduler import Scheduler

__all__ = ["new_scheduler", "Scheduler"]
