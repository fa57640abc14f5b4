//! Wire-level tests: every top-level message survives encode/decode with all its fields
//! set, and the compatibility rules of docs/protocol.md hold for the generated code (unknown
//! fields are skipped, an unknown oneof variant decodes as "no body", unknown enum values
//! are kept as numbers).

use std::time::Duration;

use nsx_proto::v1::*;
use prost::Message;
use serde_json::json;

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 5 })
}

fn duration(seconds: u64) -> Option<prost_types::Duration> {
    prost_types::Duration::try_from(Duration::from_secs(seconds)).ok()
}

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(message: &M) {
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(&decoded, message);
    // Length-delimited framing (how gRPC frames are sized) as well.
    let framed = message.encode_length_delimited_to_vec();
    assert_eq!(
        &M::decode_length_delimited(framed.as_slice()).unwrap(),
        message
    );
}

fn policy_object() -> NsxObject {
    let document = json!({
        "resource_type": "SecurityPolicy",
        "id": "web",
        "path": "/infra/domains/default/security-policies/web",
        "unique_id": "0d1b4f8e-3f52-4b4e-a1b5-5c7a1e2f3a4b",
        "_revision": 7,
        "category": "Application",
        "sequence_number": 10,
        "scope": ["/infra/domains/default/groups/web"],
        "rules": [{
            "resource_type": "Rule", "id": "allow-https",
            "path": "/infra/domains/default/security-policies/web/rules/allow-https",
            "rule_id": 1017, "sequence_number": 1,
            "source_groups": ["/infra/domains/default/groups/clients"],
            "destination_groups": ["ANY"], "sources_excluded": false,
            "destinations_excluded": false, "services": ["/infra/services/HTTPS"],
            "service_entries": [{"resource_type": "L4PortSetServiceEntry", "l4_protocol": "TCP",
                                  "destination_ports": ["8443"]}],
            "profiles": ["ANY"], "scope": ["ANY"], "action": "ALLOW", "direction": "IN",
            "ip_protocol": "IPV4_IPV6", "logged": true, "disabled": false, "tag": "web"
        }]
    });
    NsxObject::from_json(ObjectKind::SecurityPolicy, &document).unwrap()
}

fn group_object() -> NsxObject {
    let document = json!({
        "resource_type": "Group", "id": "web",
        "path": "/infra/domains/default/groups/web",
        "unique_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "_revision": 2,
        "group_type": ["ANTREA"],
        "expression": [{"resource_type": "Condition", "member_type": "Pod", "key": "Tag",
                        "operator": "EQUALS", "value": "app|web"}]
    });
    NsxObject::from_json(ObjectKind::Group, &document).unwrap()
}

fn channel_error() -> ChannelError {
    ChannelError::new(ErrorCode::Unavailable, "antrea-controller unreachable")
        .with_target("antrea-controller")
        .with_details("dial tcp 10.96.0.1:443: connection refused")
        .retryable(Some(Duration::from_secs(5)))
        .with_related(ChannelError::new(ErrorCode::Internal, "inner cause"))
}

#[test]
fn control_plane_adapter_messages_round_trip() {
    use ccp_adapter_message::Body;
    let bodies = [
        Body::Hello(CcpHello {
            protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            min_protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            cluster_id: "cluster-sales".into(),
            adapter_version: "antrea-nsx 0.1.0".into(),
            last_applied: Some(GenerationMark {
                epoch: "e-1".into(),
                generation: 41,
            }),
            max_unacked_generations: 4,
            max_message_bytes: 8 << 20,
            capabilities: vec!["realization.entities".into()],
            adapter_instance: "interworking-5d9c7-abcde".into(),
        }),
        Body::Ack(GenerationAck { generation: 42 }),
        Body::Realization(RealizationReport {
            generation: 42,
            objects: vec![ObjectRealization {
                object: Some(policy_object().object_ref()),
                state: RealizationState::Error.into(),
                errors: vec![RealizationError {
                    reason: "UnsupportedServiceEntry".into(),
                    message: "rule 1017: ICMP service entries cannot be expressed".into(),
                    rule_path: "/infra/domains/default/security-policies/web/rules/allow-https"
                        .into(),
                    rule_id: 1017,
                    field: "rules[0].service_entries[0]".into(),
                }],
                observed_at: timestamp(1_717_000_000),
                desired_nodes: 3,
                realized_nodes: 2,
                realized_entities: vec![RealizedEntity {
                    api_version: "crd.antrea.io/v1beta1".into(),
                    kind: "ClusterNetworkPolicy".into(),
                    name: "0d1b4f8e-3f52-4b4e-a1b5-5c7a1e2f3a4b".into(),
                }],
            }],
            gone: vec![group_object().object_ref()],
            complete: true,
        }),
        Body::Resync(ResyncRequest {
            reason: Some(channel_error()),
            last_applied_generation: 40,
        }),
        Body::Ping(Ping {
            nonce: 9,
            sent_at: timestamp(1),
        }),
        Body::Pong(Pong { nonce: 9 }),
        Body::Goodbye(Goodbye {
            reason: Some(ChannelError::new(ErrorCode::ShuttingDown, "leader lost")),
            reconnect_after: duration(2),
        }),
    ];
    for body in bodies {
        round_trip(&CcpAdapterMessage { body: Some(body) });
    }
}

