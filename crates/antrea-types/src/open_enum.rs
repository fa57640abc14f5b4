//! `open_string_enum!`: string enums for fields the manifests declare as plain strings.
//!
//! Status fields such as `phase` or an observation's `action` are plain strings in the CRD
//! schemas; Antrea writes a known set of values, but a newer Antrea may write more. These
//! enums name the known values and keep any other one in `Other`, so reading never fails and
//! writing back reproduces the exact string.

/// Declares an open string enum: known variants with their wire strings plus `Other(String)`.
macro_rules! open_string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
            /// A value this crate does not know; kept verbatim.
            Other(String),
        }

        impl $name {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(value) => value,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
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
                let value = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({"type": "string"})
            }
        }
    };
}

pub(crate) use open_string_enum;

#[cfg(test)]
mod tests {
    open_string_enum! {
        /// Test enum.
        pub enum Color {
            Red = "Red",
        }
    }

    #[test]
    fn known_and_unknown_values_round_trip() {
        let red: Color = serde_json::from_str("\"Red\"").unwrap();
        assert_eq!(red, Color::Red);
        let blue: Color = serde_json::from_str("\"Blue\"").unwrap();
        assert_eq!(blue, Color::Other("Blue".into()));
        assert_eq!(serde_json::to_string(&blue).unwrap(), "\"Blue\"");
        assert_eq!(red.to_string(), "Red");
    }
}
