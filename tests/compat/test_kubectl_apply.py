"""kubectl writes: apply (client- and server-side), create -f, replace, edit, patch, label,
annotate and delete, for every generation.

Each test drives kubectl and then reads the stored object back through the raw API, so both
what kubectl prints and what the server stored are compared with a real 1.32 cluster.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.compat.harness import ApiError, Kubectl, RawApi, mismatches, needs

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def get_cm(api: RawApi, ns: str, name: str) -> dict[str, Any]:
    return api.get(cm_path(ns, name))


def seed_cm(api: RawApi, ns: str, name: str, data: dict[str, str] | None = None,
            field_manager: str = "seed") -> dict[str, Any]:
    """Create a ConfigMap through the raw API (kubectl create is tested elsewhere)."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data is not None:
        obj["data"] = data
    return api.create(cm_path(ns) + f"?fieldManager={field_manager}", obj)


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


MANIFEST_V1 = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels:
    app: shop
    tier: web
data:
  a: "1"
  b: "2"
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: shop
  ports:
  - name: http
    port: 80
    targetPort: 8080
    protocol: TCP
"""

MANIFEST_V2 = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  labels:
    app: shop
data:
  a: "10"
  c: "3"
---
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  selector:
    app: shop
  ports:
  - name: http
    port: 80
    targetPort: 8080
    protocol: TCP
"""


def test_apply_create_unchanged_configure_and_prune_fields(kubectl: Kubectl,
                                                           api: RawApi) -> None:
    ns = kubectl.ns
    f = kubectl.write("app.yaml", MANIFEST_V1)
    assert lines(kubectl.ok("apply", "-f", str(f))) == ["configmap/app-config created",
                                                        "service/app created"]
    assert lines(kubectl.ok("apply", "-f", str(f))) == ["configmap/app-config unchanged",
                                                        "service/app unchanged"]
    stored = get_cm(api, ns, "app-config")
    applied = json.loads(stored["metadata"]["annotations"][LAST_APPLIED])
    assert applied["data"] == {"a": "1", "b": "2"} and applied["metadata"]["name"] == "app-config"

    # a field set by someone else survives a client-side apply (three-way merge)
    kubectl.ok("label", "configmap", "app-config", "owner=ops")

    f.write_text(MANIFEST_V2)
    assert lines(kubectl.ok("apply", "-f", str(f))) == ["configmap/app-config configured",
                                                        "service/app unchanged"]
    stored = get_cm(api, ns, "app-config")
    assert stored["data"] == {"a": "10", "c": "3"}  # b removed: it was in last-applied
    assert stored["metadata"]["labels"] == {"app": "shop", "owner": "ops"}  # tier removed
    assert json.loads(stored["metadata"]["annotations"][LAST_APPLIED])["data"] == \
        {"a": "10", "c": "3"}


DEPLOY_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.26
        env:
        - {name: MODE, value: prod}
        - {name: DEBUG, value: "0"}
      - name: sidecar
        image: busybox:1.36
        command: [sleep, "3600"]
"""

DEPLOY_V2 = DEPLOY_V1.replace("nginx:1.26", "nginx:1.27").replace(
    '        - {name: DEBUG, value: "0"}\n', "").replace("replicas: 2", "replicas: 3")


def test_apply_deployment_strategic_merge(kubectl: Kubectl, api: RawApi) -> None:
    # Needs Deployment/Pod template defaulting in the apiserver.
    f = kubectl.write("deploy.yaml", DEPLOY_V1)
    assert kubectl.ok("apply", "-f", str(f)).strip() == "deployment.apps/web created"
    f.write_text(DEPLOY_V2)
    assert kubectl.ok("apply", "-f", str(f)).strip() == "deployment.apps/web configured"
    dep = api.get(f"/apis/apps/v1/namespaces/{kubectl.ns}/deployments/web")
    assert dep["spec"]["replicas"] == 3
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["nginx", "sidecar"]
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["env"] == [{"name": "MODE", "value": "prod"}]
    assert containers[1]["command"] == ["sleep", "3600"]
    assert dep["metadata"]["generation"] == 2  # spec changed once
    assert kubectl.ok("apply", "-f", str(f)).strip() == "deployment.apps/web unchanged"


def test_apply_unknown_field_is_rejected_by_server(kubectl: Kubectl) -> None:
    needs(kubectl, 25, "server-side field validation (fieldValidation=Strict)")
    f = kubectl.write("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n"
                                  "data: {a: b}\nbogus: 1\n")
    res = kubectl("apply", "-f", str(f))
    assert res.rc == 1
    assert 'unknown field "bogus"' in res.stderr, res.stderr
    assert "Error from server (BadRequest)" in res.stderr, res.stderr


SSA_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
data:
  owned: "{value}"
  shared: "x"
"""

