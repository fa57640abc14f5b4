//! Fidelity to NSX's own models: every field of the NSX 4.2 models our messages mirror has a
//! field of the same name in the proto (from the JSON Schemas generated from VMware's SDK,
//! in `/work/shared/nsx-schemas`), and an NSX GET document passes the envelope checks.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nsx_proto::v1::{NsxObject, ObjectKind};
use prost::Message as _;
use serde_json::Value;

fn nsx_schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/nsx-schemas")
}

fn load_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Property names of one model of a schema bundle.
fn model_fields(bundle: &Value, model: &str) -> BTreeSet<String> {
    bundle["$defs"][model]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("model {model} has no properties"))
        .keys()
        .cloned()
        .collect()
}

/// Field names (as declared in the .proto) of one message of our package.
fn proto_fields(descriptors: &prost_types::FileDescriptorSet, message: &str) -> BTreeSet<String> {
    descriptors
        .file
        .iter()
        .flat_map(|file| &file.message_type)
        .find(|candidate| candidate.name() == message)
        .unwrap_or_else(|| panic!("message {message} not in the descriptor set"))
        .field
        .iter()
        .map(|field| field.name().to_owned())
        .collect()
}

struct Mirror {
    /// Our message(s); their fields together must cover the NSX model's.
    messages: &'static [&'static str],
    /// "policy" or "manager".
    bundle: &'static str,
    model: &'static str,
    /// NSX fields deliberately not carried, each with the reason in a comment below.
    not_carried: &'static [&'static str],
}

const MIRRORS: &[Mirror] = &[
    Mirror {
        messages: &["ComponentConditionItem"],
        bundle: "policy",
        model: "ComponentConditionItem",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaControllerStatus"],
        bundle: "policy",
        model: "AntreaControllerStatus",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaAdapterStatus"],
        bundle: "policy",
        model: "AntreaAdapterStatus",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaAgentsInfo"],
        bundle: "policy",
        model: "AntreaAgentsInfo",
        not_carried: &[],
    },
    // The roll-up status is computed by NSX from the components.
    Mirror {
        messages: &["ClusterHealth"],
        bundle: "policy",
        model: "AntreaClusterInfo",
        not_carried: &["status"],
    },
    // _revision is `revision`; the other resource fields belong to NSX's object, not the push.
    Mirror {
        messages: &["HeartbeatConfig"],
        bundle: "policy",
        model: "AntreaHeartbeatConfig",
        not_carried: &[],
    },
    Mirror {
        messages: &["RuleStatistics"],
        bundle: "policy",
        model: "RuleStatistics",
        not_carried: &[],
    },
    // result_count is results.len(); lr_path concerns gateway firewalls only.
    Mirror {
        messages: &["PolicyStatisticsResult"],
        bundle: "policy",
        model: "SecurityPolicyStatistics",
        not_carried: &["result_count", "lr_path"],
    },
    // Identity (id, path) travels in TraceflowStartRequest.
    Mirror {
        messages: &["AntreaTraceflowConfig"],
        bundle: "policy",
        model: "AntreaTraceflowConfig",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowPacketData"],
        bundle: "policy",
        model: "AntreaTraceflowPacketData",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowIpHeader"],
        bundle: "policy",
        model: "AntreaTraceflowIpHeader",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowIpv6Header"],
        bundle: "policy",
        model: "AntreaTraceflowIpv6Header",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowTcpHeader"],
        bundle: "policy",
        model: "AntreaTraceflowTcpHeader",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowUdpHeader"],
        bundle: "policy",
        model: "AntreaTraceflowUdpHeader",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowIcmpEchoRequestHeader"],
        bundle: "policy",
        model: "AntreaTraceflowIcmpEchoRequestHeader",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowTransportHeader"],
        bundle: "policy",
        model: "AntreaTraceflowTransportHeader",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowObservation"],
        bundle: "policy",
        model: "AntreaTraceflowObservation",
        not_carried: &[],
    },
    Mirror {
        messages: &["AntreaTraceflowStatus"],
        bundle: "policy",
        model: "AntreaTraceflowStatus",
        not_carried: &[],
    },
    Mirror {
        messages: &["SupportBundleSuccess", "SupportBundleNodeResult"],
        bundle: "manager",
        model: "SuccessNodeSupportBundleResult",
        not_carried: &[],
    },
    Mirror {
        messages: &["SupportBundleFailure", "SupportBundleNodeResult"],
        bundle: "manager",
        model: "FailedNodeSupportBundleResult",
        not_carried: &[],
    },
    // The request is per cluster: container_nodes is unpacked into `nodes`; NSX itself
    // uploads to remote_file_server; dynamic content filters concern NSX appliances.
    Mirror {
        messages: &["SupportBundleRequest"],
        bundle: "manager",
        model: "SupportBundleRequest",
        not_carried: &[
            "container_nodes",
            "dynamic_content_filters",
            "remote_file_server",
        ],
    },
];

#[test]
fn mirrored_messages_carry_every_nsx_field_by_its_nsx_name() {
    let descriptors = prost_types::FileDescriptorSet::decode(nsx_proto::FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    let policy = load_json(nsx_schemas_dir().join("nsx-policy-4.2.schema.json"));
    let manager = load_json(nsx_schemas_dir().join("nsx-manager-4.2.schema.json"));
    // Fields every policy object has (id, path, _revision, _links, ...).
    let resource_fields = model_fields(&policy, "Expression.base");
    let mut problems = Vec::new();
    for mirror in MIRRORS {
        let bundle = if mirror.bundle == "policy" {
            &policy
        } else {
            &manager
        };
        let ours: BTreeSet<String> = mirror
            .messages
            .iter()
            .flat_map(|message| proto_fields(&descriptors, message))
            .collect();
        for field in model_fields(bundle, mirror.model) {
            let resource_field = resource_fields.contains(&field) && mirror.bundle == "policy";
            if resource_field || mirror.not_carried.contains(&field.as_str()) {
                continue;
            }
            if !ours.contains(&field) {
                problems.push(format!(
                    "{} lacks NSX {}.{field}",
                    mirror.messages.join("+"),
                    mirror.model
                ));
            }
        }
        for field in mirror.not_carried {
            assert!(
                model_fields(bundle, mirror.model).contains(*field),
                "{}: {field} is listed as not carried but NSX has no such field",
                mirror.model
            );
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn nsx_get_response_passes_the_envelope_checks() {
    let path = nsx_schemas_dir().join("examples/policy/group-get-response.json");
    let document = std::fs::read(&path).unwrap();
    let object = NsxObject::from_document(ObjectKind::Group, document.clone()).unwrap();
    assert_eq!(object.path, "/infra/domains/default/groups/web-pods");
    assert_eq!(object.unique_id, "8a1b2c3d-0000-4000-8000-000000000003");
    assert_eq!(object.revision, 0);
    assert_eq!(object.document, document);
    let parsed = object.parse_document().unwrap();
    assert_eq!(parsed["group_type"][0], "ANTREA");
}

#[test]
fn descriptor_set_describes_both_services() {
    let descriptors =
        prost_types::FileDescriptorSet::decode(nsx_proto::FILE_DESCRIPTOR_SET).unwrap();
    let services: BTreeSet<String> = descriptors
        .file
        .iter()
        .filter(|file| file.package() == "antrea_nsx.channel.v1")
        .flat_map(|file| &file.service)
        .map(|service| service.name().to_owned())
        .collect();
    assert_eq!(
        services,
        BTreeSet::from([
            "ControlPlaneChannel".to_owned(),
            "ManagementPlaneChannel".to_owned()
        ])
    );
}
