"""The Job controller and TTL-after-finished controller (``controller``), their pure
decisions (``logic``) and pod helpers (``pods``)."""

from kubepy.controllers.job.controller import (JobController, TTLAfterFinishedController,
                                               new_controllers)

__all__ = ["JobController", "TTLAfterFinishedController", "new_controllers"]
