//! Server-side printing: the `meta.k8s.io` `Table` and `PartialObjectMetadata`
//! representations that kubectl and metadata-only clients ask for in `Accept`.
//!
//! [`requested_representation`] decides from the `Accept` header what to send.
//! [`to_table`] renders objects as kube-apiserver does: for CRDs their
//! `additionalPrinterColumns` (JSONPath evaluated per column, cells typed `integer`,
//! `number`, `boolean`, `string` or `date`, `Age` when no columns are declared), for the
//! built-in kinds the columns of kube's own printers (pods `READY STATUS RESTARTS AGE`
//! plus the wide `IP NODE ...`, services, nodes, namespaces, configmaps, secrets,
//! leases, events, ingresses, network policies, endpoints, endpoint slices, service
//! accounts), and `Name`/`Created At` for everything else. The server always generates
//! the wide cells; kubectl hides columns with `priority > 0` unless `-o wide`.

use std::str::FromStr;
use std::sync::LazyLock;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::discovery::parse_accept;
use crate::registry::{Origin, ResourceType};

/// What a `GET` (list, single object or watch) should answer with, from its `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The objects themselves, JSON.
    Json,
    /// The objects themselves, YAML.
    Yaml,
    /// A `meta.k8s.io/{version}` `Table`.
    Table { version: &'static str },
    /// `meta.k8s.io/{version}` `PartialObjectMetadata` (single objects and watch events).
    PartialObjectMetadata { version: &'static str },
    /// `meta.k8s.io/{version}` `PartialObjectMetadataList` (lists).
    PartialObjectMetadataList { version: &'static str },
    /// Nothing acceptable can be produced (only protobuf asked, or an unknown `as=`): 406.
    NotAcceptable,
}

/// Picks the representation the way kube-apiserver negotiates: the first acceptable media
/// range in preference order wins; `as=Table`/`as=PartialObjectMetadata[List]` need
/// `g=meta.k8s.io` and `v=v1` or `v1beta1`; protobuf is never produced.
pub fn requested_representation(accept: &str) -> Representation {
    for range in parse_accept(accept) {
        let version = match range.param("v") {
            Some("v1") => "v1",
            Some("v1beta1") => "v1beta1",
            _ => "",
        };
        if let Some(as_kind) = range.param("as") {
            if range.mime != "application/json"
                || range.param("g") != Some("meta.k8s.io")
                || version.is_empty()
            {
                continue;
            }
            match as_kind {
                "Table" => return Representation::Table { version },
                "PartialObjectMetadata" => {
                    return Representation::PartialObjectMetadata { version };
                }
                "PartialObjectMetadataList" => {
                    return Representation::PartialObjectMetadataList { version };
                }
                _ => continue,
            }
        }
        match range.mime.as_str() {
            "application/json" | "application/*" | "*/*" | "*" => return Representation::Json,
            "application/yaml" => return Representation::Yaml,
            _ => continue,
        }
    }
    Representation::NotAcceptable
}

/// The `includeObject` query parameter of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// Rows carry no object.
    None,
    /// Rows carry `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// Rows carry the full object.
    Object,
}

impl IncludeObject {
    /// Parses `includeObject`; `Err` carries kube's 400 message for an unknown value.
    pub fn from_query(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!("unrecognized includeObject value: {other:?}")),
        }
    }
}

/// List metadata carried into a Table or `PartialObjectMetadataList`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMeta {
    pub resource_version: Option<String>,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<i64>,
}

/// Table rendering options beyond the row objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    pub include_object: IncludeObject,
    /// `TableOptions.noHeaders`: omit `columnDefinitions`.
    pub no_headers: bool,
    /// `v1` or `v1beta1` of `meta.k8s.io`.
    pub version: &'static str,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            include_object: IncludeObject::Metadata,
            no_headers: false,
            version: "v1",
        }
    }
}

/// A `meta.k8s.io/v1` `Table` of `objects` (one row each), ages computed against now.
pub fn to_table(
    rt: &ResourceType,
    objects: &[Value],
    include_object: IncludeObject,
    list_meta: &ListMeta,
) -> Value {
    to_table_at(
        rt,
        objects,
        &TableOptions {
            include_object,
            ..TableOptions::default()
        },
        list_meta,
        Timestamp::now(),
    )
}

/// [`to_table`] with every option and the clock given.
pub fn to_table_at(
    rt: &ResourceType,
    objects: &[Value],
    options: &TableOptions,
    list_meta: &ListMeta,
    now: Timestamp,
) -> Value {
    let printer = Printer::for_type(rt);
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let (cells, conditions) = printer.cells(object, now);
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            if let Some(conditions) = conditions {
                row.insert("conditions".into(), conditions);
            }
            let row_object = match options.include_object {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => to_partial_object_metadata(object, options.version),
                IncludeObject::Object => object.clone(),
            };
            row.insert("object".into(), row_object);
            Value::Object(row)
        })
        .collect();
    let mut table = Map::new();
    table.insert("kind".into(), json!("Table"));
    table.insert(
        "apiVersion".into(),
        json!(format!("meta.k8s.io/{}", options.version)),
    );
    table.insert("metadata".into(), list_meta_value(list_meta));
    if !options.no_headers {
        table.insert("columnDefinitions".into(), Value::Array(printer.columns()));
    }
    table.insert("rows".into(), Value::Array(rows));
    Value::Object(table)
}

/// The column definitions `rt`'s Table has.
pub fn column_definitions(rt: &ResourceType) -> Vec<Value> {
    Printer::for_type(rt).columns()
}

/// `PartialObjectMetadata` of `object` (its whole `metadata`).
pub fn to_partial_object_metadata(object: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// `PartialObjectMetadataList` of `objects`.
pub fn to_partial_object_metadata_list(
    objects: &[Value],
    list_meta: &ListMeta,
    version: &str,
) -> Value {
    let items: Vec<Value> = objects
        .iter()
        .map(|o| to_partial_object_metadata(o, version))
        .collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta_value(list_meta),
        "items": items,
    })
}

fn list_meta_value(list_meta: &ListMeta) -> Value {
    let mut meta = Map::new();
    if let Some(rv) = &list_meta.resource_version {
        meta.insert("resourceVersion".into(), json!(rv));
    }
    if let Some(token) = list_meta.continue_token.as_ref().filter(|t| !t.is_empty()) {
        meta.insert("continue".into(), json!(token));
    }
    if let Some(count) = list_meta.remaining_item_count {
        meta.insert("remainingItemCount".into(), json!(count));
    }
    Value::Object(meta)
}

// ---------------------------------------------------------------------------------------
// Printers

static NAME_DOC: LazyLock<String> = LazyLock::new(|| {
    crate::openapi::builtin_property_description(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "name",
    )
    .unwrap_or_default()
});
static CREATED_DOC: LazyLock<String> = LazyLock::new(|| {
    crate::openapi::builtin_property_description(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "creationTimestamp",
    )
    .unwrap_or_default()
});

