"""Protobuf field table (Kubernetes 1.32).

apps/v1, batch/v1, autoscaling/v1 and v2.

Facts only (numbers, JSON names, types, pointer-ness); format in ``messages``. Checked
against the descriptors embedded in kubectl by tests/unit/test_protobuf.py.
"""

from kubepy.api.protobuf.messages import Message, parse_table

TABLE: dict[str, Message] = {}

TABLE.update(parse_table("k8s.io.api.apps.v1", """
DaemonSet
  1 metadata meta.ObjectMeta
  2 spec DaemonSetSpec
  3 status DaemonSetStatus
DaemonSetCondition
  1 type string ?
  2 status string ?
  3 lastTransitionTime meta.Time
  4 reason string
  5 message string
DaemonSetSpec
  1 selector meta.LabelSelector
  2 template core.PodTemplateSpec
  3 updateStrategy DaemonSetUpdateStrategy
  4 minReadySeconds int32
  6 revisionHistoryLimit int32 ?
DaemonSetStatus
  1 currentNumberScheduled int32 ?
  2 numberMisscheduled int32 ?
  3 desiredNumberScheduled int32 ?
  4 numberReady int32 ?
  5 observedGeneration int64
  6 updatedNumberScheduled int32
  7 numberAvailable int32
  8 numberUnavailable int32
  9 collisionCount int32 ?
  10 conditions [DaemonSetCondition]
DaemonSetUpdateStrategy
  1 type string
  2 rollingUpdate RollingUpdateDaemonSet
Deployment
  1 metadata meta.ObjectMeta
  2 spec DeploymentSpec
  3 status DeploymentStatus
DeploymentCondition
  1 type string ?
  2 status string ?
  4 reason string
  5 message string
  6 lastUpdateTime meta.Time
  7 lastTransitionTime meta.Time
DeploymentSpec
  1 replicas int32 ?
  2 selector meta.LabelSelector
  3 template core.PodTemplateSpec
  4 strategy DeploymentStrategy
  5 minReadySeconds int32
  6 revisionHistoryLimit int32 ?
  7 paused bool
  9 progressDeadlineSeconds int32 ?
DeploymentStatus
  1 observedGeneration int64
  2 replicas int32
  3 updatedReplicas int32
  4 availableReplicas int32
  5 unavailableReplicas int32
  6 conditions [DeploymentCondition]
  7 readyReplicas int32
  8 collisionCount int32 ?
DeploymentStrategy
  1 type string
  2 rollingUpdate RollingUpdateDeployment
ReplicaSet
  1 metadata meta.ObjectMeta
  2 spec ReplicaSetSpec
  3 status ReplicaSetStatus
ReplicaSetCondition
  1 type string ?
  2 status string ?
  3 lastTransitionTime meta.Time
  4 reason string
  5 message string
ReplicaSetSpec
  1 replicas int32 ?
  2 selector meta.LabelSelector
  3 template core.PodTemplateSpec
  4 minReadySeconds int32
ReplicaSetStatus
  1 replicas int32 ?
  2 fullyLabeledReplicas int32
  3 observedGeneration int64
  4 readyReplicas int32
  5 availableReplicas int32
  6 conditions [ReplicaSetCondition]
RollingUpdateDaemonSet
  1 maxUnavailable intstr.IntOrString
  2 maxSurge intstr.IntOrString
RollingUpdateDeployment
  1 maxUnavailable intstr.IntOrString
  2 maxSurge intstr.IntOrString
RollingUpdateStatefulSetStrategy
  1 partition int32 ?
  2 maxUnavailable intstr.IntOrString
StatefulSet
  1 metadata meta.ObjectMeta
  2 spec StatefulSetSpec
  3 status StatefulSetStatus
StatefulSetCondition
  1 type string ?
  2 status string ?
  3 lastTransitionTime meta.Time
  4 reason string
  5 message string
StatefulSetOrdinals
  1 start int32 ?
StatefulSetPersistentVolumeClaimRetentionPolicy
  1 whenDeleted string
  2 whenScaled string
StatefulSetSpec
  1 replicas int32 ?
  2 selector meta.LabelSelector
  3 template core.PodTemplateSpec
  4 volumeClaimTemplates [core.PersistentVolumeClaim]
  5 serviceName string ?
  6 podManagementPolicy string
  7 updateStrategy StatefulSetUpdateStrategy
  8 revisionHistoryLimit int32 ?
  9 minReadySeconds int32
  10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy
  11 ordinals StatefulSetOrdinals
StatefulSetStatus
  1 observedGeneration int64
  2 replicas int32 ?
  3 readyReplicas int32
  4 currentReplicas int32
  5 updatedReplicas int32
  6 currentRevision string
  7 updateRevision string
  9 collisionCount int32 ?
  10 conditions [StatefulSetCondition]
  11 availableReplicas int32 ?
StatefulSetUpdateStrategy
  1 type string
  2 rollingUpdate RollingUpdateStatefulSetStrategy
"""))

