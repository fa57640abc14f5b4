//! The workload model through the API: Nodes, Pods scheduled and given addresses, Antrea's
//! own Pods and Service, endpoints that follow Pods and Services.

mod common;

use std::collections::BTreeMap;

use common::{cluster, create_namespace, eventually, object, options, running_pods};
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test(start_paused = true)]
async fn nodes_have_pod_cidrs_addresses_and_are_ready() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await.unwrap();
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    assert_eq!(names, ["k8s-node-1", "k8s-node-2", "k8s-node-3"]);
    for (i, node) in list.items.iter().enumerate() {
        let spec = node.spec.as_ref().unwrap();
        assert_eq!(
            spec.pod_cidr.as_deref(),
            Some(format!("10.10.{i}.0/24").as_str())
        );
        assert_eq!(spec.pod_cidrs.as_ref().unwrap().len(), 1);
        let status = node.status.as_ref().unwrap();
        let internal = status
            .addresses
            .as_ref()
            .unwrap()
            .iter()
            .find(|a| a.type_ == "InternalIP")
            .unwrap();
        assert_eq!(
            internal.address,
            antrea.topology().nodes[i].internal_ip.to_string()
        );
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(
            status.node_info.as_ref().unwrap().kubelet_version,
            antrea_emu::workload::KUBELET_VERSION
        );
    }
}

#[tokio::test(start_paused = true)]
async fn antrea_runs_in_kube_system_behind_its_service() {
    let (_emu, antrea, client) = cluster(options(2)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let controller = eventually(|| {
        let pods = pods.clone();
        let name = antrea.topology().controller_pod.clone();
        async move {
            let pod = pods.get(&name).await.ok()?;
            (pod.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(pod)
        }
    })
    .await;
    // hostNetwork: the Pod has its Node's address.
    let status = controller.status.unwrap();
    assert_eq!(status.pod_ip, status.host_ip);
    assert_eq!(status.pod_ip.as_deref(), Some("172.18.0.2"));
    let agents = pods
        .list(&ListParams::default().labels("component=antrea-agent"))
        .await
        .unwrap();
    assert_eq!(agents.items.len(), 2);

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "kube-system");
    let antrea_endpoints = eventually(|| {
        let endpoints = endpoints.clone();
        async move { endpoints.get("antrea").await.ok()?.subsets }
    })
    .await;
    assert_eq!(
        antrea_endpoints[0].addresses.as_ref().unwrap()[0].ip,
        "172.18.0.2"
    );
    assert_eq!(
        antrea_endpoints[0].ports.as_ref().unwrap()[0].port,
        antrea_emu::CONTROLLER_API_PORT
    );
}

#[tokio::test(start_paused = true)]
async fn pods_are_spread_over_nodes_and_get_addresses_from_their_cidr() {
    let (_emu, antrea, client) = cluster(options(3)).await;
    let pods = running_pods(
        &client,
        "default",
        &[
            ("a", json!({"app": "x"})),
            ("b", json!({"app": "x"})),
            ("c", json!({"app": "x"})),
            ("d", json!({"app": "x"})),
            ("e", json!({"app": "x"})),
            ("f", json!({"app": "x"})),
        ],
    )
    .await;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    let mut addresses = std::collections::HashSet::new();
    for pod in &pods {
        let node = pod.spec.as_ref().unwrap().node_name.clone().unwrap();
        let info = antrea.topology().node(&node).unwrap().clone();
        let status = pod.status.as_ref().unwrap();
        let ip: std::net::Ipv4Addr = status.pod_ip.as_deref().unwrap().parse().unwrap();
        assert!(
            info.pod_cidr.contains(&ip),
            "{ip} outside {}",
            info.pod_cidr
        );
        assert_ne!(ip, info.gateway_ip());
        assert_eq!(
            status.host_ip.as_deref(),
            Some(info.internal_ip.to_string().as_str())
        );
        assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, ip.to_string());
        let containers = status.container_statuses.as_ref().unwrap();
        assert!(
            containers
                .iter()
                .all(|c| c.ready && c.state.as_ref().unwrap().running.is_some())
        );
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
        assert!(addresses.insert(ip), "{ip} handed out twice");
        *per_node.entry(node).or_default() += 1;
    }
    // Six Pods over three Nodes: two each.
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2]);

    // A Pod bound by its creator runs where it was put; a hostNetwork one takes the Node IP.
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pinned: Pod = object(json!({"metadata": {"name": "pinned"},
        "spec": {"nodeName": "k8s-node-3", "hostNetwork": true, "containers": [{"name": "c", "image": "busybox"}]}}));
    api.create(&PostParams::default(), &pinned).await.unwrap();
    let pinned = eventually(|| {
        let api = api.clone();
        async move { api.get("pinned").await.ok()?.status?.pod_ip }
    })
    .await;
    assert_eq!(pinned, "172.18.0.4");

    // Addresses are released with their Pod and handed out again.
    let freed = pods[0].status.as_ref().unwrap().pod_ip.clone().unwrap();
    let node = pods[0].spec.as_ref().unwrap().node_name.clone().unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let again: Pod = object(json!({"metadata": {"name": "again"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}));
    api.create(&PostParams::default(), &again).await.unwrap();
    let reused = eventually(|| {
        let api = api.clone();
        async move { api.get("again").await.ok()?.status?.pod_ip }
    })
    .await;
    assert_eq!(reused, freed);
}

