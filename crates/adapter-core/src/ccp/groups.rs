//! NSX groups as Antrea criteria (nsx-api.md §2.2, §3.5).
//!
//! A group's `expression` list is read as a boolean formula (AND binds tighter than OR, a
//! `NestedExpression` is a parenthesised sub-list, a `PathExpression` is the OR of the groups
//! it names) and brought to disjunctive normal form. Each conjunction becomes one
//! [`Criterion`], which one ClusterGroup can hold exactly:
//!
//! - Pod and Namespace conditions: `podSelector` and/or `namespaceSelector` requirements
//!   (`Tag` `scope|tag` EQUALS → `scope In [tag]`, NOTEQUALS → `NotIn`; an empty tag → `Exists`
//!   / `DoesNotExist`; Namespace `Name` EQUALS → `kubernetes.io/metadata.name In [name]`);
//! - Service `Name` with Namespace `Name`: `serviceReference`;
//! - IP addresses, CIDRs and ranges (alone): `ipBlocks`;
//! - a referenced group (alone): that group's criteria, flattened (cycles and nesting deeper
//!   than [`MAX_NESTING_DEPTH`] are refused).
//!
//! The OR of the criteria is a parent ClusterGroup with one child per criterion (Antrea's one
//! level of `childGroups`). Anything else is refused with the reason and the field.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use antrea_admission::labels::{
    dns1123_subdomain_errors, label_value_errors, qualified_name_errors,
};
use antrea_types::ClusterGroupSpec;
use antrea_types::group::ServiceReference;
use antrea_types::policy::IPBlock;
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use nsx_model::policy::{
    ConditionExpression, ConditionKey, ConditionMemberType, ConditionOperator, ConjunctionOperator,
    Expression, Group, ScopeOperator,
};
use serde_json::{Map, Value};

use super::error::{RealizationError, Reason};
use super::ip::parse_ip_literal;
use super::span::Span;

/// Deepest chain of group references (`PathExpression`s) that is flattened.
pub const MAX_NESTING_DEPTH: usize = 5;
/// Most criteria one group may expand to (after distributing AND over OR and flattening).
pub const MAX_CRITERIA: usize = 64;
/// The label Kubernetes puts on every Namespace with its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The prefix the NSX inventory puts on scopes of tags that come from Kubernetes labels.
pub const K8S_LABEL_SCOPE_PREFIX: &str = "dis:k8s:";

/// A label selector requirement (`key operator values`), ordered for deduplication.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    pub key: String,
    pub operator: &'static str,
    pub values: Vec<String>,
}

impl Requirement {
    fn to_k8s(&self) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: self.key.clone(),
            operator: self.operator.to_owned(),
            values: (!self.values.is_empty()).then(|| self.values.clone()),
        }
    }
}

/// One criterion of a group: what a single ClusterGroup holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Criterion {
    /// Pods matching both selectors (an empty list: that selector is absent).
    Selector {
        pod: Vec<Requirement>,
        namespace: Vec<Requirement>,
    },
    /// The backend Pods of a Service.
    Service { namespace: String, name: String },
    /// Addresses (sorted, deduplicated).
    IpBlocks(Vec<IpNet>),
}

impl Criterion {
    /// The ClusterGroup spec holding this criterion.
    pub fn to_spec(&self) -> ClusterGroupSpec {
        let selector = |requirements: &[Requirement]| {
            (!requirements.is_empty()).then(|| LabelSelector {
                match_expressions: Some(requirements.iter().map(Requirement::to_k8s).collect()),
                match_labels: None,
            })
        };
        match self {
            Self::Selector { pod, namespace } => ClusterGroupSpec {
                pod_selector: selector(pod),
                namespace_selector: selector(namespace),
                ..ClusterGroupSpec::default()
            },
            Self::Service { namespace, name } => ClusterGroupSpec {
                service_reference: Some(ServiceReference {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                }),
                ..ClusterGroupSpec::default()
            },
            Self::IpBlocks(nets) => ClusterGroupSpec {
                ip_blocks: Some(
                    nets.iter()
                        .map(|net| IPBlock::new(net.to_string()))
                        .collect(),
                ),
                ..ClusterGroupSpec::default()
            },
        }
    }

    /// Whether this criterion selects addresses rather than Pods.
    pub fn is_ip(&self) -> bool {
        matches!(self, Self::IpBlocks(_))
    }
}