TABLE.update(parse_table("k8s.io.api.batch.v1", """
CronJob
  1 metadata meta.ObjectMeta
  2 spec CronJobSpec
  3 status CronJobStatus
CronJobSpec
  1 schedule string ?
  2 startingDeadlineSeconds int64 ?
  3 concurrencyPolicy string
  4 suspend bool ?
  5 jobTemplate JobTemplateSpec
  6 successfulJobsHistoryLimit int32 ?
  7 failedJobsHistoryLimit int32 ?
  8 timeZone string ?
CronJobStatus
  1 active [core.ObjectReference]
  4 lastScheduleTime meta.Time
  5 lastSuccessfulTime meta.Time
Job
  1 metadata meta.ObjectMeta
  2 spec JobSpec
  3 status JobStatus
JobCondition
  1 type string ?
  2 status string ?
  3 lastProbeTime meta.Time
  4 lastTransitionTime meta.Time
  5 reason string
  6 message string
JobSpec
  1 parallelism int32 ?
  2 completions int32 ?
  3 activeDeadlineSeconds int64 ?
  4 selector meta.LabelSelector
  5 manualSelector bool ?
  6 template core.PodTemplateSpec
  7 backoffLimit int32 ?
  8 ttlSecondsAfterFinished int32 ?
  9 completionMode string ?
  10 suspend bool ?
  11 podFailurePolicy PodFailurePolicy
  12 backoffLimitPerIndex int32 ?
  13 maxFailedIndexes int32 ?
  14 podReplacementPolicy string ?
  15 managedBy string ?
  16 successPolicy SuccessPolicy
JobStatus
  1 conditions [JobCondition]
  2 startTime meta.Time
  3 completionTime meta.Time
  4 active int32
  5 succeeded int32
  6 failed int32
  7 completedIndexes string
  8 uncountedTerminatedPods UncountedTerminatedPods
  9 ready int32 ?
  10 failedIndexes string ?
  11 terminating int32 ?
JobTemplateSpec
  1 metadata meta.ObjectMeta
  2 spec JobSpec
PodFailurePolicy
  1 rules [PodFailurePolicyRule]
PodFailurePolicyOnExitCodesRequirement
  1 containerName string ?
  2 operator string ?
  3 values [int32]
PodFailurePolicyOnPodConditionsPattern
  1 type string ?
  2 status string ?
PodFailurePolicyRule
  1 action string ?
  2 onExitCodes PodFailurePolicyOnExitCodesRequirement
  3 onPodConditions [PodFailurePolicyOnPodConditionsPattern]
SuccessPolicy
  1 rules [SuccessPolicyRule]
SuccessPolicyRule
  1 succeededIndexes string ?
  2 succeededCount int32 ?
UncountedTerminatedPods
  1 succeeded [string]
  2 failed [string]
"""))