CONFLICT_HELP = "Please review the fields above--they currently have other managers."


def test_apply_server_side_conflict_and_force(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    fa = kubectl.write("a.yaml", SSA_CM.format(value="a"))
    assert kubectl.ok("apply", "--server-side", "--field-manager=mgr-a", "-f",
                      str(fa)).strip() == "configmap/ssa serverside-applied"
    obj = get_cm(api, ns, "ssa")
    assert obj["data"] == {"owned": "a", "shared": "x"}
    managers = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert managers["mgr-a"]["operation"] == "Apply"
    assert managers["mgr-a"]["fieldsV1"] == {"f:data": {"f:owned": {}, "f:shared": {}}}

    # same value for "shared" is co-ownership, a different value for "owned" is a conflict
    fb = kubectl.write("b.yaml", SSA_CM.format(value="b"))
    res = kubectl("apply", "--server-side", "--field-manager=mgr-b", "-f", str(fb))
    assert res.rc == 1, res
    assert res.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "mgr-a": .data.owned\n'), res.stderr
    assert CONFLICT_HELP in res.stderr and "--force-conflicts" in res.stderr
    assert get_cm(api, ns, "ssa")["data"]["owned"] == "a"

    assert kubectl.ok("apply", "--server-side", "--field-manager=mgr-b", "--force-conflicts",
                      "-f", str(fb)).strip() == "configmap/ssa serverside-applied"
    obj = get_cm(api, ns, "ssa")
    assert obj["data"] == {"owned": "b", "shared": "x"}
    managers = {m["manager"]: m["fieldsV1"] for m in obj["metadata"]["managedFields"]}
    assert managers == {"mgr-a": {"f:data": {"f:shared": {}}},
                        "mgr-b": {"f:data": {"f:owned": {}, "f:shared": {}}}}


def test_apply_server_side_removes_dropped_fields(kubectl: Kubectl, api: RawApi) -> None:
    f = kubectl.write("s.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prune\n"
                                "  labels: {keep: 'y', drop: 'y'}\ndata: {keep: '1', drop: '2'}\n")
    kubectl.ok("apply", "--server-side", "-f", str(f))
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prune\n"
                 "  labels: {keep: 'y'}\ndata: {keep: '1'}\n")
    kubectl.ok("apply", "--server-side", "-f", str(f))
    obj = get_cm(api, kubectl.ns, "prune")
    assert obj["data"] == {"keep": "1"}
    assert obj["metadata"]["labels"] == {"keep": "y"}
    (entry,) = [m for m in obj["metadata"]["managedFields"] if m["manager"] == "kubectl"]
    assert entry["operation"] == "Apply"


def test_apply_server_side_conflict_with_update_manager(kubectl: Kubectl,
                                                        api: RawApi) -> None:
    # a field last written by a plain update conflicts, named with its "using v1"
    seed_cm(api, kubectl.ns, "upd", {"k": "created"}, field_manager="kubectl-create")
    f = kubectl.write("u.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: upd\n"
                                "data: {k: applied}\n")
    res = kubectl("apply", "--server-side", "-f", str(f))
    assert res.rc == 1, res
    assert res.stderr.startswith('error: Apply failed with 1 conflict: conflict with '
                                 '"kubectl-create" using v1: .data.k\n'), res.stderr


def test_create_from_file(kubectl: Kubectl, api: RawApi) -> None:
    f = kubectl.write("c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\n"
                                "data: {k: v}\n")
    assert kubectl.ok("create", "-f", str(f)).strip() == "configmap/made created"
    obj = get_cm(api, kubectl.ns, "made")
    assert obj["data"] == {"k": "v"} and LAST_APPLIED not in obj["metadata"].get(
        "annotations", {})
    res = kubectl("create", "-f", str(f))
    assert res.rc == 1
    assert res.stderr.strip() == (f'Error from server (AlreadyExists): error when creating '
                                  f'"{f}": configmaps "made" already exists')


