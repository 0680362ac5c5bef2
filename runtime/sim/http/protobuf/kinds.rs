//! The kinds of the other groups kubectl's typed commands send: apps workloads, Jobs and
//! CronJobs, RBAC, PodDisruptionBudgets, PriorityClasses and Ingresses.

use k8s_pb::api::{apps::v1 as apps, batch::v1 as batch, networking::v1 as net};
use k8s_pb::api::{policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling};

use super::json::to_json;

to_json!(apps::Deployment { "metadata" => msg metadata, "spec" => msg spec });

to_json!(apps::DeploymentSpec {
    "replicas" => ptr replicas,
    "selector" => msg selector,
    "template" => msg template,
    "strategy" => msg strategy,
    "minReadySeconds" => val min_ready_seconds,
    "revisionHistoryLimit" => ptr revision_history_limit,
    "paused" => val paused,
    "progressDeadlineSeconds" => ptr progress_deadline_seconds,
});

to_json!(apps::DeploymentStrategy {
    "type" => val r#type,
    "rollingUpdate" => msg rolling_update,
});

to_json!(apps::RollingUpdateDeployment {
    "maxUnavailable" => msg max_unavailable,
    "maxSurge" => msg max_surge,
});

to_json!(apps::StatefulSet { "metadata" => msg metadata, "spec" => msg spec });

to_json!(apps::StatefulSetSpec {
    "replicas" => ptr replicas,
    "selector" => msg selector,
    "template" => msg template,
    "serviceName" => val service_name,
    "podManagementPolicy" => val pod_management_policy,
    "updateStrategy" => msg update_strategy,
    "revisionHistoryLimit" => ptr revision_history_limit,
    "minReadySeconds" => val min_ready_seconds,
});

to_json!(apps::StatefulSetUpdateStrategy {
    "type" => val r#type,
    "rollingUpdate" => msg rolling_update,
});

to_json!(apps::RollingUpdateStatefulSetStrategy {
    "partition" => ptr partition,
    "maxUnavailable" => msg max_unavailable,
});

to_json!(apps::DaemonSet { "metadata" => msg metadata, "spec" => msg spec });

to_json!(apps::DaemonSetSpec {
    "selector" => msg selector,
    "template" => msg template,
    "updateStrategy" => msg update_strategy,
    "minReadySeconds" => val min_ready_seconds,
    "revisionHistoryLimit" => ptr revision_history_limit,
});

to_json!(apps::DaemonSetUpdateStrategy {
    "type" => val r#type,
    "rollingUpdate" => msg rolling_update,
});

to_json!(apps::RollingUpdateDaemonSet {
    "maxUnavailable" => msg max_unavailable,
    "maxSurge" => msg max_surge,
});

to_json!(apps::ReplicaSet { "metadata" => msg metadata, "spec" => msg spec });

to_json!(apps::ReplicaSetSpec {
    "replicas" => ptr replicas,
    "minReadySeconds" => val min_ready_seconds,
    "selector" => msg selector,
    "template" => msg template,
});

to_json!(batch::Job { "metadata" => msg metadata, "spec" => msg spec });

to_json!(batch::JobSpec {
    "parallelism" => ptr parallelism,
    "completions" => ptr completions,
    "activeDeadlineSeconds" => ptr active_deadline_seconds,
    "backoffLimit" => ptr backoff_limit,
    "selector" => msg selector,
    "manualSelector" => ptr manual_selector,
    "template" => msg template,
    "ttlSecondsAfterFinished" => ptr ttl_seconds_after_finished,
    "completionMode" => ptr completion_mode,
    "suspend" => ptr suspend,
});

to_json!(batch::JobTemplateSpec { "metadata" => msg metadata, "spec" => msg spec });

to_json!(batch::CronJob { "metadata" => msg metadata, "spec" => msg spec });

to_json!(batch::CronJobSpec {
    "schedule" => ptr schedule,
    "timeZone" => ptr time_zone,
    "startingDeadlineSeconds" => ptr starting_deadline_seconds,
    "concurrencyPolicy" => val concurrency_policy,
    "suspend" => ptr suspend,
    "jobTemplate" => msg job_template,
    "successfulJobsHistoryLimit" => ptr successful_jobs_history_limit,
    "failedJobsHistoryLimit" => ptr failed_jobs_history_limit,
});

to_json!(rbac::Role { "metadata" => msg metadata, "rules" => msgs rules });

to_json!(rbac::ClusterRole {
    "metadata" => msg metadata,
    "rules" => msgs rules,
    "aggregationRule" => msg aggregation_rule,
});

to_json!(rbac::AggregationRule { "clusterRoleSelectors" => msgs cluster_role_selectors });

to_json!(rbac::PolicyRule {
    "verbs" => list verbs,
    "apiGroups" => list api_groups,
    "resources" => list resources,
    "resourceNames" => list resource_names,
    "nonResourceURLs" => list non_resource_ur_ls,
});

to_json!(rbac::RoleBinding {
    "metadata" => msg metadata,
    "subjects" => msgs subjects,
    "roleRef" => msg role_ref,
});

to_json!(rbac::ClusterRoleBinding {
    "metadata" => msg metadata,
    "subjects" => msgs subjects,
    "roleRef" => msg role_ref,
});

to_json!(rbac::Subject {
    "kind" => ptr kind,
    "apiGroup" => val api_group,
    "name" => ptr name,
    "namespace" => val namespace,
});

to_json!(rbac::RoleRef {
    "apiGroup" => ptr api_group,
    "kind" => ptr kind,
    "name" => ptr name,
});

to_json!(policy::PodDisruptionBudget { "metadata" => msg metadata, "spec" => msg spec });

to_json!(policy::PodDisruptionBudgetSpec {
    "minAvailable" => msg min_available,
    "selector" => msg selector,
    "maxUnavailable" => msg max_unavailable,
    "unhealthyPodEvictionPolicy" => ptr unhealthy_pod_eviction_policy,
});

to_json!(scheduling::PriorityClass {
    "metadata" => msg metadata,
    "value" => ptr value,
    "globalDefault" => val global_default,
    "description" => val description,
    "preemptionPolicy" => ptr preemption_policy,
});

to_json!(net::Ingress { "metadata" => msg metadata, "spec" => msg spec });

to_json!(net::IngressSpec {
    "ingressClassName" => ptr ingress_class_name,
    "defaultBackend" => msg default_backend,
    "tls" => msgs tls,
    "rules" => msgs rules,
});

to_json!(net::IngressBackend {
    "service" => msg service,
    "resource" => msg resource,
});

to_json!(k8s_pb::api::core::v1::TypedLocalObjectReference {
    "apiGroup" => ptr api_group,
    "kind" => ptr kind,
    "name" => ptr name,
});

to_json!(net::IngressServiceBackend { "name" => ptr name, "port" => msg port });

to_json!(net::ServiceBackendPort { "name" => val name, "number" => val number });

to_json!(net::IngressTls { "hosts" => list hosts, "secretName" => val secret_name });

// Go embeds the rule value inline: `http` sits beside `host`.
impl super::json::ToJson for net::IngressRule {
    fn to_json(self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        super::json::val(&mut out, "host", self.host);
        super::json::msg(
            &mut out,
            "http",
            self.ingress_rule_value.and_then(|v| v.http),
        );
        serde_json::Value::Object(out)
    }
}

to_json!(net::HttpIngressRuleValue { "paths" => msgs paths });

to_json!(net::HttpIngressPath {
    "path" => val path,
    "pathType" => ptr path_type,
    "backend" => msg backend,
});
