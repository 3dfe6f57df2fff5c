"""The one error the volume manager raises: a volume that cannot be set up for a pod.

``reason`` is the Event reason the kubelet records (``FailedMount``); ``message`` is worded as
the kubelet words it, e.g. ``MountVolume.SetUp failed for volume "cfg" : configmap "missing"
not found``.
"""

from __future__ import annotations

FAILED_MOUNT = "FailedMount"


class VolumeError(Exception):
    """A volume of the pod could not be set up (or refreshed, or torn down)."""

    def __init__(self, message: str, reason: str = FAILED_MOUNT) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def setup_failed(volume: str, cause: str) -> VolumeError:
    """The kubelet's MountVolume.SetUp failure for *volume*."""
    return VolumeError(f'MountVolume.SetUp failed for volume "{volume}" : {cause}')
