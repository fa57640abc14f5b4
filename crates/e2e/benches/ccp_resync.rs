//! The CCP adapter at scale, end to end: 10,000 rules in 2,000 policies over 5,000 groups
//! (and 50 services) written to nsx-sim through its hierarchical API, spanned to one cluster
//! of kube-emu with the Antrea emulation.
//!
//! Prints: translation time of the set; cold resync (adapter start → every object written,
//! → every policy realized and reported); warm restart time and its write count (target 0);
//! NSX-change-to-cluster latency (REST PATCH of one rule → the ClusterNetworkPolicy changed
//! in the cluster), p50 and p99.
//!
//! `cargo bench -p e2e --bench ccp_resync` (no timed assertions; numbers only).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use adapter_core::ccp::naming::NSX_PATH_ANNOTATION;
use adapter_core::ccp::{ClusterIdentity, ObjectSchemas, Span, TranslateOptions, Translator};
use adapter_nsx::channel::{ChannelConfig, ReconnectPolicy};
use adapter_nsx::rest::api::PrincipalIdentityWithCertificate;
use adapter_nsx::rest::{NsxRequest, NsxRestClient, RestAuth, RestConfig, RestTrust};
use adapter_runtime::ccp::{CcpAdapter, CcpAdapterOptions, CcpMetrics, CcpStatus};
use antrea_emu::{AntreaEmu, AntreaOptions};
use antrea_types::ClusterNetworkPolicy;
use kube::Api;
use kube_emu::KubeEmu;
use nsx_proto::tls::{ClientTls, ServerTrust};
use nsx_sim::{NsxSim, SimConfig};
use serde_json::{Value, json};

const GROUPS: usize = 5_000;
const POLICIES: usize = 2_000;
const RULES_PER_POLICY: usize = 5;
const SERVICES: usize = 50;
const LATENCY_SAMPLES: usize = 60;
const D: &str = "/infra/domains/default";
const PASSWORD: &str = "Admin!23Admin";
const CLUSTER: &str = "bench-cluster";
const CATEGORIES: [&str; 4] = ["Emergency", "Infrastructure", "Environment", "Application"];
const ACTIONS: [&str; 3] = ["ALLOW", "DROP", "REJECT"];

