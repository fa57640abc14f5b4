//! `kube::Resource` for the aggregated-API kinds (stats.antrea.io, system.antrea.io), which
//! are plain serde structs rather than CRDs.

/// Implements `kube::Resource` for a struct with a `metadata: ObjectMeta` field.
macro_rules! aggregated_resource {
    ($type:ty, group = $group:literal, version = $version:literal, kind = $kind:literal, plural = $plural:literal, scope = $scope:ty) => {
        impl ::kube::Resource for $type {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> ::std::borrow::Cow<'_, str> {
                $kind.into()
            }

            fn group(_: &()) -> ::std::borrow::Cow<'_, str> {
                $group.into()
            }

            fn version(_: &()) -> ::std::borrow::Cow<'_, str> {
                $version.into()
            }

            fn plural(_: &()) -> ::std::borrow::Cow<'_, str> {
                $plural.into()
            }

            fn meta(&self) -> &::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &self.metadata
            }

            fn meta_mut(
                &mut self,
            ) -> &mut ::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

pub(crate) use aggregated_resource;
