"""kubectl describe (with events), get events, explain, auth can-i/whoami, impersonation,
scale, rollout restart/pause/resume, set image — for every generation.

No controllers run, so only what the API server itself must do is checked: event field
selectors, OpenAPI for explain, SelfSubject*Reviews, RBAC, the scale subresource,
preconditions and generation bumps. Texts are what kubectl prints against a real 1.32
cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from tests.compat.harness import Kubectl, RawApi, mismatches, needs, parse_table, table

UTC = dt.timezone.utc


def ts(hours_ago: float) -> str:
    t = dt.datetime.now(UTC) - dt.timedelta(hours=hours_ago)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_cm(api: RawApi, ns: str, name: str) -> dict[str, Any]:
    return api.create(f"/api/v1/namespaces/{ns}/configmaps",
                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                       "data": {"a": "1"}})


def event_yaml(ns: str, name: str, obj_name: str, uid: str, reason: str, message: str,
               count: int = 3) -> str:
    return f"""\
apiVersion: v1
kind: Event
metadata:
  name: {name}
involvedObject:
  apiVersion: v1
  kind: ConfigMap
  name: {obj_name}
  namespace: {ns}
  uid: "{uid}"
reason: {reason}
message: {message}
type: Warning
source:
  component: my-ctrl
firstTimestamp: "{ts(5)}"
lastTimestamp: "{ts(3)}"
count: {count}
"""


def events_block(describe_out: str) -> list[str]:
    lines = describe_out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Events:"))
    return lines[start:]


def test_describe_shows_only_the_objects_events(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    uid = seed_cm(api, ns, "evcm")["metadata"]["uid"]
    other = seed_cm(api, ns, "othercm")["metadata"]["uid"]
    f = kubectl.write("ev.yaml", event_yaml(ns, "evcm.1", "evcm", uid, "Broken",
                                            "something happened")
                      + "---\n" + event_yaml(ns, "othercm.1", "othercm", other, "Other",
                                             "not mine", count=1))
    assert kubectl.ok("create", "-f", str(f)).split() == ["event/evcm.1", "created",
                                                          "event/othercm.1", "created"]
    block = events_block(kubectl.ok("describe", "configmap", "evcm"))
    assert block[0] == "Events:"
    rows = [ln[2:] for ln in block[1:] if not ln.strip().startswith("----")]
    header, cells = parse_table("\n".join(rows))
    assert header == ["Type", "Reason", "Age", "From", "Message"]
    assert cells == [["Warning", "Broken", "3h (x3 over 5h)", "my-ctrl",
                      "something happened"]]
    # an object without events says so
    seed_cm(api, ns, "quiet")
    assert events_block(kubectl.ok("describe", "cm", "quiet")) == ["Events:  <none>"]


def test_get_events_table(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    uid = seed_cm(api, ns, "evt")["metadata"]["uid"]
    kubectl.ok("create", "-f", str(kubectl.write(
        "ev.yaml", event_yaml(ns, "evt.1", "evt", uid, "Broken", "it broke"))))
    header, rows = table(kubectl.ok("get", "events"))
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows == [["<age>", "Warning", "Broken", "configmap/evt", "it broke"]]
    header, rows = parse_table(kubectl.ok("get", "events", "-o", "wide"))
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE",
                      "MESSAGE", "FIRST SEEN", "COUNT", "NAME"]
    assert rows == [["3h", "Warning", "Broken", "configmap/evt", "", "my-ctrl", "it broke",
                     "5h", "3", "evt.1"]]
    out = kubectl.ok("get", "events", "--field-selector",
                     "involvedObject.kind=ConfigMap,involvedObject.name=evt,reason=Broken",
                     "-o", "name")
    assert out == "event/evt.1\n"


def test_events_k8s_io_v1_event_is_a_core_event(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    uid = seed_cm(api, ns, "newev")["metadata"]["uid"]
    now = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    api.create(f"/apis/events.k8s.io/v1/namespaces/{ns}/events", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "newev.1"},
        "eventTime": now, "reportingController": "example.com/ctrl",
        "reportingInstance": "ctrl-1", "action": "Checking", "reason": "Checked",
        "type": "Normal", "note": "all good",
        "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "newev",
                      "namespace": ns, "uid": uid}})
    core = api.get(f"/api/v1/namespaces/{ns}/events/newev.1")
    assert core["involvedObject"]["name"] == "newev" and core["message"] == "all good"
    _, rows = table(kubectl.ok("get", "events"))
    assert rows == [["<age>", "Normal", "Checked", "configmap/newev", "all good"]]


def test_explain_deployment_replicas(kubectl: Kubectl) -> None:
    out = kubectl.ok("explain", "deployment.spec.replicas", namespaced=False)
    words = " ".join(out.split())
    if kubectl.minor >= 27:  # OpenAPI v3
        assert re.search(r"^GROUP:\s+apps$", out, re.M) and re.search(r"^VERSION:\s+v1$",
                                                                       out, re.M), out
    else:  # OpenAPI v2 (protobuf)
        assert re.search(r"^VERSION:\s+apps/v1$", out, re.M), out
    assert re.search(r"^KIND:\s+Deployment$", out, re.M), out
    assert re.search(r"^FIELD:\s+replicas <integer>$", out, re.M), out
    assert ("Number of desired pods. This is a pointer to distinguish between explicit zero "
            "and not specified. Defaults to 1.") in words


def test_explain_unknown_field(kubectl: Kubectl) -> None:
    res = kubectl("explain", "pods.spec.bogus", namespaced=False)
    assert res.rc == 1
    assert 'field "bogus" does not exist' in res.stderr, res.stderr


def test_auth_can_i_as_admin(kubectl: Kubectl) -> None:
    assert kubectl.ok("auth", "can-i", "create", "deployments").strip() == "yes"
    assert kubectl.ok("auth", "can-i", "*", "*", "--all-namespaces").strip() == "yes"
    header, rows = parse_table(kubectl.ok("auth", "can-i", "--list"))
    assert header == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert rows[:2] == [["*.*", "[]", "[]", "[*]"], ["", "[*]", "[]", "[*]"]]
    # system:masters may do anything, even to resources that do not exist
    res = kubectl("auth", "can-i", "frobnicate", "nosuchthings")
    assert res.stdout.strip() == "yes" and res.rc == 0
    assert "Warning: the server doesn't have a resource type 'nosuchthings'" in res.stderr


def _bind_viewer(api: RawApi, ns: str, user: str, role: str = "view") -> None:
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"{user}-{role}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": user}]})


CAN_I = [
    (("list", "pods"), "yes"),
    (("get", "secrets"), "no"),           # view never reads secrets
    (("delete", "configmaps"), "no"),
    (("list", "pods", "-n", "default"), "no"),  # bound in this namespace only
]


def test_auth_can_i_impersonating_a_viewer(kubectl: Kubectl, api: RawApi) -> None:
    _bind_viewer(api, kubectl.ns, "viewer")
    results = kubectl.run_many(*(("auth", "can-i", *args, "--as=viewer") for args, _ in CAN_I))
    cases = [(" ".join(args), (res.stdout.strip(), res.rc),
              (answer, 0 if answer == "yes" else 1)) for (args, answer), res in zip(CAN_I, results)]
    assert not (bad := mismatches(cases)), "\n" + bad


def test_impersonated_request_is_forbidden(kubectl: Kubectl, api: RawApi) -> None:
    _bind_viewer(api, kubectl.ns, "viewer")
    res = kubectl("get", "secrets", "--as=viewer")
    assert res.rc == 1
    assert res.stderr.strip() == (
        f'Error from server (Forbidden): secrets is forbidden: User "viewer" cannot list '
        f'resource "secrets" in API group "" in the namespace "{kubectl.ns}"')
    assert kubectl("get", "configmaps", "--as=viewer").rc == 0


def test_view_cluster_role_excludes_secrets(api: RawApi) -> None:
    # RBAC itself, without kubectl or impersonation: a SubjectAccessReview
    def allowed(verb: str, resource: str, ns: str) -> bool:
        review = api.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "sar-viewer", "resourceAttributes": {
                "verb": verb, "resource": resource, "namespace": ns}}})
        return bool(review["status"].get("allowed"))

    ns = "sar-view-check"
    api.ensure_namespace(ns)
    _bind_viewer(api, ns, "sar-viewer")
    assert allowed("list", "pods", ns)
    assert not allowed("get", "secrets", ns)
    assert not allowed("create", "pods/exec", ns)
    view = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view")
    assert view.get("aggregationRule") == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}


def test_auth_whoami(kubectl: Kubectl) -> None:
    needs(kubectl, 27, "kubectl auth whoami")
    res = kubectl("auth", "whoami")
    if kubectl.minor == 27:
        # 1.27 only knows authentication.k8s.io/v1alpha1 and v1beta1, which a default 1.32
        # cluster does not serve
        assert res.rc == 1
        assert res.stderr.startswith("error: the selfsubjectreviews API is not enabled in "
                                     "the cluster"), res.stderr
        return
    assert res.rc == 0, res
    header, rows = parse_table(res.stdout)
    assert header == ["ATTRIBUTE", "VALUE"]
    assert rows == [["Username", "system:admin"],
                    ["Groups", "[system:masters system:authenticated]"]]
    doc = json.loads(kubectl.ok("auth", "whoami", "-o", "json"))
    assert doc["kind"] == "SelfSubjectReview"
    assert doc["apiVersion"] == "authentication.k8s.io/v1"
    assert doc["status"]["userInfo"]["username"] == "system:admin"


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "nginx",
                                                         "image": "nginx:1.26"}]}}}}


def _deploy(api: RawApi, ns: str) -> dict[str, Any]:
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", DEPLOY)
    return api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")


def test_scale_deployment(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    _deploy(api, ns)
    assert kubectl.ok("scale", "deployment", "web", "--replicas=5").strip() == \
        "deployment.apps/web scaled"
    scale = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 5}
    assert scale["status"]["selector"] == "app=web"
    dep = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert dep["spec"]["replicas"] == 5 and dep["metadata"]["generation"] == 2
    res = kubectl("scale", "deployment", "web", "--replicas=6", "--current-replicas=4")
    assert res.rc == 1
    assert res.stderr.strip() == "error: Expected replicas to be 4, was 5"
    assert kubectl.ok("scale", "deployment", "web", "--replicas=1",
                      "--current-replicas=5").strip() == "deployment.apps/web scaled"
    res = kubectl("scale", "deployment", "web", "--replicas=-1")
    assert res.rc == 1 and "The --replicas=COUNT flag is required, and COUNT must be " \
        "greater than or equal to 0" in res.stderr


def test_rollout_restart_pause_resume_set_image(kubectl: Kubectl, api: RawApi) -> None:
    ns = kubectl.ns
    _deploy(api, ns)
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    assert kubectl.ok("rollout", "restart", "deployment/web").strip() == \
        "deployment.apps/web restarted"
    dep = api.get(path)
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert dep["metadata"]["generation"] == 2
    assert kubectl.ok("rollout", "pause", "deployment/web").strip() == \
        "deployment.apps/web paused"
    assert api.get(path)["spec"]["paused"] is True
    res = kubectl("rollout", "pause", "deployment/web")
    assert res.rc == 1 and 'deployments.apps "web" is already paused' in res.stderr
    assert kubectl.ok("set", "image", "deployment/web", "nginx=nginx:1.27").strip() == \
        "deployment.apps/web image updated"
    assert kubectl.ok("rollout", "resume", "deployment/web").strip() == \
        "deployment.apps/web resumed"
    dep = api.get(path)
    assert "paused" not in dep["spec"] or dep["spec"]["paused"] is False
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["metadata"]["generation"] == 5


def test_rollout_undo_without_history(kubectl: Kubectl, api: RawApi) -> None:
    # no deployment controller: no ReplicaSets, so no revisions to go back to
    _deploy(api, kubectl.ns)
    res = kubectl("rollout", "undo", "deployment/web")
    assert res.rc == 1
    assert res.stderr.strip() == 'error: no rollout history found for deployment "web"'
