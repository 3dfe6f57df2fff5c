"""Tables for the OCI spec generation of kubepy.kubelet.runtime (env, security, spec)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.runtime.env import (DEFAULT_PATH, ContainerConfigError, container_env, expand,
                                        merged_env, process_args)
from kubepy.kubelet.runtime.security import (ALL_CAPABILITIES, DEFAULT_CAPABILITIES,
                                             capabilities, resolve_user)
from kubepy.kubelet.runtime.spec import (container_spec, cpu_quota, cpu_shares,
                                         linux_resources, namespaces, oom_score_adj,
                                         pod_hostname, qos_class, sandbox_spec)

Obj = dict[str, Any]
MAP = {"A": "x", "EMPTY": ""}


@pytest.mark.parametrize("text,expected", [
    ("plain", "plain"),
    ("$(A)", "x"),
    ("pre-$(A)-post", "pre-x-post"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$x"),
    ("$$", "$"),
    ("$A", "$A"),
    ("$", "$"),
    ("a$", "a$"),
    ("$(A", "$(A"),
    ("$()", "$()"),
    ("$(EMPTY)z", "z"),
    ("$(A)$(A)", "xx"),
    ("$($(A))", "$($(A))"),
], ids=lambda v: repr(v))
def test_expand(text: str, expected: str) -> None:
    assert expand(text, MAP) == expected


@pytest.mark.parametrize("env,kwargs,expected", [
    ([{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)-2"}], {},
     [("A", "1"), ("B", "1-2")]),
    ([{"name": "B", "value": "$(A)"}, {"name": "A", "value": "1"}], {},
     [("B", "$(A)"), ("A", "1")]),
    ([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}], {}, [("A", "2")]),
    ([{"name": "R", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
      {"name": "X", "value": "$(R)"}], {"value_from": {"R": "$(A)"}},
     [("R", "$(A)"), ("X", "$(A)")]),
    ([{"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k",
                                                      "optional": True}}}], {}, []),
    ([{"name": "B", "value": "$(F)"}], {"env_from": [("F", "from"), ("B", "old")]},
     [("F", "from"), ("B", "from")]),
    ([{"name": "U", "value": "$(SVC_HOST)"}], {"service_env": {"SVC_HOST": "10.0.0.1"}},
     [("U", "10.0.0.1"), ("SVC_HOST", "10.0.0.1")]),
    ([{"name": "SVC_HOST", "value": "mine"}], {"service_env": {"SVC_HOST": "10.0.0.1"}},
     [("SVC_HOST", "mine")]),
    ([{"name": "E"}], {}, [("E", "")]),
], ids=["earlier-var", "later-var-not-seen", "redefined", "valueFrom-not-expanded",
        "optional-missing", "envFrom-first", "service-env", "own-over-service", "empty"])
def test_container_env(env: list[Obj], kwargs: Obj, expected: list[tuple[str, str]]) -> None:
    assert container_env({"name": "c", "env": env}, **kwargs) == expected


IMAGE = {"Entrypoint": ["/entry"], "Cmd": ["--default"]}


@pytest.mark.parametrize("container,image,expected", [
    ({}, IMAGE, ["/entry", "--default"]),
    ({"command": ["/bin/sh"]}, IMAGE, ["/bin/sh"]),
    ({"args": ["--x"]}, IMAGE, ["/entry", "--x"]),
    ({"command": ["/bin/sh"], "args": ["-c", "echo $(A)"]}, IMAGE, ["/bin/sh", "-c", "echo x"]),
    ({"args": ["$$(A)", "$(NOPE)"]}, {"Cmd": ["sh"]}, ["$(A)", "$(NOPE)"]),
    ({}, {"Cmd": ["sh"]}, ["sh"]),
], ids=["image-only", "command-replaces-both", "args-replace-cmd", "expanded",
        "args-without-entrypoint", "cmd-only"])
def test_process_args(container: Obj, image: Obj, expected: list[str]) -> None:
    assert process_args(container, image, [("A", "x")]) == expected


def test_process_args_nothing_to_run() -> None:
    with pytest.raises(ContainerConfigError, match="no command specified"):
        process_args({}, {}, [])


@pytest.mark.parametrize("image_env,env,expected", [
    ([], [], ["HOSTNAME=h", f"PATH={DEFAULT_PATH}"]),
    (["PATH=/bin", "A=img"], [("A", "pod"), ("B", "b")],
     ["HOSTNAME=h", "PATH=/bin", "A=pod", "B=b"]),
    (["X=a=b"], [("HOSTNAME", "mine")], ["HOSTNAME=mine", "X=a=b", f"PATH={DEFAULT_PATH}"]),
], ids=["defaults", "container-over-image-in-place", "hostname-overridden"])
def test_merged_env(image_env: list[str], env: list[tuple[str, str]],
                    expected: list[str]) -> None:
    assert merged_env({"Env": image_env}, env, "h") == expected


DEFAULT = list(DEFAULT_CAPABILITIES)


@pytest.mark.parametrize("sc,expected", [
    ({}, DEFAULT),
    ({"capabilities": {"add": ["NET_ADMIN"]}}, DEFAULT + ["CAP_NET_ADMIN"]),
    ({"capabilities": {"add": ["CAP_SYS_TIME"]}}, DEFAULT + ["CAP_SYS_TIME"]),
    ({"capabilities": {"drop": ["NET_RAW", "KILL"]}},
     [c for c in DEFAULT if c not in ("CAP_NET_RAW", "CAP_KILL")]),
    ({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
     ["CAP_NET_BIND_SERVICE"]),
    ({"capabilities": {"drop": ["ALL"]}}, []),
    ({"capabilities": {"add": ["ALL"], "drop": ["SYS_ADMIN"]}},
     [c for c in ALL_CAPABILITIES if c != "CAP_SYS_ADMIN"]),
    ({"capabilities": {"add": ["NET_ADMIN"], "drop": ["NET_ADMIN"]}}, DEFAULT),
    ({"privileged": True, "capabilities": {"drop": ["ALL"]}}, list(ALL_CAPABILITIES)),
    ({"capabilities": {"add": ["chown"]}}, DEFAULT),
], ids=["default", "add", "add-with-prefix", "drop", "drop-all-add", "drop-all", "add-all",
        "drop-wins", "privileged", "lowercase-dup"])
def test_capabilities(sc: Obj, expected: list[str]) -> None:
    assert capabilities(sc) == expected


PASSWD = "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:\n"


def _pod(psc: Obj | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {"securityContext": psc or {}, **spec}}


@pytest.mark.parametrize("psc,csc,image_user,expected", [
    ({}, {}, "", (0, 0, [])),
    ({}, {}, "1000", (1000, 0, [])),
    ({}, {}, "1000:1001", (1000, 1001, [])),
    ({}, {}, "www", (33, 34, [])),
    ({}, {}, "www:staff", (33, 50, [])),
    ({}, {}, "33", (33, 34, [])),
    ({"runAsUser": 5}, {}, "www", (5, 0, [])),
    ({"runAsUser": 5}, {"runAsUser": 6, "runAsGroup": 7}, "", (6, 7, [])),
    ({}, {"runAsUser": 33}, "1:2", (33, 34, [])),
    ({"runAsGroup": 9}, {}, "www", (33, 9, [])),
    ({"supplementalGroups": [4, 5], "fsGroup": 2000}, {}, "", (0, 0, [4, 5, 2000])),
    ({"supplementalGroups": [0, 4], "fsGroup": 4}, {}, "", (0, 0, [4])),
], ids=["root-default", "image-uid", "image-uid-gid", "image-name", "image-name-group",
        "uid-primary-group", "runAsUser-over-image", "container-over-pod",
        "runAsUser-drops-image-group", "runAsGroup-with-image-user", "supplemental-fsGroup",
        "dedup-groups"])
def test_resolve_user(psc: Obj, csc: Obj, image_user: str,
                      expected: tuple[int, int, list[int]]) -> None:
    user = resolve_user(_pod(psc), {"name": "c", "securityContext": csc}, {"User": image_user},
                        passwd=PASSWD, group=GROUP)
    assert (user.uid, user.gid, user.additional_gids) == expected


@pytest.mark.parametrize("psc,csc,image_user,message", [
    ({}, {}, "nobody", "unable to find user nobody"),
    ({}, {}, "www:nogroup", "unable to find group nogroup"),
    ({"runAsNonRoot": True}, {}, "", "non-root"),
    ({}, {"runAsNonRoot": True}, "0", "non-root"),
], ids=["unknown-user", "unknown-group", "non-root-pod", "non-root-container"])
def test_resolve_user_errors(psc: Obj, csc: Obj, image_user: str, message: str) -> None:
    with pytest.raises(ContainerConfigError, match=message):
        resolve_user(_pod(psc), {"name": "c", "securityContext": csc}, {"User": image_user},
                     passwd=PASSWD, group=GROUP)


@pytest.mark.parametrize("milli,shares,quota", [
    (0, 2, 1000), (1, 2, 1000), (10, 10, 1000), (100, 102, 10000), (250, 256, 25000),
    (1000, 1024, 100000), (2500, 2560, 250000),
], ids=lambda v: str(v))
def test_cpu_shares_and_quota(milli: int, shares: int, quota: int) -> None:
    assert (cpu_shares(milli), cpu_quota(milli)) == (shares, quota)


@pytest.mark.parametrize("resources,privileged,expected", [
    ({}, False, {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 2}}),
    ({"requests": {"cpu": "250m", "memory": "64Mi"}}, False,
     {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 256}}),
    ({"limits": {"cpu": "500m", "memory": "128Mi"}}, False,
     {"devices": [{"allow": False, "access": "rwm"}],
      "cpu": {"shares": 512, "quota": 50000, "period": 100000},
      "memory": {"limit": 134217728}}),
    ({"requests": {"cpu": "100m"}, "limits": {"cpu": "2", "memory": "1G"}}, True,
     {"devices": [{"allow": True, "access": "rwm"}],
      "cpu": {"shares": 102, "quota": 200000, "period": 100000},
      "memory": {"limit": 1000000000}}),
], ids=["none", "requests-only", "limits-default-requests", "privileged"])
def test_linux_resources(resources: Obj, privileged: bool, expected: Obj) -> None:
    assert linux_resources({"resources": resources}, privileged=privileged) == expected


def _res(req: Obj | None = None, lim: Obj | None = None) -> Obj:
    return {"name": "c", "resources": {"requests": req or {}, "limits": lim or {}}}


@pytest.mark.parametrize("containers,qos,adj", [
    ([{"name": "c"}], "BestEffort", 1000),
    ([_res(lim={"cpu": "1", "memory": "1Gi"})], "Guaranteed", -997),
    ([_res({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed", -997),
    ([_res({"memory": "2Gi"})], "Burstable", 500),
    ([_res({"memory": "4Gi"}, {"memory": "4Gi"})], "Burstable", 2),
    ([_res({"cpu": "1"})], "Burstable", 999),
], ids=["besteffort", "guaranteed-limits", "guaranteed-equal", "burstable-half",
        "burstable-clamped-low", "burstable-no-memory"])
def test_qos_and_oom_score_adj(containers: list[Obj], qos: str, adj: int) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": containers}}
    assert qos_class(pod) == qos
    assert oom_score_adj(pod, containers[0], 4 * 1024**3) == adj


SB = 4242


@pytest.mark.parametrize("spec,sandbox_pid,expected", [
    ({}, SB, [{"type": "pid"}, {"type": "network", "path": "/proc/4242/ns/net"},
              {"type": "ipc", "path": "/proc/4242/ns/ipc"},
              {"type": "uts", "path": "/proc/4242/ns/uts"}, {"type": "mount"}]),
    ({"shareProcessNamespace": True}, SB,
     [{"type": "pid", "path": "/proc/4242/ns/pid"},
      {"type": "network", "path": "/proc/4242/ns/net"},
      {"type": "ipc", "path": "/proc/4242/ns/ipc"},
      {"type": "uts", "path": "/proc/4242/ns/uts"}, {"type": "mount"}]),
    ({"hostNetwork": True}, SB,
     [{"type": "pid"}, {"type": "ipc", "path": "/proc/4242/ns/ipc"}, {"type": "mount"}]),
    ({"hostPID": True, "hostIPC": True}, SB,
     [{"type": "network", "path": "/proc/4242/ns/net"},
      {"type": "uts", "path": "/proc/4242/ns/uts"}, {"type": "mount"}]),
    ({}, None, [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                {"type": "mount"}]),
    ({"hostNetwork": True, "hostPID": True, "hostIPC": True}, None, [{"type": "mount"}]),
], ids=["default", "shareProcessNamespace", "hostNetwork", "hostPID-hostIPC", "sandbox",
        "sandbox-all-host"])
def test_namespaces(spec: Obj, sandbox_pid: int | None, expected: list[Obj]) -> None:
    assert namespaces({"spec": spec}, sandbox_pid) == expected


@pytest.mark.parametrize("pod,expected", [
    ({"metadata": {"name": "web-0"}}, "web-0"),
    ({"metadata": {"name": "web-0"}, "spec": {"hostname": "db"}}, "db"),
    ({"metadata": {"name": "a" * 62 + "-b"}}, "a" * 62),
], ids=["name", "spec.hostname", "truncated"])
def test_pod_hostname(pod: Obj, expected: str) -> None:
    assert pod_hostname(pod) == expected


def _spec(container: Obj, pod: Obj | None = None, **kw: Any) -> Obj:
    kw.setdefault("sandbox_pid", SB)
    container = {"name": "c", "command": ["sh"], **container}
    pod = pod or _pod()
    pod["spec"].setdefault("containers", [container])
    return container_spec(pod, container, container_id="cid", sandbox_id="sid", **kw)


def _dests(spec: Obj) -> list[str]:
    return [m["destination"] for m in spec["mounts"]]


def _mount(spec: Obj, dest: str) -> Obj:
    return next(m for m in spec["mounts"] if m["destination"] == dest)


@pytest.mark.parametrize("container,pod,kwargs,check", [
    ({}, None, {}, lambda s: s["hostname"] == "web" and s["root"] == {
        "path": "rootfs", "readonly": False}),
    ({}, None, {}, lambda s: s["linux"]["cgroupsPath"] == "/kubepy/podu1/cid"),
    ({}, None, {"cgroup_parent": "/kubepy-test-1/"},
     lambda s: s["linux"]["cgroupsPath"] == "/kubepy-test-1/podu1/cid"),
    ({}, None, {}, lambda s: "/proc/kcore" in s["linux"]["maskedPaths"]
     and "/proc/sys" in s["linux"]["readonlyPaths"]),
    ({"securityContext": {"privileged": True}}, None, {},
     lambda s: s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
     and "ro" not in _mount(s, "/sys")["options"]
     and s["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]),
    ({"securityContext": {"procMount": "Unmasked"}}, None, {},
     lambda s: s["linux"]["maskedPaths"] == []),
    ({}, None, {}, lambda s: "ro" in _mount(s, "/sys")["options"]
     and _mount(s, "/sys/fs/cgroup")["type"] == "cgroup"),
    ({"securityContext": {"readOnlyRootFilesystem": True}}, None, {},
     lambda s: s["root"]["readonly"] is True),
    ({"securityContext": {"allowPrivilegeEscalation": False}}, None, {},
     lambda s: s["process"]["noNewPrivileges"] is True),
    ({}, None, {}, lambda s: s["process"]["noNewPrivileges"] is False),
    ({"workingDir": "/w"}, None, {"image_config": {"WorkingDir": "/img"}},
     lambda s: s["process"]["cwd"] == "/w"),
    ({}, None, {"image_config": {"WorkingDir": "/img"}}, lambda s: s["process"]["cwd"] == "/img"),
    ({}, None, {}, lambda s: s["process"]["cwd"] == "/"),
    ({"env": [{"name": "A", "value": "1"}], "args": ["$(A)"]}, None, {},
     lambda s: s["process"]["args"] == ["sh", "1"] and "A=1" in s["process"]["env"]
     and "HOSTNAME=web" in s["process"]["env"]),
    ({}, None, {"env": [("B", "2")]}, lambda s: "B=2" in s["process"]["env"]),
    ({}, _pod(hostNetwork=True), {}, lambda s: "hostname" not in s),
    ({}, None, {"mounts": [{"destination": "/etc/hosts", "type": "bind", "source": "/p/hosts",
                            "options": ["rbind", "rprivate", "rw"]}]},
     lambda s: _dests(s)[-1] == "/etc/hosts"),
    ({}, None, {"mounts": [{"destination": "/dev/shm", "type": "bind", "source": "/p/shm",
                            "options": ["rbind"]}]},
     lambda s: _dests(s).count("/dev/shm") == 1 and _mount(s, "/dev/shm")["source"] == "/p/shm"),
    ({}, None, {"shm_path": "/p/shm"}, lambda s: _mount(s, "/dev/shm")["type"] == "bind"),
    ({}, None, {}, lambda s: _mount(s, "/dev/shm")["type"] == "tmpfs"),
    ({}, _pod({"sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}), {},
     lambda s: s["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}),
    ({}, None, {}, lambda s: "sysctl" not in s["linux"]),
    ({}, None, {}, lambda s: s["annotations"] == {
        "io.kubernetes.cri.container-type": "container", "io.kubernetes.pod.name": "web",
        "io.kubernetes.pod.namespace": "ns", "io.kubernetes.pod.uid": "u1",
        "io.kubernetes.container.name": "c", "io.kubernetes.cri.sandbox-id": "sid"}),
    ({"resources": {"limits": {"memory": "1Gi", "cpu": "1"}}},
     None, {"oom_score_adj_floor": 0}, lambda s: s["process"]["oomScoreAdj"] == 0),
    ({"resources": {"limits": {"memory": "1Gi", "cpu": "1"}}},
     None, {}, lambda s: s["process"]["oomScoreAdj"] == -997),
    ({}, None, {}, lambda s: s["process"]["user"] == {"uid": 0, "gid": 0}
     and s["process"]["capabilities"]["bounding"] == DEFAULT
     and s["process"]["capabilities"]["effective"] == DEFAULT
     and "inheritable" not in s["process"]["capabilities"]),
    ({}, _pod({"runAsUser": 1000, "fsGroup": 2000}), {},
     lambda s: s["process"]["user"] == {"uid": 1000, "gid": 0, "additionalGids": [2000]}),
], ids=["hostname-root", "cgroupsPath", "cgroup-parent-normalised", "masked-defaults",
        "privileged", "procMount-unmasked", "sysfs-cgroup-ro", "readOnlyRootFilesystem",
        "allowPrivilegeEscalation-false", "escalation-unset", "workingDir", "image-workdir",
        "cwd-default", "env-and-args-expansion", "resolved-env-given", "hostNetwork-no-hostname",
        "extra-mount-last", "extra-mount-replaces-default", "shm-from-sandbox", "shm-tmpfs",
        "sysctls", "no-sysctls", "annotations", "oom-floor", "oom-guaranteed",
        "user-and-caps", "pod-user-fsGroup"])
def test_container_spec(container: Obj, pod: Obj | None, kwargs: Obj, check: Any) -> None:
    assert check(_spec(container, pod, **kwargs))


def test_container_spec_config_error() -> None:
    with pytest.raises(ContainerConfigError):
        container_spec(_pod(), {"name": "c"}, container_id="x", sandbox_id="s", sandbox_pid=1)


@pytest.mark.parametrize("pod,check", [
    (_pod(), lambda s: s["linux"]["namespaces"] == [
        {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
        {"type": "mount"}] and s["hostname"] == "web"),
    (_pod(hostNetwork=True), lambda s: "hostname" not in s),
    (_pod(), lambda s: s["process"]["capabilities"]["bounding"] == []
     and s["process"]["noNewPrivileges"] and s["root"]["readonly"]
     and s["process"]["user"] == {"uid": 65535, "gid": 65535}),
    (_pod(), lambda s: s["linux"]["cgroupsPath"] == "/kubepy/podu1/sid"
     and s["annotations"]["io.kubernetes.cri.container-type"] == "sandbox"
     and s["process"]["oomScoreAdj"] == -998),
], ids=["new-namespaces", "hostNetwork", "unprivileged", "cgroup-annotations"])
def test_sandbox_spec(pod: Obj, check: Any) -> None:
    assert check(sandbox_spec(pod, sandbox_id="sid"))