fn group(index: usize) -> Value {
    let condition = |member: &str, key: &str, value: String| {
        json!({"resource_type": "Condition", "member_type": member, "key": key,
               "operator": "EQUALS", "value": value})
    };
    let expression = match index % 4 {
        0 => json!([condition("Pod", "Tag", format!("app|app-{index}"))]),
        1 => json!([{"resource_type": "NestedExpression", "expressions": [
            condition("Pod", "Tag", format!("app|app-{index}")),
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
            condition("Namespace", "Name", format!("ns-{}", index % 100))]}]),
        2 => json!([
            condition("Pod", "Tag", format!("tier|t-{index}")),
            {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
            condition("Namespace", "Tag", format!("env|env-{}", index % 10))
        ]),
        _ => json!([{"resource_type": "IPAddressExpression", "ip_addresses": [
            format!("10.{}.{}.0/24", index / 256 % 256, index % 256),
            format!("172.16.{}.1-172.16.{}.20", index % 256, index % 256)]}]),
    };
    json!({"resource_type": "Group", "id": format!("group-{index}"),
           "display_name": format!("group {index}"), "group_type": ["ANTREA"],
           "expression": expression})
}

fn service(index: usize) -> Value {
    json!({"resource_type": "Service", "id": format!("svc-{index}"), "service_entries": [
        {"resource_type": "L4PortSetServiceEntry", "id": "tcp", "l4_protocol": "TCP",
         "destination_ports": [format!("{}", 1000 + index), "8000-8100"]},
        {"resource_type": "L4PortSetServiceEntry", "id": "udp", "l4_protocol": "UDP",
         "destination_ports": [format!("{}", 2000 + index)]}]})
}

/// Rule `r` of policy `index`; `probe` is the first rule's `logged` (flipped by the latency
/// probe).
fn rule(index: usize, r: usize, probe: bool) -> Value {
    let id = index * RULES_PER_POLICY + r;
    let any_group = |n: usize| format!("{D}/groups/group-{}", n % GROUPS);
    let (sources, destinations, direction) = if r.is_multiple_of(2) {
        (json!([any_group(id * 7)]), json!(["ANY"]), "IN")
    } else {
        (json!(["ANY"]), json!([any_group(id * 13)]), "OUT")
    };
    let mut rule = json!({"resource_type": "Rule", "id": format!("rule-{id}"),
        "sequence_number": r, "source_groups": sources, "destination_groups": destinations,
        "services": [format!("/infra/services/svc-{}", id % SERVICES)], "scope": ["ANY"],
        "action": ACTIONS[id % 3], "direction": direction, "logged": id.is_multiple_of(5)});
    if r == 0 {
        // The latency probe flips the first rule's logging.
        rule["logged"] = json!(probe);
    }
    rule
}

fn policy(index: usize, probe: bool) -> Value {
    let pod_group = format!("{D}/groups/group-{}", (index * 4 + index % 3) % GROUPS);
    let rules: Vec<Value> = (0..RULES_PER_POLICY)
        .map(|r| rule(index, r, probe))
        .collect();
    json!({"resource_type": "SecurityPolicy", "id": format!("policy-{index}"),
           "category": CATEGORIES[index % 4], "sequence_number": index * 10,
           "scope": [pod_group], "rules": rules})
}

fn policy_path(index: usize) -> String {
    format!("{D}/security-policies/policy-{index}")
}

fn cluster_path() -> String {
    format!("/infra/sites/default/enforcement-points/default/cluster-control-planes/{CLUSTER}")
}

async fn hierarchical(
    admin: &NsxRestClient,
    domain_children: Vec<Value>,
    infra_children: Vec<Value>,
) {
    let mut children = infra_children;
    if !domain_children.is_empty() {
        children.push(
            json!({"resource_type": "ChildResourceReference", "id": "default",
                             "target_type": "Domain", "children": domain_children}),
        );
    }
    admin
        .execute(
            NsxRequest::new(http::Method::PATCH, "/policy/api/v1/infra")
                .json(&json!({"resource_type": "Infra", "children": children}))
                .unwrap(),
        )
        .await
        .expect("hierarchical PATCH");
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

async fn wait_status(adapter: &CcpAdapter, accept: impl Fn(&CcpStatus) -> bool) -> CcpStatus {
    let mut status = adapter.status();
    let status = tokio::time::timeout(Duration::from_secs(900), status.wait_for(|s| accept(s)))
        .await
        .expect("reached within 15 minutes")
        .expect("adapter running");
    status.clone()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // TLS provider, and logs (RUST_LOG=adapter_runtime=info shows each pass's phases).
    e2e::init_test_env();
    println!(
        "CCP adapter resync: {POLICIES} policies, {} rules, {GROUPS} groups, {SERVICES} services",
        POLICIES * RULES_PER_POLICY
    );

    // 1. Translation alone (documents with synthetic identities).
    let documents: Vec<Value> = (0..GROUPS)
        .map(|i| {
            let mut g = group(i);
            g["path"] = json!(format!("{D}/groups/group-{i}"));
            g["unique_id"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
            g
        })
        .chain((0..SERVICES).map(|i| {
            let mut s = service(i);
            s["path"] = json!(format!("/infra/services/svc-{i}"));
            s["unique_id"] = json!(format!("10000000-0000-4000-8000-{i:012}"));
            s
        }))
        .chain((0..POLICIES).map(|i| {
            let mut p = policy(i, false);
            p["path"] = json!(policy_path(i));
            p["unique_id"] = json!(format!("20000000-0000-4000-8000-{i:012}"));
            for (r, rule) in p["rules"].as_array_mut().unwrap().iter_mut().enumerate() {
                rule["rule_id"] = json!(10_000 + i * RULES_PER_POLICY + r);
            }
            p
        }))
        .collect();
    let (span, _) = Span::from_documents(documents);
    let translator = Translator::new(
        ClusterIdentity::new(CLUSTER),
        TranslateOptions::default(),
        ObjectSchemas::builtin().unwrap(),
    );
    let started = Instant::now();
    let translation = translator.translate(&span);
    let cold = started.elapsed();
    let started = Instant::now();
    let _ = translator.translate(&span);
    let warm = started.elapsed();
    println!(
        "translation: cold {}, again {} → {} Antrea objects",
        ms(cold),
        ms(warm),
        translation.desired.len()
    );
    drop(translation);

    // 2. NSX with the set, spanned to one registered cluster.
    let mut config = SimConfig::new("127.0.0.1:0".parse().unwrap(), PASSWORD);
    config.rpc_listen = Some("127.0.0.1:0".parse().unwrap());
    let sim = NsxSim::start(config).await.unwrap();
    let admin = NsxRestClient::new(RestConfig::new(
        vec![sim.base_url().to_owned()],
        RestTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
        RestAuth::Basic {
            username: "admin".into(),
            password: PASSWORD.into(),
        },
    ))
    .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CLUSTER);
    let cert = params.self_signed(&key).unwrap().pem();
    admin
        .create_principal_identity(&PrincipalIdentityWithCertificate::for_cluster(
            CLUSTER, &cert,
        ))
        .await
        .unwrap();
    admin
        .put_cluster_control_plane(
            CLUSTER,
            &json!({"resource_type": "ClusterControlPlane", "certificate": cert}),
        )
        .await
        .unwrap();
    let started = Instant::now();
    hierarchical(
        &admin,
        Vec::new(),
        (0..SERVICES)
            .map(|i| json!({"resource_type": "ChildService", "Service": service(i)}))
            .collect(),
    )
    .await;
    for chunk in (0..GROUPS).collect::<Vec<_>>().chunks(2_500) {
        hierarchical(
            &admin,
            chunk
                .iter()
                .map(|&i| json!({"resource_type": "ChildGroup", "Group": group(i)}))
                .collect(),
            Vec::new(),
        )
        .await;
    }
    for chunk in (0..POLICIES).collect::<Vec<_>>().chunks(500) {
        hierarchical(
            &admin,
            chunk
                .iter()
                .map(|&i| json!({"resource_type": "ChildSecurityPolicy", "SecurityPolicy": policy(i, false)}))
                .collect(),
            Vec::new(),
        )
        .await;
    }
    // Container-cluster span entries have no hierarchical wrapper: one PATCH each.
    for i in 0..POLICIES {
        admin
            .execute(
                NsxRequest::new(
                    http::Method::PATCH,
                    format!(
                        "/policy/api/v1{}/container-cluster-span/{CLUSTER}",
                        policy_path(i)
                    ),
                )
                .json(&json!({"resource_type": "SecurityPolicyContainerCluster",
                              "container_cluster_path": cluster_path()}))
                .unwrap(),
            )
            .await
            .expect("span entry");
    }
    println!(
        "NSX set written (hierarchical API, then {POLICIES} span entries) in {}",
        ms(started.elapsed())
    );

    // 3. The cluster.
    let emu = KubeEmu::new();
    let _antrea = AntreaEmu::install(
        &emu,
        AntreaOptions {
            nodes: 3,
            ..AntreaOptions::default()
        },
    )
    .await
    .unwrap();
    let client = kube::Client::new(emu.router(), "default");
    let tls = ClientTls::new(
        cert.as_bytes(),
        key.serialize_pem().as_bytes(),
        ServerTrust::CaCertificates(sim.ca_cert_pem().as_bytes().to_vec()),
    )
    .unwrap();
    let mut channel = ChannelConfig::new(
        vec![format!("https://{}", sim.rpc_local_addr().unwrap())],
        CLUSTER,
        tls,
    );
    channel.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        jitter_percent: 20,
        reset_after: Duration::from_secs(60),
    };
    let options = CcpAdapterOptions::new(channel);

    // 4. Cold resync.
    let started = Instant::now();
    let adapter = CcpAdapter::start(options.clone(), client.clone())
        .await
        .unwrap();
    let synced = wait_status(&adapter, |s| s.synced).await;
    let written = started.elapsed();
    let realized = wait_status(&adapter, |s| s.synced && s.realization.in_progress == 0).await;
    let all_realized = started.elapsed();
    let metrics = adapter.metrics();
    println!(
        "cold resync: all {} objects written in {} ({} write requests, {:.0} writes/s); all realized and reported in {} ({} SUCCESS, {} ERROR)",
        synced.owned_objects,
        ms(written),
        CcpMetrics::get(&metrics.writes),
        CcpMetrics::get(&metrics.writes) as f64 / written.as_secs_f64(),
        ms(all_realized),
        realized.realization.success,
        realized.realization.error
    );
    adapter.shutdown().await;

    // 5. Warm restart.
    emu.clear_requests();
    let started = Instant::now();
    let adapter = CcpAdapter::start(options.clone(), client.clone())
        .await
        .unwrap();
    wait_status(&adapter, |s| s.synced).await;
    let warm_synced = started.elapsed();
    wait_status(&adapter, |s| s.synced && s.realization.in_progress == 0).await;
    let warm_reported = started.elapsed();
    let writes = CcpMetrics::get(&adapter.metrics().writes);
    let logged_writes = emu
        .requests()
        .iter()
        .filter(|r| {
            r.method != "GET"
                && r.path.contains("/apis/crd.antrea.io/")
                && !r.path.contains("/status")
        })
        .filter(|r| {
            r.path.contains("/tiers")
                || r.path.contains("/clustergroups")
                || r.path.contains("/clusternetworkpolicies")
        })
        .count();
    println!(
        "warm restart: synced in {}, everything reported in {}; write requests: {writes} (API server log: {logged_writes})",
        ms(warm_synced),
        ms(warm_reported)
    );

    // 6. NSX change → cluster latency: one rule's logging flipped, a different policy each time.
    let policies: Api<ClusterNetworkPolicy> = Api::all(client.clone());
    let names: HashMap<String, String> = policies
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| {
            let path = p
                .metadata
                .annotations
                .as_ref()?
                .get(NSX_PATH_ANNOTATION)?
                .clone();
            Some((path, p.metadata.name?))
        })
        .collect();
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for sample in 0..LATENCY_SAMPLES {
        let index = (sample * 37) % POLICIES;
        let name = &names[&policy_path(index)];
        let before = policies.get(name).await.unwrap().metadata.generation;
        let started = Instant::now();
        admin
            .execute(
                NsxRequest::new(
                    http::Method::PATCH,
                    format!("/policy/api/v1{}", policy_path(index)),
                )
                .json(&policy(index, true))
                .unwrap(),
            )
            .await
            .unwrap();
        loop {
            if policies.get(name).await.unwrap().metadata.generation != before {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "change {sample} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "NSX change → cluster: n={} p50 {} p99 {} max {}",
        samples.len(),
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(samples[samples.len() - 1])
    );
    adapter.shutdown().await;
    sim.shutdown().await.unwrap();
}