#[test]
fn control_plane_manager_messages_round_trip() {
    use ccp_manager_message::Body;
    let bodies = [
        Body::Welcome(CcpWelcome {
            protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            session_id: "s-1".into(),
            epoch: "e-1".into(),
            cluster_path:
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1".into(),
            keepalive_interval: duration(30),
            max_unacked_generations: 4,
            max_message_bytes: 16 << 20,
            capabilities: vec!["realization.entities".into()],
            manager_version: "4.2.0".into(),
        }),
        Body::SnapshotBegin(SnapshotBegin {
            epoch: "e-1".into(),
            generation: 42,
            policy_count: 1,
            group_count: 1,
            service_count: 0,
            taken_at: timestamp(2),
        }),
        Body::SnapshotChunk(SnapshotChunk {
            generation: 42,
            index: 0,
            objects: vec![policy_object(), group_object()],
        }),
        Body::SnapshotEnd(SnapshotEnd {
            generation: 42,
            chunk_count: 1,
            object_count: 2,
        }),
        Body::Update(DesiredStateUpdate {
            generation: 43,
            previous_generation: 42,
            upserts: vec![group_object()],
            deletes: vec![policy_object().object_ref()],
            committed_at: timestamp(3),
        }),
        Body::Refresh(RealizationRefresh {
            objects: vec![group_object().object_ref()],
        }),
        Body::Ping(Ping {
            nonce: 1,
            sent_at: timestamp(4),
        }),
        Body::Pong(Pong { nonce: 2 }),
        Body::Goodbye(Goodbye {
            reason: Some(ChannelError::new(
                ErrorCode::SessionReplaced,
                "newer session",
            )),
            reconnect_after: None,
        }),
    ];
    for body in bodies {
        round_trip(&CcpManagerMessage { body: Some(body) });
    }
}

fn condition(condition_type: &str, status: &str) -> ComponentConditionItem {
    ComponentConditionItem {
        condition_type: condition_type.into(),
        status: status.into(),
        reason: if status == "HEALTHY" {
            String::new()
        } else {
            "SessionDown".into()
        },
        message: "no session with CCP".into(),
        last_heartbeat_time: 1_717_000_000_000,
    }
}

