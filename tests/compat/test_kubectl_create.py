"""kubectl create <generator>: namespace, configmap, secret, deployment, service, job,
serviceaccount, role/rolebinding and token, for every generation.

kubectl 1.32+ sends these bodies as Kubernetes protobuf (``Content-Type:
application/vnd.kubernetes.protobuf``, no JSON fallback); 1.20 sends some of them with no
Content-Type at all, which a real apiserver reads as JSON. The stored objects are compared
with what a real 1.32 apiserver stores after its defaulting.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.compat.harness import Kubectl, RawApi, needs, table


def ns_get(api: RawApi, kubectl: Kubectl, path: str) -> dict[str, Any]:
    return api.get(path.format(ns=kubectl.ns))


def test_create_namespace(kubectl: Kubectl, api: RawApi) -> None:
    name = f"{kubectl.ns[:50]}-made"
    assert kubectl.ok("create", "namespace", name, namespaced=False).strip() == \
        f"namespace/{name} created"
    ns = api.get(f"/api/v1/namespaces/{name}")
    assert ns["status"] == {"phase": "Active"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    header, rows = table(kubectl.ok("get", "ns", name, namespaced=False))
    assert rows == [[name, "Active", "<age>"]]


def test_create_configmap_from_file_literal_env(kubectl: Kubectl, api: RawApi) -> None:
    d = kubectl.workdir / "conf"
    d.mkdir()
    (d / "app.properties").write_text("color=blue\nsize=10\n")
    (d / "logo.bin").write_bytes(b"\x89PNG\x00\xff")
    env = kubectl.write("vars.env", "# comment\nA=1\nB=two words\n")
    out = kubectl.ok("create", "configmap", "cfg", f"--from-file={d}",
                     "--from-file=renamed.txt=" + str(d / "app.properties"),
                     "--from-literal=mode=prod")
    assert out.strip() == "configmap/cfg created"
    cm = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/configmaps/cfg")
    assert cm["data"] == {"app.properties": "color=blue\nsize=10\n",
                          "renamed.txt": "color=blue\nsize=10\n", "mode": "prod"}
    assert cm["binaryData"] == {"logo.bin": base64.b64encode(b"\x89PNG\x00\xff").decode()}
    kubectl.ok("create", "configmap", "envcfg", f"--from-env-file={env}")
    assert ns_get(api, kubectl, "/api/v1/namespaces/{ns}/configmaps/envcfg")["data"] == \
        {"A": "1", "B": "two words"}
    res = kubectl("create", "configmap", "cfg", "--from-literal=x=y")
    assert res.rc == 1
    assert res.stderr.strip().endswith('configmaps "cfg" already exists'), res.stderr


def test_create_secret_generic(kubectl: Kubectl, api: RawApi) -> None:
    key = kubectl.write("id_rsa", "-----BEGIN KEY-----\nabc\n")
    out = kubectl.ok("create", "secret", "generic", "creds", f"--from-file=ssh={key}",
                     "--from-literal=user=admin", "--type=example.com/creds")
    assert out.strip() == "secret/creds created"
    sec = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/secrets/creds")
    assert sec["type"] == "example.com/creds"
    assert sec["data"] == {"ssh": base64.b64encode(b"-----BEGIN KEY-----\nabc\n").decode(),
                           "user": base64.b64encode(b"admin").decode()}
    header, rows = table(kubectl.ok("get", "secret", "creds"))
    assert rows == [["creds", "example.com/creds", "2", "<age>"]]


def test_create_secret_docker_registry(kubectl: Kubectl, api: RawApi) -> None:
    kubectl.ok("create", "secret", "docker-registry", "pull", "--docker-server=r.example.com",
               "--docker-username=u", "--docker-password=p")
    sec = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/secrets/pull")
    assert sec["type"] == "kubernetes.io/dockerconfigjson"
    assert list(sec["data"]) == [".dockerconfigjson"]
    assert b'"r.example.com"' in base64.b64decode(sec["data"][".dockerconfigjson"])


def test_create_deployment_defaults(kubectl: Kubectl, api: RawApi) -> None:
    out = kubectl.ok("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3",
                     "--port=80")
    assert out.strip() == "deployment.apps/web created"
    dep = ns_get(api, kubectl, "/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert dep["metadata"]["labels"] == {"app": "web"}
    assert dep["metadata"]["generation"] == 1
    spec = dep["spec"]
    assert spec["replicas"] == 3 and spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert {k: pod[k] for k in ("restartPolicy", "dnsPolicy", "schedulerName",
                                "terminationGracePeriodSeconds", "securityContext")} == {
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30,
        "securityContext": {}}
    assert pod["containers"] == [{
        "name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80,
                                                           "protocol": "TCP"}],
        "resources": {}, "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}]
    header, rows = table(kubectl.ok("get", "deploy", "web", "-o", "wide"))
    assert rows == [["web", "0/3", "0", "0", "<age>", "nginx", "nginx:1.27", "app=web"]]


def test_create_service_clusterip(kubectl: Kubectl, api: RawApi) -> None:
    out = kubectl.ok("create", "service", "clusterip", "backend", "--tcp=5678:8080")
    assert out.strip() == "service/backend created"
    svc = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/services/backend")
    spec = svc["spec"]
    ip = spec["clusterIP"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip) and spec["clusterIPs"] == [ip]
    assert spec["ports"] == [{"name": "5678-8080", "port": 5678, "protocol": "TCP",
                              "targetPort": 8080}]
    assert spec["selector"] == {"app": "backend"}
    assert {k: spec[k] for k in ("type", "sessionAffinity", "ipFamilies", "ipFamilyPolicy",
                                 "internalTrafficPolicy")} == {
        "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}
    header, rows = table(kubectl.ok("get", "svc", "backend"))
    assert rows == [["backend", "ClusterIP", ip, "<none>", "5678/TCP", "<age>"]]


def test_create_service_nodeport_and_headless(kubectl: Kubectl, api: RawApi) -> None:
    kubectl.ok("create", "service", "nodeport", "front", "--tcp=80:8080")
    spec = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/services/front")["spec"]
    node_port = spec["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"
    kubectl.ok("create", "service", "clusterip", "db", "--clusterip=None", "--tcp=5432:5432")
    spec = ns_get(api, kubectl, "/api/v1/namespaces/{ns}/services/db")["spec"]
    assert spec["clusterIP"] == "None" and spec["clusterIPs"] == ["None"]
    _, rows = table(kubectl.ok("get", "svc", "front", "db"))
    assert rows == [["front", "NodePort", rows[0][2], "<none>", f"80:{node_port}/TCP",
                     "<age>"],
                    ["db", "ClusterIP", "None", "<none>", "5432/TCP", "<age>"]]


def test_create_job(kubectl: Kubectl, api: RawApi) -> None:
    out = kubectl.ok("create", "job", "once", "--image=busybox:1.36", "--", "echo", "hi")
    assert out.strip() == "job.batch/once created"
    job = ns_get(api, kubectl, "/apis/batch/v1/namespaces/{ns}/jobs/once")
    uid = job["metadata"]["uid"]
    spec = job["spec"]
    assert {k: spec[k] for k in ("backoffLimit", "completions", "parallelism",
                                 "completionMode", "suspend")} == {
        "backoffLimit": 6, "completions": 1, "parallelism": 1, "completionMode": "NonIndexed",
        "suspend": False}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid, "job-name": "once"}
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["echo", "hi"]
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    header, rows = table(kubectl.ok("get", "job", "once"))
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows == [["once", "Running", "0/1", "", "<age>"]]  # no job controller: no start


def test_create_rbac_objects_and_auth_check(kubectl: Kubectl, api: RawApi) -> None:
    kubectl.ok("create", "serviceaccount", "bot")
    assert kubectl.ok("create", "role", "reader", "--verb=get,list",
                      "--resource=configmaps").strip() == \
        "role.rbac.authorization.k8s.io/reader created"
    kubectl.ok("create", "rolebinding", "bot-reads", "--role=reader",
               f"--serviceaccount={kubectl.ns}:bot")
    role = ns_get(api, kubectl, "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/"
                                "reader")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "verbs": ["get", "list"]}]
    sa = f"system:serviceaccount:{kubectl.ns}:bot"
    assert kubectl("auth", "can-i", "list", "configmaps", f"--as={sa}").stdout.strip() == "yes"
    res = kubectl("auth", "can-i", "delete", "configmaps", f"--as={sa}")
    assert (res.rc, res.stdout.strip()) == (1, "no")


def test_create_token(kubectl: Kubectl, api: RawApi) -> None:
    needs(kubectl, 24, "kubectl create token")
    kubectl.ok("create", "serviceaccount", "tok")
    token = kubectl.ok("create", "token", "tok", "--duration=10m").strip()
    parts = token.split(".")
    assert len(parts) == 3, token
    claims = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    assert f'"system:serviceaccount:{kubectl.ns}:tok"'.encode() in claims
    # the token authenticates as the service account
    who = api.create("/apis/authentication.k8s.io/v1/tokenreviews",
                     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": {"token": token}})
    assert who["status"]["authenticated"] is True
    assert who["status"]["user"]["username"] == f"system:serviceaccount:{kubectl.ns}:tok"


def test_create_dry_run_server_persists_nothing(kubectl: Kubectl, api: RawApi) -> None:
    out = kubectl.ok("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server",
                     "-o", "jsonpath={.metadata.name}/{.data.a}")
    assert out == "dry/b"
    names = [i["metadata"]["name"]
             for i in ns_get(api, kubectl, "/api/v1/namespaces/{ns}/configmaps")["items"]]
    assert "dry" not in names