/// A translated group: the OR of its criteria (sorted, deduplicated; empty = no members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCriteria {
    pub criteria: Vec<Criterion>,
    /// Longest chain of group references below this group (0 without references).
    pub depth: usize,
}

impl GroupCriteria {
    /// Whether any criterion selects IP addresses (such a group cannot be an applied-to).
    pub fn has_ip_members(&self) -> bool {
        self.criteria.iter().any(Criterion::is_ip)
    }
}

type GroupResult = Result<Rc<GroupCriteria>, RealizationError>;

/// One atom of a conjunction.
#[derive(Debug, Clone)]
enum Atom<'a> {
    Condition(&'a ConditionExpression, String),
    Ips(Vec<IpNet>, String),
    GroupRef(&'a str, String),
}

type Dnf<'a> = Vec<Vec<Atom<'a>>>;

/// Translates the groups of a span, memoising each group (groups are shared by many rules
/// and nested in one another).
pub struct GroupTranslator<'a> {
    span: &'a Span,
    memo: HashMap<&'a str, GroupResult>,
}

impl<'a> GroupTranslator<'a> {
    pub fn new(span: &'a Span) -> Self {
        Self {
            span,
            memo: HashMap::new(),
        }
    }

    /// The criteria of the group at `path`, or why it cannot be translated.
    pub fn translate(&mut self, path: &str) -> GroupResult {
        let mut stack = Vec::new();
        self.translate_in(path, &mut stack)
    }

    fn translate_in(&mut self, path: &str, stack: &mut Vec<&'a str>) -> GroupResult {
        if let Some(result) = self.memo.get(path) {
            return result.clone();
        }
        let Some((key, entry)) = self.span.groups.get_key_value(path) else {
            return Err(RealizationError::new(
                Reason::MissingReference,
                format!("group {path} is not in the desired state"),
            ));
        };
        if stack.contains(&key.as_str()) {
            let mut cycle: Vec<&str> = stack.clone();
            cycle.push(key);
            return Err(RealizationError::new(
                Reason::UnsupportedGroupExpression,
                format!(
                    "groups reference each other in a cycle: {}",
                    cycle.join(" → ")
                ),
            ));
        }
        stack.push(key.as_str());
        let result = match &entry.object {
            Err(error) => Err(RealizationError::new(
                Reason::InvalidDocument,
                format!("group {path} is not a valid NSX Group: {error}"),
            )),
            Ok(group) => self.translate_group(group, stack).map(Rc::new),
        };
        stack.pop();
        self.memo.insert(key.as_str(), result.clone());
        result
    }