#[test]
fn management_plane_adapter_messages_round_trip() {
    use mp_adapter_message::Body;
    use mp_response::Body as Response;
    let responses = [
        Response::Error(channel_error()),
        Response::PolicyStatistics(PolicyStatisticsResult {
            policy_path: "/infra/domains/default/security-policies/web".into(),
            container_cluster_path:
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1".into(),
            internal_section_id: "0d1b4f8e".into(),
            results: vec![RuleStatistics {
                rule: "/infra/domains/default/security-policies/web/rules/allow-https".into(),
                internal_rule_id: "1017".into(),
                hit_count: 2,
                packet_count: 6,
                byte_count: 503,
                session_count: 2,
                popularity_index: 1,
                max_popularity_index: 2,
                max_session_count: 3,
                total_session_count: 4,
                l7_accept_count: 5,
                l7_reject_count: 6,
                l7_reject_with_response_count: 7,
                lr_path: "/infra/tier-1s/t1".into(),
            }],
            counting_since: timestamp(10),
            collected_at: timestamp(20),
        }),
        Response::Traceflow(TraceflowResult {
            traceflow_id: "tf-1".into(),
            run: 2,
            completed: true,
            status: Some(AntreaTraceflowStatus {
                phase: "SUCCEEDED".into(),
                reason: String::new(),
            }),
            observations: vec![AntreaTraceflowObservation {
                component_type: "ANTREA_DFW".into(),
                observation_type: "AntreaTraceflowObservationDropped".into(),
                container_node_id: "node-uid-a".into(),
                timestamp: 1_717_000_000_001,
                antrea: Some(AntreaObservationDetails {
                    component: "NetworkPolicy".into(),
                    component_info: "IngressRule".into(),
                    action: "Dropped".into(),
                    network_policy: "AntreaClusterNetworkPolicy:0d1b4f8e".into(),
                    network_policy_rule: "1017".into(),
                    pod: "default/web-0".into(),
                    translated_src_ip: "10.0.0.1".into(),
                    translated_dst_ip: "10.0.0.2".into(),
                    tunnel_dst_ip: "192.168.1.2".into(),
                    egress_ip: "172.16.0.9".into(),
                    egress_node: "node-b".into(),
                }),
            }],
            antrea_traceflow_name: "nsx-tf-1-2".into(),
        }),
        Response::TraceflowDeleted(TraceflowDeleted {
            traceflow_id: "tf-1".into(),
            removed: 2,
        }),
        Response::SupportBundleChunk(SupportBundleChunk {
            node_id: "node-uid-a".into(),
            component: "antrea-agent".into(),
            bundle_name: "antrea-agent_node-a_b1.tar.gz".into(),
            offset: 262_144,
            data: vec![0x1f, 0x8b, 0, 255],
        }),
        Response::SupportBundleNode(SupportBundleNodeResult {
            node_id: "node-uid-a".into(),
            component: "antrea-agent".into(),
            node_display_name: "node-a".into(),
            node_ip: "192.168.1.1".into(),
            node_ipv6: "fd00::1".into(),
            outcome: Some(support_bundle_node_result::Outcome::Success(
                SupportBundleSuccess {
                    bundle_name: "antrea-agent_node-a_b1.tar.gz".into(),
                    bundle_size: 262_148,
                    sha256_thumbprint: "ab".repeat(32),
                },
            )),
        }),
        Response::SupportBundleNode(SupportBundleNodeResult {
            node_id: "node-uid-b".into(),
            outcome: Some(support_bundle_node_result::Outcome::Failure(
                SupportBundleFailure {
                    error_code: "AgentUnreachable".into(),
                    error_message: "agent on node-b did not answer".into(),
                },
            )),
            ..Default::default()
        }),
        Response::LogChunk(LogChunk {
            node_id: "node-uid-a".into(),
            component: "antrea-agent".into(),
            file_name: "antrea-agent.log".into(),
            offset: 0,
            data: b"I0101 ready\n".to_vec(),
        }),
        Response::LogSource(LogSourceResult {
            node_id: "node-uid-a".into(),
            component: "antrea-agent".into(),
            file_name: "antrea-agent.log".into(),
            total_bytes: 12,
            truncated: true,
            error: Some(channel_error()),
        }),
        Response::End(StreamEnd {
            total_bytes: 12,
            parts: 3,
        }),
    ];
    let mut bodies = vec![
        Body::Hello(MpHello {
            protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            min_protocol_version: None,
            cluster_id: "cluster-sales".into(),
            adapter_version: "antrea-nsx 0.1.0".into(),
            max_concurrent_requests: 4,
            max_message_bytes: 4 << 20,
            capabilities: vec![],
            adapter_instance: "interworking-0".into(),
            pending_request_ids: vec!["r-7".into()],
        }),
        Body::Heartbeat(Heartbeat {
            sequence: 3,
            sent_at: timestamp(5),
            health: Some(ClusterHealth {
                controller_status: Some(AntreaControllerStatus {
                    status: "HEALTHY".into(),
                    connected_agent_num: 3,
                    conditions: vec![condition("CONTROLLER_HEALTHY", "HEALTHY")],
                }),
                mp_adapter_status: Some(AntreaAdapterStatus {
                    status: "HEALTHY".into(),
                    conditions: vec![
                        condition("MP_ADAPTER_HEALTHY", "HEALTHY"),
                        condition("MP_CONNECTED", "HEALTHY"),
                    ],
                }),
                ccp_adapter_status: Some(AntreaAdapterStatus {
                    status: "DEGRADED".into(),
                    conditions: vec![condition("CCP_SESSION_STATE_UP", "UNHEALTHY")],
                }),
                agent_info: Some(AntreaAgentsInfo {
                    healthy_agent_num: 2,
                    degraded_agent_num: 1,
                    failed_agent_num: 0,
                }),
            }),
        }),
        Body::Ping(Ping {
            nonce: 1,
            sent_at: None,
        }),
        Body::Pong(Pong { nonce: 1 }),
        Body::Goodbye(Goodbye {
            reason: Some(channel_error()),
            reconnect_after: duration(1),
        }),
    ];
    for (sequence, response) in responses.into_iter().enumerate() {
        bodies.push(Body::Response(MpResponse {
            request_id: "5f0c3c4e-request".into(),
            sequence: u32::try_from(sequence).unwrap(),
            last: sequence == 0,
            body: Some(response),
        }));
    }
    for body in bodies {
        round_trip(&MpAdapterMessage { body: Some(body) });
    }
}

