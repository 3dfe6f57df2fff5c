"""Request metrics in Prometheus text format (the apiserver's ``apiserver_request_*``).

``apiserver_request_total{verb,group,version,resource,subresource,scope,component,code}``
counts requests; ``apiserver_request_duration_seconds`` is a histogram of their latency
(watches excluded, as upstream does for the duration histogram).
"""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6,
           8, 10, 15, 20, 30, 45, 60)

Labels = tuple[tuple[str, str], ...]


def _fmt(labels: Labels) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


class RequestMetrics:
    def __init__(self) -> None:
        self.totals: dict[Labels, int] = defaultdict(int)
        self.hist: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = defaultdict(float)
        self.counts: dict[Labels, int] = defaultdict(int)
        self.inflight = 0

    def observe(self, *, verb: str, group: str, version: str, resource: str,
                subresource: str, scope: str, code: int, seconds: float,
                dry_run: str = "") -> None:
        base = (("verb", verb), ("dry_run", dry_run), ("group", group), ("version", version),
                ("resource", resource), ("subresource", subresource), ("scope", scope))
        self.totals[base + (("component", "apiserver"), ("code", str(code)))] += 1
        if verb == "WATCH":
            return
        buckets = self.hist.get(base)
        if buckets is None:
            buckets = self.hist[base] = [0] * len(BUCKETS)
        i = bisect.bisect_left(BUCKETS, seconds)
        if i < len(BUCKETS):
            buckets[i] += 1
        self.sums[base] += seconds
        self.counts[base] += 1

    def render(self) -> str:
        out = ["# HELP apiserver_request_total Counter of apiserver requests broken out for "
               "each verb, dry run value, group, version, resource, scope, component, and "
               "HTTP response code.",
               "# TYPE apiserver_request_total counter"]
        for labels, n in sorted(self.totals.items()):
            out.append(f"apiserver_request_total{{{_fmt(labels)}}} {n}")
        out += ["# HELP apiserver_request_duration_seconds Response latency distribution in "
                "seconds for each verb, dry run value, group, version, resource, subresource, "
                "scope and component.",
                "# TYPE apiserver_request_duration_seconds histogram"]
        for labels, buckets in sorted(self.hist.items()):
            acc = 0
            lab = _fmt(labels + (("component", "apiserver"),))
            for le, n in zip(BUCKETS, buckets):
                acc += n
                out.append(f'apiserver_request_duration_seconds_bucket{{{lab},le="{le}"}} {acc}')
            out.append(f'apiserver_request_duration_seconds_bucket{{{lab},le="+Inf"}} '
                       f"{self.counts[labels]}")
            out.append(f"apiserver_request_duration_seconds_sum{{{lab}}} {self.sums[labels]}")
            out.append(f"apiserver_request_duration_seconds_count{{{lab}}} {self.counts[labels]}")
        out += ["# HELP apiserver_current_inflight_requests Maximal number of currently used "
                "inflight request limit of this apiserver per request kind in last second.",
                "# TYPE apiserver_current_inflight_requests gauge",
                f'apiserver_current_inflight_requests{{request_kind="all"}} {self.inflight}']
        return "\n".join(out) + "\n"
