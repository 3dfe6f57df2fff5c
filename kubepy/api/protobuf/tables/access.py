"""Protobuf field table (Kubernetes 1.32).

rbac/v1, authentication/v1 (TokenRequest), coordination/v1, networking/v1, policy/v1, scheduling/v1.

Facts only (numbers, JSON names, types, pointer-ness); format in ``messages``. Checked
against the descriptors embedded in kubectl by tests/unit/test_protobuf.py.
"""

from kubepy.api.protobuf.messages import Message, parse_table

TABLE: dict[str, Message] = {}

TABLE.update(parse_table("k8s.io.api.rbac.v1", """
AggregationRule
  1 clusterRoleSelectors [meta.LabelSelector]
ClusterRole
  1 metadata meta.ObjectMeta
  2 rules [PolicyRule]
  3 aggregationRule AggregationRule
ClusterRoleBinding
  1 metadata meta.ObjectMeta
  2 subjects [Subject]
  3 roleRef RoleRef
PolicyRule
  1 verbs [string]
  2 apiGroups [string]
  3 resources [string]
  4 resourceNames [string]
  5 nonResourceURLs [string]
Role
  1 metadata meta.ObjectMeta
  2 rules [PolicyRule]
RoleBinding
  1 metadata meta.ObjectMeta
  2 subjects [Subject]
  3 roleRef RoleRef
RoleRef
  1 apiGroup string ?
  2 kind string ?
  3 name string ?
Subject
  1 kind string ?
  2 apiGroup string
  3 name string ?
  4 namespace string
"""))

TABLE.update(parse_table("k8s.io.api.authentication.v1", """
BoundObjectReference
  1 kind string
  2 apiVersion string
  3 name string
  4 uid string
TokenRequest
  1 metadata meta.ObjectMeta
  2 spec TokenRequestSpec
  3 status TokenRequestStatus
TokenRequestSpec
  1 audiences [string]
  3 boundObjectRef BoundObjectReference
  4 expirationSeconds int64 ?
TokenRequestStatus
  1 token string ?
  2 expirationTimestamp meta.Time
"""))

TABLE.update(parse_table("k8s.io.api.coordination.v1", """
Lease
  1 metadata meta.ObjectMeta
  2 spec LeaseSpec
LeaseSpec
  1 holderIdentity string ?
  2 leaseDurationSeconds int32 ?
  3 acquireTime meta.MicroTime
  4 renewTime meta.MicroTime
  5 leaseTransitions int32 ?
  6 strategy string ?
  7 preferredHolder string ?
"""))

TABLE.update(parse_table("k8s.io.api.networking.v1", """
HTTPIngressPath
  1 path string
  2 backend IngressBackend
  3 pathType string ?
HTTPIngressRuleValue
  1 paths [HTTPIngressPath]
Ingress
  1 metadata meta.ObjectMeta
  2 spec IngressSpec
  3 status IngressStatus
IngressBackend
  3 resource core.TypedLocalObjectReference
  4 service IngressServiceBackend
IngressLoadBalancerIngress
  1 ip string
  2 hostname string
  4 ports [IngressPortStatus]
IngressLoadBalancerStatus
  1 ingress [IngressLoadBalancerIngress]
IngressPortStatus
  1 port int32 ?
  2 protocol string ?
  3 error string ?
IngressRule
  1 host string
  2 ingressRuleValue IngressRuleValue inline
IngressRuleValue
  1 http HTTPIngressRuleValue
IngressServiceBackend
  1 name string ?
  2 port ServiceBackendPort
IngressSpec
  1 defaultBackend IngressBackend
  2 tls [IngressTLS]
  3 rules [IngressRule]
  4 ingressClassName string ?
IngressStatus
  1 loadBalancer IngressLoadBalancerStatus
IngressTLS
  1 hosts [string]
  2 secretName string
ServiceBackendPort
  1 name string
  2 number int32
"""))

TABLE.update(parse_table("k8s.io.api.policy.v1", """
Eviction
  1 metadata meta.ObjectMeta
  2 deleteOptions meta.DeleteOptions
PodDisruptionBudget
  1 metadata meta.ObjectMeta
  2 spec PodDisruptionBudgetSpec
  3 status PodDisruptionBudgetStatus
PodDisruptionBudgetSpec
  1 minAvailable intstr.IntOrString
  2 selector meta.LabelSelector
  3 maxUnavailable intstr.IntOrString
  4 unhealthyPodEvictionPolicy string ?
PodDisruptionBudgetStatus
  1 observedGeneration int64
  2 disruptedPods {meta.Time}
  3 disruptionsAllowed int32 ?
  4 currentHealthy int32 ?
  5 desiredHealthy int32 ?
  6 expectedPods int32 ?
  7 conditions [meta.Condition]
"""))

TABLE.update(parse_table("k8s.io.api.scheduling.v1", """
PriorityClass
  1 metadata meta.ObjectMeta
  2 value int32 ?
  3 globalDefault bool
  4 description string
  5 preemptionPolicy string ?
"""))

# authorization/v1: what `kubectl auth can-i` (1.32+) sends. ExtraValue is a Go []string
# whose JSON form is a bare list; this table decodes it as {"items": [...]} (SubjectAccess-
# Review's ``extra`` is not read by kubepy).
TABLE.update(parse_table("k8s.io.api.authorization.v1", """
ExtraValue
  1 items [string]
FieldSelectorAttributes
  1 rawSelector string
  2 requirements [meta.FieldSelectorRequirement]
LabelSelectorAttributes
  1 rawSelector string
  2 requirements [meta.LabelSelectorRequirement]
LocalSubjectAccessReview
  1 metadata meta.ObjectMeta
  2 spec SubjectAccessReviewSpec
  3 status SubjectAccessReviewStatus
NonResourceAttributes
  1 path string
  2 verb string
NonResourceRule
  1 verbs [string]
  2 nonResourceURLs [string]
ResourceAttributes
  1 namespace string
  2 verb string
  3 group string
  4 version string
  5 resource string
  6 subresource string
  7 name string
  8 fieldSelector FieldSelectorAttributes
  9 labelSelector LabelSelectorAttributes
ResourceRule
  1 verbs [string]
  2 apiGroups [string]
  3 resources [string]
  4 resourceNames [string]
SelfSubjectAccessReview
  1 metadata meta.ObjectMeta
  2 spec SelfSubjectAccessReviewSpec
  3 status SubjectAccessReviewStatus
SelfSubjectAccessReviewSpec
  1 resourceAttributes ResourceAttributes
  2 nonResourceAttributes NonResourceAttributes
SelfSubjectRulesReview
  1 metadata meta.ObjectMeta
  2 spec SelfSubjectRulesReviewSpec
  3 status SubjectRulesReviewStatus
SelfSubjectRulesReviewSpec
  1 namespace string
SubjectAccessReview
  1 metadata meta.ObjectMeta
  2 spec SubjectAccessReviewSpec
  3 status SubjectAccessReviewStatus
SubjectAccessReviewSpec
  1 resourceAttributes ResourceAttributes
  2 nonResourceAttributes NonResourceAttributes
  3 user string
  4 groups [string]
  5 extra {ExtraValue}
  6 uid string
SubjectAccessReviewStatus
  1 allowed bool ?
  2 reason string
  3 evaluationError string
  4 denied bool
SubjectRulesReviewStatus
  1 resourceRules [ResourceRule]
  2 nonResourceRules [NonResourceRule]
  3 incomplete bool ?
  4 evaluationError string
"""))
