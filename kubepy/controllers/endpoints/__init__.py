"""The Endpoints controller (``controller``) and its pure decisions (``logic``)."""

from kubepy.controllers.endpoints.controller import EndpointsController, new_controllers

__all__ = ["EndpointsController", "new_controllers"]