def test_replace(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    f = kubectl.write("r.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rep\n"
                                "  labels: {v: '1'}\ndata: {a: '1', b: '2'}\n")
    kubectl.ok("create", "-f", str(f))
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rep\n"
                 "data: {a: '9'}\n")
    assert kubectl.ok("replace", "-f", str(f)).strip() == "configmap/rep replaced"
    obj = get_cm(api, ns, "rep")
    assert obj["data"] == {"a": "9"} and "labels" not in obj["metadata"]

    # a stale resourceVersion is a conflict
    stale = dict(obj, data={"a": "stale"})
    stale["metadata"] = dict(obj["metadata"], resourceVersion="1")
    for k in ("managedFields",):
        stale["metadata"].pop(k, None)
    f.write_text(json.dumps(stale))
    res = kubectl("replace", "-f", str(f))
    assert res.rc == 1
    assert res.stderr.strip() == (
        f'Error from server (Conflict): error when replacing "{f}": Operation cannot be '
        f'fulfilled on configmaps "rep": the object has been modified; please apply your '
        f'changes to the latest version and try again')

    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ghost\n")
    res = kubectl("replace", "-f", str(f))
    assert res.rc == 1
    assert res.stderr.strip() == (f'Error from server (NotFound): error when replacing '
                                  f'"{f}": configmaps "ghost" not found')


def test_replace_force(kubectl: Kubectl, api: RawApi) -> None:
    f = kubectl.write("rf.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rf\n"
                                 "data: {a: '1'}\n")
    kubectl.ok("create", "-f", str(f))
    uid = get_cm(api, kubectl.ns, "rf")["metadata"]["uid"]
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rf\ndata: {a: '2'}\n")
    out = kubectl.ok("replace", "--force", "-f", str(f))
    assert lines(out) == ['configmap "rf" deleted', "configmap/rf replaced"]
    obj = get_cm(api, kubectl.ns, "rf")
    assert obj["data"] == {"a": "2"} and obj["metadata"]["uid"] != uid


def test_edit_with_editor_script(kubectl: Kubectl, api: RawApi) -> None:
    seed_cm(api, kubectl.ns, "ed", {"mode": "old"})
    res = kubectl("edit", "configmap", "ed", env={"EDITOR": "sed -i s/mode:\\ old/mode:\\ new/"})
    assert res.rc == 0, res
    assert res.stdout.strip() == "configmap/ed edited"
    assert get_cm(api, kubectl.ns, "ed")["data"] == {"mode": "new"}
    res = kubectl("edit", "configmap", "ed", env={"EDITOR": "true"})
    assert res.rc == 0 and res.stderr.strip() == "Edit cancelled, no changes made."


