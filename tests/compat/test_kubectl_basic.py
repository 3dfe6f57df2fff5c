"""kubectl version, cluster-info, api-resources and api-versions against a kubepy server.

Expected texts are what kubectl prints against a real Kubernetes 1.32 API server (the
version kubepy reports), all beta APIs off as in a default cluster.
"""

from __future__ import annotations

import json
import re

from tests.compat.harness import (EXPECTED_GENERATIONS, KUBECTLS, Kubectl, mismatches,
                                   parse_table)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_every_kubectl_generation_is_installed() -> None:
    # A missing generation is a broken setup, never a reason to skip.
    assert sorted(KUBECTLS, key=lambda v: int(v.split(".")[1])) == EXPECTED_GENERATIONS


def test_version_json(kubectl: Kubectl) -> None:
    out = kubectl.ok("version", "-o", "json")
    doc = json.loads(out)
    server = doc["serverVersion"]
    assert set(server) >= {"major", "minor", "gitVersion", "gitCommit", "gitTreeState",
                           "buildDate", "goVersion", "compiler", "platform"}
    assert (server["major"], server["minor"]) == ("1", "32")
    assert re.fullmatch(r"v1\.32\.\d+(\+[0-9A-Za-z.-]+)?", server["gitVersion"])
    assert server["platform"] == "linux/amd64"
    assert doc["clientVersion"]["minor"] == kubectl.version.split(".")[1]


def test_version_text(kubectl: Kubectl) -> None:
    res = kubectl("version")
    assert res.rc == 0, res
    if kubectl.minor >= 28:
        assert re.search(r"^Server Version: v1\.32\.\d+\S*$", res.stdout, re.M), res.stdout
    else:  # 1.20 and 1.27 print the Go struct
        assert re.search(r'^Server Version: version\.Info\{Major:"1", Minor:"32", '
                         r'GitVersion:"v1\.32\.\d+', res.stdout, re.M), res.stdout
    skew_warned = "exceeds the supported minor version skew" in res.stderr
    if kubectl.minor >= 27:  # the skew warning exists since 1.26/1.27
        assert skew_warned == (abs(kubectl.minor - 32) > 1), res.stderr


def test_cluster_info(kubectl: Kubectl) -> None:
    out = ANSI.sub("", kubectl.ok("cluster-info"))
    lines = out.splitlines()
    assert lines[0] == f"Kubernetes control plane is running at {kubectl.server.url}"
    assert lines[-1] == ("To further debug and diagnose cluster problems, "
                         "use 'kubectl cluster-info dump'.")


# NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND of a default 1.32 cluster.
API_RESOURCES_132 = """
bindings                                        v1                                true    Binding
componentstatuses               cs              v1                                false   ComponentStatus
configmaps                      cm              v1                                true    ConfigMap
endpoints                       ep              v1                                true    Endpoints
events                          ev              v1                                true    Event
limitranges                     limits          v1                                true    LimitRange
namespaces                      ns              v1                                false   Namespace
nodes                           no              v1                                false   Node
persistentvolumeclaims          pvc             v1                                true    PersistentVolumeClaim
persistentvolumes               pv              v1                                false   PersistentVolume
pods                            po              v1                                true    Pod
podtemplates                                    v1                                true    PodTemplate
replicationcontrollers          rc              v1                                true    ReplicationController
resourcequotas                  quota           v1                                true    ResourceQuota
secrets                                         v1                                true    Secret
serviceaccounts                 sa              v1                                true    ServiceAccount
services                        svc             v1                                true    Service
mutatingwebhookconfigurations                   admissionregistration.k8s.io/v1   false   MutatingWebhookConfiguration
validatingadmissionpolicies                     admissionregistration.k8s.io/v1   false   ValidatingAdmissionPolicy
validatingadmissionpolicybindings               admissionregistration.k8s.io/v1   false   ValidatingAdmissionPolicyBinding
validatingwebhookconfigurations                 admissionregistration.k8s.io/v1   false   ValidatingWebhookConfiguration
customresourcedefinitions       crd,crds        apiextensions.k8s.io/v1           false   CustomResourceDefinition
apiservices                                     apiregistration.k8s.io/v1         false   APIService
controllerrevisions                             apps/v1                           true    ControllerRevision
daemonsets                      ds              apps/v1                           true    DaemonSet
deployments                     deploy          apps/v1                           true    Deployment
replicasets                     rs              apps/v1                           true    ReplicaSet
statefulsets                    sts             apps/v1                           true    StatefulSet
selfsubjectreviews                              authentication.k8s.io/v1          false   SelfSubjectReview
tokenreviews                                    authentication.k8s.io/v1          false   TokenReview
localsubjectaccessreviews                       authorization.k8s.io/v1           true    LocalSubjectAccessReview
selfsubjectaccessreviews                        authorization.k8s.io/v1           false   SelfSubjectAccessReview
selfsubjectrulesreviews                         authorization.k8s.io/v1           false   SelfSubjectRulesReview
subjectaccessreviews                            authorization.k8s.io/v1           false   SubjectAccessReview
horizontalpodautoscalers        hpa             autoscaling/v2                    true    HorizontalPodAutoscaler
cronjobs                        cj              batch/v1                          true    CronJob
jobs                                            batch/v1                          true    Job
certificatesigningrequests      csr             certificates.k8s.io/v1            false   CertificateSigningRequest
leases                                          coordination.k8s.io/v1            true    Lease
endpointslices                                  discovery.k8s.io/v1               true    EndpointSlice
events                          ev              events.k8s.io/v1                  true    Event
flowschemas                                     flowcontrol.apiserver.k8s.io/v1   false   FlowSchema
prioritylevelconfigurations                     flowcontrol.apiserver.k8s.io/v1   false   PriorityLevelConfiguration
ingressclasses                                  networking.k8s.io/v1              false   IngressClass
ingresses                       ing             networking.k8s.io/v1              true    Ingress
networkpolicies                 netpol          networking.k8s.io/v1              true    NetworkPolicy
runtimeclasses                                  node.k8s.io/v1                    false   RuntimeClass
poddisruptionbudgets            pdb             policy/v1                         true    PodDisruptionBudget
clusterrolebindings                             rbac.authorization.k8s.io/v1      false   ClusterRoleBinding
clusterroles                                    rbac.authorization.k8s.io/v1      false   ClusterRole
rolebindings                                    rbac.authorization.k8s.io/v1      true    RoleBinding
roles                                           rbac.authorization.k8s.io/v1      true    Role
priorityclasses                 pc              scheduling.k8s.io/v1              false   PriorityClass
csidrivers                                      storage.k8s.io/v1                 false   CSIDriver
csinodes                                        storage.k8s.io/v1                 false   CSINode
csistoragecapacities                            storage.k8s.io/v1                 true    CSIStorageCapacity
storageclasses                  sc              storage.k8s.io/v1                 false   StorageClass
volumeattachments                               storage.k8s.io/v1                 false   VolumeAttachment
"""


