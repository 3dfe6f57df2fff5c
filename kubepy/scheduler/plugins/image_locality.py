"""ImageLocality: favour nodes that already hold the pod's images. Each image present
scores its size times its spread (nodes that have it / all nodes); the sum, clamped to
[23 MiB, 1000 MiB x containers], maps linearly onto 0..100."""

from __future__ import annotations

from kubepy.scheduler.framework import MAX_NODE_SCORE, CycleState, Snapshot, Status
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_STATE = "PreScore" + NAME


def image_score(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    s = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (s - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        total = len(snapshot.node_infos()) or 1
        spread = {img: snapshot.image_spread(img) / total for img in pod.images}
        state.write(_STATE, {k: v for k, v in spread.items() if v})
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        spread: dict[str, float] = state.read(_STATE) or {}
        total = 0
        for img in pod.images:
            size = node.images.get(img)
            if size is not None and img in spread:
                total += int(size * spread[img])
        return image_score(total, pod.container_count)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int] | int:
        if not state.read(_STATE) or not pod.container_count:
            return 0
        return [self.score(state, pod, n) for n in nodes]