fn doc(schema: &str, property: &str) -> String {
    crate::openapi::builtin_property_description(&format!("io.k8s.api.{schema}"), property)
        .unwrap_or_default()
}

fn column(
    name: &str,
    type_: &str,
    format: &str,
    priority: i32,
    description: impl Into<String>,
) -> Value {
    json!({
        "name": name,
        "type": type_,
        "format": format,
        "description": description.into(),
        "priority": priority,
    })
}

fn name_column() -> Value {
    column("Name", "string", "name", 0, NAME_DOC.as_str())
}

fn age_column() -> Value {
    column("Age", "string", "", 0, CREATED_DOC.as_str())
}

enum Printer<'a> {
    Custom(&'a ResourceType),
    Default,
    Pod,
    Service,
    Node,
    Namespace,
    ConfigMap,
    Secret,
    ServiceAccount,
    Endpoints,
    EndpointSlice,
    Event,
    Ingress,
    NetworkPolicy,
    Lease,
}

type Cells = (Vec<Value>, Option<Value>);

impl<'a> Printer<'a> {
    fn for_type(rt: &'a ResourceType) -> Self {
        match &rt.origin {
            Origin::Crd { .. } => return Printer::Custom(rt),
            Origin::Extension => return Printer::Default,
            Origin::BuiltIn => {}
        }
        if !rt.printer_columns.is_empty() {
            return Printer::Custom(rt);
        }
        match (rt.group.as_str(), rt.plural.as_str()) {
            ("", "pods") => Printer::Pod,
            ("", "services") => Printer::Service,
            ("", "nodes") => Printer::Node,
            ("", "namespaces") => Printer::Namespace,
            ("", "configmaps") => Printer::ConfigMap,
            ("", "secrets") => Printer::Secret,
            ("", "serviceaccounts") => Printer::ServiceAccount,
            ("", "endpoints") => Printer::Endpoints,
            ("discovery.k8s.io", "endpointslices") => Printer::EndpointSlice,
            ("" | "events.k8s.io", "events") => Printer::Event,
            ("networking.k8s.io", "ingresses") => Printer::Ingress,
            ("networking.k8s.io", "networkpolicies") => Printer::NetworkPolicy,
            ("coordination.k8s.io", "leases") => Printer::Lease,
            _ => Printer::Default,
        }
    }

