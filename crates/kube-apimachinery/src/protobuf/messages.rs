//! The field tables of every protobuf message [`super::decode_request_body`] decodes: for
//! each k8s-pb type, its fields in protobuf order with the Go `json` name and how Go's encoder
//! treats them (see [`super::GoField`]). Types with a custom JSON form (times, quantities,
//! `IntOrString`, raw JSON and the JSON-schema unions) are in the parent module.
//!
//! Value or pointer, `omitempty` or not: taken from the Go types of k8s.io/api and
//! k8s.io/apiextensions-apiserver (Kubernetes 1.35, the release k8s-pb 0.9 is generated from).

use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::coordination::v1 as coordination;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::discovery::v1 as discovery;
use k8s_pb::api::events::v1 as events;
use k8s_pb::api::networking::v1 as networking;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;

use super::go_json;

go_json! {
    meta::DeleteOptions {
        grace_period_seconds: ptr "gracePeriodSeconds",
        preconditions: ptr "preconditions",
        orphan_dependents: ptr "orphanDependents",
        propagation_policy: ptr "propagationPolicy",
        dry_run: omitempty "dryRun",
        ignore_store_read_error_with_cluster_breaking_potential: ptr "ignoreStoreReadErrorWithClusterBreakingPotential",
    }
    meta::ObjectMeta {
        name: omitempty "name",
        generate_name: omitempty "generateName",
        namespace: omitempty "namespace",
        self_link: omitempty "selfLink",
        uid: omitempty "uid",
        resource_version: omitempty "resourceVersion",
        generation: omitempty "generation",
        creation_timestamp: always "creationTimestamp",
        deletion_timestamp: ptr "deletionTimestamp",
        deletion_grace_period_seconds: ptr "deletionGracePeriodSeconds",
        labels: omitempty "labels",
        annotations: omitempty "annotations",
        owner_references: omitempty "ownerReferences",
        finalizers: omitempty "finalizers",
        managed_fields: omitempty "managedFields",
    }
    meta::Preconditions {
        uid: ptr "uid",
        resource_version: ptr "resourceVersion",
    }
    meta::OwnerReference {
        api_version: always "apiVersion",
        kind: always "kind",
        name: always "name",
        uid: always "uid",
        controller: ptr "controller",
        block_owner_deletion: ptr "blockOwnerDeletion",
    }
    meta::ManagedFieldsEntry {
        manager: omitempty "manager",
        operation: omitempty "operation",
        api_version: omitempty "apiVersion",
        time: ptr "time",
        fields_type: omitempty "fieldsType",
        fields_v1: ptr "fieldsV1",
        subresource: omitempty "subresource",
    }
    meta::Condition {
        r#type: always "type",
        status: always "status",
        observed_generation: omitempty "observedGeneration",
        last_transition_time: always "lastTransitionTime",
        reason: always "reason",
        message: always "message",
    }
    meta::LabelSelector {
        match_labels: omitempty "matchLabels",
        match_expressions: omitempty "matchExpressions",
    }
    meta::LabelSelectorRequirement {
        key: always "key",
        operator: always "operator",
        values: omitempty "values",
    }
    core::Namespace {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    core::Pod {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    core::Service {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    core::Endpoints {
        metadata: always "metadata",
        subsets: omitempty "subsets",
    }
    core::Node {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    core::ConfigMap {
        metadata: always "metadata",
        immutable: ptr "immutable",
        data: omitempty "data",
        binary_data: omitempty "binaryData",
    }
    core::Secret {
        metadata: always "metadata",
        immutable: ptr "immutable",
        data: omitempty "data",
        string_data: omitempty "stringData",
        r#type: omitempty "type",
    }
    core::ServiceAccount {
        metadata: always "metadata",
        secrets: omitempty "secrets",
        image_pull_secrets: omitempty "imagePullSecrets",
        automount_service_account_token: ptr "automountServiceAccountToken",
    }
    core::Event {
        metadata: always "metadata",
        involved_object: always "involvedObject",
        reason: omitempty "reason",
        message: omitempty "message",
        source: always "source",
        first_timestamp: always "firstTimestamp",
        last_timestamp: always "lastTimestamp",
        count: omitempty "count",
        r#type: omitempty "type",
        event_time: always "eventTime",
        series: ptr "series",
        action: omitempty "action",
        related: ptr "related",
        reporting_component: always "reportingComponent",
        reporting_instance: always "reportingInstance",
    }
    core::NamespaceSpec {
        finalizers: omitempty "finalizers",
    }
    core::NamespaceStatus {
        phase: omitempty "phase",
        conditions: omitempty "conditions",
    }
    core::PodSpec {
        volumes: omitempty "volumes",
        init_containers: omitempty "initContainers",
        containers: always "containers",
        ephemeral_containers: omitempty "ephemeralContainers",
        restart_policy: omitempty "restartPolicy",
        termination_grace_period_seconds: ptr "terminationGracePeriodSeconds",
        active_deadline_seconds: ptr "activeDeadlineSeconds",
        dns_policy: omitempty "dnsPolicy",
        node_selector: omitempty "nodeSelector",
        service_account_name: omitempty "serviceAccountName",
        service_account: omitempty "serviceAccount",
        automount_service_account_token: ptr "automountServiceAccountToken",
        node_name: omitempty "nodeName",
        host_network: omitempty "hostNetwork",
        host_pid: omitempty "hostPID",
        host_ipc: omitempty "hostIPC",
        share_process_namespace: ptr "shareProcessNamespace",
        security_context: ptr "securityContext",
        image_pull_secrets: omitempty "imagePullSecrets",
        hostname: omitempty "hostname",
        subdomain: omitempty "subdomain",
        affinity: ptr "affinity",
        scheduler_name: omitempty "schedulerName",
        tolerations: omitempty "tolerations",
        host_aliases: omitempty "hostAliases",
        priority_class_name: omitempty "priorityClassName",
        priority: ptr "priority",
        dns_config: ptr "dnsConfig",
        readiness_gates: omitempty "readinessGates",
        runtime_class_name: ptr "runtimeClassName",
        enable_service_links: ptr "enableServiceLinks",
        preemption_policy: ptr "preemptionPolicy",
        overhead: omitempty "overhead",
        topology_spread_constraints: omitempty "topologySpreadConstraints",
        set_hostname_as_fqdn: ptr "setHostnameAsFQDN",
        os: ptr "os",
        host_users: ptr "hostUsers",
        scheduling_gates: omitempty "schedulingGates",
        resource_claims: omitempty "resourceClaims",
        resources: ptr "resources",
        hostname_override: ptr "hostnameOverride",
        workload_ref: ptr "workloadRef",
    }
    core::PodStatus {
        observed_generation: omitempty "observedGeneration",
        phase: omitempty "phase",
        conditions: omitempty "conditions",
        message: omitempty "message",
        reason: omitempty "reason",
        nominated_node_name: omitempty "nominatedNodeName",
        host_ip: omitempty "hostIP",
        host_ips: omitempty "hostIPs",
        pod_ip: omitempty "podIP",
        pod_ips: omitempty "podIPs",
        start_time: ptr "startTime",
        init_container_statuses: omitempty "initContainerStatuses",
        container_statuses: omitempty "containerStatuses",
        qos_class: omitempty "qosClass",
        ephemeral_container_statuses: omitempty "ephemeralContainerStatuses",
        resize: omitempty "resize",
        resource_claim_statuses: omitempty "resourceClaimStatuses",
        extended_resource_claim_status: ptr "extendedResourceClaimStatus",
        allocated_resources: omitempty "allocatedResources",
        resources: ptr "resources",
    }
    core::ServiceSpec {
        ports: omitempty "ports",
        selector: omitempty "selector",
        cluster_ip: omitempty "clusterIP",
        cluster_ips: omitempty "clusterIPs",
        r#type: omitempty "type",
        external_ips: omitempty "externalIPs",
        session_affinity: omitempty "sessionAffinity",
        load_balancer_ip: omitempty "loadBalancerIP",
        load_balancer_source_ranges: omitempty "loadBalancerSourceRanges",
        external_name: omitempty "externalName",
        external_traffic_policy: omitempty "externalTrafficPolicy",
        health_check_node_port: omitempty "healthCheckNodePort",
        publish_not_ready_addresses: omitempty "publishNotReadyAddresses",
        session_affinity_config: ptr "sessionAffinityConfig",
        ip_families: omitempty "ipFamilies",
        ip_family_policy: ptr "ipFamilyPolicy",
        allocate_load_balancer_node_ports: ptr "allocateLoadBalancerNodePorts",
        load_balancer_class: ptr "loadBalancerClass",
        internal_traffic_policy: ptr "internalTrafficPolicy",
        traffic_distribution: ptr "trafficDistribution",
    }
    core::ServiceStatus {
        load_balancer: always "loadBalancer",
        conditions: omitempty "conditions",
    }
    core::EndpointSubset {
        addresses: omitempty "addresses",
        not_ready_addresses: omitempty "notReadyAddresses",
        ports: omitempty "ports",
    }
    core::NodeSpec {
        pod_cidr: omitempty "podCIDR",
        pod_cid_rs: omitempty "podCIDRs",
        provider_id: omitempty "providerID",
        unschedulable: omitempty "unschedulable",
        taints: omitempty "taints",
        config_source: ptr "configSource",
        external_id: omitempty "externalID",
    }
    core::NodeStatus {
        capacity: omitempty "capacity",
        allocatable: omitempty "allocatable",
        phase: omitempty "phase",
        conditions: omitempty "conditions",
        addresses: omitempty "addresses",
        daemon_endpoints: always "daemonEndpoints",
        node_info: always "nodeInfo",
        images: omitempty "images",
        volumes_in_use: omitempty "volumesInUse",
        volumes_attached: omitempty "volumesAttached",
        config: ptr "config",
        runtime_handlers: omitempty "runtimeHandlers",
        features: ptr "features",
        declared_features: omitempty "declaredFeatures",
    }
    core::ObjectReference {
        kind: omitempty "kind",
        namespace: omitempty "namespace",
        name: omitempty "name",
        uid: omitempty "uid",
        api_version: omitempty "apiVersion",
        resource_version: omitempty "resourceVersion",
        field_path: omitempty "fieldPath",
    }
    core::LocalObjectReference {
        name: omitempty "name",
    }
    core::EventSource {
        component: omitempty "component",
        host: omitempty "host",
    }
    core::EventSeries {
        count: omitempty "count",
        last_observed_time: always "lastObservedTime",
    }
    core::NamespaceCondition {
        r#type: always "type",
        status: always "status",
        last_transition_time: always "lastTransitionTime",
        reason: omitempty "reason",
        message: omitempty "message",
    }
    core::Volume {
        name: always "name",
        volume_source: inline,
    }
    core::Container {
        name: always "name",
        image: omitempty "image",
        command: omitempty "command",
        args: omitempty "args",
        working_dir: omitempty "workingDir",
        ports: omitempty "ports",
        env_from: omitempty "envFrom",
        env: omitempty "env",
        resources: always "resources",
        resize_policy: omitempty "resizePolicy",
        restart_policy: ptr "restartPolicy",
        restart_policy_rules: omitempty "restartPolicyRules",
        volume_mounts: omitempty "volumeMounts",
        volume_devices: omitempty "volumeDevices",
        liveness_probe: ptr "livenessProbe",
        readiness_probe: ptr "readinessProbe",
        startup_probe: ptr "startupProbe",
        lifecycle: ptr "lifecycle",
        termination_message_path: omitempty "terminationMessagePath",
        termination_message_policy: omitempty "terminationMessagePolicy",
        image_pull_policy: omitempty "imagePullPolicy",
        security_context: ptr "securityContext",
        stdin: omitempty "stdin",
        stdin_once: omitempty "stdinOnce",
        tty: omitempty "tty",
    }
    core::EphemeralContainer {
        ephemeral_container_common: inline,
        target_container_name: omitempty "targetContainerName",
    }
    core::PodSecurityContext {
        se_linux_options: ptr "seLinuxOptions",
        windows_options: ptr "windowsOptions",
        run_as_user: ptr "runAsUser",
        run_as_group: ptr "runAsGroup",
        run_as_non_root: ptr "runAsNonRoot",
        supplemental_groups: omitempty "supplementalGroups",
        supplemental_groups_policy: ptr "supplementalGroupsPolicy",
        fs_group: ptr "fsGroup",
        sysctls: omitempty "sysctls",
        fs_group_change_policy: ptr "fsGroupChangePolicy",
        seccomp_profile: ptr "seccompProfile",
        app_armor_profile: ptr "appArmorProfile",
        se_linux_change_policy: ptr "seLinuxChangePolicy",
    }
    core::Affinity {
        node_affinity: ptr "nodeAffinity",
        pod_affinity: ptr "podAffinity",
        pod_anti_affinity: ptr "podAntiAffinity",
    }
    core::Toleration {
        key: omitempty "key",
        operator: omitempty "operator",
        value: omitempty "value",
        effect: omitempty "effect",
        toleration_seconds: ptr "tolerationSeconds",
    }
    core::HostAlias {
        ip: always "ip",
        hostnames: omitempty "hostnames",
    }
    core::PodDnsConfig {
        nameservers: omitempty "nameservers",
        searches: omitempty "searches",
        options: omitempty "options",
    }
    core::PodReadinessGate {
        condition_type: always "conditionType",
    }
    core::TopologySpreadConstraint {
        max_skew: always "maxSkew",
        topology_key: always "topologyKey",
        when_unsatisfiable: always "whenUnsatisfiable",
        label_selector: ptr "labelSelector",
        min_domains: ptr "minDomains",
        node_affinity_policy: ptr "nodeAffinityPolicy",
        node_taints_policy: ptr "nodeTaintsPolicy",
        match_label_keys: omitempty "matchLabelKeys",
    }
    core::PodOs {
        name: always "name",
    }
    core::PodSchedulingGate {
        name: always "name",
    }
    core::PodResourceClaim {
        name: always "name",
        resource_claim_name: ptr "resourceClaimName",
        resource_claim_template_name: ptr "resourceClaimTemplateName",
    }
    core::ResourceRequirements {
        limits: omitempty "limits",
        requests: omitempty "requests",
        claims: omitempty "claims",
    }
    core::WorkloadReference {
        name: always "name",
        pod_group: always "podGroup",
        pod_group_replica_key: omitempty "podGroupReplicaKey",
    }
    core::PodCondition {
        r#type: always "type",
        observed_generation: omitempty "observedGeneration",
        status: always "status",
        last_probe_time: always "lastProbeTime",
        last_transition_time: always "lastTransitionTime",
        reason: omitempty "reason",
        message: omitempty "message",
    }
    core::HostIp {
        ip: always "ip",
    }
    core::PodIp {
        ip: always "ip",
    }
    core::ContainerStatus {
        name: always "name",
        state: always "state",
        last_state: always "lastState",
        ready: always "ready",
        restart_count: always "restartCount",
        image: always "image",
        image_id: always "imageID",
        container_id: omitempty "containerID",
        started: ptr "started",
        allocated_resources: omitempty "allocatedResources",
        resources: ptr "resources",
        volume_mounts: omitempty "volumeMounts",
        user: ptr "user",
        allocated_resources_status: omitempty "allocatedResourcesStatus",
        stop_signal: ptr "stopSignal",
    }
    core::PodResourceClaimStatus {
        name: always "name",
        resource_claim_name: ptr "resourceClaimName",
    }
    core::PodExtendedResourceClaimStatus {
        request_mappings: always "requestMappings",
        resource_claim_name: always "resourceClaimName",
    }
    core::ServicePort {
        name: omitempty "name",
        protocol: omitempty "protocol",
        app_protocol: ptr "appProtocol",
        port: always "port",
        target_port: always "targetPort",
        node_port: omitempty "nodePort",
    }
    core::SessionAffinityConfig {
        client_ip: ptr "clientIP",
    }
    core::LoadBalancerStatus {
        ingress: omitempty "ingress",
    }
    core::EndpointAddress {
        ip: always "ip",
        hostname: omitempty "hostname",
        node_name: ptr "nodeName",
        target_ref: ptr "targetRef",
    }
    core::EndpointPort {
        name: omitempty "name",
        port: always "port",
        protocol: omitempty "protocol",
        app_protocol: ptr "appProtocol",
    }
    core::Taint {
        key: always "key",
        value: omitempty "value",
        effect: always "effect",
        time_added: ptr "timeAdded",
    }
    core::NodeConfigSource {
        config_map: ptr "configMap",
    }
    core::NodeCondition {
        r#type: always "type",
        status: always "status",
        last_heartbeat_time: always "lastHeartbeatTime",
        last_transition_time: always "lastTransitionTime",
        reason: omitempty "reason",
        message: omitempty "message",
    }
    core::NodeAddress {
        r#type: always "type",
        address: always "address",
    }
    core::NodeDaemonEndpoints {
        kubelet_endpoint: always "kubeletEndpoint",
    }
    core::NodeSystemInfo {
        machine_id: always "machineID",
        system_uuid: always "systemUUID",
        boot_id: always "bootID",
        kernel_version: always "kernelVersion",
        os_image: always "osImage",
        container_runtime_version: always "containerRuntimeVersion",
        kubelet_version: always "kubeletVersion",
        kube_proxy_version: always "kubeProxyVersion",
        operating_system: always "operatingSystem",
        architecture: always "architecture",
        swap: ptr "swap",
    }
    core::ContainerImage {
        names: omitempty "names",
        size_bytes: omitempty "sizeBytes",
    }
    core::AttachedVolume {
        name: always "name",
        device_path: always "devicePath",
    }
    core::NodeConfigStatus {
        assigned: ptr "assigned",
        active: ptr "active",
        last_known_good: ptr "lastKnownGood",
        error: omitempty "error",
    }
    core::NodeRuntimeHandler {
        name: always "name",
        features: ptr "features",
    }
    core::NodeFeatures {
        supplemental_groups_policy: ptr "supplementalGroupsPolicy",
    }
    core::VolumeSource {
        host_path: ptr "hostPath",
        empty_dir: ptr "emptyDir",
        gce_persistent_disk: ptr "gcePersistentDisk",
        aws_elastic_block_store: ptr "awsElasticBlockStore",
        git_repo: ptr "gitRepo",
        secret: ptr "secret",
        nfs: ptr "nfs",
        iscsi: ptr "iscsi",
        glusterfs: ptr "glusterfs",
        persistent_volume_claim: ptr "persistentVolumeClaim",
        rbd: ptr "rbd",
        flex_volume: ptr "flexVolume",
        cinder: ptr "cinder",
        cephfs: ptr "cephfs",
        flocker: ptr "flocker",
        downward_api: ptr "downwardAPI",
        fc: ptr "fc",
        azure_file: ptr "azureFile",
        config_map: ptr "configMap",
        vsphere_volume: ptr "vsphereVolume",
        quobyte: ptr "quobyte",
        azure_disk: ptr "azureDisk",
        photon_persistent_disk: ptr "photonPersistentDisk",
        projected: ptr "projected",
        portworx_volume: ptr "portworxVolume",
        scale_io: ptr "scaleIO",
        storageos: ptr "storageos",
        csi: ptr "csi",
        ephemeral: ptr "ephemeral",
        image: ptr "image",
    }
    core::ContainerPort {
        name: omitempty "name",
        host_port: omitempty "hostPort",
        container_port: always "containerPort",
        protocol: omitempty "protocol",
        host_ip: omitempty "hostIP",
    }
    core::EnvFromSource {
        prefix: omitempty "prefix",
        config_map_ref: ptr "configMapRef",
        secret_ref: ptr "secretRef",
    }
    core::EnvVar {
        name: always "name",
        value: omitempty "value",
        value_from: ptr "valueFrom",
    }
    core::ContainerResizePolicy {
        resource_name: always "resourceName",
        restart_policy: always "restartPolicy",
    }
    core::ContainerRestartRule {
        action: omitempty "action",
        exit_codes: ptr "exitCodes",
    }
    core::VolumeMount {
        name: always "name",
        read_only: omitempty "readOnly",
        recursive_read_only: ptr "recursiveReadOnly",
        mount_path: always "mountPath",
        sub_path: omitempty "subPath",
        mount_propagation: ptr "mountPropagation",
        sub_path_expr: omitempty "subPathExpr",
    }
    core::VolumeDevice {
        name: always "name",
        device_path: always "devicePath",
    }
    core::Probe {
        handler: inline,
        initial_delay_seconds: omitempty "initialDelaySeconds",
        timeout_seconds: omitempty "timeoutSeconds",
        period_seconds: omitempty "periodSeconds",
        success_threshold: omitempty "successThreshold",
        failure_threshold: omitempty "failureThreshold",
        termination_grace_period_seconds: ptr "terminationGracePeriodSeconds",
    }
    core::Lifecycle {
        post_start: ptr "postStart",
        pre_stop: ptr "preStop",
        stop_signal: ptr "stopSignal",
    }
    core::SecurityContext {
        capabilities: ptr "capabilities",
        privileged: ptr "privileged",
        se_linux_options: ptr "seLinuxOptions",
        windows_options: ptr "windowsOptions",
        run_as_user: ptr "runAsUser",
        run_as_group: ptr "runAsGroup",
        run_as_non_root: ptr "runAsNonRoot",
        read_only_root_filesystem: ptr "readOnlyRootFilesystem",
        allow_privilege_escalation: ptr "allowPrivilegeEscalation",
        proc_mount: ptr "procMount",
        seccomp_profile: ptr "seccompProfile",
        app_armor_profile: ptr "appArmorProfile",
    }
    core::EphemeralContainerCommon {
        name: always "name",
        image: omitempty "image",
        command: omitempty "command",
        args: omitempty "args",
        working_dir: omitempty "workingDir",
        ports: omitempty "ports",
        env_from: omitempty "envFrom",
        env: omitempty "env",
        resources: always "resources",
        resize_policy: omitempty "resizePolicy",
        restart_policy: ptr "restartPolicy",
        restart_policy_rules: omitempty "restartPolicyRules",
        volume_mounts: omitempty "volumeMounts",
        volume_devices: omitempty "volumeDevices",
        liveness_probe: ptr "livenessProbe",
        readiness_probe: ptr "readinessProbe",
        startup_probe: ptr "startupProbe",
        lifecycle: ptr "lifecycle",
        termination_message_path: omitempty "terminationMessagePath",
        termination_message_policy: omitempty "terminationMessagePolicy",
        image_pull_policy: omitempty "imagePullPolicy",
        security_context: ptr "securityContext",
        stdin: omitempty "stdin",
        stdin_once: omitempty "stdinOnce",
        tty: omitempty "tty",
    }
    core::SeLinuxOptions {
        user: omitempty "user",
        role: omitempty "role",
        r#type: omitempty "type",
        level: omitempty "level",
    }
    core::WindowsSecurityContextOptions {
        gmsa_credential_spec_name: ptr "gmsaCredentialSpecName",
        gmsa_credential_spec: ptr "gmsaCredentialSpec",
        run_as_user_name: ptr "runAsUserName",
        host_process: ptr "hostProcess",
    }
    core::Sysctl {
        name: always "name",
        value: always "value",
    }
    core::SeccompProfile {
        r#type: always "type",
        localhost_profile: ptr "localhostProfile",
    }
    core::AppArmorProfile {
        r#type: always "type",
        localhost_profile: ptr "localhostProfile",
    }
    core::NodeAffinity {
        required_during_scheduling_ignored_during_execution: ptr "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: omitempty "preferredDuringSchedulingIgnoredDuringExecution",
    }
    core::PodAffinity {
        required_during_scheduling_ignored_during_execution: omitempty "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: omitempty "preferredDuringSchedulingIgnoredDuringExecution",
    }
    core::PodAntiAffinity {
        required_during_scheduling_ignored_during_execution: omitempty "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: omitempty "preferredDuringSchedulingIgnoredDuringExecution",
    }
    core::PodDnsConfigOption {
        name: omitempty "name",
        value: ptr "value",
    }
    core::ResourceClaim {
        name: always "name",
        request: omitempty "request",
    }
    core::ContainerState {
        waiting: ptr "waiting",
        running: ptr "running",
        terminated: ptr "terminated",
    }
    core::VolumeMountStatus {
        name: always "name",
        mount_path: always "mountPath",
        read_only: omitempty "readOnly",
        recursive_read_only: ptr "recursiveReadOnly",
    }
    core::ContainerUser {
        linux: ptr "linux",
    }
    core::ResourceStatus {
        name: always "name",
        resources: omitempty "resources",
    }
    core::ContainerExtendedResourceRequest {
        container_name: always "containerName",
        resource_name: always "resourceName",
        request_name: always "requestName",
    }
    core::ClientIpConfig {
        timeout_seconds: ptr "timeoutSeconds",
    }
    core::LoadBalancerIngress {
        ip: omitempty "ip",
        hostname: omitempty "hostname",
        ip_mode: ptr "ipMode",
        ports: omitempty "ports",
    }
    core::ConfigMapNodeConfigSource {
        namespace: always "namespace",
        name: always "name",
        uid: omitempty "uid",
        resource_version: omitempty "resourceVersion",
        kubelet_config_key: always "kubeletConfigKey",
    }
    core::DaemonEndpoint {
        port: always "Port",
    }
    core::NodeSwapStatus {
        capacity: ptr "capacity",
    }
    core::NodeRuntimeHandlerFeatures {
        recursive_read_only_mounts: ptr "recursiveReadOnlyMounts",
        user_namespaces: ptr "userNamespaces",
    }
    core::TypedLocalObjectReference {
        api_group: ptr_or_null "apiGroup",
        kind: always "kind",
        name: always "name",
    }
    core::HostPathVolumeSource {
        path: always "path",
        r#type: ptr "type",
    }
    core::EmptyDirVolumeSource {
        medium: omitempty "medium",
        size_limit: ptr "sizeLimit",
    }
    core::GcePersistentDiskVolumeSource {
        pd_name: always "pdName",
        fs_type: omitempty "fsType",
        partition: omitempty "partition",
        read_only: omitempty "readOnly",
    }
    core::AwsElasticBlockStoreVolumeSource {
        volume_id: always "volumeID",
        fs_type: omitempty "fsType",
        partition: omitempty "partition",
        read_only: omitempty "readOnly",
    }
    core::GitRepoVolumeSource {
        repository: always "repository",
        revision: omitempty "revision",
        directory: omitempty "directory",
    }
    core::SecretVolumeSource {
        secret_name: omitempty "secretName",
        items: omitempty "items",
        default_mode: ptr "defaultMode",
        optional: ptr "optional",
    }
    core::NfsVolumeSource {
        server: always "server",
        path: always "path",
        read_only: omitempty "readOnly",
    }
    core::IscsiVolumeSource {
        target_portal: always "targetPortal",
        iqn: always "iqn",
        lun: always "lun",
        iscsi_interface: omitempty "iscsiInterface",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
        portals: omitempty "portals",
        chap_auth_discovery: omitempty "chapAuthDiscovery",
        chap_auth_session: omitempty "chapAuthSession",
        secret_ref: ptr "secretRef",
        initiator_name: ptr "initiatorName",
    }
    core::GlusterfsVolumeSource {
        endpoints: always "endpoints",
        path: always "path",
        read_only: omitempty "readOnly",
    }
    core::PersistentVolumeClaimVolumeSource {
        claim_name: always "claimName",
        read_only: omitempty "readOnly",
    }
    core::RbdVolumeSource {
        monitors: always "monitors",
        image: always "image",
        fs_type: omitempty "fsType",
        pool: omitempty "pool",
        user: omitempty "user",
        keyring: omitempty "keyring",
        secret_ref: ptr "secretRef",
        read_only: omitempty "readOnly",
    }
    core::FlexVolumeSource {
        driver: always "driver",
        fs_type: omitempty "fsType",
        secret_ref: ptr "secretRef",
        read_only: omitempty "readOnly",
        options: omitempty "options",
    }
    core::CinderVolumeSource {
        volume_id: always "volumeID",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
        secret_ref: ptr "secretRef",
    }
    core::CephFsVolumeSource {
        monitors: always "monitors",
        path: omitempty "path",
        user: omitempty "user",
        secret_file: omitempty "secretFile",
        secret_ref: ptr "secretRef",
        read_only: omitempty "readOnly",
    }
    core::FlockerVolumeSource {
        dataset_name: omitempty "datasetName",
        dataset_uuid: omitempty "datasetUUID",
    }
    core::DownwardAPIVolumeSource {
        items: omitempty "items",
        default_mode: ptr "defaultMode",
    }
    core::FcVolumeSource {
        target_ww_ns: omitempty "targetWWNs",
        lun: ptr "lun",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
        wwids: omitempty "wwids",
    }
    core::AzureFileVolumeSource {
        secret_name: always "secretName",
        share_name: always "shareName",
        read_only: omitempty "readOnly",
    }
    core::ConfigMapVolumeSource {
        local_object_reference: inline,
        items: omitempty "items",
        default_mode: ptr "defaultMode",
        optional: ptr "optional",
    }
    core::VsphereVirtualDiskVolumeSource {
        volume_path: always "volumePath",
        fs_type: omitempty "fsType",
        storage_policy_name: omitempty "storagePolicyName",
        storage_policy_id: omitempty "storagePolicyID",
    }
    core::QuobyteVolumeSource {
        registry: always "registry",
        volume: always "volume",
        read_only: omitempty "readOnly",
        user: omitempty "user",
        group: omitempty "group",
        tenant: omitempty "tenant",
    }
    core::AzureDiskVolumeSource {
        disk_name: always "diskName",
        disk_uri: always "diskURI",
        caching_mode: ptr "cachingMode",
        fs_type: ptr "fsType",
        read_only: ptr "readOnly",
        kind: ptr "kind",
    }
    core::PhotonPersistentDiskVolumeSource {
        pd_id: always "pdID",
        fs_type: omitempty "fsType",
    }
    core::ProjectedVolumeSource {
        sources: always "sources",
        default_mode: ptr "defaultMode",
    }
    core::PortworxVolumeSource {
        volume_id: always "volumeID",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
    }
    core::ScaleIoVolumeSource {
        gateway: always "gateway",
        system: always "system",
        secret_ref: ptr_or_null "secretRef",
        ssl_enabled: omitempty "sslEnabled",
        protection_domain: omitempty "protectionDomain",
        storage_pool: omitempty "storagePool",
        storage_mode: omitempty "storageMode",
        volume_name: omitempty "volumeName",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
    }
    core::StorageOsVolumeSource {
        volume_name: omitempty "volumeName",
        volume_namespace: omitempty "volumeNamespace",
        fs_type: omitempty "fsType",
        read_only: omitempty "readOnly",
        secret_ref: ptr "secretRef",
    }
    core::CSIVolumeSource {
        driver: always "driver",
        read_only: ptr "readOnly",
        fs_type: ptr "fsType",
        volume_attributes: omitempty "volumeAttributes",
        node_publish_secret_ref: ptr "nodePublishSecretRef",
    }
    core::EphemeralVolumeSource {
        volume_claim_template: ptr "volumeClaimTemplate",
    }
    core::ImageVolumeSource {
        reference: omitempty "reference",
        pull_policy: omitempty "pullPolicy",
    }
    core::ConfigMapEnvSource {
        local_object_reference: inline,
        optional: ptr "optional",
    }
    core::SecretEnvSource {
        local_object_reference: inline,
        optional: ptr "optional",
    }
    core::EnvVarSource {
        field_ref: ptr "fieldRef",
        resource_field_ref: ptr "resourceFieldRef",
        config_map_key_ref: ptr "configMapKeyRef",
        secret_key_ref: ptr "secretKeyRef",
        file_key_ref: ptr "fileKeyRef",
    }
    core::ContainerRestartRuleOnExitCodes {
        operator: always "operator",
        values: omitempty "values",
    }
    core::ProbeHandler {
        exec: ptr "exec",
        http_get: ptr "httpGet",
        tcp_socket: ptr "tcpSocket",
        grpc: ptr "grpc",
    }
    core::LifecycleHandler {
        exec: ptr "exec",
        http_get: ptr "httpGet",
        tcp_socket: ptr "tcpSocket",
        sleep: ptr "sleep",
    }
    core::Capabilities {
        add: omitempty "add",
        drop: omitempty "drop",
    }
    core::NodeSelector {
        node_selector_terms: always "nodeSelectorTerms",
    }
    core::PreferredSchedulingTerm {
        weight: always "weight",
        preference: always "preference",
    }
    core::PodAffinityTerm {
        label_selector: ptr "labelSelector",
        namespaces: omitempty "namespaces",
        topology_key: always "topologyKey",
        namespace_selector: ptr "namespaceSelector",
        match_label_keys: omitempty "matchLabelKeys",
        mismatch_label_keys: omitempty "mismatchLabelKeys",
    }
    core::WeightedPodAffinityTerm {
        weight: always "weight",
        pod_affinity_term: always "podAffinityTerm",
    }
    core::ContainerStateWaiting {
        reason: omitempty "reason",
        message: omitempty "message",
    }
    core::ContainerStateRunning {
        started_at: always "startedAt",
    }
    core::ContainerStateTerminated {
        exit_code: always "exitCode",
        signal: omitempty "signal",
        reason: omitempty "reason",
        message: omitempty "message",
        started_at: always "startedAt",
        finished_at: always "finishedAt",
        container_id: omitempty "containerID",
    }
    core::LinuxContainerUser {
        uid: always "uid",
        gid: always "gid",
        supplemental_groups: omitempty "supplementalGroups",
    }
    core::ResourceHealth {
        resource_id: always "resourceID",
        health: omitempty "health",
    }
    core::PortStatus {
        port: always "port",
        protocol: always "protocol",
        error: ptr "error",
    }
    core::KeyToPath {
        key: always "key",
        path: always "path",
        mode: ptr "mode",
    }
    core::DownwardAPIVolumeFile {
        path: always "path",
        field_ref: ptr "fieldRef",
        resource_field_ref: ptr "resourceFieldRef",
        mode: ptr "mode",
    }
    core::VolumeProjection {
        secret: ptr "secret",
        downward_api: ptr "downwardAPI",
        config_map: ptr "configMap",
        service_account_token: ptr "serviceAccountToken",
        cluster_trust_bundle: ptr "clusterTrustBundle",
        pod_certificate: ptr "podCertificate",
    }
    core::PersistentVolumeClaimTemplate {
        metadata: always "metadata",
        spec: always "spec",
    }
    core::ObjectFieldSelector {
        api_version: omitempty "apiVersion",
        field_path: always "fieldPath",
    }
    core::ResourceFieldSelector {
        container_name: omitempty "containerName",
        resource: always "resource",
        divisor: always "divisor",
    }
    core::ConfigMapKeySelector {
        local_object_reference: inline,
        key: always "key",
        optional: ptr "optional",
    }
    core::SecretKeySelector {
        local_object_reference: inline,
        key: always "key",
        optional: ptr "optional",
    }
    core::FileKeySelector {
        volume_name: always "volumeName",
        path: always "path",
        key: always "key",
        optional: ptr "optional",
    }
    core::ExecAction {
        command: omitempty "command",
    }
    core::HttpGetAction {
        path: omitempty "path",
        port: always "port",
        host: omitempty "host",
        scheme: omitempty "scheme",
        http_headers: omitempty "httpHeaders",
    }
    core::TcpSocketAction {
        port: always "port",
        host: omitempty "host",
    }
    core::GrpcAction {
        port: always "port",
        service: ptr_or_null "service",
    }
    core::SleepAction {
        seconds: always "seconds",
    }
    core::NodeSelectorTerm {
        match_expressions: omitempty "matchExpressions",
        match_fields: omitempty "matchFields",
    }
    core::SecretProjection {
        local_object_reference: inline,
        items: omitempty "items",
        optional: ptr "optional",
    }
    core::DownwardAPIProjection {
        items: omitempty "items",
    }
    core::ConfigMapProjection {
        local_object_reference: inline,
        items: omitempty "items",
        optional: ptr "optional",
    }
    core::ServiceAccountTokenProjection {
        audience: omitempty "audience",
        expiration_seconds: ptr "expirationSeconds",
        path: always "path",
    }
    core::ClusterTrustBundleProjection {
        name: ptr "name",
        signer_name: ptr "signerName",
        label_selector: ptr "labelSelector",
        optional: ptr "optional",
        path: always "path",
    }
    core::PodCertificateProjection {
        signer_name: omitempty "signerName",
        key_type: omitempty "keyType",
        max_expiration_seconds: ptr "maxExpirationSeconds",
        credential_bundle_path: omitempty "credentialBundlePath",
        key_path: omitempty "keyPath",
        certificate_chain_path: omitempty "certificateChainPath",
        user_annotations: omitempty "userAnnotations",
    }
    core::PersistentVolumeClaimSpec {
        access_modes: omitempty "accessModes",
        selector: ptr "selector",
        resources: always "resources",
        volume_name: omitempty "volumeName",
        storage_class_name: ptr "storageClassName",
        volume_mode: ptr "volumeMode",
        data_source: ptr "dataSource",
        data_source_ref: ptr "dataSourceRef",
        volume_attributes_class_name: ptr "volumeAttributesClassName",
    }
    core::HttpHeader {
        name: always "name",
        value: always "value",
    }
    core::NodeSelectorRequirement {
        key: always "key",
        operator: always "operator",
        values: omitempty "values",
    }
    core::VolumeResourceRequirements {
        limits: omitempty "limits",
        requests: omitempty "requests",
    }
    core::TypedObjectReference {
        api_group: ptr_or_null "apiGroup",
        kind: always "kind",
        name: always "name",
        namespace: ptr "namespace",
    }
    events::Event {
        metadata: always "metadata",
        event_time: always "eventTime",
        series: ptr "series",
        reporting_controller: omitempty "reportingController",
        reporting_instance: omitempty "reportingInstance",
        action: omitempty "action",
        reason: omitempty "reason",
        regarding: always "regarding",
        related: ptr "related",
        note: omitempty "note",
        r#type: omitempty "type",
        deprecated_source: always "deprecatedSource",
        deprecated_first_timestamp: always "deprecatedFirstTimestamp",
        deprecated_last_timestamp: always "deprecatedLastTimestamp",
        deprecated_count: omitempty "deprecatedCount",
    }
    events::EventSeries {
        count: always "count",
        last_observed_time: always "lastObservedTime",
    }
    networking::Ingress {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    networking::NetworkPolicy {
        metadata: always "metadata",
        spec: always "spec",
    }
    networking::IngressSpec {
        ingress_class_name: ptr "ingressClassName",
        default_backend: ptr "defaultBackend",
        tls: omitempty "tls",
        rules: omitempty "rules",
    }
    networking::IngressStatus {
        load_balancer: always "loadBalancer",
    }
    networking::NetworkPolicySpec {
        pod_selector: always "podSelector",
        ingress: omitempty "ingress",
        egress: omitempty "egress",
        policy_types: omitempty "policyTypes",
    }
    networking::IngressBackend {
        service: ptr "service",
        resource: ptr "resource",
    }
    networking::IngressTls {
        hosts: omitempty "hosts",
        secret_name: omitempty "secretName",
    }
    networking::IngressRule {
        host: omitempty "host",
        ingress_rule_value: inline,
    }
    networking::IngressLoadBalancerStatus {
        ingress: omitempty "ingress",
    }
    networking::NetworkPolicyIngressRule {
        ports: omitempty "ports",
        from: omitempty "from",
    }
    networking::NetworkPolicyEgressRule {
        ports: omitempty "ports",
        to: omitempty "to",
    }
    networking::IngressServiceBackend {
        name: always "name",
        port: always "port",
    }
    networking::IngressRuleValue {
        http: ptr "http",
    }
    networking::IngressLoadBalancerIngress {
        ip: omitempty "ip",
        hostname: omitempty "hostname",
        ports: omitempty "ports",
    }
    networking::NetworkPolicyPort {
        protocol: ptr "protocol",
        port: ptr "port",
        end_port: ptr "endPort",
    }
    networking::NetworkPolicyPeer {
        pod_selector: ptr "podSelector",
        namespace_selector: ptr "namespaceSelector",
        ip_block: ptr "ipBlock",
    }
    networking::ServiceBackendPort {
        name: omitempty "name",
        number: omitempty "number",
    }
    networking::HttpIngressRuleValue {
        paths: always "paths",
    }
    networking::IngressPortStatus {
        port: always "port",
        protocol: always "protocol",
        error: ptr "error",
    }
    networking::IpBlock {
        cidr: always "cidr",
        except: omitempty "except",
    }
    networking::HttpIngressPath {
        path: omitempty "path",
        path_type: ptr_or_null "pathType",
        backend: always "backend",
    }
    discovery::EndpointSlice {
        metadata: always "metadata",
        address_type: always "addressType",
        endpoints: always "endpoints",
        ports: always "ports",
    }
    discovery::Endpoint {
        addresses: always "addresses",
        conditions: always "conditions",
        hostname: ptr "hostname",
        target_ref: ptr "targetRef",
        deprecated_topology: omitempty "deprecatedTopology",
        node_name: ptr "nodeName",
        zone: ptr "zone",
        hints: ptr "hints",
    }
    discovery::EndpointPort {
        name: ptr "name",
        protocol: ptr "protocol",
        port: ptr "port",
        app_protocol: ptr "appProtocol",
    }
    discovery::EndpointConditions {
        ready: ptr "ready",
        serving: ptr "serving",
        terminating: ptr "terminating",
    }
    discovery::EndpointHints {
        for_zones: omitempty "forZones",
        for_nodes: omitempty "forNodes",
    }
    discovery::ForZone {
        name: always "name",
    }
    discovery::ForNode {
        name: always "name",
    }
    coordination::Lease {
        metadata: always "metadata",
        spec: always "spec",
    }
    coordination::LeaseSpec {
        holder_identity: ptr "holderIdentity",
        lease_duration_seconds: ptr "leaseDurationSeconds",
        acquire_time: ptr "acquireTime",
        renew_time: ptr "renewTime",
        lease_transitions: ptr "leaseTransitions",
        strategy: ptr "strategy",
        preferred_holder: ptr "preferredHolder",
    }
    apiext::CustomResourceDefinition {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    apiext::CustomResourceDefinitionSpec {
        group: always "group",
        names: always "names",
        scope: always "scope",
        versions: always "versions",
        conversion: ptr "conversion",
        preserve_unknown_fields: omitempty "preserveUnknownFields",
    }
    apiext::CustomResourceDefinitionStatus {
        conditions: omitempty "conditions",
        accepted_names: always "acceptedNames",
        stored_versions: always "storedVersions",
        observed_generation: omitempty "observedGeneration",
    }
    apiext::CustomResourceDefinitionNames {
        plural: always "plural",
        singular: omitempty "singular",
        short_names: omitempty "shortNames",
        kind: always "kind",
        list_kind: omitempty "listKind",
        categories: omitempty "categories",
    }
    apiext::CustomResourceDefinitionVersion {
        name: always "name",
        served: always "served",
        storage: always "storage",
        deprecated: omitempty "deprecated",
        deprecation_warning: ptr "deprecationWarning",
        schema: ptr "schema",
        subresources: ptr "subresources",
        additional_printer_columns: omitempty "additionalPrinterColumns",
        selectable_fields: omitempty "selectableFields",
    }
    apiext::CustomResourceConversion {
        strategy: always "strategy",
        webhook: ptr "webhook",
    }
    apiext::CustomResourceDefinitionCondition {
        r#type: always "type",
        status: always "status",
        last_transition_time: always "lastTransitionTime",
        reason: omitempty "reason",
        message: omitempty "message",
        observed_generation: omitempty "observedGeneration",
    }
    apiext::CustomResourceValidation {
        open_apiv3_schema: ptr "openAPIV3Schema",
    }
    apiext::CustomResourceSubresources {
        status: ptr "status",
        scale: ptr "scale",
    }
    apiext::CustomResourceColumnDefinition {
        name: always "name",
        r#type: always "type",
        format: omitempty "format",
        description: omitempty "description",
        priority: omitempty "priority",
        json_path: always "jsonPath",
    }
    apiext::SelectableField {
        json_path: always "jsonPath",
    }
    apiext::WebhookConversion {
        client_config: ptr "clientConfig",
        conversion_review_versions: always "conversionReviewVersions",
    }
    apiext::JsonSchemaProps {
        id: omitempty "id",
        schema: omitempty "$schema",
        r#ref: ptr "$ref",
        description: omitempty "description",
        r#type: omitempty "type",
        format: omitempty "format",
        title: omitempty "title",
        default: ptr "default",
        maximum: ptr "maximum",
        exclusive_maximum: omitempty "exclusiveMaximum",
        minimum: ptr "minimum",
        exclusive_minimum: omitempty "exclusiveMinimum",
        max_length: ptr "maxLength",
        min_length: ptr "minLength",
        pattern: omitempty "pattern",
        max_items: ptr "maxItems",
        min_items: ptr "minItems",
        unique_items: omitempty "uniqueItems",
        multiple_of: ptr "multipleOf",
        r#enum: omitempty "enum",
        max_properties: ptr "maxProperties",
        min_properties: ptr "minProperties",
        required: omitempty "required",
        items: ptr "items",
        all_of: omitempty "allOf",
        one_of: omitempty "oneOf",
        any_of: omitempty "anyOf",
        not: ptr "not",
        properties: omitempty "properties",
        additional_properties: ptr "additionalProperties",
        pattern_properties: omitempty "patternProperties",
        dependencies: omitempty "dependencies",
        additional_items: ptr "additionalItems",
        definitions: omitempty "definitions",
        external_docs: ptr "externalDocs",
        example: ptr "example",
        nullable: omitempty "nullable",
        x_kubernetes_preserve_unknown_fields: ptr "x-kubernetes-preserve-unknown-fields",
        x_kubernetes_embedded_resource: omitempty "x-kubernetes-embedded-resource",
        x_kubernetes_int_or_string: omitempty "x-kubernetes-int-or-string",
        x_kubernetes_list_map_keys: omitempty "x-kubernetes-list-map-keys",
        x_kubernetes_list_type: ptr "x-kubernetes-list-type",
        x_kubernetes_map_type: ptr "x-kubernetes-map-type",
        x_kubernetes_validations: omitempty "x-kubernetes-validations",
    }
    apiext::CustomResourceSubresourceStatus {}
    apiext::CustomResourceSubresourceScale {
        spec_replicas_path: always "specReplicasPath",
        status_replicas_path: always "statusReplicasPath",
        label_selector_path: ptr "labelSelectorPath",
    }
    apiext::WebhookClientConfig {
        url: ptr "url",
        service: ptr "service",
        ca_bundle: omitempty "caBundle",
    }
    apiext::ExternalDocumentation {
        description: omitempty "description",
        url: omitempty "url",
    }
    apiext::ValidationRule {
        rule: always "rule",
        message: omitempty "message",
        message_expression: omitempty "messageExpression",
        reason: ptr "reason",
        field_path: omitempty "fieldPath",
        optional_old_self: ptr "optionalOldSelf",
    }
    apiext::ServiceReference {
        namespace: always "namespace",
        name: always "name",
        path: ptr "path",
        port: ptr "port",
    }
    authn::TokenRequest {
        metadata: always "metadata",
        spec: always "spec",
        status: always "status",
    }
    authn::TokenRequestSpec {
        audiences: always "audiences",
        expiration_seconds: ptr "expirationSeconds",
        bound_object_ref: ptr "boundObjectRef",
    }
    authn::TokenRequestStatus {
        token: always "token",
        expiration_timestamp: always "expirationTimestamp",
    }
    authn::BoundObjectReference {
        kind: omitempty "kind",
        api_version: omitempty "apiVersion",
        name: omitempty "name",
        u_id: omitempty "uid",
    }
}