    fn translate_group(
        &mut self,
        group: &'a Group,
        stack: &mut Vec<&'a str>,
    ) -> Result<GroupCriteria, RealizationError> {
        unknown_fields(&group.extra, "")?;
        if !group.is_antrea() {
            return Err(RealizationError::new(
                Reason::UnsupportedGroup,
                "not an Antrea group (group_type does not contain ANTREA): only Antrea groups can be used in policies for Antrea clusters",
            )
            .at("group_type"));
        }
        if group
            .extended_expression
            .as_ref()
            .is_some_and(|list| !list.is_empty())
        {
            return Err(RealizationError::new(
                Reason::UnsupportedGroup,
                "identity (Active Directory) members cannot be expressed in Antrea",
            )
            .at("extended_expression"));
        }
        if group.meta.children.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(RealizationError::new(
                Reason::InvalidDocument,
                "a group document carries hierarchical-API children",
            )
            .at("children"));
        }
        let expression = group.expression.as_deref().unwrap_or_default();
        let dnf = list_dnf(expression, "expression", true)?;
        let mut criteria = BTreeSet::new();
        let mut depth = 0;
        for conjunction in dnf {
            for criterion in self.conjunction(conjunction, stack, &mut depth)? {
                criteria.insert(criterion);
            }
        }
        if criteria.len() > MAX_CRITERIA {
            return Err(RealizationError::new(
                Reason::UnsupportedGroupExpression,
                format!(
                    "the group expands to {} criteria; at most {MAX_CRITERIA} are translated",
                    criteria.len()
                ),
            )
            .at("expression"));
        }
        Ok(GroupCriteria {
            criteria: criteria.into_iter().collect(),
            depth,
        })
    }

    fn conjunction(
        &mut self,
        atoms: Vec<Atom<'a>>,
        stack: &mut Vec<&'a str>,
        depth: &mut usize,
    ) -> Result<Vec<Criterion>, RealizationError> {
        if let Some(Atom::GroupRef(path, field)) =
            atoms.iter().find(|atom| matches!(atom, Atom::GroupRef(..)))
        {
            if atoms.len() > 1 {
                return Err(RealizationError::new(
                    Reason::UnsupportedGroupExpression,
                    format!("member group {path} is ANDed with other criteria; Antrea cannot intersect groups"),
                )
                .at(field.clone()));
            }
            let member = self
                .translate_in(path, stack)
                .map_err(|error| RealizationError {
                    message: format!("member group {path}: {}", error.message),
                    field: Some(field.clone()),
                    ..error
                })?;
            if member.depth + 1 > MAX_NESTING_DEPTH {
                return Err(RealizationError::new(
                    Reason::UnsupportedGroupExpression,
                    format!(
                        "groups are nested more than {MAX_NESTING_DEPTH} levels deep below {path}"
                    ),
                )
                .at(field.clone()));
            }
            *depth = (*depth).max(member.depth + 1);
            return Ok(member.criteria.clone());
        }
        if let Some(index) = atoms.iter().position(|atom| matches!(atom, Atom::Ips(..))) {
            if atoms.len() > 1 {
                let field = match &atoms[index] {
                    Atom::Ips(_, field) => field.clone(),
                    _ => String::new(),
                };
                return Err(RealizationError::new(
                    Reason::UnsupportedGroupExpression,
                    "IP addresses are ANDed with other criteria; Antrea cannot intersect addresses with selectors",
                )
                .at(field));
            }
            let Some(Atom::Ips(nets, _)) = atoms.into_iter().nth(index) else {
                return Ok(Vec::new());
            };
            let nets: BTreeSet<IpNet> = nets.into_iter().collect();
            return Ok(vec![Criterion::IpBlocks(nets.into_iter().collect())]);
        }
        let conditions = atoms.iter().filter_map(|atom| match atom {
            Atom::Condition(condition, field) => Some((*condition, field.as_str())),
            _ => None,
        });
        Ok(vec![conditions_criterion(conditions)?])
    }
}

fn unknown_fields(extra: &Map<String, Value>, field: &str) -> Result<(), RealizationError> {
    match extra.keys().next() {
        None => Ok(()),
        Some(name) => {
            let at = if field.is_empty() {
                name.clone()
            } else {
                format!("{field}.{name}")
            };
            Err(RealizationError::new(
                Reason::UnknownField,
                format!("field {at} is not known to this adapter, which cannot prove it harmless"),
            )
            .at(at))
        }
    }
}

/// The DNF of an expression list (`top_level`: an empty list is a group without members).
fn list_dnf<'a>(
    list: &'a [Expression],
    field: &str,
    top_level: bool,
) -> Result<Dnf<'a>, RealizationError> {
    if list.is_empty() {
        if top_level {
            return Ok(Vec::new());
        }
        return Err(RealizationError::new(
            Reason::InvalidDocument,
            "a NestedExpression has no expressions",
        )
        .at(field.to_owned()));
    }
    if list.len().is_multiple_of(2) {
        return Err(RealizationError::new(
            Reason::InvalidDocument,
            "an expression list must alternate expressions and ConjunctionOperators (odd length)",
        )
        .at(field.to_owned()));
    }
    let mut result: Dnf<'a> = Vec::new();
    // The AND-chain being built: a DNF itself.
    let mut chain: Dnf<'a> = element_dnf(&list[0], &format!("{field}[0]"))?;
    for (index, pair) in list[1..].chunks(2).enumerate() {
        let conjunction_index = 1 + index * 2;
        let at = format!("{field}[{conjunction_index}]");
        let Expression::Conjunction(conjunction) = &pair[0] else {
            return Err(RealizationError::new(
                Reason::InvalidDocument,
                "expected a ConjunctionOperator between two expressions",
            )
            .at(at));
        };
        unknown_fields(&conjunction.extra, &at)?;
        let right = element_dnf(&pair[1], &format!("{field}[{}]", conjunction_index + 1))?;
        match &conjunction.conjunction_operator {
            Some(ConjunctionOperator::Or) => {
                result.append(&mut chain);
                chain = right;
            }
            Some(ConjunctionOperator::And) => {
                let mut product = Vec::with_capacity(chain.len() * right.len());
                for left in &chain {
                    for term in &right {
                        let mut both = left.clone();
                        both.extend(term.iter().cloned());
                        product.push(both);
                    }
                }
                chain = product;
            }
            other => {
                return Err(RealizationError::new(
                    Reason::InvalidDocument,
                    format!(
                        "conjunction_operator {} is neither AND nor OR",
                        other.as_ref().map_or("(missing)", |o| o.as_str())
                    ),
                )
                .at(format!("{at}.conjunction_operator")));
            }
        }
        if chain.len() + result.len() > MAX_CRITERIA {
            return Err(RealizationError::new(
                Reason::UnsupportedGroupExpression,
                format!("the expression expands to more than {MAX_CRITERIA} criteria"),
            )
            .at(field.to_owned()));
        }
    }
    result.append(&mut chain);
    Ok(result)
}

