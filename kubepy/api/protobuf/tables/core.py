"""Protobuf field table (Kubernetes 1.32).

core/v1 objects outside the pod template: Pod, Namespace, ConfigMap, Secret, Service,
ServiceAccount, ResourceQuota, Event.

Facts only (numbers, JSON names, types, pointer-ness); format in ``messages``. Checked
against the descriptors embedded in kubectl by tests/unit/test_protobuf.py.
"""

from kubepy.api.protobuf.messages import Message, parse_table

TABLE: dict[str, Message] = {}

TABLE.update(parse_table("k8s.io.api.core.v1", """
ClientIPConfig
  1 timeoutSeconds int32 ?
ConfigMap
  1 metadata meta.ObjectMeta
  2 data {string}
  3 binaryData {bytes}
  4 immutable bool ?
ContainerState
  1 waiting ContainerStateWaiting
  2 running ContainerStateRunning
  3 terminated ContainerStateTerminated
ContainerStateRunning
  1 startedAt meta.Time
ContainerStateTerminated
  1 exitCode int32 ?
  2 signal int32
  3 reason string
  4 message string
  5 startedAt meta.Time
  6 finishedAt meta.Time
  7 containerID string
ContainerStateWaiting
  1 reason string
  2 message string
ContainerStatus
  1 name string ?
  2 state ContainerState
  3 lastState ContainerState
  4 ready bool ?
  5 restartCount int32 ?
  6 image string ?
  7 imageID string ?
  8 containerID string
  9 started bool ?
  10 allocatedResources {resource.Quantity}
  11 resources ResourceRequirements
  12 volumeMounts [VolumeMountStatus]
  13 user ContainerUser
  14 allocatedResourcesStatus [ResourceStatus]
ContainerUser
  1 linux LinuxContainerUser
Event
  1 metadata meta.ObjectMeta
  2 involvedObject ObjectReference
  3 reason string
  4 message string
  5 source EventSource
  6 firstTimestamp meta.Time
  7 lastTimestamp meta.Time
  8 count int32
  9 type string
  10 eventTime meta.MicroTime
  11 series EventSeries
  12 action string
  13 related ObjectReference
  14 reportingComponent string ?
  15 reportingInstance string ?
EventSeries
  1 count int32
  2 lastObservedTime meta.MicroTime
EventSource
  1 component string
  2 host string
HostIP
  1 ip string ?
LinuxContainerUser
  1 uid int64 ?
  2 gid int64 ?
  3 supplementalGroups [int64]
LoadBalancerIngress
  1 ip string
  2 hostname string
  3 ipMode string ?
  4 ports [PortStatus]
LoadBalancerStatus
  1 ingress [LoadBalancerIngress]
ModifyVolumeStatus
  1 targetVolumeAttributesClassName string
  2 status string ?
Namespace
  1 metadata meta.ObjectMeta
  2 spec NamespaceSpec
  3 status NamespaceStatus
NamespaceCondition
  1 type string ?
  2 status string ?
  4 lastTransitionTime meta.Time
  5 reason string
  6 message string
NamespaceSpec
  1 finalizers [string]
NamespaceStatus
  1 phase string
  2 conditions [NamespaceCondition]
ObjectReference
  1 kind string
  2 namespace string
  3 name string
  4 uid string
  5 apiVersion string
  6 resourceVersion string
  7 fieldPath string
PersistentVolumeClaim
  1 metadata meta.ObjectMeta
  2 spec PersistentVolumeClaimSpec
  3 status PersistentVolumeClaimStatus
PersistentVolumeClaimCondition
  1 type string ?
  2 status string ?
  3 lastProbeTime meta.Time
  4 lastTransitionTime meta.Time
  5 reason string
  6 message string
PersistentVolumeClaimStatus
  1 phase string
  2 accessModes [string]
  3 capacity {resource.Quantity}
  4 conditions [PersistentVolumeClaimCondition]
  5 allocatedResources {resource.Quantity}
  7 allocatedResourceStatuses {string}
  8 currentVolumeAttributesClassName string ?
  9 modifyVolumeStatus ModifyVolumeStatus
Pod
  1 metadata meta.ObjectMeta
  2 spec PodSpec
  3 status PodStatus
PodCondition
  1 type string ?
  2 status string ?
  3 lastProbeTime meta.Time
  4 lastTransitionTime meta.Time
  5 reason string
  6 message string
PodIP
  1 ip string ?
PodResourceClaimStatus
  1 name string ?
  2 resourceClaimName string ?
PodStatus
  1 phase string
  2 conditions [PodCondition]
  3 message string
  4 reason string
  5 hostIP string
  6 podIP string
  7 startTime meta.Time
  8 containerStatuses [ContainerStatus]
  9 qosClass string
  10 initContainerStatuses [ContainerStatus]
  11 nominatedNodeName string
  12 podIPs [PodIP]
  13 ephemeralContainerStatuses [ContainerStatus]
  14 resize string
  15 resourceClaimStatuses [PodResourceClaimStatus]
  16 hostIPs [HostIP]
PortStatus
  1 port int32 ?
  2 protocol string ?
  3 error string ?
ResourceHealth
  1 resourceID string ?
  2 health string
ResourceQuota
  1 metadata meta.ObjectMeta
  2 spec ResourceQuotaSpec
  3 status ResourceQuotaStatus
ResourceQuotaSpec
  1 hard {resource.Quantity}
  2 scopes [string]
  3 scopeSelector ScopeSelector
ResourceQuotaStatus
  1 hard {resource.Quantity}
  2 used {resource.Quantity}
ResourceStatus
  1 name string ?
  2 resources [ResourceHealth]
ScopeSelector
  1 matchExpressions [ScopedResourceSelectorRequirement]
ScopedResourceSelectorRequirement
  1 scopeName string ?
  2 operator string ?
  3 values [string]
Secret
  1 metadata meta.ObjectMeta
  2 data {bytes}
  3 type string
  4 stringData {string}
  5 immutable bool ?
Service
  1 metadata meta.ObjectMeta
  2 spec ServiceSpec
  3 status ServiceStatus
ServiceAccount
  1 metadata meta.ObjectMeta
  2 secrets [ObjectReference]
  3 imagePullSecrets [LocalObjectReference]
  4 automountServiceAccountToken bool ?
ServicePort
  1 name string
  2 protocol string
  3 port int32 ?
  4 targetPort intstr.IntOrString
  5 nodePort int32
  6 appProtocol string ?
ServiceSpec
  1 ports [ServicePort]
  2 selector {string}
  3 clusterIP string
  4 type string
  5 externalIPs [string]
  7 sessionAffinity string
  8 loadBalancerIP string
  9 loadBalancerSourceRanges [string]
  10 externalName string
  11 externalTrafficPolicy string
  12 healthCheckNodePort int32
  13 publishNotReadyAddresses bool
  14 sessionAffinityConfig SessionAffinityConfig
  17 ipFamilyPolicy string ?
  18 clusterIPs [string]
  19 ipFamilies [string]
  20 allocateLoadBalancerNodePorts bool ?
  21 loadBalancerClass string ?
  22 internalTrafficPolicy string ?
  23 trafficDistribution string ?
ServiceStatus
  1 loadBalancer LoadBalancerStatus
  2 conditions [meta.Condition]
SessionAffinityConfig
  1 clientIP ClientIPConfig
VolumeMountStatus
  1 name string ?
  2 mountPath string ?
  3 readOnly bool
  4 recursiveReadOnly string ?
"""))
