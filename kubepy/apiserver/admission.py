"""Mutating admission on create: the plugins whose effects every user sees.

- Pods: ServiceAccount (service account name, token volume), Priority (priorityClassName
  -> priority, preemptionPolicy), DefaultTolerationSeconds (not-ready/unreachable
  tolerations of 300 s);
- Jobs: the generated selector and template labels (after the uid exists).

The pure plugin logic lives in ``kubepy.api.defaults.admission``; this module hands it the
objects it needs from the watch cache. Until the service-account controller exists, a pod
in a namespace without its ServiceAccount gets the name only (no token volume) instead of
being refused as Kubernetes would.
"""

from __future__ import annotations

import random
from typing import Any

from kubepy.api.defaults import admission as plugins
from kubepy.api.defaults.batch import generate_job_selector
from kubepy.api.registry import ResourceType
from kubepy.apiserver.watchcache import CacheHub

Obj = dict[str, Any]


class CreateAdmission:
    def __init__(self, hub: CacheHub, rng: random.Random | None = None):
        self.hub = hub
        self.rng = rng or random.Random()

    async def admit(self, rt: ResourceType, obj: Obj, old: Obj | None, operation: str) -> None:
        if operation != "CREATE":
            return
        key = (rt.group, rt.kind)
        if key == ("", "Pod"):
            self._pod(obj)
        elif key == ("batch", "Job"):
            generate_job_selector(obj)

    def _pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.setdefault("spec", {})
        sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        sa = self.hub.cache_for("/registry/serviceaccounts/").objects.get(
            f"/registry/serviceaccounts/{meta.get('namespace')}/{sa_name}")
        if sa is not None:
            plugins.admit_service_account(pod, service_account=sa,
                                          volume_suffix=plugins.random_suffix(self.rng))
        else:
            spec["serviceAccountName"] = sa_name
            spec["serviceAccount"] = sa_name
        classes = {o["metadata"]["name"]: o for o in
                   self.hub.cache_for("/registry/priorityclasses/").objects.values()}
        plugins.admit_priority(pod, classes)
        plugins.admit_default_toleration_seconds(pod)