fn element_dnf<'a>(expression: &'a Expression, field: &str) -> Result<Dnf<'a>, RealizationError> {
    let unsupported_group = |what: &str| {
        Err(RealizationError::new(
            Reason::UnsupportedGroup,
            format!("{what} members cannot be expressed in Antrea (Antrea groups hold Pods, Namespaces, Services and IP addresses)"),
        )
        .at(field.to_owned()))
    };
    match expression {
        Expression::Condition(condition) => {
            unknown_fields(&condition.extra, field)?;
            Ok(vec![vec![Atom::Condition(condition, field.to_owned())]])
        }
        Expression::Nested(nested) => {
            unknown_fields(&nested.extra, field)?;
            list_dnf(
                nested.expressions.as_deref().unwrap_or_default(),
                &format!("{field}.expressions"),
                false,
            )
        }
        Expression::IpAddress(ips) => {
            unknown_fields(&ips.extra, field)?;
            let addresses = ips.ip_addresses.as_deref().unwrap_or_default();
            if addresses.is_empty() {
                return Err(RealizationError::new(
                    Reason::InvalidDocument,
                    "an IPAddressExpression has no ip_addresses",
                )
                .at(field.to_owned()));
            }
            let mut nets = Vec::new();
            for (index, address) in addresses.iter().enumerate() {
                let parsed = parse_ip_literal(address).map_err(|message| {
                    RealizationError::new(Reason::InvalidDocument, message)
                        .at(format!("{field}.ip_addresses[{index}]"))
                })?;
                nets.extend(parsed);
            }
            Ok(vec![vec![Atom::Ips(nets, field.to_owned())]])
        }
        Expression::Path(paths) => {
            unknown_fields(&paths.extra, field)?;
            let list = paths.paths.as_deref().unwrap_or_default();
            if list.is_empty() {
                return Err(RealizationError::new(
                    Reason::InvalidDocument,
                    "a PathExpression has no paths",
                )
                .at(field.to_owned()));
            }
            let mut dnf = Vec::with_capacity(list.len());
            for (index, path) in list.iter().enumerate() {
                if !is_group_path(path) {
                    return Err(RealizationError::new(
                        Reason::UnsupportedGroupExpression,
                        format!("path {path} is not a group; only groups can be members of an Antrea group"),
                    )
                    .at(format!("{field}.paths[{index}]")));
                }
                dnf.push(vec![Atom::GroupRef(
                    path.as_str(),
                    format!("{field}.paths[{index}]"),
                )]);
            }
            Ok(dnf)
        }
        Expression::MacAddress(_) => unsupported_group("MAC address"),
        Expression::ExternalId(_) => unsupported_group("External-ID (VM, VNIC, ...)"),
        Expression::IdentityGroup(_) => unsupported_group("Identity (Active Directory)"),
        Expression::Conjunction(_) => Err(RealizationError::new(
            Reason::InvalidDocument,
            "a ConjunctionOperator where an expression is expected",
        )
        .at(field.to_owned())),
        Expression::Unknown(object) => Err(RealizationError::new(
            Reason::UnsupportedGroupExpression,
            format!(
                "expression type {} is not known to this adapter",
                object
                    .get("resource_type")
                    .and_then(Value::as_str)
                    .unwrap_or("(none)")
            ),
        )
        .at(field.to_owned())),
    }
}

