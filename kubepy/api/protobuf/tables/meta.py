"""Protobuf field table (Kubernetes 1.32).

Meta, runtime, resource and intstr: the apimachinery types every object uses.

Facts only (numbers, JSON names, types, pointer-ness); format in ``messages``. Checked
against the descriptors embedded in kubectl by tests/unit/test_protobuf.py.
"""

from kubepy.api.protobuf.messages import Message, parse_table

TABLE: dict[str, Message] = {}

TABLE.update(parse_table("k8s.io.apimachinery.pkg.apis.meta.v1", """
Condition
  1 type string ?
  2 status string ?
  3 observedGeneration int64
  4 lastTransitionTime Time
  5 reason string ?
  6 message string ?
DeleteOptions
  1 gracePeriodSeconds int64 ?
  2 preconditions Preconditions
  3 orphanDependents bool ?
  4 propagationPolicy string ?
  5 dryRun [string]
  6 ignoreStoreReadErrorWithClusterBreakingPotential bool ?
Duration
  1 duration int64
FieldSelectorRequirement
  1 key string ?
  2 operator string ?
  3 values [string]
FieldsV1
  1 raw bytes
LabelSelector
  1 matchLabels {string}
  2 matchExpressions [LabelSelectorRequirement]
LabelSelectorRequirement
  1 key string ?
  2 operator string ?
  3 values [string]
ListMeta
  1 selfLink string
  2 resourceVersion string
  3 continue string
  4 remainingItemCount int64 ?
ManagedFieldsEntry
  1 manager string
  2 operation string
  3 apiVersion string
  4 time Time
  6 fieldsType string
  7 fieldsV1 FieldsV1
  8 subresource string
MicroTime
  1 seconds int64
  2 nanos int32
ObjectMeta
  1 name string
  2 generateName string
  3 namespace string
  4 selfLink string
  5 uid string
  6 resourceVersion string
  7 generation int64
  8 creationTimestamp Time
  9 deletionTimestamp Time
  10 deletionGracePeriodSeconds int64 ?
  11 labels {string}
  12 annotations {string}
  13 ownerReferences [OwnerReference]
  14 finalizers [string]
  17 managedFields [ManagedFieldsEntry]
OwnerReference
  1 kind string ?
  3 name string ?
  4 uid string ?
  5 apiVersion string ?
  6 controller bool ?
  7 blockOwnerDeletion bool ?
Preconditions
  1 uid string ?
  2 resourceVersion string ?
Status
  1 metadata ListMeta
  2 status string
  3 message string
  4 reason string
  5 details StatusDetails
  6 code int32
StatusCause
  1 reason string
  2 message string
  3 field string
StatusDetails
  1 name string
  2 group string
  3 kind string
  4 causes [StatusCause]
  5 retryAfterSeconds int32
  6 uid string
Time
  1 seconds int64
  2 nanos int32
"""))

TABLE.update(parse_table("k8s.io.apimachinery.pkg.runtime", """
TypeMeta
  1 apiVersion string
  2 kind string
Unknown
  1 typeMeta TypeMeta inline
  2 raw bytes
  3 contentEncoding string
  4 contentType string
"""))

TABLE.update(parse_table("k8s.io.apimachinery.pkg.api.resource", """
Quantity
  1 string string
"""))

TABLE.update(parse_table("k8s.io.apimachinery.pkg.util.intstr", """
IntOrString
  1 type int64
  2 intVal int32
  3 strVal string
"""))
