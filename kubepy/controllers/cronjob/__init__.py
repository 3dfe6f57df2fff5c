"""The CronJob controller (``controller``), its pure decisions (``logic``) and schedule
arithmetic (``schedule``)."""

from kubepy.controllers.cronjob.controller import CronJobController, new_controllers

__all__ = ["CronJobController", "new_controllers"]
