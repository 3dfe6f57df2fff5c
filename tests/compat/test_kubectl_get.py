"""kubectl get: server-side tables, -o wide/yaml/json/jsonpath/name/custom-columns, label and
field selectors, -A, --show-labels, --sort-by, --chunk-size and -w, for every generation.

Objects are seeded through the raw API (one POST each) so that what is checked is how kubectl
reads them. Expected tables are those kubectl prints against a real 1.32 API server; AGE
cells are normalised to ``<age>``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import pytest

from tests.compat.harness import (COMPAT_LABEL, ApiError, Kubectl, RawApi, mismatches,
                                   table, yaml_docs)


def cm(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None,
       annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data is not None:
        obj["data"] = data
    return obj


def seed(api: RawApi, ns: str, *objs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for obj in objs:
        kind = obj["kind"]
        path = {
            "ConfigMap": f"/api/v1/namespaces/{ns}/configmaps",
            "Secret": f"/api/v1/namespaces/{ns}/secrets",
            "Service": f"/api/v1/namespaces/{ns}/services",
            "Pod": f"/api/v1/namespaces/{ns}/pods",
            "Deployment": f"/apis/apps/v1/namespaces/{ns}/deployments",
        }[kind]
        try:
            out.append(api.create(path, obj))
        except ApiError as e:
            pytest.fail(f"seeding {kind} {obj['metadata']['name']} failed: {e}")
    return out


def our_rows(rows: list[list[str]], names: set[str], col: int = 0) -> list[list[str]]:
    """Rows of objects this test created (a real namespace also holds kube-root-ca.crt)."""
    return [r for r in rows if r[col] in names]


# ------------------------------------------------------------------------------ tables


def test_get_configmaps_table(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("alpha", {"a": "1", "b": "2"}), cm("beta"))
    header, rows = table(kubectl.ok("get", "configmaps"))
    assert header == ["NAME", "DATA", "AGE"]
    assert our_rows(rows, {"alpha", "beta"}) == [["alpha", "2", "<age>"],
                                                 ["beta", "0", "<age>"]]
    # a single object is a one-row Table too
    header, rows = table(kubectl.ok("get", "cm", "alpha"))
    assert (header, rows) == (["NAME", "DATA", "AGE"], [["alpha", "2", "<age>"]])


def test_get_secret_table(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns,
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
          "stringData": {"user": "admin"}, "data": {"pw": "aHVudGVyMg=="}},
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
          "type": "kubernetes.io/basic-auth", "stringData": {"username": "u", "password": "p"}})
    header, rows = table(kubectl.ok("get", "secrets"))
    assert header == ["NAME", "TYPE", "DATA", "AGE"]
    assert our_rows(rows, {"s1", "s2"}) == [["s1", "Opaque", "2", "<age>"],
                                            ["s2", "kubernetes.io/basic-auth", "2", "<age>"]]
    # stringData is write-only: merged into data and never stored
    got = json.loads(kubectl.ok("get", "secret", "s1", "-o", "json"))
    assert got["data"] == {"pw": "aHVudGVyMg==", "user": "YWRtaW4="}
    assert "stringData" not in got


SERVICES = [  # name, spec, cells after NAME up to AGE, SELECTOR (-o wide)
    ("clusterip", {"type": "ClusterIP", "selector": {"app": "web"},
      "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
     ["ClusterIP", "<ip>", "<none>", "80/TCP"], "app=web"),
    ("headless", {"clusterIP": "None", "selector": {"app": "db"},
      "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"},
                {"name": "metrics", "port": 9187, "protocol": "UDP"}]},
     ["ClusterIP", "None", "<none>", "5432/TCP,9187/UDP"], "app=db"),
    ("externalname", {"type": "ExternalName", "externalName": "db.example.com"},
     ["ExternalName", "<none>", "db.example.com", "<none>"], "<none>"),
    ("external-ips", {"type": "ClusterIP", "externalIPs": ["192.0.2.10"],
      "ports": [{"port": 443, "protocol": "TCP"}]},
     ["ClusterIP", "<ip>", "192.0.2.10", "443/TCP"], "<none>"),
]


def test_get_service_table_and_wide(kubectl: Kubectl, api: RawApi) -> None:
    cases: list[tuple[str, Any, Any]] = []
    ips: dict[str, str] = {}
    for cid, spec, _, _ in SERVICES:
        try:
            svc = api.create(f"/api/v1/namespaces/{kubectl.ns}/services", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": cid},
                "spec": spec})
            ips[cid] = svc["spec"].get("clusterIP", "")
        except ApiError as e:  # a real cluster accepts every one of these
            cases.append((f"{cid} create", e.body, "created"))
    created = [c for c in SERVICES if c[0] in ips]
    results = kubectl.run_many(*(("get", "service", c[0]) for c in created),
                               *(("get", "service", c[0], "-o", "wide") for c in created))
    for (cid, _, cells, selector), res, wide in zip(created, results, results[len(created):]):
        expected = [cid] + [ips[cid] if c == "<ip>" else c for c in cells] + ["<age>"]
        cases.append((cid, table(res.stdout) if res.rc == 0 else res.stderr,
                      (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
                       [expected])))
        cases.append((f"{cid} -o wide", table(wide.stdout) if wide.rc == 0 else wide.stderr,
                      (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                        "SELECTOR"], [expected + [selector]])))
    assert not (bad := mismatches(cases)), "\n" + bad


def test_get_nodeport_service(kubectl: Kubectl, api: RawApi) -> None:
    (svc,) = seed(api, kubectl.ns, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "selector": {"app": "x"},
                 "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}})
    node_port = svc["spec"]["ports"][0].get("nodePort")
    assert isinstance(node_port, int) and 30000 <= node_port <= 32767, svc["spec"]
    _, rows = table(kubectl.ok("get", "svc", "np"))
    assert rows == [["np", "NodePort", svc["spec"]["clusterIP"], "<none>",
                     f"80:{node_port}/TCP", "<age>"]]


def test_get_namespace_table(kubectl: Kubectl) -> None:
    header, rows = table(kubectl.ok("get", "namespace", kubectl.ns, namespaced=False))
    assert (header, rows) == (["NAME", "STATUS", "AGE"], [[kubectl.ns, "Active", "<age>"]])


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod1", "labels": {"app": "p"}},
       "spec": {"containers": [{"name": "main", "image": "busybox:1.36",
                                "command": ["sleep", "3600"]}]}}


def test_get_pending_pod_table_and_wide(kubectl: Kubectl, api: RawApi) -> None:
    # A user's minimal Pod; needs the apiserver's Pod defaulting. No scheduler: Pending.
    seed(api, kubectl.ns, POD)
    header, rows = table(kubectl.ok("get", "pods"))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows == [["pod1", "0/1", "Pending", "0", "<age>"]]
    header, rows = table(kubectl.ok("get", "pods", "-o", "wide"))
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                      "NOMINATED NODE", "READINESS GATES"]
    assert rows == [["pod1", "0/1", "Pending", "0", "<age>", "<none>", "<none>", "<none>",
                     "<none>"]]


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [
                              {"name": "nginx", "image": "nginx:1.27"},
                              {"name": "sidecar", "image": "busybox:1.36"}]}}}}


def test_get_deployment_table_and_wide(kubectl: Kubectl, api: RawApi) -> None:
    # Needs Deployment defaulting (strategy, template spec); no controller: nothing ready.
    seed(api, kubectl.ns, DEPLOYMENT)
    header, rows = table(kubectl.ok("get", "deployments"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows == [["web", "0/2", "0", "0", "<age>"]]
    header, rows = table(kubectl.ok("get", "deploy", "web", "-o", "wide"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                      "IMAGES", "SELECTOR"]
    assert rows == [["web", "0/2", "0", "0", "<age>", "nginx,sidecar",
                     "nginx:1.27,busybox:1.36", "app=web"]]


def test_get_several_kinds_prefixes_names(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("c1", {"k": "v"}),
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}})
    out = kubectl.ok("get", "configmap/c1", "secret/s1")
    blocks = out.strip().split("\n\n")
    assert [table(b) for b in blocks] == [
        (["NAME", "DATA", "AGE"], [["configmap/c1", "1", "<age>"]]),
        (["NAME", "TYPE", "DATA", "AGE"], [["secret/s1", "Opaque", "0", "<age>"]]),
    ]


def test_get_empty_namespace(kubectl: Kubectl) -> None:
    res = kubectl("get", "secrets")
    assert res.rc == 0 and res.stdout == ""
    assert res.stderr.strip() == f"No resources found in {kubectl.ns} namespace."


def test_get_not_found(kubectl: Kubectl) -> None:
    res = kubectl("get", "configmap", "nosuch")
    assert res.rc == 1
    assert res.stderr.strip() == 'Error from server (NotFound): configmaps "nosuch" not found'


# ------------------------------------------------------------------------------ formats


def test_get_yaml_and_json(kubectl: Kubectl, api: RawApi) -> None:
    (stored,) = seed(api, kubectl.ns, cm("one", {"k": "v"}, labels={"app": "a"}))
    (doc,) = yaml_docs(kubectl.ok("get", "cm", "one", "-o", "yaml"))
    assert doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap"
    assert doc["data"] == {"k": "v"}
    meta = doc["metadata"]
    assert meta["name"] == "one" and meta["namespace"] == kubectl.ns
    assert meta["labels"] == {"app": "a"}
    assert meta["uid"] == stored["metadata"]["uid"]
    assert meta["creationTimestamp"].endswith("Z")
    assert json.loads(kubectl.ok("get", "cm", "one", "-o", "json")) == doc

    lst = json.loads(kubectl.ok("get", "cm", "-l", "app=a", "-o", "json"))
    assert lst["apiVersion"] == "v1" and lst["kind"] == "List"
    assert [i["metadata"]["name"] for i in lst["items"]] == ["one"]
    # kubectl fills kind/apiVersion of each item from the list
    assert (lst["items"][0]["kind"], lst["items"][0]["apiVersion"]) == ("ConfigMap", "v1")
    # the POST response is the stored object, resourceVersion included
    assert stored["metadata"].get("resourceVersion") == meta["resourceVersion"], \
        f"create response lacks the stored resourceVersion: {stored['metadata']}"


def test_managed_fields_recorded_on_create(kubectl: Kubectl, api: RawApi) -> None:
    # Every write records managedFields (Update by the request's fieldManager).
    kubectl.ok("create", "configmap", "mf", "--from-literal=a=1")
    obj = api.get(f"/api/v1/namespaces/{kubectl.ns}/configmaps/mf")
    entries = obj["metadata"].get("managedFields")
    assert entries, f"no managedFields: {obj['metadata']}"
    (entry,) = entries
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["apiVersion"] == "v1" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    # kubectl >= 1.21 hides them unless asked
    shown = yaml_docs(kubectl.ok("get", "cm", "mf", "-o", "yaml"))[0]["metadata"]
    assert ("managedFields" in shown) == (kubectl.minor < 21)


JSONPATH = [
    ("names", "{.items[*].metadata.name}", "a b c"),
    ("range", '{range .items[*]}{.metadata.name}={.data.n}{"\\n"}{end}', "a=1\nb=2\nc=3\n"),
    ("filter", "{.items[?(@.data.n==\"2\")].metadata.name}", "b"),
    ("list-kind", "{.kind}", "List"),
]


def test_get_jsonpath(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, *(cm(n, {"n": v}, labels={"set": "jp"})
                            for n, v in [("c", "3"), ("a", "1"), ("b", "2")]))
    results = kubectl.run_many(*(("get", "cm", "-l", "set=jp", "-o", f"jsonpath={t}")
                                 for _, t, _ in JSONPATH))
    # the server lists by name: a, b, c
    assert not (bad := mismatches([(cid, r.stdout or r.stderr, exp) for (cid, _, exp), r
                                   in zip(JSONPATH, results)])), "\n" + bad


def test_get_output_name(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("n2", labels={"set": "nm"}), cm("n1", labels={"set": "nm"}),
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "n3",
                                                             "labels": {"set": "nm"}}})
    assert kubectl.ok("get", "cm,secret", "-l", "set=nm", "-o", "name") == \
        "configmap/n1\nconfigmap/n2\nsecret/n3\n"


def test_get_custom_columns(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("cc1", {"k": "one"}, labels={"tier": "a"}),
         cm("cc2", labels={"tier": "b"}))
    out = kubectl.ok("get", "cm", "-l", "tier", "-o",
                     "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier,K:.data.k")
    assert out.splitlines() == ["NAME   TIER   K", "cc1    a      one", "cc2    b      <none>"]


# ------------------------------------------------------------------------------ selectors


SELECTOR_CASES = [
    ("env=prod", ["p1", "p2"]),
    ("env==prod,tier=web", ["p1"]),
    ("env!=prod", ["d1", "x1"]),
    ("env in (dev,test)", ["d1"]),
    ("env notin (prod)", ["d1", "x1"]),
    ("tier", ["p1", "p2", "d1"]),
    ("!tier", ["x1"]),
    ("env=prod,!tier", []),
]


def test_get_label_selector(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns,
         cm("p1", labels={"env": "prod", "tier": "web"}),
         cm("p2", labels={"env": "prod", "tier": "db"}),
         cm("d1", labels={"env": "dev", "tier": "web"}),
         cm("x1", labels={"other": "1"}))
    results = kubectl.run_many(*(("get", "cm", "-l", sel, "-o", "name")
                                 for sel, _ in SELECTOR_CASES))
    cases = []
    for (sel, names), res in zip(SELECTOR_CASES, results):
        got = sorted(line.removeprefix("configmap/") for line in res.stdout.split())
        cases.append((sel, got if res.rc == 0 else res.stderr, sorted(names)))
    assert not (bad := mismatches(cases)), "\n" + bad


def test_get_field_selector(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("f1"), cm("f2"))
    assert kubectl.ok("get", "cm", "--field-selector", "metadata.name=f2", "-o", "name") == \
        "configmap/f2\n"
    assert kubectl.ok("get", "cm", "--field-selector", "metadata.name!=f2,metadata.name!=f1",
                      "-o", "name") in ("", "configmap/kube-root-ca.crt\n")


# kinds without their own field-label conversion use apimachinery's default message; kinds
# with one (secrets: type) answer "field label not supported".
FIELD_ERRORS = [
    ("configmaps", "data.k=v",
     '"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("secrets", "data.k=v", "field label not supported: data.k"),
    ("pods", "spec.bogus=x", "field label not supported: spec.bogus"),
]


def test_get_unsupported_field_selector(kubectl: Kubectl) -> None:
    results = kubectl.run_many(*(("get", r, "--field-selector", sel)
                                 for r, sel, _ in FIELD_ERRORS))
    cases = [(resource, (res.rc, res.stderr.strip()),
              (1, f'Error from server (BadRequest): Unable to find "/v1, Resource={resource}" '
                  f'that match label selector "", field selector "{sel}": {message}'))
             for (resource, sel, message), res in zip(FIELD_ERRORS, results)]
    assert not (bad := mismatches(cases)), "\n" + bad


def test_get_secrets_by_type_field(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns,
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "opaque"}},
         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
          "type": "kubernetes.io/tls",
          "data": {"tls.crt": "", "tls.key": ""}})
    assert kubectl.ok("get", "secrets", "--field-selector", "type=kubernetes.io/tls",
                      "-o", "name") == "secret/tls\n"


def test_get_bad_label_selector(kubectl: Kubectl) -> None:
    res = kubectl("get", "cm", "-l", "a in b")
    assert res.rc == 1
    assert "Error from server (BadRequest)" in res.stderr or \
        "unable to parse requirement" in res.stderr, res.stderr


def test_get_all_namespaces(kubectl: Kubectl, api: RawApi) -> None:
    other = f"{kubectl.ns[:56]}-other"
    api.ensure_namespace(other)
    label = {"allns": kubectl.ns}
    seed(api, kubectl.ns, cm("a1", {"x": "1"}, labels=label))
    seed(api, other, cm("a0", labels=label))
    header, rows = table(kubectl.ok("get", "cm", "-A", "-l", f"allns={kubectl.ns}"))
    assert header == ["NAMESPACE", "NAME", "DATA", "AGE"]
    # listed in storage key order: /registry/configmaps/<namespace>/<name>
    expected = [[kubectl.ns, "a1", "1", "<age>"], [other, "a0", "0", "<age>"]]
    assert rows == sorted(expected, key=lambda r: f"{r[0]}/{r[1]}")
    names = kubectl.ok("get", "cm", "--all-namespaces", "-l", f"allns={kubectl.ns}",
                       "-o", "jsonpath={range .items[*]}{.metadata.namespace}/"
                       "{.metadata.name} {end}")
    assert sorted(names.split()) == sorted([f"{kubectl.ns}/a1", f"{other}/a0"])


def test_get_all_namespaces_cluster_scoped_kind(kubectl: Kubectl) -> None:
    header, rows = table(kubectl.ok("get", "ns", "-A", "-l", f"{COMPAT_LABEL}=true"))
    assert header == ["NAME", "STATUS", "AGE"]  # no NAMESPACE column for cluster scope
    assert [kubectl.ns, "Active", "<age>"] in rows


def test_get_show_labels(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("l1", labels={"tier": "web", "app": "shop"}), cm("l2"))
    header, rows = table(kubectl.ok("get", "cm", "l1", "l2", "--show-labels"))
    assert header == ["NAME", "DATA", "AGE", "LABELS"]
    assert rows == [["l1", "0", "<age>", "app=shop,tier=web"], ["l2", "0", "<age>", "<none>"]]
    header, rows = table(kubectl.ok("get", "cm", "l1", "l2", "-L", "tier"))
    assert header == ["NAME", "DATA", "AGE", "TIER"]
    assert rows == [["l1", "0", "<age>", "web"], ["l2", "0", "<age>", ""]]


SORT_CASES = [
    (".data.rank", ["m", "z", "a"]),
    ("{.metadata.labels.letter}", ["a", "m", "z"]),
    (".metadata.name", ["a", "m", "z"]),
]


def test_get_sort_by(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, *(cm(n, {"rank": r}, labels={"letter": n, "set": "sort"})
                            for n, r in [("z", "2"), ("a", "3"), ("m", "1")]))
    results = kubectl.run_many(*(("get", "cm", "-l", "set=sort", "--sort-by", key)
                                 for key, _ in SORT_CASES))
    cases = [(key, [r[0] for r in table(res.stdout)[1]] if res.rc == 0 else res.stderr, order)
             for (key, order), res in zip(SORT_CASES, results)]
    assert not (bad := mismatches(cases)), "\n" + bad


def test_get_chunk_size_paginates(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, *(cm(f"page{i}", labels={"set": "page"}) for i in range(5)))
    res = kubectl("get", "cm", "-l", "set=page", "--chunk-size=2", "-v=6")
    assert res.rc == 0, res
    header, rows = table(res.stdout)
    assert header == ["NAME", "DATA", "AGE"]  # one header for all chunks
    assert [r[0] for r in rows] == [f"page{i}" for i in range(5)]
    lists = [ln for ln in res.stderr.splitlines() if "GET" in ln and "/configmaps?" in ln]
    assert len(lists) == 3, "5 items in chunks of 2 need 3 requests:\n" + "\n".join(lists)
    assert sum("continue=" in ln for ln in lists) == 2
    # remainingItemCount counts what the next pages hold; it is only known (and only sent)
    # when no selector filters the list
    page = api.get(f"/api/v1/namespaces/{kubectl.ns}/configmaps?limit=2")
    assert len(page["items"]) == 2 and page["metadata"].get("continue")
    assert page["metadata"].get("remainingItemCount") == 3
    page = api.get(f"/api/v1/namespaces/{kubectl.ns}/configmaps?labelSelector=set%3Dpage"
                   "&limit=2")
    assert "remainingItemCount" not in page["metadata"]


# ------------------------------------------------------------------------------ watch


def _read_lines(proc: Any, sink: "queue.Queue[str]") -> None:
    for line in proc.stdout:
        sink.put(line.rstrip("\n"))


def _wait_for(sink: "queue.Queue[str]", seen: list[str], pred: Any, timeout: float = 10
              ) -> None:
    deadline = time.monotonic() + timeout
    while not any(pred(ln) for ln in seen):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; watch printed so far: {seen}")
        try:
            seen.append(sink.get(timeout=left))
        except queue.Empty:
            continue


def test_get_watch_events(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    seed(api, ns, cm("w0", {"a": "1"}, labels={"set": "w"}))
    proc = kubectl.popen("get", "cm", "-l", "set=w", "-w", "--output-watch-events")
    sink: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc, sink), daemon=True).start()
    seen: list[str] = []
    try:
        _wait_for(sink, seen, lambda ln: ln.split()[:2] == ["ADDED", "w0"])
        seed(api, ns, cm("w1", labels={"set": "w"}))
        _wait_for(sink, seen, lambda ln: ln.split()[:2] == ["ADDED", "w1"])
        api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/w1",
                    {"data": {"x": "y", "z": "w"}},
                    content_type="application/merge-patch+json")
        _wait_for(sink, seen, lambda ln: ln.split()[:3] == ["MODIFIED", "w1", "2"])
        api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/w1")
        _wait_for(sink, seen, lambda ln: ln.split()[:2] == ["DELETED", "w1"])
        # an object outside the selector never shows up
        seed(api, ns, cm("other"))
    finally:
        proc.kill()
        proc.wait(5)
    header, rows = table("\n".join(seen))
    assert header == ["EVENT", "NAME", "DATA", "AGE"]
    assert rows == [["ADDED", "w0", "1", "<age>"], ["ADDED", "w1", "0", "<age>"],
                    ["MODIFIED", "w1", "2", "<age>"], ["DELETED", "w1", "2", "<age>"]]


def test_get_watch_single_object_and_timeout(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("solo", {"a": "1"}))
    # the server ends the stream after the request timeout; kubectl exits by itself
    started = time.monotonic()
    res = kubectl("get", "cm", "solo", "-w", "--request-timeout=1s", timeout=20)
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"kubectl -w did not stop after its request timeout ({elapsed:.1f}s)"
    header, rows = table(res.stdout)
    assert (header, rows) == (["NAME", "DATA", "AGE"], [["solo", "1", "<age>"]])


def test_get_watch_only(kubectl: Kubectl, api: RawApi) -> None:
    seed(api, kubectl.ns, cm("before", labels={"set": "wo"}))
    proc = kubectl.popen("get", "cm", "-l", "set=wo", "--watch-only", "-o", "name")
    sink: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc, sink), daemon=True).start()
    seen: list[str] = []
    try:
        time.sleep(0.5)  # give the watch time to start; "before" must never be printed
        # keep creating until the watch reports one (it may not have connected yet)
        for i in range(20):
            seed(api, kubectl.ns, cm(f"after{i}", labels={"set": "wo"}))
            try:
                _wait_for(sink, seen, lambda ln: ln.startswith("configmap/after"), timeout=0.5)
                break
            except AssertionError:
                continue
    finally:
        proc.kill()
        proc.wait(5)
    assert seen and all(ln.startswith("configmap/after") for ln in seen), seen
