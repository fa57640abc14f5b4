//! Registration of the Antrea CustomResourceDefinitions: the ones generated from the
//! `antrea-types` Rust types (the default), or the manifests of a folder (for example
//! Antrea's real `build/charts/antrea/crds` of v2.7.0).

use std::path::Path;

use kube_emu::KubeEmu;

use crate::AntreaEmuError;

/// Registers the Antrea CRDs on `emu`; returns how many were applied.
pub fn register(emu: &KubeEmu, manifests: Option<&Path>) -> Result<usize, AntreaEmuError> {
    match manifests {
        Some(dir) => emu.load_crds_dir(dir).map_err(AntreaEmuError::Crds),
        None => {
            let crds = antrea_types::crds();
            let count = crds.len();
            for crd in crds {
                let value =
                    serde_json::to_value(&crd).map_err(|source| AntreaEmuError::Encode {
                        what: "a generated CRD",
                        source,
                    })?;
                emu.apply_crd(value).map_err(AntreaEmuError::Crds)?;
            }
            Ok(count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_crds_are_served() {
        let emu = KubeEmu::new();
        let count = register(&emu, None).unwrap();
        assert_eq!(count, antrea_types::crds().len());
        let registry = emu.registry();
        for plural in [
            "clusternetworkpolicies",
            "networkpolicies",
            "tiers",
            "clustergroups",
            "groups",
            "antreacontrollerinfos",
            "antreaagentinfos",
            "traceflows",
        ] {
            assert!(
                registry.get("crd.antrea.io", "v1beta1", plural).is_some(),
                "{plural} is not served"
            );
        }
    }

    #[test]
    fn a_missing_manifest_folder_is_an_error() {
        let emu = KubeEmu::new();
        let error = register(&emu, Some(Path::new("/nonexistent/antrea-crds"))).unwrap_err();
        assert!(matches!(error, AntreaEmuError::Crds(_)), "{error}");
    }
}
