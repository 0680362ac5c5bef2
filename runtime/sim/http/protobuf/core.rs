//! The core v1 kinds kubectl's typed commands send, and the pod spec every workload holds.
//! Only the fields those commands (and `kubectl run`) can set are converted.

use k8s_pb::api::core::v1 as core;

use super::json::{ToJson, to_json};

to_json!(core::ConfigMap {
    "metadata" => msg metadata,
    "data" => map data,
    "binaryData" => bytes binary_data,
    "immutable" => ptr immutable,
});

to_json!(core::Secret {
    "metadata" => msg metadata,
    "data" => bytes data,
    "stringData" => map string_data,
    "type" => val r#type,
    "immutable" => ptr immutable,
});

to_json!(core::Namespace { "metadata" => msg metadata, "spec" => msg spec });
to_json!(core::NamespaceSpec { "finalizers" => list finalizers });

to_json!(core::ServiceAccount {
    "metadata" => msg metadata,
    "secrets" => msgs secrets,
    "imagePullSecrets" => msgs image_pull_secrets,
    "automountServiceAccountToken" => ptr automount_service_account_token,
});

to_json!(core::ObjectReference {
    "kind" => val kind,
    "namespace" => val namespace,
    "name" => val name,
    "uid" => val uid,
    "apiVersion" => val api_version,
    "resourceVersion" => val resource_version,
    "fieldPath" => val field_path,
});

to_json!(core::LocalObjectReference { "name" => val name });

to_json!(core::Pod { "metadata" => msg metadata, "spec" => msg spec });
to_json!(core::PodTemplateSpec { "metadata" => msg metadata, "spec" => msg spec });

to_json!(core::PodSpec {
    "initContainers" => msgs init_containers,
    "containers" => msgs containers,
    "restartPolicy" => val restart_policy,
    "terminationGracePeriodSeconds" => ptr termination_grace_period_seconds,
    "activeDeadlineSeconds" => ptr active_deadline_seconds,
    "dnsPolicy" => val dns_policy,
    "nodeSelector" => map node_selector,
    "serviceAccountName" => val service_account_name,
    "serviceAccount" => val service_account,
    "automountServiceAccountToken" => ptr automount_service_account_token,
    "nodeName" => val node_name,
    "hostNetwork" => val host_network,
    "hostPID" => val host_pid,
    "hostIPC" => val host_ipc,
    "imagePullSecrets" => msgs image_pull_secrets,
    "hostname" => val hostname,
    "subdomain" => val subdomain,
    "schedulerName" => val scheduler_name,
    "priorityClassName" => val priority_class_name,
    "priority" => ptr priority,
    "enableServiceLinks" => ptr enable_service_links,
});

to_json!(core::Container {
    "name" => ptr name,
    "image" => val image,
    "command" => list command,
    "args" => list args,
    "workingDir" => val working_dir,
    "ports" => msgs ports,
    "env" => msgs env,
    "resources" => msg resources,
    "restartPolicy" => ptr restart_policy,
    "volumeMounts" => msgs volume_mounts,
    "terminationMessagePath" => val termination_message_path,
    "terminationMessagePolicy" => val termination_message_policy,
    "imagePullPolicy" => val image_pull_policy,
    "securityContext" => msg security_context,
    "stdin" => val stdin,
    "stdinOnce" => val stdin_once,
    "tty" => val tty,
});

to_json!(core::ContainerPort {
    "name" => val name,
    "hostPort" => val host_port,
    "containerPort" => ptr container_port,
    "protocol" => val protocol,
    "hostIP" => val host_ip,
});

to_json!(core::EnvVar {
    "name" => ptr name,
    "value" => val value,
    "valueFrom" => msg value_from,
});

to_json!(core::EnvVarSource {
    "fieldRef" => msg field_ref,
    "configMapKeyRef" => msg config_map_key_ref,
    "secretKeyRef" => msg secret_key_ref,
});

to_json!(core::ObjectFieldSelector {
    "apiVersion" => val api_version,
    "fieldPath" => ptr field_path,
});

// Go embeds the reference inline: its `name` sits beside `key`.
impl ToJson for core::ConfigMapKeySelector {
    fn to_json(self) -> serde_json::Value {
        key_selector(self.local_object_reference, self.key, self.optional)
    }
}

impl ToJson for core::SecretKeySelector {
    fn to_json(self) -> serde_json::Value {
        key_selector(self.local_object_reference, self.key, self.optional)
    }
}

fn key_selector(
    reference: Option<core::LocalObjectReference>,
    key: Option<String>,
    optional: Option<bool>,
) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    super::json::val(&mut out, "name", reference.and_then(|r| r.name));
    super::json::ptr(&mut out, "key", key);
    super::json::ptr(&mut out, "optional", optional);
    serde_json::Value::Object(out)
}

to_json!(core::ResourceRequirements {
    "limits" => quantities limits,
    "requests" => quantities requests,
});

to_json!(core::VolumeMount {
    "name" => ptr name,
    "readOnly" => val read_only,
    "mountPath" => ptr mount_path,
    "subPath" => val sub_path,
});

to_json!(core::SecurityContext {
    "privileged" => ptr privileged,
    "runAsUser" => ptr run_as_user,
    "runAsGroup" => ptr run_as_group,
    "runAsNonRoot" => ptr run_as_non_root,
    "readOnlyRootFilesystem" => ptr read_only_root_filesystem,
    "allowPrivilegeEscalation" => ptr allow_privilege_escalation,
});

to_json!(core::Service { "metadata" => msg metadata, "spec" => msg spec });

to_json!(core::ServiceSpec {
    "ports" => msgs ports,
    "selector" => map selector,
    "clusterIP" => val cluster_ip,
    "clusterIPs" => list cluster_ips,
    "type" => val r#type,
    "externalIPs" => list external_ips,
    "sessionAffinity" => val session_affinity,
    "loadBalancerIP" => val load_balancer_ip,
    "externalName" => val external_name,
    "externalTrafficPolicy" => val external_traffic_policy,
    "ipFamilyPolicy" => ptr ip_family_policy,
    "internalTrafficPolicy" => ptr internal_traffic_policy,
});

to_json!(core::ServicePort {
    "name" => val name,
    "protocol" => val protocol,
    "appProtocol" => ptr app_protocol,
    "port" => ptr port,
    "targetPort" => msg target_port,
    "nodePort" => val node_port,
});

to_json!(core::ResourceQuota { "metadata" => msg metadata, "spec" => msg spec });

to_json!(core::ResourceQuotaSpec {
    "hard" => quantities hard,
    "scopes" => list scopes,
    "scopeSelector" => msg scope_selector,
});

to_json!(core::ScopeSelector { "matchExpressions" => msgs match_expressions });

to_json!(core::ScopedResourceSelectorRequirement {
    "scopeName" => ptr scope_name,
    "operator" => ptr operator,
    "values" => list values,
});