/// Whether a policy path names a group (`/infra/domains/<d>/groups/<id>`, also under
/// `/orgs/.../projects/...` or a `global-infra`).
pub fn is_group_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    segments.len() >= 3
        && segments[segments.len() - 2] == "groups"
        && !segments[segments.len() - 1].is_empty()
        && path.starts_with('/')
}

fn expression_error(message: impl Into<String>, field: &str) -> RealizationError {
    RealizationError::new(Reason::UnsupportedGroupExpression, message).at(field.to_owned())
}

/// Parses a tag condition value `scope|tag` into a label key and an optional value.
fn tag_key_value(value: &str, field: &str) -> Result<(String, Option<String>), RealizationError> {
    let Some((scope, tag)) = value.split_once('|') else {
        return Err(expression_error(
            format!(
                "tag '{value}' has no scope: NSX matches it under any scope, Antrea selects labels by key (use 'scope|tag')"
            ),
            field,
        ));
    };
    let scope = match scope.get(..K8S_LABEL_SCOPE_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(K8S_LABEL_SCOPE_PREFIX) => {
            &scope[K8S_LABEL_SCOPE_PREFIX.len()..]
        }
        _ => scope,
    };
    if scope.is_empty() {
        return Err(expression_error(
            format!(
                "tag '{value}' has an empty scope: NSX matches it under any scope, Antrea selects labels by key"
            ),
            field,
        ));
    }
    let key_errors = qualified_name_errors(scope);
    if !key_errors.is_empty() {
        return Err(expression_error(
            format!(
                "tag scope '{scope}' is not a valid Kubernetes label key: {}",
                key_errors.join("; ")
            ),
            field,
        ));
    }
    if tag.is_empty() {
        return Ok((scope.to_owned(), None));
    }
    let value_errors = label_value_errors(tag);
    if !value_errors.is_empty() {
        return Err(expression_error(
            format!(
                "tag '{tag}' is not a valid Kubernetes label value: {}",
                value_errors.join("; ")
            ),
            field,
        ));
    }
    Ok((scope.to_owned(), Some(tag.to_owned())))
}

fn tag_requirement(
    condition: &ConditionExpression,
    field: &str,
) -> Result<Requirement, RealizationError> {
    if let Some(ScopeOperator::NotEquals | ScopeOperator::Other(_)) = &condition.scope_operator {
        return Err(expression_error(
            format!(
                "scope_operator {} cannot be expressed: Antrea selects labels by exact key",
                condition.scope_operator.as_ref().map_or("", |o| o.as_str())
            ),
            field,
        ));
    }
    let value = condition.value.as_deref().ok_or_else(|| {
        RealizationError::new(Reason::InvalidDocument, "a Condition has no value")
            .at(field.to_owned())
    })?;
    let (key, tag) = tag_key_value(value, field)?;
    let equals = match &condition.operator {
        Some(ConditionOperator::Equals) => true,
        Some(ConditionOperator::NotEquals) => false,
        other => {
            return Err(expression_error(
                format!(
                    "operator {} is not supported for tags (Antrea groups support EQUALS and NOTEQUALS)",
                    other.as_ref().map_or("(missing)", |o| o.as_str())
                ),
                field,
            ));
        }
    };
    Ok(match (tag, equals) {
        (Some(tag), true) => Requirement {
            key,
            operator: "In",
            values: vec![tag],
        },
        (Some(tag), false) => Requirement {
            key,
            operator: "NotIn",
            values: vec![tag],
        },
        (None, true) => Requirement {
            key,
            operator: "Exists",
            values: Vec::new(),
        },
        (None, false) => Requirement {
            key,
            operator: "DoesNotExist",
            values: Vec::new(),
        },
    })
}

