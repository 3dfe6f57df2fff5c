"""Authentication and authorization over HTTPS: anonymous 401s, client certificates, static
bearer tokens, RBAC Forbidden messages and grants, self-subject reviews."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ADMIN_TOKEN, ALICE_TOKEN, BOB_TOKEN, Api, assert_status, \
    configmap

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.mark.parametrize("path", [
    "/api", "/api/v1", "/apis", "/apis/apps/v1", "/api/v1/namespaces",
    "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/pods/x",
    "/openapi/v2", "/openapi/v3", "/metrics",
], ids=lambda p: p)
def test_anonymous_is_unauthorized(anonymous: Api, path: str) -> None:
    r = anonymous.get(path)
    assert r.status_code == 401, r.text
    assert r.json() == UNAUTHORIZED


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_anonymous_writes_are_unauthorized(anonymous: Api, method: str) -> None:
    path = "/api/v1/namespaces/default/configmaps" + ("" if method == "POST" else "/x")
    r = anonymous.request(method, path, body=configmap("x"))
    assert r.status_code == 401 and r.json() == UNAUTHORIZED, r.text


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/version"])
def test_anonymous_health_and_version(anonymous: Api, path: str) -> None:
    r = anonymous.get(path)
    assert r.status_code == 200, r.text
    if path == "/version":
        v = r.json()
        assert v["major"] == "1" and v["gitVersion"].startswith("v1."), v
    else:
        assert r.text == "ok"


def test_unknown_bearer_token_is_unauthorized(token_api) -> None:
    r = token_api("not-a-token").get("/api/v1/namespaces")
    assert r.status_code == 401 and r.json() == UNAUTHORIZED, r.text


@pytest.mark.parametrize("make", [
    pytest.param(lambda api, token_api: api, id="admin-client-cert"),
    pytest.param(lambda api, token_api: token_api(ADMIN_TOKEN), id="system:masters-token"),
])
def test_admin_identities_can_write(api: Api, token_api, make, ns: str) -> None:
    client = make(api, token_api)
    created = client.create(f"/api/v1/namespaces/{ns}/configmaps", configmap("by-admin"))
    assert created["metadata"]["name"] == "by-admin"
    assert client.read(f"/api/v1/namespaces/{ns}/configmaps/by-admin")["data"] == {"k": "v"}


@pytest.mark.parametrize("method,path,verb_message", [
    ("GET", "/api/v1/namespaces/{ns}/configmaps",
     'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
     'in the namespace "{ns}"'),
    ("GET", "/api/v1/namespaces/{ns}/configmaps/one",
     'configmaps "one" is forbidden: User "bob" cannot get resource "configmaps" in API group '
     '"" in the namespace "{ns}"'),
    ("POST", "/api/v1/namespaces/{ns}/configmaps",
     'configmaps is forbidden: User "bob" cannot create resource "configmaps" in API group "" '
     'in the namespace "{ns}"'),
    ("DELETE", "/api/v1/namespaces/{ns}/configmaps/one",
     'configmaps "one" is forbidden: User "bob" cannot delete resource "configmaps" in API '
     'group "" in the namespace "{ns}"'),
    ("GET", "/apis/apps/v1/namespaces/{ns}/deployments",
     'deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API '
     'group "apps" in the namespace "{ns}"'),
    ("GET", "/api/v1/nodes",
     'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the '
     'cluster scope'),
    ("GET", "/api/v1/namespaces/{ns}/pods/p/log",
     'pods "p" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in '
     'the namespace "{ns}"'),
    ("GET", "/metrics", 'forbidden: User "bob" cannot get path "/metrics"'),
], ids=["list", "get", "create", "delete", "apps-list", "cluster-scope", "subresource",
        "non-resource"])
def test_forbidden_messages(token_api, ns: str, method: str, path: str,
                            verb_message: str) -> None:
    bob = token_api(BOB_TOKEN)
    path = path.format(ns=ns)
    body = configmap("one") if method == "POST" else None
    r = bob.request(method, path, body=body)
    status = assert_status(r, 403, "Forbidden", verb_message.format(ns=ns))
    if "/log" in path:
        assert status["details"] == {"name": "p", "kind": "pods"}
    elif path.endswith("/one"):
        assert status["details"] == {"name": "one", "kind": "configmaps"}
    elif "deployments" in path:
        assert status["details"] == {"group": "apps", "kind": "deployments"}


def test_authenticated_user_may_discover(token_api) -> None:
    bob = token_api(BOB_TOKEN)
    assert bob.get("/api").status_code == 200
    assert bob.get("/apis/apps/v1").status_code == 200
    assert bob.get("/openapi/v3").status_code == 200


def test_rolebinding_to_view_grants_reads_only(api: Api, token_api, ns: str) -> None:
    alice = token_api(ALICE_TOKEN)
    api.create(f"/api/v1/namespaces/{ns}/configmaps", configmap("seen"))
    assert alice.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 403
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": "alice"}]})
    listed = alice.read(f"/api/v1/namespaces/{ns}/configmaps")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["seen"]
    assert alice.read(f"/api/v1/namespaces/{ns}/configmaps/seen")["data"] == {"k": "v"}
    # view does not grant writes, secrets, or other namespaces
    assert_status(alice.post(f"/api/v1/namespaces/{ns}/configmaps", configmap("new")), 403,
                  "Forbidden")
    assert_status(alice.get(f"/api/v1/namespaces/{ns}/secrets"), 403, "Forbidden")
    assert_status(alice.get("/api/v1/namespaces/default/configmaps"), 403, "Forbidden")


def test_group_subject_binding(api: Api, token_api, ns: str) -> None:
    alice = token_api(ALICE_TOKEN)
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "testers-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                      "name": "testers"}]})
    created = alice.create(f"/api/v1/namespaces/{ns}/configmaps", configmap("by-alice"))
    assert created["metadata"]["name"] == "by-alice"


def _ssar(client: Api, ns: str, verb: str, resource: str, group: str = "") -> dict:
    r = client.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": ns, "verb": verb, "resource": resource,
                                        "group": group}}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "SelfSubjectAccessReview"
    assert body["apiVersion"] == "authorization.k8s.io/v1"
    assert body["spec"]["resourceAttributes"]["verb"] == verb
    return body["status"]


def test_self_subject_access_review(api: Api, token_api, ns: str) -> None:
    bob = token_api(BOB_TOKEN)
    assert _ssar(api, ns, "delete", "secrets")["allowed"] is True
    assert _ssar(bob, ns, "list", "pods")["allowed"] is False
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "bob-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]})
    assert _ssar(bob, ns, "list", "pods")["allowed"] is True
    assert _ssar(bob, ns, "create", "pods")["allowed"] is False
    assert _ssar(bob, ns, "list", "deployments", "apps")["allowed"] is True
    assert _ssar(bob, "default", "list", "pods")["allowed"] is False


@pytest.mark.parametrize("make,user_info", [
    pytest.param(lambda api, t: api,
                 {"username": "system:admin", "groups": ["system:masters",
                                                         "system:authenticated"]},
                 id="client-cert"),
    pytest.param(lambda api, t: t(ALICE_TOKEN),
                 {"username": "alice", "uid": "uid-alice",
                  "groups": ["devs", "testers", "system:authenticated"]}, id="token"),
])
def test_self_subject_review(api: Api, token_api, make, user_info: dict) -> None:
    r = make(api, token_api).post("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "SelfSubjectReview"
    assert body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["status"]["userInfo"] == user_info