#[test]
fn management_plane_manager_messages_round_trip() {
    use mp_manager_message::Body;
    use mp_request::Body as Request;
    let traceflow_config = AntreaTraceflowConfig {
        container_cluster_id: "c0ffee00-1111-4222-8333-444455556666".into(),
        source_external_id: "11111111-2222-4333-8444-555555555555".into(),
        destination_external_id: "66666666-7777-4888-9999-000000000000".into(),
        is_transient: Some(true),
        packet: Some(AntreaTraceflowPacketData {
            resource_type: "FIELDS_PACKET_DATA".into(),
            transport_type: "UNICAST".into(),
            frame_size: Some(128),
            payload: "123".into(),
            ip_header: Some(AntreaTraceflowIpHeader {
                src_ip: "10.10.0.5".into(),
                dst_ip: "10.10.1.7".into(),
                protocol: Some(6),
                ttl: Some(64),
                flags: Some(0),
            }),
            ipv6_header: Some(AntreaTraceflowIpv6Header {
                src_ip: "fd00::1".into(),
                dst_ip: "fd00::2".into(),
                next_header: Some(58),
                hop_limit: Some(64),
            }),
            transport_header: Some(AntreaTraceflowTransportHeader {
                tcp_header: Some(AntreaTraceflowTcpHeader {
                    src_port: Some(34567),
                    dst_port: Some(443),
                    tcp_flags: Some(2),
                }),
                udp_header: Some(AntreaTraceflowUdpHeader {
                    src_port: Some(1),
                    dst_port: Some(53),
                }),
                icmp_echo_request_header: Some(AntreaTraceflowIcmpEchoRequestHeader {
                    sequence: Some(1),
                    id: Some(7),
                }),
            }),
        }),
    };
    let requests = [
        Request::PolicyStatistics(PolicyStatisticsRequest {
            policy_path: "/infra/domains/default/security-policies/web".into(),
            policy_unique_id: "0d1b4f8e".into(),
            rules: vec![RuleRef {
                path: "/infra/domains/default/security-policies/web/rules/allow-https".into(),
                rule_id: 1017,
            }],
            container_cluster_path:
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1".into(),
        }),
        Request::TraceflowStart(TraceflowStartRequest {
            traceflow_id: "tf-1".into(),
            traceflow_path: "/infra/antrea/traceflows/tf-1".into(),
            run: 1,
            config: Some(traceflow_config),
            trace_timeout: duration(10),
        }),
        Request::TraceflowGet(TraceflowGetRequest {
            traceflow_id: "tf-1".into(),
            run: 0,
        }),
        Request::TraceflowDelete(TraceflowDeleteRequest {
            traceflow_id: "tf-1".into(),
        }),
        Request::SupportBundle(SupportBundleRequest {
            bundle_id: "b1".into(),
            nodes: vec!["node-uid-a".into(), "node-uid-b".into()],
            include_controller: true,
            content_filters: vec!["DEFAULT".into()],
            log_age_limit: 2,
            max_chunk_bytes: 65_536,
        }),
        Request::Logs(LogCollectionRequest {
            nodes: vec!["node-uid-a".into()],
            components: vec!["antrea-agent".into()],
            since: duration(3600),
            tail_lines: 100,
            limit_bytes: 1 << 20,
            max_chunk_bytes: 0,
        }),
    ];
    let mut bodies = vec![
        Body::Welcome(MpWelcome {
            protocol_version: Some(ProtocolVersion { major: 1, minor: 0 }),
            session_id: "s-2".into(),
            cluster_path:
                "/infra/sites/default/enforcement-points/default/cluster-control-planes/c1".into(),
            heartbeat_config: Some(HeartbeatConfig {
                report_interval: 60,
                revision: 0,
            }),
            keepalive_interval: duration(30),
            max_concurrent_requests: 4,
            max_message_bytes: 16 << 20,
            capabilities: vec!["logs".into()],
            manager_version: "4.2.0".into(),
        }),
        Body::HeartbeatAck(HeartbeatAck {
            sequence: 3,
            received_at: timestamp(6),
        }),
        Body::HeartbeatConfig(HeartbeatConfig {
            report_interval: 120,
            revision: 1,
        }),
        Body::Cancel(CancelRequest {
            request_id: "r-1".into(),
            reason: "REST client went away".into(),
        }),
        Body::Ping(Ping {
            nonce: 3,
            sent_at: timestamp(7),
        }),
        Body::Pong(Pong { nonce: 4 }),
        Body::Goodbye(Goodbye {
            reason: None,
            reconnect_after: None,
        }),
    ];
    for (index, request) in requests.into_iter().enumerate() {
        bodies.push(Body::Request(MpRequest {
            request_id: format!("r-{index}"),
            timeout: duration(30),
            sent_at: timestamp(8),
            body: Some(request),
        }));
    }
    for body in bodies {
        round_trip(&MpManagerMessage { body: Some(body) });
    }
}

