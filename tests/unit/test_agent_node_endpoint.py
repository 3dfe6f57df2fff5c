"""The kubelet API port a node advertises (``daemonEndpoints.kubeletEndpoint.Port``)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kubepy.kubelet.agent import node
from kubepy.kubelet.agent.kubelet import AgentConfig

FACTS = node.MachineFacts(cpus=1, memory_ki=1024 * 1024, storage_ki=1024 * 1024,
                          kernel="k", os_image="o", architecture="amd64", machine_id="m" * 32,
                          system_uuid="u", boot_id="b", hostname="h", runtime_version="1")
NOW = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("kwargs,want", [({}, 10250), ({"kubelet_port": 43117}, 43117)],
                         ids=["default", "picked"])
def test_daemon_endpoint_port(kwargs: dict[str, int], want: int) -> None:
    created = node.new_node("n1", FACTS, "192.0.2.7", "v1.32.0", NOW, **kwargs)
    assert created["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": want}}
    again = node.node_status("n1", FACTS, "192.0.2.7", "v1.32.0", created["status"], NOW,
                             **kwargs)
    assert again["daemonEndpoints"]["kubeletEndpoint"]["Port"] == want


def test_agent_config_defaults() -> None:
    from pathlib import Path
    cfg = AgentConfig(node_name="n1", data_dir=Path("/nonexistent"))
    assert (cfg.kubelet_port, cfg.client_ca_pem) == (10250, b"")