#[tokio::test(start_paused = true)]
async fn pods_on_full_nodes_stay_pending_as_unschedulable() {
    let (_emu, _antrea, client) = cluster(options(1)).await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    // Fill the Node (the controller and agent Pods already take two slots).
    let free = antrea_emu::workload::MAX_PODS_PER_NODE - 2;
    for i in 0..free {
        api.create(
            &PostParams::default(),
            &common::pod(&format!("p{i}"), json!({})),
        )
        .await
        .unwrap();
    }
    api.create(&PostParams::default(), &common::pod("extra", json!({})))
        .await
        .unwrap();
    let condition = eventually(|| {
        let api = api.clone();
        async move {
            let status = api.get("extra").await.ok()?.status?;
            status
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "PodScheduled")
        }
    })
    .await;
    assert_eq!(condition.status, "False");
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
    assert!(
        condition
            .message
            .unwrap()
            .starts_with("0/1 nodes are available: 1 Too many pods.")
    );
    let pod = api.get("extra").await.unwrap();
    assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Pending"));
    assert!(pod.spec.unwrap().node_name.is_none());
}

#[tokio::test(start_paused = true)]
async fn endpoints_follow_pods_and_services() {
    let (_emu, _antrea, client) = cluster(options(2)).await;
    create_namespace(&client, "shop", json!({})).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "shop");
    let service: Service = object(
        json!({"metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
    );
    let service = services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    assert!(
        service.spec.unwrap().cluster_ip.is_some(),
        "kube-emu allocates cluster IPs"
    );
    let pods = running_pods(
        &client,
        "shop",
        &[
            ("w1", json!({"app": "web"})),
            ("w2", json!({"app": "web"})),
            ("db", json!({"app": "db"})),
        ],
    )
    .await;
    let ip = |name: &str| {
        pods.iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .and_then(|p| p.status.as_ref()?.pod_ip.clone())
            .unwrap()
    };

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "shop");
    let addresses = |expected: usize| {
        let endpoints = endpoints.clone();
        eventually(move || {
            let endpoints = endpoints.clone();
            async move {
                let object = endpoints.get("web").await.ok()?;
                let mut ips: Vec<String> = object
                    .subsets
                    .iter()
                    .flatten()
                    .flat_map(|s| s.addresses.iter().flatten().map(|a| a.ip.clone()))
                    .collect();
                ips.sort();
                (ips.len() == expected).then_some((ips, object))
            }
        })
    };
    let (ips, object) = addresses(2).await;
    let mut expected = vec![ip("w1"), ip("w2")];
    expected.sort();
    assert_eq!(ips, expected);
    let subset = &object.subsets.unwrap()[0];
    assert_eq!(
        subset.ports.as_ref().unwrap()[0].port,
        8080,
        "named targetPort resolved"
    );
    assert_eq!(object.metadata.labels.unwrap()["tier"], "front");

    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "shop");
    let slice = eventually(|| {
        let slices = slices.clone();
        async move {
            let list = slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                .await
                .ok()?;
            list.items.into_iter().find(|s| s.endpoints.len() == 2)
        }
    })
    .await;
    assert_eq!(slice.address_type, "IPv4");
    assert!(
        slice
            .endpoints
            .iter()
            .all(|e| e.conditions.as_ref().unwrap().ready == Some(true))
    );

    // A relabelled Pod joins; a deleted one leaves.
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "shop");
    pod_api
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
        )
        .await
        .unwrap();
    addresses(3).await;
    pod_api
        .delete("w1", &DeleteParams::default())
        .await
        .unwrap();
    let (ips, _) = addresses(2).await;
    assert!(!ips.contains(&ip("w1")));

    // The Service's deletion removes its endpoints.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(|| {
        let endpoints = endpoints.clone();
        let slices = slices.clone();
        async move {
            let gone = endpoints.get_opt("web").await.ok()?.is_none();
            let slices = slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                .await
                .ok()?;
            (gone && slices.items.is_empty()).then_some(())
        }
    })
    .await;
}