    fn columns(&self) -> Vec<Value> {
        match self {
            Printer::Custom(rt) => {
                let mut columns = vec![name_column()];
                if rt.printer_columns.is_empty() {
                    columns.push(column("Age", "date", "", 0, CREATED_DOC.as_str()));
                }
                for c in &rt.printer_columns {
                    let description = c.description.clone().unwrap_or_else(|| {
                        format!(
                            "Custom resource definition column (in JSONPath format): {}",
                            c.json_path
                        )
                    });
                    columns.push(column(
                        &c.name,
                        &c.type_,
                        c.format.as_deref().unwrap_or(""),
                        c.priority,
                        description,
                    ));
                }
                columns
            }
            Printer::Default => vec![
                name_column(),
                column("Created At", "date", "", 0, CREATED_DOC.as_str()),
            ],
            Printer::Pod => vec![
                name_column(),
                column(
                    "Ready",
                    "string",
                    "",
                    0,
                    "The aggregate readiness state of this pod for accepting traffic.",
                ),
                column(
                    "Status",
                    "string",
                    "",
                    0,
                    "The aggregate status of the containers in this pod.",
                ),
                column(
                    "Restarts",
                    "string",
                    "",
                    0,
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                age_column(),
                column("IP", "string", "", 1, doc("core.v1.PodStatus", "podIP")),
                column("Node", "string", "", 1, doc("core.v1.PodSpec", "nodeName")),
                column(
                    "Nominated Node",
                    "string",
                    "",
                    1,
                    doc("core.v1.PodStatus", "nominatedNodeName"),
                ),
                column(
                    "Readiness Gates",
                    "string",
                    "",
                    1,
                    doc("core.v1.PodSpec", "readinessGates"),
                ),
            ],
            Printer::Service => vec![
                name_column(),
                column("Type", "string", "", 0, doc("core.v1.ServiceSpec", "type")),
                column(
                    "Cluster-IP",
                    "string",
                    "",
                    0,
                    doc("core.v1.ServiceSpec", "clusterIP"),
                ),
                column(
                    "External-IP",
                    "string",
                    "",
                    0,
                    doc("core.v1.ServiceSpec", "externalIPs"),
                ),
                column(
                    "Port(s)",
                    "string",
                    "",
                    0,
                    doc("core.v1.ServiceSpec", "ports"),
                ),
                age_column(),
                column(
                    "Selector",
                    "string",
                    "",
                    1,
                    doc("core.v1.ServiceSpec", "selector"),
                ),
            ],
            Printer::Node => vec![
                name_column(),
                column("Status", "string", "", 0, "The status of the node"),
                column("Roles", "string", "", 0, "The roles of the node"),
                age_column(),
                column(
                    "Version",
                    "string",
                    "",
                    0,
                    doc("core.v1.NodeSystemInfo", "kubeletVersion"),
                ),
                column(
                    "Internal-IP",
                    "string",
                    "",
                    1,
                    doc("core.v1.NodeStatus", "addresses"),
                ),
                column(
                    "External-IP",
                    "string",
                    "",
                    1,
                    doc("core.v1.NodeStatus", "addresses"),
                ),
                column(
                    "OS-Image",
                    "string",
                    "",
                    1,
                    doc("core.v1.NodeSystemInfo", "osImage"),
                ),
                column(
                    "Kernel-Version",
                    "string",
                    "",
                    1,
                    doc("core.v1.NodeSystemInfo", "kernelVersion"),
                ),
                column(
                    "Container-Runtime",
                    "string",
                    "",
                    1,
                    doc("core.v1.NodeSystemInfo", "containerRuntimeVersion"),
                ),
            ],
            Printer::Namespace => vec![
                name_column(),
                column("Status", "string", "", 0, "The status of the namespace"),
                age_column(),
            ],
            Printer::ConfigMap => {
                vec![
                    name_column(),
                    column("Data", "string", "", 0, doc("core.v1.ConfigMap", "data")),
                    age_column(),
                ]
            }
            Printer::Secret => vec![
                name_column(),
                column("Type", "string", "", 0, doc("core.v1.Secret", "type")),
                column("Data", "string", "", 0, doc("core.v1.Secret", "data")),
                age_column(),
            ],
            Printer::ServiceAccount => vec![
                name_column(),
                column(
                    "Secrets",
                    "string",
                    "",
                    0,
                    doc("core.v1.ServiceAccount", "secrets"),
                ),
                age_column(),
            ],
            Printer::Endpoints => vec![
                name_column(),
                column(
                    "Endpoints",
                    "string",
                    "",
                    0,
                    doc("core.v1.Endpoints", "subsets"),
                ),
                age_column(),
            ],
            Printer::EndpointSlice => vec![
                name_column(),
                column(
                    "AddressType",
                    "string",
                    "",
                    0,
                    doc("discovery.v1.EndpointSlice", "addressType"),
                ),
                column(
                    "Ports",
                    "string",
                    "",
                    0,
                    doc("discovery.v1.EndpointSlice", "ports"),
                ),
                column(
                    "Endpoints",
                    "string",
                    "",
                    0,
                    doc("discovery.v1.EndpointSlice", "endpoints"),
                ),
                age_column(),
            ],
            Printer::Event => vec![
                column(
                    "Last Seen",
                    "string",
                    "",
                    0,
                    doc("core.v1.Event", "lastTimestamp"),
                ),
                column("Type", "string", "", 0, doc("core.v1.Event", "type")),
                column("Reason", "string", "", 0, doc("core.v1.Event", "reason")),
                column(
                    "Object",
                    "string",
                    "",
                    0,
                    doc("core.v1.Event", "involvedObject"),
                ),
                column(
                    "Subobject",
                    "string",
                    "",
                    1,
                    doc("core.v1.ObjectReference", "fieldPath"),
                ),
                column("Source", "string", "", 1, doc("core.v1.Event", "source")),
                column("Message", "string", "", 0, doc("core.v1.Event", "message")),
                column(
                    "First Seen",
                    "string",
                    "",
                    1,
                    doc("core.v1.Event", "firstTimestamp"),
                ),
                column("Count", "string", "", 1, doc("core.v1.Event", "count")),
                column("Name", "string", "name", 1, NAME_DOC.as_str()),
            ],
            Printer::Ingress => vec![
                name_column(),
                column(
                    "Class",
                    "string",
                    "",
                    0,
                    "The name of the IngressClass resource that should be used for additional configuration",
                ),
                column(
                    "Hosts",
                    "string",
                    "",
                    0,
                    "Hosts that incoming requests are matched against before the ingress rule",
                ),
                column(
                    "Address",
                    "string",
                    "",
                    0,
                    "Address is a list containing ingress points for the load-balancer",
                ),
                column(
                    "Ports",
                    "string",
                    "",
                    0,
                    "Ports of TLS configurations that open",
                ),
                age_column(),
            ],
            Printer::NetworkPolicy => vec![
                name_column(),
                column(
                    "Pod-Selector",
                    "string",
                    "",
                    0,
                    doc("networking.v1.NetworkPolicySpec", "podSelector"),
                ),
                age_column(),
            ],
            Printer::Lease => vec![
                name_column(),
                column(
                    "Holder",
                    "string",
                    "",
                    0,
                    doc("coordination.v1.LeaseSpec", "holderIdentity"),
                ),
                age_column(),
            ],
        }
    }

    fn cells(&self, o: &Value, now: Timestamp) -> Cells {
        let name = json!(str_at(o, &["metadata", "name"]));
        let age = || {
            json!(age_since(
                str_at(o, &["metadata", "creationTimestamp"]),
                now
            ))
        };
        let plain = |cells: Vec<Value>| (cells, None);
        match self {
            Printer::Custom(rt) => plain(custom_cells(rt, o, now)),
            Printer::Default => {
                let created = str_at(o, &["metadata", "creationTimestamp"]);
                let created = Timestamp::from_str(created)
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_else(|_| "0001-01-01T00:00:00Z".to_string());
                plain(vec![name, json!(created)])
            }
            Printer::Pod => pod_cells(o, now),
            Printer::Service => plain(service_cells(o, name, age())),
            Printer::Node => plain(node_cells(o, name, age())),
            Printer::Namespace => plain(vec![name, json!(str_at(o, &["status", "phase"])), age()]),
            Printer::ConfigMap => {
                let count = len_at(o, &["data"]) + len_at(o, &["binaryData"]);
                plain(vec![name, json!(count), age()])
            }
            Printer::Secret => plain(vec![
                name,
                json!(str_at(o, &["type"])),
                json!(len_at(o, &["data"])),
                age(),
            ]),
            Printer::ServiceAccount => plain(vec![name, json!(len_at(o, &["secrets"])), age()]),
            Printer::Endpoints => plain(vec![name, json!(format_endpoints(o)), age()]),
            Printer::EndpointSlice => plain(vec![
                name,
                json!(str_at(o, &["addressType"])),
                json!(format_slice_ports(o)),
                json!(format_slice_endpoints(o)),
                age(),
            ]),
            Printer::Event => plain(event_cells(o, name, now)),
            Printer::Ingress => plain(ingress_cells(o, name, age())),
            Printer::NetworkPolicy => {
                let selector = format_label_selector(o.pointer("/spec/podSelector"));
                plain(vec![name, json!(selector), age()])
            }
            Printer::Lease => plain(vec![
                name,
                json!(str_at(o, &["spec", "holderIdentity"])),
                age(),
            ]),
        }
    }
}

fn at<'v>(o: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(o, |v, key| v.get(*key))
}

fn str_at<'v>(o: &'v Value, path: &[&str]) -> &'v str {
    at(o, path).and_then(Value::as_str).unwrap_or("")
}