TABLE.update(parse_table("k8s.io.api.autoscaling.v1", """
CrossVersionObjectReference
  1 kind string ?
  2 name string ?
  3 apiVersion string
HorizontalPodAutoscaler
  1 metadata meta.ObjectMeta
  2 spec HorizontalPodAutoscalerSpec
  3 status HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerSpec
  1 scaleTargetRef CrossVersionObjectReference
  2 minReplicas int32 ?
  3 maxReplicas int32 ?
  4 targetCPUUtilizationPercentage int32 ?
HorizontalPodAutoscalerStatus
  1 observedGeneration int64 ?
  2 lastScaleTime meta.Time
  3 currentReplicas int32 ?
  4 desiredReplicas int32 ?
  5 currentCPUUtilizationPercentage int32 ?
Scale
  1 metadata meta.ObjectMeta
  2 spec ScaleSpec
  3 status ScaleStatus
ScaleSpec
  1 replicas int32
ScaleStatus
  1 replicas int32 ?
  2 selector string
"""))

TABLE.update(parse_table("k8s.io.api.autoscaling.v2", """
ContainerResourceMetricSource
  1 name string ?
  2 target MetricTarget
  3 container string ?
ContainerResourceMetricStatus
  1 name string ?
  2 current MetricValueStatus
  3 container string ?
CrossVersionObjectReference
  1 kind string ?
  2 name string ?
  3 apiVersion string
ExternalMetricSource
  1 metric MetricIdentifier
  2 target MetricTarget
ExternalMetricStatus
  1 metric MetricIdentifier
  2 current MetricValueStatus
HPAScalingPolicy
  1 type string ?
  2 value int32 ?
  3 periodSeconds int32 ?
HPAScalingRules
  1 selectPolicy string ?
  2 policies [HPAScalingPolicy]
  3 stabilizationWindowSeconds int32 ?
HorizontalPodAutoscaler
  1 metadata meta.ObjectMeta
  2 spec HorizontalPodAutoscalerSpec
  3 status HorizontalPodAutoscalerStatus
HorizontalPodAutoscalerBehavior
  1 scaleUp HPAScalingRules
  2 scaleDown HPAScalingRules
HorizontalPodAutoscalerCondition
  1 type string ?
  2 status string ?
  3 lastTransitionTime meta.Time
  4 reason string
  5 message string
HorizontalPodAutoscalerSpec
  1 scaleTargetRef CrossVersionObjectReference
  2 minReplicas int32 ?
  3 maxReplicas int32 ?
  4 metrics [MetricSpec]
  5 behavior HorizontalPodAutoscalerBehavior
HorizontalPodAutoscalerStatus
  1 observedGeneration int64 ?
  2 lastScaleTime meta.Time
  3 currentReplicas int32
  4 desiredReplicas int32 ?
  5 currentMetrics [MetricStatus]
  6 conditions [HorizontalPodAutoscalerCondition]
MetricIdentifier
  1 name string ?
  2 selector meta.LabelSelector
MetricSpec
  1 type string ?
  2 object ObjectMetricSource
  3 pods PodsMetricSource
  4 resource ResourceMetricSource
  5 external ExternalMetricSource
  7 containerResource ContainerResourceMetricSource
MetricStatus
  1 type string ?
  2 object ObjectMetricStatus
  3 pods PodsMetricStatus
  4 resource ResourceMetricStatus
  5 external ExternalMetricStatus
  7 containerResource ContainerResourceMetricStatus
MetricTarget
  1 type string ?
  2 value resource.Quantity
  3 averageValue resource.Quantity
  4 averageUtilization int32 ?
MetricValueStatus
  1 value resource.Quantity
  2 averageValue resource.Quantity
  3 averageUtilization int32 ?
ObjectMetricSource
  1 describedObject CrossVersionObjectReference
  2 target MetricTarget
  3 metric MetricIdentifier
ObjectMetricStatus
  1 metric MetricIdentifier
  2 current MetricValueStatus
  3 describedObject CrossVersionObjectReference
PodsMetricSource
  1 metric MetricIdentifier
  2 target MetricTarget
PodsMetricStatus
  1 metric MetricIdentifier
  2 current MetricValueStatus
ResourceMetricSource
  1 name string ?
  2 target MetricTarget
ResourceMetricStatus
  1 name string ?
  2 current MetricValueStatus
"""))