def _expected_rows() -> list[list[str]]:
    rows = []
    for line in API_RESOURCES_132.strip().splitlines():
        parts = line.split()
        if len(parts) == 4:  # no short names
            parts.insert(1, "")
        rows.append(parts)
    return rows


def test_api_resources_table(kubectl: Kubectl) -> None:
    out = kubectl.ok("api-resources", namespaced=False)
    header, rows = parse_table(out)
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    missing = [r for r in _expected_rows() if r not in rows]
    assert not missing, "rows a 1.32 cluster lists but kubepy does not:\n" + "\n".join(
        "  ".join(r) for r in missing)
    unexpected = [r for r in rows if r[2].rpartition("/")[2].startswith(("v1alpha", "v1beta"))]
    assert not unexpected, f"alpha/beta APIs are off in a default 1.32 cluster: {unexpected}"


def test_api_resources_wide_verbs_and_categories(kubectl: Kubectl) -> None:
    out = kubectl.ok("api-resources", "-o", "wide", namespaced=False)
    header, rows = parse_table(out)
    by_name = {(r[0], r[2]): r for r in rows}
    all_verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                 "watch"]
    if kubectl.minor >= 27:
        assert header[5:] == ["VERBS", "CATEGORIES"]
        verbs = lambda r: r[5].split(",")  # noqa: E731
        assert by_name[("pods", "v1")][6] == "all"
        assert by_name[("deployments", "apps/v1")][6] == "all"
        assert by_name[("configmaps", "v1")][6] == ""
    else:
        assert header[5:] == ["VERBS"]
        verbs = lambda r: r[5].strip("[]").split()  # noqa: E731
    assert verbs(by_name[("pods", "v1")]) == all_verbs
    assert verbs(by_name[("namespaces", "v1")]) == ["create", "delete", "get", "list", "patch",
                                                    "update", "watch"]
    assert verbs(by_name[("bindings", "v1")]) == ["create"]
    assert verbs(by_name[("selfsubjectaccessreviews", "authorization.k8s.io/v1")]) == ["create"]


NAME_FILTERS = [
    ("apps", ("--api-group=apps",), ["controllerrevisions.apps", "daemonsets.apps",
                                     "deployments.apps", "replicasets.apps",
                                     "statefulsets.apps"]),
    ("core-cluster-scoped", ("--api-group=", "--namespaced=false"),
     ["componentstatuses", "namespaces", "nodes", "persistentvolumes"]),
    ("batch", ("--api-group=batch",), ["cronjobs.batch", "jobs.batch"]),
]


def test_api_resources_name_filters(kubectl: Kubectl) -> None:
    results = kubectl.run_many(*(("api-resources", *args, "-o", "name")
                                 for _, args, _ in NAME_FILTERS))
    assert not (bad := mismatches([(cid, res.stdout.split(), expected) for (cid, _, expected),
                                   res in zip(NAME_FILTERS, results)])), "\n" + bad


API_VERSIONS_132 = """admissionregistration.k8s.io/v1
apiextensions.k8s.io/v1
apiregistration.k8s.io/v1
apps/v1
authentication.k8s.io/v1
authorization.k8s.io/v1
autoscaling/v1
autoscaling/v2
batch/v1
certificates.k8s.io/v1
coordination.k8s.io/v1
discovery.k8s.io/v1
events.k8s.io/v1
flowcontrol.apiserver.k8s.io/v1
networking.k8s.io/v1
node.k8s.io/v1
policy/v1
rbac.authorization.k8s.io/v1
scheduling.k8s.io/v1
storage.k8s.io/v1
v1
"""


def test_api_versions(kubectl: Kubectl) -> None:
    out = kubectl.ok("api-versions", namespaced=False)
    assert out == API_VERSIONS_132


def test_unknown_resource_type(kubectl: Kubectl) -> None:
    err = kubectl.fails("get", "nosuchthings")
    assert err.strip().endswith(
        'error: the server doesn\'t have a resource type "nosuchthings"'), err