fn array_at<'v>(o: &'v Value, path: &[&str]) -> &'v [Value] {
    at(o, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn len_at(o: &Value, path: &[&str]) -> i64 {
    match at(o, path) {
        Some(Value::Object(map)) => map.len() as i64,
        Some(Value::Array(items)) => items.len() as i64,
        _ => 0,
    }
}

fn int_at(o: &Value, path: &[&str]) -> i64 {
    at(o, path).and_then(Value::as_i64).unwrap_or(0)
}

/// kube's `translateTimestampSince`: `<unknown>` for a missing or bad time.
fn age_since(timestamp: &str, now: Timestamp) -> String {
    match Timestamp::from_str(timestamp) {
        Ok(t) => human_duration(now.as_second() - t.as_second()),
        Err(_) => "<unknown>".to_string(),
    }
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, from whole seconds.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

// ----- CRD columns

fn custom_cells(rt: &ResourceType, o: &Value, now: Timestamp) -> Vec<Value> {
    let mut cells = vec![json!(str_at(o, &["metadata", "name"]))];
    if rt.printer_columns.is_empty() {
        cells.push(json!(age_since(
            str_at(o, &["metadata", "creationTimestamp"]),
            now
        )));
        return cells;
    }
    for c in &rt.printer_columns {
        let value = jsonpath_first(o, &c.json_path);
        cells.push(match value {
            None | Some(Value::Null) => Value::Null,
            Some(value) => cell_for_json_value(&c.type_, value, now),
        });
    }
    cells
}

/// apiextensions' `cellForJSONValue` (plus its `string` case, printed as JSONPath does).
fn cell_for_json_value(column_type: &str, value: &Value, now: Timestamp) -> Value {
    match column_type {
        "integer" => match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map_or(Value::Null, |i| json!(i)),
            _ => Value::Null,
        },
        "number" => match value {
            Value::Number(n) => n.as_f64().map_or(Value::Null, |f| json!(f)),
            _ => Value::Null,
        },
        "boolean" => match value {
            Value::Bool(b) => json!(b),
            _ => Value::Null,
        },
        "date" => match value {
            Value::String(s) => match Timestamp::from_str(s) {
                Ok(t) => json!(human_duration(now.as_second() - t.as_second())),
                Err(_) => json!("<invalid>"),
            },
            _ => Value::Null,
        },
        _ => json!(jsonpath_text(value)),
    }
}

/// How kubectl's JSONPath prints one value: strings bare, everything else as JSON.
fn jsonpath_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ----- Pods

fn pod_cells(o: &Value, now: Timestamp) -> Cells {
    let spec_containers = array_at(o, &["spec", "containers"]);
    let init_specs = array_at(o, &["spec", "initContainers"]);
    let is_restartable_init = |name: &str| {
        init_specs.iter().any(|c| {
            c.get("name").and_then(Value::as_str) == Some(name)
                && str_at(c, &["restartPolicy"]) == "Always"
        })
    };
    let total = spec_containers.len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut restartable_init_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_init_restart: Option<Timestamp> = None;
    let phase = str_at(o, &["status", "phase"]);
    let mut reason = phase.to_string();
    if !str_at(o, &["status", "reason"]).is_empty() {
        reason = str_at(o, &["status", "reason"]).to_string();
    }
    let conditions = array_at(o, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_string();
    }
    let row_conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    };
    let finished_at = |status: &Value| {
        at(status, &["lastState", "terminated", "finishedAt"])
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::from_str(s).ok())
    };
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut initializing = false;
    let init_statuses = array_at(o, &["status", "initContainerStatuses"]);
    for (i, status) in init_statuses.iter().enumerate() {
        let name = str_at(status, &["name"]);
        restarts += int_at(status, &["restartCount"]);
        last_restart = later(last_restart, finished_at(status));
        let restartable = is_restartable_init(name);
        if restartable {
            restartable_init_restarts += int_at(status, &["restartCount"]);
            last_restartable_init_restart =
                later(last_restartable_init_restart, finished_at(status));
        }
        let terminated = at(status, &["state", "terminated"]);
        let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
        let started = at(status, &["started"])
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let is_ready = at(status, &["ready"])
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if restartable && started {
            if is_ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let t_reason = str_at(t, &["reason"]);
            reason = if !t_reason.is_empty() {
                format!("Init:{t_reason}")
            } else if int_at(t, &["signal"]) != 0 {
                format!("Init:Signal:{}", int_at(t, &["signal"]))
            } else {
                format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| str_at(c, &["type"]) == "Initialized" && str_at(c, &["status"]) == "True");
    if !initializing || initialized {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for status in array_at(o, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(status, &["restartCount"]);
            last_restart = later(last_restart, finished_at(status));
            let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
            let terminated = at(status, &["state", "terminated"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                let t_reason = str_at(t, &["reason"]);
                reason = if !t_reason.is_empty() {
                    t_reason.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
            } else if at(status, &["ready"])
                .and_then(Value::as_bool)
                .unwrap_or(false)
                && at(status, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    let deleting = at(o, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    if deleting && str_at(o, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.as_second() - t.as_second())
        ),
        _ => restarts.to_string(),
    };

    let or_none = |s: &str| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s.to_string()
        }
    };
    let pod_ip = array_at(o, &["status", "podIPs"])
        .first()
        .map(|ip| str_at(ip, &["ip"]))
        .unwrap_or("");
    let gates = array_at(o, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|gate| {
                let wanted = str_at(gate, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == wanted)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    let cells = vec![
        json!(str_at(o, &["metadata", "name"])),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        json!(age_since(
            str_at(o, &["metadata", "creationTimestamp"]),
            now
        )),
        json!(or_none(pod_ip)),
        json!(or_none(str_at(o, &["spec", "nodeName"]))),
        json!(or_none(str_at(o, &["status", "nominatedNodeName"]))),
        json!(readiness_gates),
    ];
    (cells, row_conditions)
}

// ----- Services, nodes, endpoints, ingresses, events

fn service_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let service_type = str_at(o, &["spec", "type"]);
    let cluster_ip = array_at(o, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = array_at(o, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match service_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let mut lb =
                load_balancer_addresses(array_at(o, &["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                lb.extend(external_ips.iter().map(|s| s.to_string()));
                lb.join(",")
            } else if lb.is_empty() {
                "<pending>".to_string()
            } else {
                lb.join(",")
            }
        }
        "ExternalName" => str_at(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = array_at(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let protocol = str_at(p, &["protocol"]);
            match int_at(p, &["nodePort"]) {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name,
        json!(service_type),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        age,
        json!(format_labels(at(o, &["spec", "selector"]))),
    ]
}

/// Sorted, de-duplicated IPs (or hostnames) of load-balancer ingress points.
fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = ingress
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn node_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    if let Some(ready) = array_at(o, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready")
    {
        status.push(
            if str_at(ready, &["status"]) == "True" {
                "Ready"
            } else {
                "NotReady"
            }
            .to_string(),
        );
    }
    if status.is_empty() {
        status.push("Unknown".to_string());
    }
    if at(o, &["spec", "unschedulable"])
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        status.push("SchedulingDisabled".to_string());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(Value::Object(labels)) = at(o, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.push(v.to_string());
            }
        }
    }
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |kind: &str| {
        array_at(o, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == kind)
            .map(|a| str_at(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let info = |field: &str| {
        let v = str_at(o, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name,
        json!(status.join(",")),
        json!(roles),
        age,
        json!(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn format_endpoints(o: &Value) -> String {
    let subsets = array_at(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for subset in subsets {
        let addresses = array_at(subset, &["addresses"]);
        let ports = array_at(subset, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(address, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = str_at(address, &["ip"]);
                let port = int_at(port, &["port"]);
                list.push(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                });
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn list_with_more(list: Vec<String>, more: bool, count: usize, max: usize) -> String {
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - max)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

fn format_slice_ports(o: &Value) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut more = false;
    let mut count = 0;
    for port in array_at(o, &["ports"]) {
        if list.len() < MAX {
            let text = match (
                port.get("port").and_then(Value::as_i64),
                port.get("name").and_then(Value::as_str),
            ) {
                (Some(p), _) => p.to_string(),
                (None, Some(n)) => n.to_string(),
                _ => "*".to_string(),
            };
            list.push(text);
        } else if list.len() == MAX {
            more = true;
        }
        count += 1;
    }
    list_with_more(list, more, count, MAX)
}

fn format_slice_endpoints(o: &Value) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut more = false;
    let mut count = 0;
    for endpoint in array_at(o, &["endpoints"]) {
        for address in array_at(endpoint, &["addresses"]) {
            if list.len() < MAX {
                list.push(address.as_str().unwrap_or("").to_string());
            } else if list.len() == MAX {
                more = true;
            }
            count += 1;
        }
    }
    list_with_more(list, more, count, MAX)
}

fn ingress_cells(o: &Value, name: Value, age: Value) -> Vec<Value> {
    let class = at(o, &["spec", "ingressClassName"])
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let rules = array_at(o, &["spec", "rules"]);
    const MAX: usize = 3;
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - MAX)
    } else {
        hosts.join(",")
    };
    let address =
        load_balancer_addresses(array_at(o, &["status", "loadBalancer", "ingress"])).join(",");
    let ports = if array_at(o, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name,
        json!(class),
        json!(hosts),
        json!(address),
        json!(ports),
        age,
    ]
}

/// Both `v1` `Event` and `events.k8s.io/v1` `Event` (whose fields kube converts first).
fn event_cells(o: &Value, name: Value, now: Timestamp) -> Vec<Value> {
    let events_api = o.get("regarding").is_some()
        || o.get("note").is_some()
        || o.get("deprecatedCount").is_some();
    let field = |core: &str, events: &str| {
        if events_api {
            events.to_string()
        } else {
            core.to_string()
        }
    };
    let involved = at(o, &[&field("involvedObject", "regarding")])
        .cloned()
        .unwrap_or(Value::Null);
    let since = |ts: &str| age_since(ts, now);
    let first_ts = str_at(o, &[&field("firstTimestamp", "deprecatedFirstTimestamp")]);
    let first = if first_ts.is_empty() {
        since(str_at(o, &["eventTime"]))
    } else {
        since(first_ts)
    };
    let last_ts = str_at(o, &[&field("lastTimestamp", "deprecatedLastTimestamp")]);
    let mut last = if last_ts.is_empty() {
        first.clone()
    } else {
        since(last_ts)
    };
    let mut count = int_at(o, &[&field("count", "deprecatedCount")]);
    if let Some(series) = o.get("series").filter(|s| s.is_object()) {
        last = since(str_at(series, &["lastObservedTime"]));
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(&involved, &["kind"]).to_lowercase();
    let involved_name = str_at(&involved, &["name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let source_field = field("source", "deprecatedSource");
    let component = [
        str_at(o, &[&source_field, "component"]),
        str_at(o, &["reportingController"]),
        str_at(o, &["reportingComponent"]),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let instance = [
        str_at(o, &[&source_field, "host"]),
        str_at(o, &["reportingInstance"]),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    let message = str_at(o, &[&field("message", "note")]).trim().to_string();
    vec![
        json!(last),
        json!(str_at(o, &["type"])),
        json!(str_at(o, &["reason"])),
        json!(target),
        json!(str_at(&involved, &["fieldPath"])),
        json!(source),
        json!(message),
        json!(first),
        json!(count),
        name,
    ]
}

// ----- Labels and selectors, formatted as kube's `labels.FormatLabels` and
// `metav1.FormatLabelSelector` do

fn format_labels(labels: Option<&Value>) -> String {
    let mut pairs: Vec<String> = match labels {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect(),
        _ => Vec::new(),
    };
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs.sort();
    pairs.join(",")
}

/// `metav1.FormatLabelSelector`: requirements sorted by key, `<none>` when empty.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return "<none>".to_string();
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(labels)) = selector.get("matchLabels") {
        for (k, v) in labels {
            requirements.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expression in array_at(selector, &["matchExpressions"]) {
        let key = str_at(expression, &["key"]);
        let mut values: Vec<&str> = array_at(expression, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        let text = match str_at(expression, &["operator"]) {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<error>".to_string(),
        };
        requirements.push((key.to_string(), text));
    }
    if requirements.is_empty() {
        return "<none>".to_string();
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------
// JSONPath (the subset printer columns use)

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Recursive(String),
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Wildcard,
    Filter {
        path: Vec<String>,
        op: Option<(String, Value)>,
    },
}

/// The first value `path` (kubectl JSONPath, with or without `{}` and the leading `.`)
/// selects in `object`, if any; missing keys select nothing.
pub fn jsonpath_first<'v>(object: &'v Value, path: &str) -> Option<&'v Value> {
    jsonpath(object, path).into_iter().next()
}

/// Every value `path` selects in `object`.
pub fn jsonpath<'v>(object: &'v Value, path: &str) -> Vec<&'v Value> {
    let Some(steps) = parse_jsonpath(path) else {
        return Vec::new();
    };
    let mut current = vec![object];
    for step in &steps {
        let mut next = Vec::new();
        for value in current {
            apply_step(value, step, &mut next);
        }
        current = next;
    }
    current
}

fn apply_step<'v>(value: &'v Value, step: &Step, out: &mut Vec<&'v Value>) {
    match step {
        Step::Field(name) => {
            if let Some(v) = value.get(name.as_str()) {
                out.push(v);
            }
        }
        Step::Recursive(name) => {
            fn walk<'v>(value: &'v Value, name: &str, out: &mut Vec<&'v Value>) {
                match value {
                    Value::Object(map) => {
                        if let Some(v) = map.get(name) {
                            out.push(v);
                        }
                        map.values().for_each(|v| walk(v, name, out));
                    }
                    Value::Array(items) => items.iter().for_each(|v| walk(v, name, out)),
                    _ => {}
                }
            }
            walk(value, name, out);
        }
        Step::Index(i) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let index = if *i < 0 { len + i } else { *i };
                if (0..len).contains(&index) {
                    out.push(&items[index as usize]);
                }
            }
        }
        Step::Slice(start, end) => {
            if let Value::Array(items) = value {
                let len = items.len() as i64;
                let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let from = start.map_or(0, clamp);
                let to = end.map_or(len, clamp);
                for index in from..to.max(from) {
                    out.push(&items[index as usize]);
                }
            }
        }
        Step::Wildcard => match value {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Filter { path, op } => {
            let candidates: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for candidate in candidates {
                let selected = path
                    .iter()
                    .try_fold(candidate, |v, key| v.get(key.as_str()));
                let keep = match (selected, op) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(actual), Some((op, expected))) => compare(actual, op, expected),
                };
                if keep {
                    out.push(candidate);
                }
            }
        }
    }
}

fn compare(actual: &Value, op: &str, expected: &Value) -> bool {
    let numbers = actual.as_f64().zip(expected.as_f64());
    match op {
        "==" => numbers.map_or_else(
            || actual == expected || jsonpath_text(actual) == jsonpath_text(expected),
            |(a, b)| a == b,
        ),
        "!=" => !compare(actual, "==", expected),
        "<" => numbers.is_some_and(|(a, b)| a < b),
        ">" => numbers.is_some_and(|(a, b)| a > b),
        "<=" => numbers.is_some_and(|(a, b)| a <= b),
        ">=" => numbers.is_some_and(|(a, b)| a >= b),
        _ => false,
    }
}

fn parse_jsonpath(path: &str) -> Option<Vec<Step>> {
    let mut path = path.trim();
    if let Some(inner) = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        path = inner.trim();
    }
    let path = path.strip_prefix('$').unwrap_or(path);
    let chars: Vec<char> = path.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let read_name = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && chars[*i] != '.' && chars[*i] != '[' {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    if !chars.is_empty() && chars[0] != '.' && chars[0] != '[' {
        let name = read_name(&mut i);
        steps.push(Step::Field(name));
    }
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    i += 2;
                    let name = read_name(&mut i);
                    steps.push(if name == "*" {
                        Step::Wildcard
                    } else {
                        Step::Recursive(name)
                    });
                } else {
                    i += 1;
                    let name = read_name(&mut i);
                    if name == "*" {
                        steps.push(Step::Wildcard);
                    } else if !name.is_empty() {
                        steps.push(Step::Field(name));
                    }
                }
            }
            '[' => {
                let close = find_bracket_end(&chars, i)?;
                let inner: String = chars[i + 1..close].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for (offset, &c) in chars[open..].iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + offset);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Some(quoted) = unquote(inner) {
        return Some(Step::Field(quoted));
    }
    if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        let filter = filter.trim();
        let ops = ["==", "!=", "<=", ">=", "<", ">"];
        let (lhs, op) = match ops
            .iter()
            .find_map(|op| filter.find(op).map(|pos| (pos, *op)))
        {
            Some((pos, op)) => {
                let rhs = filter[pos + op.len()..].trim();
                let expected = unquote(rhs)
                    .map(Value::String)
                    .or_else(|| serde_json::from_str(rhs).ok())
                    .unwrap_or_else(|| Value::String(rhs.to_string()));
                (filter[..pos].trim(), Some((op.to_string(), expected)))
            }
            None => (filter, None),
        };
        let path: Vec<String> = lhs
            .strip_prefix('@')?
            .split('.')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return Some(Step::Filter { path, op });
    }
    if let Some((start, end)) = inner.split_once(':') {
        let parse = |s: &str| {
            if s.trim().is_empty() {
                Some(None)
            } else {
                s.trim().parse().ok().map(Some)
            }
        };
        let end = end.split(':').next().unwrap_or("");
        return Some(Step::Slice(parse(start)?, parse(end)?));
    }
    inner.parse().ok().map(Step::Index)
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    for q in ['\'', '"'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return Some(s[1..s.len() - 1].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{PrinterColumn, Registry, Subresources};

    fn now() -> Timestamp {
        Timestamp::from_str("2025-01-01T12:00:00Z").unwrap()
    }

    fn builtin(plural: &str) -> std::sync::Arc<ResourceType> {
        let registry = Registry::with_builtins();
        registry
            .all()
            .find(|rt| rt.plural == plural && rt.group.is_empty())
            .cloned()
            .unwrap()
    }

    fn builtin_in(group: &str, plural: &str) -> std::sync::Arc<ResourceType> {
        let registry = Registry::with_builtins();
        registry
            .all()
            .find(|rt| rt.plural == plural && rt.group == group)
            .cloned()
            .unwrap()
    }

    fn acnp_type() -> ResourceType {
        let column = |name: &str, type_: &str, path: &str, priority: i32| PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            format: None,
            description: None,
            priority,
            json_path: path.into(),
        };
        ResourceType {
            group: "crd.antrea.io".into(),
            version: "v1beta1".into(),
            plural: "clusternetworkpolicies".into(),
            singular: "clusternetworkpolicy".into(),
            kind: "ClusterNetworkPolicy".into(),
            list_kind: "ClusterNetworkPolicyList".into(),
            namespaced: false,
            short_names: vec!["acnp".into()],
            categories: vec![],
            verbs: crate::registry::default_verbs(),
            subresources: Subresources {
                status: true,
                scale: false,
            },
            printer_columns: vec![
                column("Tier", "string", ".spec.tier", 0),
                column("Priority", "number", ".spec.priority", 0),
                column("Desired Nodes", "number", ".status.desiredNodesRealized", 0),
                column(
                    "Ready",
                    "string",
                    ".status.conditions[?(@.type==\"Realizable\")].status",
                    1,
                ),
                column("Rules", "integer", ".spec.ingress[*].action", 1),
                column("Age", "date", ".metadata.creationTimestamp", 0),
            ],
            schema: None,
            storage: true,
            origin: Origin::Crd {
                crd_name: "clusternetworkpolicies.crd.antrea.io".into(),
            },
        }
    }

    fn names(table: &Value) -> Vec<String> {
        table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn representation_negotiation() {
        use Representation::*;
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(requested_representation(kubectl), Table { version: "v1" });
        assert_eq!(
            requested_representation("application/json;as=Table;v=v1beta1;g=meta.k8s.io"),
            Table { version: "v1beta1" }
        );
        assert_eq!(
            requested_representation(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ),
            PartialObjectMetadataList { version: "v1" }
        );
        assert_eq!(
            requested_representation(
                "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
            ),
            PartialObjectMetadata { version: "v1" }
        );
        assert_eq!(
            requested_representation(
                "application/json;as=Table;v=v2;g=meta.k8s.io,application/json"
            ),
            Json
        );
        assert_eq!(requested_representation(""), Json);
        assert_eq!(requested_representation("*/*"), Json);
        assert_eq!(requested_representation("application/yaml"), Yaml);
        assert_eq!(
            requested_representation("application/vnd.kubernetes.protobuf"),
            NotAcceptable
        );
        assert_eq!(
            requested_representation("application/json;as=Table;v=v1;g=example.com"),
            NotAcceptable
        );
        assert_eq!(IncludeObject::from_query(None), Ok(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::from_query(Some("Object")),
            Ok(IncludeObject::Object)
        );
        assert!(
            IncludeObject::from_query(Some("Everything"))
                .unwrap_err()
                .contains("Everything")
        );
    }

    #[test]
    fn crd_columns_are_evaluated_and_typed() {
        let rt = acnp_type();
        let object = json!({
            "apiVersion": "crd.antrea.io/v1beta1", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": "acnp-1", "creationTimestamp": "2025-01-01T11:55:00Z", "resourceVersion": "7", "labels": {"a": "b"}},
            "spec": {"tier": "securityops", "priority": 5, "ingress": [{"action": "Allow"}, {"action": "Drop"}]},
            "status": {"desiredNodesRealized": 3, "conditions": [{"type": "Other", "status": "False"}, {"type": "Realizable", "status": "True"}]},
        });
        let table = to_table_at(
            &rt,
            std::slice::from_ref(&object),
            &TableOptions::default(),
            &ListMeta {
                resource_version: Some("9".into()),
                ..Default::default()
            },
            now(),
        );
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(table["metadata"]["resourceVersion"], "9");
        assert_eq!(
            names(&table),
            [
                "Name",
                "Tier",
                "Priority",
                "Desired Nodes",
                "Ready",
                "Rules",
                "Age"
            ]
        );
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
        assert_eq!(table["columnDefinitions"][4]["priority"], 1);
        assert_eq!(
            table["columnDefinitions"][1]["description"],
            "Custom resource definition column (in JSONPath format): .spec.tier"
        );
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "acnp-1");
        assert_eq!(cells[1], "securityops");
        assert_eq!(cells[2], json!(5.0));
        assert_eq!(cells[3], json!(3.0));
        assert_eq!(cells[4], "True");
        assert_eq!(
            cells[5],
            Value::Null,
            "a string in an integer column is no integer"
        );
        assert_eq!(cells[6], "5m");
        let row_object = &table["rows"][0]["object"];
        assert_eq!(row_object["kind"], "PartialObjectMetadata");
        assert_eq!(row_object["metadata"]["labels"]["a"], "b");
        assert!(row_object.get("spec").is_none());

        // Missing fields give null cells; full objects on request; no headers on request.
        let bare = json!({"metadata": {"name": "bare"}});
        let options = TableOptions {
            include_object: IncludeObject::Object,
            no_headers: true,
            version: "v1",
        };
        let table = to_table_at(
            &rt,
            std::slice::from_ref(&bare),
            &options,
            &ListMeta::default(),
            now(),
        );
        assert!(table.get("columnDefinitions").is_none());
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["bare", null, null, null, null, null, null])
        );
        assert_eq!(table["rows"][0]["object"], bare);
        let none = TableOptions {
            include_object: IncludeObject::None,
            ..TableOptions::default()
        };
        assert_eq!(
            to_table_at(&rt, &[object], &none, &ListMeta::default(), now())["rows"][0]["object"],
            Value::Null
        );
    }

    #[test]
    fn crd_without_columns_prints_age() {
        let mut rt = acnp_type();
        rt.printer_columns.clear();
        let object =
            json!({"metadata": {"name": "t", "creationTimestamp": "2024-12-31T12:00:00Z"}});
        let table = to_table_at(
            &rt,
            &[object],
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        assert_eq!(names(&table), ["Name", "Age"]);
        assert_eq!(table["columnDefinitions"][1]["type"], "date");
        assert_eq!(table["rows"][0]["cells"], json!(["t", "24h"]));
    }

    #[test]
    fn pods_print_kube_columns() {
        let rt = builtin("pods");
        let running = json!({
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2025-01-01T10:00:00Z"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {
                "phase": "Running",
                "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": "2025-01-01T11:50:00Z", "exitCode": 1}}},
                    {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                ],
            },
        });
        let pending = json!({"metadata": {"name": "new"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
        let deleting = json!({"metadata": {"name": "old", "deletionTimestamp": "2025-01-01T11:59:00Z"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}});
        let done = json!({"metadata": {"name": "job"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        let init = json!({"metadata": {"name": "init"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]}, "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}});
        let table = to_table_at(
            &rt,
            &[running, pending, deleting, done, init],
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            names(&table),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert!(
            table["columnDefinitions"][5]["description"]
                .as_str()
                .unwrap()
                .contains("IP")
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "web",
                "1/2",
                "CrashLoopBackOff",
                "2 (10m ago)",
                "120m",
                "10.0.0.5",
                "node-1",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(
            table["rows"][1]["cells"],
            json!([
                "new",
                "0/1",
                "Pending",
                "0",
                "<unknown>",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(table["rows"][2]["cells"][2], "Terminating");
        assert_eq!(table["rows"][3]["cells"][2], "Completed");
        assert_eq!(table["rows"][3]["conditions"][0]["reason"], "Succeeded");
        assert_eq!(table["rows"][4]["cells"][2], "Init:0/1");
    }

    #[test]
    fn services_nodes_namespaces() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:59:30Z"},
            "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.10"], "selector": {"b": "2", "a": "1"},
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]},
        });
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.11"]}});
        let table = to_table_at(
            &builtin("services"),
            &[svc, lb],
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            names(&table),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "web",
                "NodePort",
                "10.96.0.10",
                "<none>",
                "80:30080/TCP,53/UDP",
                "30s",
                "a=1,b=2"
            ])
        );
        assert_eq!(
            table["rows"][1]["cells"],
            json!([
                "lb",
                "LoadBalancer",
                "10.96.0.11",
                "<pending>",
                "<none>",
                "<unknown>",
                "<none>"
            ])
        );

        let node = json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "False"}], "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Linux"}},
        });
        let table = to_table_at(
            &builtin("nodes"),
            &[node],
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "n1",
                "NotReady,SchedulingDisabled",
                "control-plane,worker",
                "<unknown>",
                "v1.33.0",
                "192.168.0.2",
                "<none>",
                "Linux",
                "<unknown>",
                "<unknown>"
            ])
        );

        let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2024-12-25T12:00:00Z"}, "status": {"phase": "Active"}});
        let table = to_table_at(
            &builtin("namespaces"),
            &[ns],
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["default", "Active", "7d"])
        );
    }

    #[test]
    fn small_builtins() {
        let opts = TableOptions::default();
        let meta = ListMeta::default();
        let cm = json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(
            to_table_at(&builtin("configmaps"), &[cm], &opts, &meta, now())["rows"][0]["cells"],
            json!(["cm", 3, "<unknown>"])
        );
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}});
        let table = to_table_at(&builtin("secrets"), &[secret], &opts, &meta, now());
        assert_eq!(names(&table), ["Name", "Type", "Data", "Age"]);
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["s", "Opaque", 1, "<unknown>"])
        );
        let sa = json!({"metadata": {"name": "default"}});
        assert_eq!(
            to_table_at(&builtin("serviceaccounts"), &[sa], &opts, &meta, now())["rows"][0]["cells"],
            json!(["default", 0, "<unknown>"])
        );
        let lease = json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "pod-a"}});
        let table = to_table_at(
            &builtin_in("coordination.k8s.io", "leases"),
            &[lease],
            &opts,
            &meta,
            now(),
        );
        assert_eq!(names(&table), ["Name", "Holder", "Age"]);
        assert_eq!(table["rows"][0]["cells"][1], "pod-a");
        let netpol = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}, {"key": "env", "operator": "DoesNotExist"}]}}});
        let table = to_table_at(
            &builtin_in("networking.k8s.io", "networkpolicies"),
            &[netpol],
            &opts,
            &meta,
            now(),
        );
        assert_eq!(names(&table), ["Name", "Pod-Selector", "Age"]);
        assert_eq!(table["rows"][0]["cells"][1], "app=web,!env,tier in (a,b)");
        let all = json!({"metadata": {"name": "all"}, "spec": {"podSelector": {}}});
        assert_eq!(
            to_table_at(
                &builtin_in("networking.k8s.io", "networkpolicies"),
                &[all],
                &opts,
                &meta,
                now()
            )["rows"][0]["cells"][1],
            "<none>"
        );
        let ep = json!({"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            to_table_at(&builtin("endpoints"), &[ep], &opts, &meta, now())["rows"][0]["cells"][1],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
        );
        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "http"}], "endpoints": [{"addresses": ["10.0.0.1"]}]});
        let table = to_table_at(
            &builtin_in("discovery.k8s.io", "endpointslices"),
            &[slice],
            &opts,
            &meta,
            now(),
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["web-abc", "IPv4", "80,http", "10.0.0.1", "<unknown>"])
        );
        let ing = json!({"metadata": {"name": "ing"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example"}, {}], "tls": [{}]}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        let table = to_table_at(
            &builtin_in("networking.k8s.io", "ingresses"),
            &[ing],
            &opts,
            &meta,
            now(),
        );
        assert_eq!(
            names(&table),
            ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "ing",
                "nginx",
                "a.example",
                "1.2.3.4",
                "80, 443",
                "<unknown>"
            ])
        );
        let crd = json!({"metadata": {"name": "tiers.crd.antrea.io", "creationTimestamp": "2025-01-01T11:00:00+00:00"}});
        let table = to_table_at(
            &builtin_in("apiextensions.k8s.io", "customresourcedefinitions"),
            &[crd],
            &opts,
            &meta,
            now(),
        );
        assert_eq!(names(&table), ["Name", "Created At"]);
        assert_eq!(
            table["rows"][0]["cells"],
            json!(["tiers.crd.antrea.io", "2025-01-01T11:00:00Z"])
        );
    }

    #[test]
    fn events_of_both_apis() {
        let opts = TableOptions::default();
        let core = json!({
            "metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff", "message": " restarting \n",
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{a}"},
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2025-01-01T11:00:00Z", "lastTimestamp": "2025-01-01T11:58:00Z", "count": 4,
        });
        let table = to_table_at(
            &builtin("events"),
            &[core],
            &opts,
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            names(&table),
            [
                "Last Seen",
                "Type",
                "Reason",
                "Object",
                "Subobject",
                "Source",
                "Message",
                "First Seen",
                "Count",
                "Name"
            ]
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "2m",
                "Warning",
                "BackOff",
                "pod/web",
                "spec.containers{a}",
                "kubelet, node-1",
                "restarting",
                "60m",
                4,
                "web.1"
            ])
        );
        let new = json!({
            "metadata": {"name": "e2"}, "type": "Normal", "reason": "Created", "note": "made it",
            "regarding": {"kind": "Node", "name": "n1"}, "reportingController": "ctrl", "eventTime": "2025-01-01T11:59:00.000000Z",
        });
        let table = to_table_at(
            &builtin_in("events.k8s.io", "events"),
            &[new],
            &opts,
            &ListMeta::default(),
            now(),
        );
        assert_eq!(
            table["rows"][0]["cells"],
            json!([
                "60s", "Normal", "Created", "node/n1", "", "ctrl", "made it", "60s", 1, "e2"
            ])
        );
    }

    #[test]
    fn partial_object_metadata_forms() {
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": {}});
        let single = to_partial_object_metadata(&object, "v1");
        assert_eq!(
            single,
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}})
        );
        let list = to_partial_object_metadata_list(
            &[object],
            &ListMeta {
                resource_version: Some("5".into()),
                continue_token: Some("c".into()),
                remaining_item_count: Some(2),
            },
            "v1",
        );
        assert_eq!(list["kind"], "PartialObjectMetadataList");
        assert_eq!(
            list["metadata"],
            json!({"resourceVersion": "5", "continue": "c", "remainingItemCount": 2})
        );
        assert_eq!(list["items"][0]["metadata"]["name"], "p");
    }

    #[test]
    fn jsonpath_subset() {
        let o = json!({"a": {"b": [{"n": 1, "t": "x"}, {"n": 2, "t": "y"}, {"n": 3}], "c.d": "dotted"}});
        assert_eq!(jsonpath_first(&o, ".a.b[1].n"), Some(&json!(2)));
        assert_eq!(jsonpath_first(&o, "{.a.b[-1].n}"), Some(&json!(3)));
        assert_eq!(jsonpath_first(&o, "a.b[0].t"), Some(&json!("x")));
        assert_eq!(
            jsonpath(&o, ".a.b[*].n"),
            vec![&json!(1), &json!(2), &json!(3)]
        );
        assert_eq!(jsonpath(&o, ".a.b[0:2].n"), vec![&json!(1), &json!(2)]);
        assert_eq!(jsonpath_first(&o, ".a.b[?(@.t=='y')].n"), Some(&json!(2)));
        assert_eq!(jsonpath_first(&o, ".a.b[?(@.n > 2)].n"), Some(&json!(3)));
        assert_eq!(jsonpath(&o, ".a.b[?(@.t)].n").len(), 2);
        assert_eq!(jsonpath_first(&o, ".a['c.d']"), Some(&json!("dotted")));
        assert_eq!(jsonpath(&o, "..n").len(), 3);
        assert!(jsonpath_first(&o, ".a.missing.x").is_none());
        assert!(jsonpath_first(&o, ".a.b[7]").is_none());
        assert!(jsonpath(&o, ".a.b[").is_empty());
    }

    #[test]
    fn human_durations_match_kube() {
        for (seconds, text) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (10799, "179m"),
            (10800, "3h"),
            (4 * 3600 + 60, "4h1m"),
            (30 * 3600, "30h"),
            (72 * 3600, "3d"),
            (75 * 3600, "3d3h"),
            (30 * 86400, "30d"),
            (800 * 86400, "2y70d"),
            (3650 * 86400, "10y"),
        ] {
            assert_eq!(human_duration(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn table_cost_for_a_thousand_pods() {
        let rt = builtin("pods");
        let pods: Vec<Value> = (0..1000)
            .map(|i| {
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("pod-{i}"), "namespace": "default", "creationTimestamp": "2025-01-01T11:00:00Z", "labels": {"app": "web"}},
                    "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]},
                    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}], "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]},
                })
            })
            .collect();
        let started = std::time::Instant::now();
        let table = to_table_at(
            &rt,
            &pods,
            &TableOptions::default(),
            &ListMeta::default(),
            now(),
        );
        let elapsed = started.elapsed();
        eprintln!(
            "Table of 1000 pods: {elapsed:?}, {} KiB of JSON",
            table.to_string().len() / 1024
        );
        assert_eq!(table["rows"].as_array().unwrap().len(), 1000);
        assert_eq!(table["rows"][999]["cells"][1], "1/1");
    }
}