def test_edit_invalid_change_is_reported(kubectl: Kubectl, api: RawApi) -> None:
    seed_cm(api, kubectl.ns, "edbad", {"k": "v"})
    # the editor adds an invalid label once; kubectl reopens the file with the server's
    # causes as comments, the editor leaves it unchanged, and kubectl gives up
    script = kubectl.write("ed.sh", "#!/bin/sh\ngrep -q 'bad key' \"$1\" && exit 0\n"
                                    "sed -i 's/^  name: edbad$/  name: edbad\\n"
                                    "  labels: {\"bad key!\": x}/' \"$1\"\n")
    script.chmod(0o755)
    res = kubectl("edit", "configmap", "edbad",
                  env={"EDITOR": str(script), "TMPDIR": str(kubectl.workdir)})
    assert res.rc == 1, res
    err = res.stderr.splitlines()
    assert err[0] == 'error: configmaps "edbad" is invalid', res.stderr
    assert err[-1] == "error: Edit cancelled, no valid changes were saved.", res.stderr
    copy = err[1].split('"')[1]
    text = open(copy).read()
    assert '# configmaps "edbad" was not valid:\n' in text
    assert ('# * metadata.labels: Invalid value: "bad key!": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character") in text
    assert "labels" not in get_cm(api, kubectl.ns, "edbad")["metadata"]


PATCHES = [
    ("strategic", '{"data":{"b":"2"},"metadata":{"labels":{"x":"y"}}}',
     {"a": "1", "b": "2"}, {"x": "y"}),
    ("merge", '{"data":{"a":null,"c":"3"}}', {"c": "3"}, None),
    ("json", '[{"op":"replace","path":"/data/a","value":"z"},'
             '{"op":"add","path":"/metadata/labels","value":{"j":"p"}}]',
     {"a": "z"}, {"j": "p"}),
]


def test_patch_configmap(kubectl: Kubectl, api: RawApi) -> None:
    for kind, *_ in PATCHES:
        seed_cm(api, kubectl.ns, f"pt-{kind}", {"a": "1"})
    results = kubectl.run_many(*(("patch", "configmap", f"pt-{kind}", "--type", kind, "-p", p)
                                 for kind, p, _, _ in PATCHES))
    cases: list[tuple[str, Any, Any]] = []
    for (kind, _, data, labels), res in zip(PATCHES, results):
        cases.append((f"{kind} output", res.stdout.strip() or res.stderr,
                      f"configmap/pt-{kind} patched"))
        obj = get_cm(api, kubectl.ns, f"pt-{kind}")
        cases.append((f"{kind} stored", (obj["data"], obj["metadata"].get("labels")),
                      (data, labels)))
        managers = {m["manager"]: m["operation"] for m in obj["metadata"]["managedFields"]}
        cases.append((f"{kind} manager", managers.get("kubectl-patch"), "Update"))
    assert not (bad := mismatches(cases)), "\n" + bad


def test_patch_no_change_and_failures(kubectl: Kubectl, api: RawApi) -> None:
    rv = seed_cm(api, kubectl.ns, "pn", {"a": "1"})["metadata"]["resourceVersion"]
    assert kubectl.ok("patch", "cm", "pn", "-p", '{"data":{"a":"1"}}').strip() == \
        "configmap/pn patched (no change)"
    assert get_cm(api, kubectl.ns, "pn")["metadata"]["resourceVersion"] == rv  # no write
    # a failed JSON patch "test" op is a 422 without details
    res = kubectl("patch", "cm", "pn", "--type", "json",
                  "-p", '[{"op":"test","path":"/data/a","value":"2"}]')
    assert res.rc == 1
    expected = "The request is invalid"  # kubectl 1.20 leaves out the server's message
    if kubectl.minor > 20:
        expected += ": the server rejected our request due to an error in our request"
    assert res.stderr.strip() == expected, res.stderr
    res = kubectl("patch", "cm", "missing", "-p", '{"data":{"a":"1"}}')
    assert res.rc == 1
    assert res.stderr.strip() == 'Error from server (NotFound): configmaps "missing" not found'


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
           "spec": {"selector": {"app": "x"}, "ports": [
               {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}}


def test_patch_service_ports_list(kubectl: Kubectl, api: RawApi) -> None:
    # strategic: merged by the "port" key, patch items first (no $setElementOrder);
    # merge: a JSON merge patch replaces the whole list
    expected = {"strategic": [443, 80], "merge": [443]}
    for kind in expected:
        api.create(f"/api/v1/namespaces/{kubectl.ns}/services",
                   dict(SERVICE, metadata={"name": f"svc-{kind}"}))
    patch = ('{"spec":{"ports":[{"name":"https","port":443,"targetPort":8443,'
             '"protocol":"TCP"}]}}')
    results = kubectl.run_many(*(("patch", "service", f"svc-{kind}", "--type", kind, "-p",
                                  patch) for kind in expected))
    cases = []
    for (kind, ports), res in zip(expected.items(), results):
        svc = api.get(f"/api/v1/namespaces/{kubectl.ns}/services/svc-{kind}")
        cases.append((kind, [p["port"] for p in svc["spec"]["ports"]] if res.rc == 0
                      else res.stderr, ports))
    assert not (bad := mismatches(cases)), "\n" + bad


def test_label_and_annotate(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    seed_cm(api, ns, "lab")
    assert kubectl.ok("label", "cm", "lab", "tier=web", "env=prod").strip() == \
        "configmap/lab labeled"
    res = kubectl("label", "cm", "lab", "tier=db")
    assert res.rc == 1
    assert res.stderr.strip() == "error: 'tier' already has a value (web), and --overwrite " \
                                 "is false"
    kubectl.ok("label", "cm", "lab", "tier=db", "--overwrite")
    assert get_cm(api, ns, "lab")["metadata"]["labels"] == {"tier": "db", "env": "prod"}
    removed = kubectl.ok("label", "cm", "lab", "tier-").strip()
    assert removed == ("configmap/lab labeled" if kubectl.minor < 27
                       else "configmap/lab unlabeled")
    assert get_cm(api, ns, "lab")["metadata"]["labels"] == {"env": "prod"}

    annotated = "configmap/lab annotate" if kubectl.minor == 27 else "configmap/lab annotated"
    assert kubectl.ok("annotate", "cm", "lab", "note=hello world").strip() == annotated
    res = kubectl("annotate", "cm", "lab", "note=other")
    assert res.rc == 1 and "--overwrite is false" in res.stderr
    kubectl.ok("annotate", "cm", "lab", "--overwrite", "note=other")
    assert get_cm(api, ns, "lab")["metadata"]["annotations"] == {"note": "other"}
    kubectl.ok("annotate", "cm", "lab", "note-")
    assert not get_cm(api, ns, "lab")["metadata"].get("annotations")

    res = kubectl("label", "cm", "lab", "bad key=x")
    assert res.rc == 1
    assert res.stderr.startswith('The ConfigMap "lab" is invalid: metadata.labels: Invalid '
                                 'value: "bad key": name part must consist of alphanumeric '
                                 'characters'), res.stderr


def test_label_by_selector_and_all(kubectl: Kubectl, api: RawApi) -> None:
    for name, labels in [("s1", {"g": "1"}), ("s2", {"g": "1"}), ("s3", {"g": "2"})]:
        api.create(cm_path(kubectl.ns), {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": name, "labels": labels}})
    out = kubectl.ok("label", "cm", "-l", "g=1", "picked=yes")
    assert lines(out) == ["configmap/s1 labeled", "configmap/s2 labeled"]
    kubectl.ok("annotate", "cm", "--all", "seen=yes")
    for name in ("s1", "s2", "s3"):
        meta = get_cm(api, kubectl.ns, name)["metadata"]
        assert meta["labels"].get("picked") == ("yes" if name != "s3" else None)
        assert meta["annotations"] == {"seen": "yes"}


def _seed_cms(api: RawApi, ns: str, names: list[str], labels: dict[str, str] | None = None
              ) -> None:
    for n in names:
        api.create(cm_path(ns), {"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": n, "labels": labels or {}}})


def _names(api: RawApi, ns: str) -> list[str]:
    return [i["metadata"]["name"] for i in api.get(cm_path(ns))["items"]
            if i["metadata"]["name"] != "kube-root-ca.crt"]


def test_delete_by_name_file_selector_all(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    _seed_cms(api, ns, ["d1", "d2"])
    _seed_cms(api, ns, ["l1", "l2"], {"group": "del"})
    _seed_cms(api, ns, ["rest1", "rest2"])
    assert kubectl.ok("delete", "configmap", "d1").strip() == 'configmap "d1" deleted'
    f = kubectl.write("d2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d2\n")
    assert kubectl.ok("delete", "-f", str(f)).strip() == 'configmap "d2" deleted'
    assert lines(kubectl.ok("delete", "cm", "-l", "group=del")) == [
        'configmap "l1" deleted', 'configmap "l2" deleted']
    assert _names(api, ns) == ["rest1", "rest2"]
    assert lines(kubectl.ok("delete", "cm", "--all")) == [
        'configmap "rest1" deleted', 'configmap "rest2" deleted']
    assert _names(api, ns) == []
    res = kubectl("delete", "cm", "d1")
    assert res.rc == 1
    assert res.stderr.strip() == 'Error from server (NotFound): configmaps "d1" not found'
    res = kubectl("delete", "cm", "d1", "--ignore-not-found")
    assert (res.rc, res.stdout, res.stderr) == (0, "", "")


def test_delete_force_grace_period_zero(kubectl: Kubectl, api: RawApi) -> None:
    _seed_cms(api, kubectl.ns, ["forced"])
    res = kubectl("delete", "cm", "forced", "--grace-period=0", "--force")
    assert res.rc == 0, res
    assert res.stdout.strip() == 'configmap "forced" force deleted'
    assert res.stderr.lower().startswith(  # "warning:" in 1.20, "Warning:" later
        "warning: immediate deletion does not wait for confirmation that the running "
        "resource has been terminated."), res.stderr
    assert _names(api, kubectl.ns) == []


def test_delete_waits_for_finalizers(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    api.create(cm_path(ns), {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    res = kubectl("delete", "cm", "held", "--wait=false")
    assert res.rc == 0 and res.stdout.strip() == 'configmap "held" deleted'
    obj = get_cm(api, ns, "held")  # still there, marked for deletion
    assert obj["metadata"].get("deletionTimestamp")
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 0
    # removing the last finalizer lets the server finish the deletion
    kubectl.ok("patch", "cm", "held", "--type", "merge", "-p",
               '{"metadata":{"finalizers":null}}')
    with pytest.raises(ApiError) as e:
        get_cm(api, ns, "held")
    assert e.value.status == 404
