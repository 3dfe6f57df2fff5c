"""Pure parts of the pod worker: /etc/hosts, /etc/hostname and /etc/resolv.conf generation,
volume directories and container mounts, overlay options, container statuses and pod phase."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.pods import files
from kubepy.kubelet.pods.mounts import container_mounts, sub_path, volume_dirs
from kubepy.kubelet.pods.snapshot import SnapshotError, overlay_options
from kubepy.kubelet.pods.status import (ContainerPhase, ContainerRecord, container_statuses,
                                        pod_phase)
from kubepy.kubelet.pods.worker import image_config_for_spec
from kubepy.kubelet.runtime.env import ContainerConfigError

Obj = dict[str, Any]

LOCAL = files.LOCAL_ENTRIES
T0 = 1_700_000_000.0


def pod(name: str = "web", namespace: str = "ns1", **spec: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "uid": "u1"}, "spec": spec}


# /etc/hosts --------------------------------------------------------------------------------
@pytest.mark.parametrize("p,ips,host_hosts,expected", [
    (pod(), ["10.244.0.5"], "",
     files.HOSTS_HEADER + LOCAL + "10.244.0.5\tweb\n"),
    (pod(hostname="db-0", subdomain="db"), ["10.244.0.6"], "",
     files.HOSTS_HEADER + LOCAL + "10.244.0.6\tdb-0.db.ns1.svc.cluster.local\tdb-0\n"),
    (pod(), ["10.244.0.5", "fd00::5"], "",
     files.HOSTS_HEADER + LOCAL + "10.244.0.5\tweb\nfd00::5\tweb\n"),
    (pod(hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]},
                      {"ip": "127.0.0.1", "hostnames": ["foo.local"]}]), ["10.244.0.5"], "",
     files.HOSTS_HEADER + LOCAL + "10.244.0.5\tweb\n\n# Entries added by HostAliases.\n"
     "10.1.2.3\tfoo.remote\tbar.remote\n127.0.0.1\tfoo.local\n"),
    (pod(hostNetwork=True, hostAliases=[{"ip": "1.2.3.4", "hostnames": ["x"]}]), [],
     "127.0.0.1 localhost\n192.0.2.1 node1",
     "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.1 node1\n"
     "\n# Entries added by HostAliases.\n1.2.3.4\tx\n"),
    (pod(name="a" * 70), ["10.0.0.1"], "", files.HOSTS_HEADER + LOCAL + f"10.0.0.1\t{'a' * 63}\n"),
], ids=["plain", "subdomain-fqdn", "dual-stack", "host-aliases", "host-network",
        "long-name-truncated"])
def test_hosts_file(p: Obj, ips: list[str], host_hosts: str, expected: str) -> None:
    assert files.hosts_file(p, ips, host_hosts=host_hosts) == expected


@pytest.mark.parametrize("p,expected", [
    (pod(), "web\n"), (pod(hostname="h1"), "h1\n"), (pod(name="x" * 64 + "-"), "x" * 63 + "\n"),
], ids=["pod-name", "spec-hostname", "truncated"])
def test_hostname_file(p: Obj, expected: str) -> None:
    assert files.hostname_file(p) == expected


# /etc/resolv.conf --------------------------------------------------------------------------
HOST_RESOLV = ("# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
               "search corp.example lab.example\noptions edns0 timeout:2\n")
CLUSTER_SEARCH = "search ns1.svc.cluster.local svc.cluster.local cluster.local"


@pytest.mark.parametrize("p,cluster_dns,expected", [
    (pod(), ["10.43.0.10"],
     f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.43.0.10\noptions ndots:5\n"),
    (pod(dnsPolicy="Default"), ["10.43.0.10"],
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options edns0 timeout:2\n"),
    (pod(hostNetwork=True), ["10.43.0.10"],
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options edns0 timeout:2\n"),
    (pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), ["10.43.0.10"],
     f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.43.0.10\noptions ndots:5\n"),
    (pod(), [],
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options edns0 timeout:2\n"),
    (pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["a.example"],
                                      "options": [{"name": "ndots", "value": "2"},
                                                  {"name": "edns0"}]}), ["10.43.0.10"],
     "search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n"),
    (pod(dnsPolicy="None"), ["10.43.0.10"], ""),
    (pod(dnsConfig={"nameservers": ["10.43.0.10", "8.8.8.8", "8.8.4.4", "9.9.9.9"],
                    "searches": ["svc.cluster.local", "extra.example"],
                    "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}]}),
     ["10.43.0.10"],
     f"{CLUSTER_SEARCH} corp.example lab.example extra.example\nnameserver 10.43.0.10\n"
     "nameserver 8.8.8.8\nnameserver 8.8.4.4\noptions ndots:1 single-request\n"),
], ids=["cluster-first", "default", "host-network-falls-back", "cluster-first-with-host-net",
        "no-cluster-dns-falls-back", "none-with-config", "none-empty",
        "merge-dedupe-limit-3-override-option"])
def test_resolv_conf(p: Obj, cluster_dns: list[str], expected: str) -> None:
    dns = files.pod_dns(p, cluster_dns=cluster_dns, host_resolv=HOST_RESOLV)
    assert files.resolv_conf(dns) == expected


def test_search_domains_limited_to_32() -> None:
    searches = [f"d{i}.example" for i in range(40)]
    dns = files.pod_dns(pod(dnsPolicy="None", dnsConfig={"searches": searches}),
                        cluster_dns=[], host_resolv="")
    assert dns.searches == searches[:32]


@pytest.mark.parametrize("text,expected", [
    ("nameserver 1.1.1.1\ndomain a\nsearch b c\n", files.DNSConfig(["1.1.1.1"], ["b", "c"], [])),
    ("search b c\ndomain a\n", files.DNSConfig([], ["a"], [])),
    ("; comment\nnameserver 2.2.2.2 # trailing\noptions a\noptions b:1\n",
     files.DNSConfig(["2.2.2.2"], [], ["a", "b:1"])),
], ids=["last-search-wins", "domain-last", "comments-and-options"])
def test_parse_resolv_conf(text: str, expected: files.DNSConfig) -> None:
    assert files.parse_resolv_conf(text) == expected


# volumes and mounts ------------------------------------------------------------------------
def test_volume_dirs() -> None:
    p = pod(volumes=[{"name": "cache", "emptyDir": {}},
                     {"name": "mem", "emptyDir": {"medium": "Memory"}},
                     {"name": "cfg", "configMap": {"name": "c"}}])
    paths, unsupported = volume_dirs(p, "/d/pods/u1")
    assert paths == {"cache": "/d/pods/u1/volumes/kubernetes.io~empty-dir/cache"}
    assert sorted(unsupported) == ["cfg", "mem"]
    assert "configMap" in unsupported["cfg"] and "Memory" in unsupported["mem"]


def bind(source: str, dest: str, ro: bool = False) -> Obj:
    return {"destination": dest, "type": "bind", "source": source,
            "options": ["rbind", "rprivate", "ro" if ro else "rw"]}


ETC = dict(etc_hosts="/p/etc-hosts", etc_hostname="/p/etc-hostname",
           resolv_conf="/p/resolv.conf", termination_log="/b/termination-log")
MANAGED = [bind("/p/etc-hosts", "/etc/hosts"), bind("/p/etc-hostname", "/etc/hostname"),
           bind("/p/resolv.conf", "/etc/resolv.conf"),
           bind("/b/termination-log", "/dev/termination-log")]


@pytest.mark.parametrize("container,expected", [
    ({"name": "c"}, MANAGED),
    ({"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/data", "readOnly": True}]},
     [bind("/v", "/data", ro=True), *MANAGED]),
    ({"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "a/b"}]},
     [bind("/v/a/b", "/x"), *MANAGED]),
    ({"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/etc/hosts", "subPath": "h"}]},
     [bind("/v/h", "/etc/hosts"), *MANAGED[1:]]),
    ({"name": "c", "terminationMessagePath": "/tmp/msg"},
     [*MANAGED[:3], bind("/b/termination-log", "/tmp/msg")]),
], ids=["managed-files-only", "read-only-volume", "sub-path", "volume-replaces-etc-hosts",
        "termination-message-path"])
def test_container_mounts(container: Obj, expected: list[Obj]) -> None:
    assert container_mounts(container, volumes={"v": "/v"}, **ETC) == expected


@pytest.mark.parametrize("container,message", [
    ({"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, "not found"),
    ({"name": "c", "volumeMounts": [{"name": "cfg", "mountPath": "/x"}]}, "not supported"),
    ({"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "../up"}]},
     "'..'"),
    ({"name": "c", "volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "/abs"}]},
     "relative"),
], ids=["unknown-volume", "unsupported-volume", "sub-path-escapes", "sub-path-absolute"])
def test_container_mounts_errors(container: Obj, message: str) -> None:
    with pytest.raises(ContainerConfigError, match=message):
        container_mounts(container, volumes={"v": "/v"},
                         unsupported={"cfg": 'volume "cfg": type configMap not supported'}, **ETC)


@pytest.mark.parametrize("sub,expected", [("a", "/v/a"), ("./a//b/", "/v/a/b"), ("a/../b", "/v/b"),
                                          (".", "/v")], ids=["plain", "normalised", "inner-dotdot",
                                                              "dot"])
def test_sub_path(sub: str, expected: str) -> None:
    assert sub_path("/v", sub) == expected


# overlay options ---------------------------------------------------------------------------
def test_overlay_options_put_the_top_layer_first() -> None:
    assert overlay_options(["/l/base", "/l/top"], "/s/upper", "/s/work") == \
        "lowerdir=/l/top:/l/base,upperdir=/s/upper,workdir=/s/work"


@pytest.mark.parametrize("lowers,match", [
    ([], "at least one"), (["/l/a:b"], "not usable"), (["/l/" + "x" * 100] * 50, "too long"),
], ids=["no-layers", "colon-in-path", "too-many-layers"])
def test_overlay_options_refused(lowers: list[str], match: str) -> None:
    with pytest.raises(SnapshotError, match=match):
        overlay_options(lowers, "/u", "/w")


def test_image_config_for_spec() -> None:
    stored = {"entrypoint": ["/bin/sh"], "cmd": [], "env": ["PATH=/bin"], "working_dir": "/w",
              "user": "1000:1000", "diff_ids": []}
    assert image_config_for_spec(stored) == {"Entrypoint": ["/bin/sh"], "Cmd": None,
                                             "Env": ["PATH=/bin"], "WorkingDir": "/w",
                                             "User": "1000:1000"}


# statuses ----------------------------------------------------------------------------------
def rec(name: str, phase: ContainerPhase, exit_code: int | None = None, *,
        oom: bool = False, reason: str = "", message: str = "") -> ContainerRecord:
    return ContainerRecord(name=name, image="docker.io/library/busybox:1", image_id="sha256:ab",
                           container_id="" if phase is ContainerPhase.WAITING else "c1",
                           phase=phase, reason=reason, message=message,
                           started_at=None if phase is ContainerPhase.WAITING else T0,
                           finished_at=T0 + 2 if phase is ContainerPhase.EXITED else None,
                           exit_code=exit_code, oom_killed=oom)


RUNNING = ContainerPhase.RUNNING
EXITED = ContainerPhase.EXITED
WAITING = ContainerPhase.WAITING


def term(code: int, reason: str, **extra: Any) -> Obj:
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": "2023-11-14T22:13:20Z",
                           "finishedAt": "2023-11-14T22:13:22Z", "containerID": "runc://c1",
                           **extra}}


@pytest.mark.parametrize("record,init,initializing,state,ready,started", [
    (None, False, False, {"waiting": {"reason": "ContainerCreating"}}, False, False),
    (None, False, True, {"waiting": {"reason": "PodInitializing"}}, False, False),
    (None, True, True, {"waiting": {"reason": "PodInitializing"}}, False, False),
    (rec("c", WAITING, reason="CreateContainerConfigError", message="no command specified"),
     False, False, {"waiting": {"reason": "CreateContainerConfigError",
                                "message": "no command specified"}}, False, False),
    (rec("c", RUNNING), False, False, {"running": {"startedAt": "2023-11-14T22:13:20Z"}},
     True, True),
    (rec("c", EXITED, 0), False, False, term(0, "Completed"), False, False),
    (rec("c", EXITED, 0), True, False, term(0, "Completed"), True, False),
    (rec("c", EXITED, 3, message="boom"), False, False, term(3, "Error", message="boom"),
     False, False),
    (rec("c", EXITED, 137, oom=True), False, False, term(137, "OOMKilled"), False, False),
    (rec("c", EXITED, 1), True, False, term(1, "Error"), False, False),
    (rec("c", EXITED, None), False, False,
     term(-1, "Unknown", message="The container could not be located when the pod was "
                                 "terminated"), False, False),
], ids=["not-created", "app-while-initializing", "init-not-run", "config-error", "running",
        "completed", "init-completed-is-ready", "error-with-message", "oom-killed",
        "init-failed", "exit-unknown"])
def test_container_status(record: ContainerRecord | None, init: bool, initializing: bool,
                          state: Obj, ready: bool, started: bool) -> None:
    records = {"c": record} if record else {}
    [status] = container_statuses([{"name": "c", "image": "busybox:1"}], records, init=init,
                                  initializing=initializing)
    assert status["state"] == state
    assert (status["ready"], status["started"]) == (ready, started)
    assert status["lastState"] == {} and status["restartCount"] == 0
    if record is not None:
        assert (status["image"], status["imageID"]) == ("docker.io/library/busybox:1", "sha256:ab")
    else:
        assert status["image"] == "busybox:1" and "containerID" not in status


def test_container_statuses_follow_spec_order() -> None:
    containers = [{"name": "b"}, {"name": "a"}]
    out = container_statuses(containers, {"a": rec("a", RUNNING)})
    assert [s["name"] for s in out] == ["b", "a"]


@pytest.mark.parametrize("policy,inits,apps,expected", [
    ("Never", {}, {}, "Pending"),
    ("Never", {"i": rec("i", RUNNING)}, {}, "Pending"),
    ("Never", {"i": rec("i", EXITED, 1)}, {}, "Failed"),
    ("OnFailure", {"i": rec("i", EXITED, 1)}, {}, "Pending"),
    ("Always", {"i": rec("i", EXITED, 0)}, {"a": rec("a", RUNNING)}, "Pending"),
    ("Always", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", RUNNING), "b": rec("b", RUNNING)}, "Running"),
    ("Never", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", RUNNING)}, "Running"),
    ("Never", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", EXITED, 0)}, "Succeeded"),
    ("Never", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", EXITED, 2)}, "Failed"),
    ("OnFailure", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", EXITED, 2)}, "Running"),
    ("OnFailure", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", EXITED, 0)}, "Succeeded"),
    ("Always", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", EXITED, 0), "b": rec("b", EXITED, 0)}, "Running"),
    ("Never", {"i": rec("i", EXITED, 0)},
     {"a": rec("a", WAITING, reason="ErrImagePull"), "b": rec("b", RUNNING)}, "Pending"),
], ids=["nothing-yet", "init-running", "init-failed-never", "init-failed-onfailure",
        "app-not-started", "all-running", "one-exited-one-running", "all-succeeded",
        "one-failed-never", "one-failed-onfailure", "all-succeeded-onfailure",
        "all-exited-always", "image-pull-error"])
def test_pod_phase(policy: str, inits: dict[str, ContainerRecord],
                   apps: dict[str, ContainerRecord], expected: str) -> None:
    p = pod(restartPolicy=policy, initContainers=[{"name": "i"}],
            containers=[{"name": "a"}, {"name": "b"}])
    assert pod_phase(p, inits, apps) == expected
