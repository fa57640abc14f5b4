//! NSX Policy intent (`/policy/api/v1`, NSX 4.2 `com.vmware.nsx_policy.model`), as NSX's own
//! JSON: [`Group`] with every [`Expression`] kind, [`Service`] with every [`ServiceEntry`] kind,
//! and [`SecurityPolicy`] with its embedded [`Rule`]s.
//!
//! These are the documents the CCP adapter receives on the control plane (docs/protocol.md §4):
//! exactly what a GET of the object's path returns. The types are built so that **nothing is
//! lost**:
//!
//! - every field of the NSX 4.2 model is declared, with NSX's wire name, as an `Option`
//!   omitted when unset (NSX omits unset fields rather than sending `null`);
//! - every object keeps the fields this version does not know in a flattened `extra` map, so a
//!   translator can refuse an object whose meaning it cannot prove (a later NSX may add a field
//!   that narrows or widens a rule);
//! - enum values are open ([`PolicyCategory::Other`], ...): an unknown value is kept verbatim;
//! - polymorphic members (`Expression`, `ServiceEntry`) are tagged by `resource_type`, and an
//!   unknown `resource_type` is kept as its raw JSON object (`Unknown`).
//!
//! Serializing a value gives back NSX's wire form; a document that went through these types
//! validates against NSX's own schema exactly when the original did.

mod common;
mod group;
mod security_policy;
mod service;

pub use common::{PolicyObjectMeta, ResourceLink, Tag};
pub use group::{
    ConditionExpression, ConditionKey, ConditionMemberType, ConditionOperator,
    ConjunctionExpression, ConjunctionOperator, ExcludedMembersList, Expression,
    ExternalIdExpression, ExternalIdMemberType, Group, GroupState, GroupType,
    IdentityGroupExpression, IdentityGroupInfo, IpAddressExpression, MacAddressExpression,
    NestedExpression, PathExpression, ScopeOperator,
};
pub use security_policy::{
    ApplicationConnectivityStrategy, ConnectivityPreference, ConnectivityStrategy, IpProtocol,
    PolicyCategory, Rule, RuleAction, RuleDirection, SecurityPolicy,
};
pub use service::{
    AlgType, AlgTypeServiceEntry, EtherTypeServiceEntry, IcmpProtocol, IcmpTypeServiceEntry,
    IgmpTypeServiceEntry, IpProtocolServiceEntry, L4PortSetServiceEntry, L4Protocol,
    NestedServiceServiceEntry, Service, ServiceEntry,
};

/// The literal NSX uses in `source_groups`, `destination_groups`, `scope`, `services` and
/// `profiles` for "anything" (case-insensitive on the wire; it must be the only element).
pub const ANY: &str = "ANY";

/// Whether a list element is NSX's `ANY` (compared case-insensitively, as NSX does).
pub fn is_any(value: &str) -> bool {
    value.eq_ignore_ascii_case(ANY)
}

/// An NSX enum carried as a string: the known values as variants, anything else as `Other`.
macro_rules! policy_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value for a wire string.
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(other) => other,
                }
            }

            /// Whether this is a value this version knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }
    };
}

pub(crate) use policy_enum;

/// A polymorphic NSX member tagged by `resource_type`: serialization writes the tag first, then
/// the variant's own fields; deserialization dispatches on the tag and keeps an unknown tag's
/// object verbatim.
macro_rules! tagged_union {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident($inner:ty) = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $($(#[$vmeta])* $variant($inner),)+
            /// A `resource_type` this version does not know: the whole JSON object, verbatim.
            Unknown(::serde_json::Map<String, ::serde_json::Value>),
        }

        impl $name {
            /// The `resource_type` on the wire (`None` when an unknown member has none).
            pub fn resource_type(&self) -> Option<&str> {
                match self {
                    $(Self::$variant(_) => Some($wire),)+
                    Self::Unknown(object) => object.get("resource_type").and_then(::serde_json::Value::as_str),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                #[derive(::serde::Serialize)]
                struct Tagged<'a, T> {
                    resource_type: &'static str,
                    #[serde(flatten)]
                    inner: &'a T,
                }
                match self {
                    $(Self::$variant(inner) => Tagged { resource_type: $wire, inner }.serialize(serializer),)+
                    Self::Unknown(object) => object.serialize(serializer),
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                let mut object = <::serde_json::Map<String, ::serde_json::Value> as ::serde::Deserialize>::deserialize(deserializer)?;
                let tag = match object.get("resource_type") {
                    Some(::serde_json::Value::String(tag)) => tag.clone(),
                    Some(_) => return Err(D::Error::custom(concat!(stringify!($name), " resource_type must be a string"))),
                    None => return Err(D::Error::missing_field("resource_type")),
                };
                match tag.as_str() {
                    $($wire => {
                        object.remove("resource_type");
                        ::serde_json::from_value(::serde_json::Value::Object(object))
                            .map(Self::$variant)
                            .map_err(|error| D::Error::custom(format!("{}: {error}", $wire)))
                    })+
                    _ => Ok(Self::Unknown(object)),
                }
            }
        }
    };
}

pub(crate) use tagged_union;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_is_case_insensitive() {
        assert!(is_any("ANY"));
        assert!(is_any("any"));
        assert!(!is_any("/infra/domains/default/groups/any"));
    }
}