#[test]
fn nsx_document_bytes_survive_the_wire_untouched() {
    // Serialised with odd spacing and key order: the receiver must get these exact bytes.
    let document =
        br#"{ "resource_type":"Group","path":"/infra/domains/default/groups/g","_revision":0,
        "unique_id":"u-1", "future_field": [1, {"x": null}] }"#
            .to_vec();
    let object = NsxObject::from_document(ObjectKind::Group, document.clone()).unwrap();
    let update = CcpManagerMessage {
        body: Some(ccp_manager_message::Body::Update(DesiredStateUpdate {
            generation: 2,
            previous_generation: 1,
            upserts: vec![object],
            ..Default::default()
        })),
    };
    let decoded = CcpManagerMessage::decode(update.encode_to_vec().as_slice()).unwrap();
    let Some(ccp_manager_message::Body::Update(received)) = decoded.body else {
        panic!("not an update");
    };
    assert_eq!(received.upserts[0].document, document);
    let parsed = received.upserts[0].parse_document().unwrap();
    assert_eq!(parsed["future_field"][1]["x"], serde_json::Value::Null);
}

/// Appends a field a newer minor version might add (field 999, length-delimited).
fn with_unknown_field(mut bytes: Vec<u8>) -> Vec<u8> {
    // Key: (999 << 3) | 2, as a varint.
    let key = (999u64 << 3) | 2;
    prost::encoding::encode_varint(key, &mut bytes);
    prost::encoding::encode_varint(3, &mut bytes);
    bytes.extend_from_slice(b"new");
    bytes
}

#[test]
fn unknown_fields_from_a_newer_peer_are_skipped() {
    let hello = CcpHello {
        protocol_version: Some(ProtocolVersion { major: 1, minor: 7 }),
        cluster_id: "c1".into(),
        ..Default::default()
    };
    let decoded = CcpHello::decode(with_unknown_field(hello.encode_to_vec()).as_slice()).unwrap();
    assert_eq!(decoded, hello);
}

#[test]
fn unknown_oneof_variant_decodes_as_no_body() {
    // A newer NSX sends a request kind this version does not know (field 99 of MpRequest):
    // the request still decodes with its request_id, so the adapter can answer UNSUPPORTED.
    let request = MpRequest {
        request_id: "r-9".into(),
        ..Default::default()
    };
    let mut bytes = request.encode_to_vec();
    let key = (99u64 << 3) | 2;
    prost::encoding::encode_varint(key, &mut bytes);
    prost::encoding::encode_varint(0, &mut bytes);
    let decoded = MpRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded.request_id, "r-9");
    assert!(decoded.body.is_none());
}

#[test]
fn unknown_enum_values_are_kept_as_numbers() {
    let realization = ObjectRealization {
        state: 17,
        ..Default::default()
    };
    let decoded = ObjectRealization::decode(realization.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.state, 17);
    assert!(RealizationState::try_from(decoded.state).is_err());
    // The generated getter falls back to the default, which receivers treat as unknown.
    assert_eq!(decoded.state(), RealizationState::Unspecified);
}

#[test]
fn truncated_messages_are_errors_not_panics() {
    let update = CcpManagerMessage {
        body: Some(ccp_manager_message::Body::SnapshotChunk(SnapshotChunk {
            generation: 1,
            index: 0,
            objects: vec![policy_object(), group_object()],
        })),
    };
    let bytes = update.encode_to_vec();
    for length in 0..bytes.len() {
        // Some prefixes are valid shorter messages; none may panic.
        let _ = CcpManagerMessage::decode(&bytes[..length]);
    }
    assert!(CcpManagerMessage::decode(&bytes[..bytes.len() - 1]).is_err());
}