/// A Namespace or Service name (compared case-insensitively by NSX; Kubernetes names are
/// lower case, so the lower-cased value matches exactly the object NSX would match).
fn object_name(
    condition: &ConditionExpression,
    what: &str,
    field: &str,
) -> Result<String, RealizationError> {
    if condition.operator != Some(ConditionOperator::Equals) {
        return Err(expression_error(
            format!(
                "operator {} is not supported for {what} names (Antrea groups support EQUALS)",
                condition
                    .operator
                    .as_ref()
                    .map_or("(missing)", |o| o.as_str())
            ),
            field,
        ));
    }
    let value = condition.value.as_deref().ok_or_else(|| {
        RealizationError::new(Reason::InvalidDocument, "a Condition has no value")
            .at(field.to_owned())
    })?;
    let name = value.to_ascii_lowercase();
    let errors = dns1123_subdomain_errors(&name);
    if !errors.is_empty() || name.len() > 63 || name.contains('.') {
        return Err(expression_error(
            format!("'{value}' is not a valid Kubernetes {what} name, so no {what} can match it"),
            field,
        ));
    }
    Ok(name)
}

/// The criterion of a conjunction of conditions.
fn conditions_criterion<'c>(
    conditions: impl Iterator<Item = (&'c ConditionExpression, &'c str)>,
) -> Result<Criterion, RealizationError> {
    let mut pod = BTreeSet::new();
    let mut namespace = BTreeSet::new();
    let mut namespace_names = BTreeSet::new();
    let mut has_namespace_tag = false;
    let mut services = BTreeSet::new();
    let mut service_field = String::new();
    for (condition, field) in conditions {
        if condition
            .exclude
            .as_ref()
            .is_some_and(|exclude| !exclude.is_empty())
        {
            return Err(expression_error(
                "excluded members (Condition.exclude) cannot be expressed in Antrea",
                &format!("{field}.exclude"),
            ));
        }
        let member_type = condition.member_type.as_ref();
        let key = condition.key.as_ref();
        match (member_type, key) {
            (Some(ConditionMemberType::Pod), Some(ConditionKey::Tag)) => {
                pod.insert(tag_requirement(condition, field)?);
            }
            (Some(ConditionMemberType::Namespace), Some(ConditionKey::Tag)) => {
                has_namespace_tag = true;
                namespace.insert(tag_requirement(condition, field)?);
            }
            (Some(ConditionMemberType::Namespace), Some(ConditionKey::Name)) => {
                let name = object_name(condition, "Namespace", field)?;
                namespace_names.insert(name.clone());
                namespace.insert(Requirement {
                    key: NAMESPACE_NAME_LABEL.to_owned(),
                    operator: "In",
                    values: vec![name],
                });
            }
            (Some(ConditionMemberType::Service), Some(ConditionKey::Name)) => {
                services.insert(object_name(condition, "Service", field)?);
                service_field = field.to_owned();
            }
            (Some(ConditionMemberType::Pod), Some(ConditionKey::Name)) => {
                return Err(expression_error(
                    "Pod Name conditions cannot be expressed: Antrea selects Pods by label only",
                    field,
                ));
            }
            _ => {
                return Err(expression_error(
                    format!(
                        "condition {} {} is not supported in Antrea groups (Pod Tag, Namespace Tag, Namespace Name, Service Name)",
                        member_type.map_or("(no member_type)", |m| m.as_str()),
                        key.map_or("(no key)", |k| k.as_str())
                    ),
                    field,
                ));
            }
        }
    }
    if services.is_empty() {
        return Ok(Criterion::Selector {
            pod: pod.into_iter().collect(),
            namespace: namespace.into_iter().collect(),
        });
    }
    if !pod.is_empty() {
        return Err(expression_error(
            "a Service condition cannot share a criterion with a Pod condition",
            &service_field,
        ));
    }
    if has_namespace_tag {
        return Err(expression_error(
            "a Service condition can only be combined with one Namespace Name condition (serviceReference names one Service in one Namespace)",
            &service_field,
        ));
    }
    if services.len() > 1 || namespace_names.len() > 1 {
        return Err(expression_error(
            "the criterion names several Services or Namespaces at once (they can never all match)",
            &service_field,
        ));
    }
    let (Some(name), Some(namespace)) = (services.pop_first(), namespace_names.pop_first()) else {
        return Err(expression_error(
            "a Service condition must be combined with a Namespace Name condition",
            &service_field,
        ));
    };
    Ok(Criterion::Service { namespace, name })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ccp::span::{NsxIdentity, SpanEntry};

    fn span(groups: Value) -> Span {
        let mut span = Span::default();
        for group in groups.as_array().unwrap() {
            let id = group["id"].as_str().unwrap();
            let path = format!("/infra/domains/default/groups/{id}");
            span.groups.insert(
                path.clone(),
                SpanEntry::from_value(NsxIdentity::new(path, format!("u-{id}"), 1), group.clone()),
            );
        }
        span
    }

    fn antrea(id: &str, expression: Value) -> Value {
        json!({"resource_type": "Group", "id": id, "group_type": ["ANTREA"], "expression": expression})
    }

    fn cond(member: &str, key: &str, operator: &str, value: &str) -> Value {
        json!({"resource_type": "Condition", "member_type": member, "key": key, "operator": operator, "value": value})
    }

    fn conj(operator: &str) -> Value {
        json!({"resource_type": "ConjunctionOperator", "conjunction_operator": operator})
    }

    fn translate(groups: Value, id: &str) -> GroupResult {
        let span = span(groups);
        GroupTranslator::new(&span).translate(&format!("/infra/domains/default/groups/{id}"))
    }

    fn req(key: &str, operator: &'static str, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let groups = json!([antrea(
            "g",
            json!([
                cond("Pod", "Tag", "EQUALS", "app|a"),
                conj("OR"),
                cond("Pod", "Tag", "EQUALS", "app|b"),
                conj("AND"),
                cond("Pod", "Tag", "NOTEQUALS", "dis:k8s:tier|db")
            ])
        )]);
        let criteria = translate(groups, "g").unwrap();
        assert_eq!(
            criteria.criteria,
            vec![
                Criterion::Selector {
                    pod: vec![req("app", "In", &["a"])],
                    namespace: vec![]
                },
                Criterion::Selector {
                    pod: vec![req("app", "In", &["b"]), req("tier", "NotIn", &["db"])],
                    namespace: vec![]
                },
            ]
        );
    }

    #[test]
    fn nested_or_is_distributed() {
        let groups = json!([antrea(
            "g",
            json!([
                cond("Pod", "Tag", "EQUALS", "app|web"), conj("AND"),
                {"resource_type": "NestedExpression", "expressions": [
                    cond("Namespace", "Tag", "EQUALS", "env|"), conj("OR"),
                    cond("Namespace", "Name", "EQUALS", "Prod")
                ]}
            ])
        )]);
        let criteria = translate(groups, "g").unwrap();
        assert_eq!(criteria.criteria.len(), 2);
        assert!(criteria.criteria.contains(&Criterion::Selector {
            pod: vec![req("app", "In", &["web"])],
            namespace: vec![req(NAMESPACE_NAME_LABEL, "In", &["prod"])],
        }));
        assert!(criteria.criteria.contains(&Criterion::Selector {
            pod: vec![req("app", "In", &["web"])],
            namespace: vec![req("env", "Exists", &[])],
        }));
    }

    #[test]
    fn services_need_their_namespace() {
        let ok = json!([antrea(
            "g",
            json!([{"resource_type": "NestedExpression", "expressions": [
                cond("Service", "Name", "EQUALS", "Cache"), conj("AND"),
                cond("Namespace", "Name", "EQUALS", "db")
            ]}])
        )]);
        assert_eq!(
            translate(ok, "g").unwrap().criteria,
            vec![Criterion::Service {
                namespace: "db".into(),
                name: "cache".into()
            }]
        );
        let alone = json!([antrea(
            "g",
            json!([cond("Service", "Name", "EQUALS", "cache")])
        )]);
        let error = translate(alone, "g").unwrap_err();
        assert!(error.message.contains("Namespace Name"), "{error}");
        let with_pod = json!([antrea(
            "g",
            json!([{"resource_type": "NestedExpression", "expressions": [
                cond("Service", "Name", "EQUALS", "cache"), conj("AND"),
                cond("Namespace", "Name", "EQUALS", "db"), conj("AND"),
                cond("Pod", "Tag", "EQUALS", "a|b")
            ]}])
        )]);
        assert!(
            translate(with_pod, "g")
                .unwrap_err()
                .message
                .contains("Pod")
        );
    }

    #[test]
    fn nested_groups_flatten_and_cycles_fail() {
        let groups = json!([
            antrea(
                "outer",
                json!([
                    {"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/inner"]},
                    conj("OR"),
                    {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1-10.0.0.2"]}
                ])
            ),
            antrea("inner", json!([cond("Pod", "Tag", "EQUALS", "app|x")])),
            antrea(
                "loop-a",
                json!([{"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/loop-b"]}])
            ),
            antrea(
                "loop-b",
                json!([{"resource_type": "PathExpression", "paths": ["/infra/domains/default/groups/loop-a"]}])
            ),
        ]);
        let outer = translate(groups.clone(), "outer").unwrap();
        assert_eq!(outer.depth, 1);
        assert!(outer.has_ip_members());
        assert_eq!(outer.criteria.len(), 2);
        let error = translate(groups, "loop-a").unwrap_err();
        assert!(error.message.contains("cycle"), "{error}");
    }

    #[test]
    fn depth_is_limited() {
        let mut groups = vec![antrea("g0", json!([cond("Pod", "Tag", "EQUALS", "a|b")]))];
        for level in 1..=MAX_NESTING_DEPTH + 1 {
            groups.push(antrea(
                &format!("g{level}"),
                json!([{"resource_type": "PathExpression", "paths": [format!("/infra/domains/default/groups/g{}", level - 1)]}]),
            ));
        }
        let groups = Value::Array(groups);
        assert_eq!(
            translate(groups.clone(), &format!("g{MAX_NESTING_DEPTH}"))
                .unwrap()
                .depth,
            MAX_NESTING_DEPTH
        );
        let error = translate(groups, &format!("g{}", MAX_NESTING_DEPTH + 1)).unwrap_err();
        assert!(error.message.contains("nested more than"), "{error}");
    }

    #[test]
    fn unsupported_conditions_name_their_field() {
        for (condition, needle) in [
            (cond("Pod", "Tag", "CONTAINS", "app|w"), "CONTAINS"),
            (cond("Pod", "Tag", "EQUALS", "web"), "no scope"),
            (cond("Pod", "Tag", "EQUALS", "|web"), "empty scope"),
            (cond("Pod", "Tag", "EQUALS", "bad key!|web"), "label key"),
            (cond("Pod", "Tag", "EQUALS", "app|bad value"), "label value"),
            (cond("Pod", "Name", "EQUALS", "web-0"), "label only"),
            (
                cond("VirtualMachine", "Tag", "EQUALS", "a|b"),
                "VirtualMachine",
            ),
            (
                cond("Namespace", "Name", "STARTSWITH", "prod"),
                "STARTSWITH",
            ),
            (
                cond("Namespace", "Name", "EQUALS", "under_score"),
                "no Namespace can match",
            ),
            (
                json!({"resource_type": "Condition", "member_type": "Pod", "key": "Tag", "operator": "EQUALS", "value": "a|b", "scope_operator": "NOTEQUALS"}),
                "scope_operator",
            ),
        ] {
            let error = translate(json!([antrea("g", json!([condition]))]), "g").unwrap_err();
            assert!(error.message.contains(needle), "{needle}: {error}");
            assert_eq!(error.field.as_deref(), Some("expression[0]"));
        }
        let mac = json!([antrea(
            "g",
            json!([{"resource_type": "MACAddressExpression", "mac_addresses": ["00:50:56:aa:bb:cc"]}])
        )]);
        assert_eq!(
            translate(mac, "g").unwrap_err().reason,
            Reason::UnsupportedGroup
        );
        let generic = json!([{"resource_type": "Group", "id": "g", "expression": [cond("Pod", "Tag", "EQUALS", "a|b")]}]);
        assert_eq!(
            translate(generic, "g").unwrap_err().reason,
            Reason::UnsupportedGroup
        );
        let ip_and = json!([antrea(
            "g",
            json!([
                {"resource_type": "IPAddressExpression", "ip_addresses": ["10.0.0.1"]}, conj("AND"),
                cond("Pod", "Tag", "EQUALS", "a|b")
            ])
        )]);
        assert!(
            translate(ip_and, "g")
                .unwrap_err()
                .message
                .contains("intersect")
        );
        let missing = translate(json!([]), "absent").unwrap_err();
        assert_eq!(missing.reason, Reason::MissingReference);
    }

    #[test]
    fn criteria_become_cluster_group_specs() {
        let spec = Criterion::Selector {
            pod: vec![req("app", "In", &["web"])],
            namespace: vec![req("env", "Exists", &[])],
        }
        .to_spec();
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
                "namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}
            })
        );
    }
}
