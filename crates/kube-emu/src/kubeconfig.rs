//! The kubeconfig that points kubectl and kube-rs at a served emulator.

/// A kubeconfig with cluster, user and context all named `kube-emu`, token auth (the
/// emulator accepts any token) and `default` as the namespace.
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-emu
  cluster:
    server: {server_url}
contexts:
- name: kube-emu
  context:
    cluster: kube-emu
    user: kube-emu
    namespace: default
current-context: kube-emu
users:
- name: kube-emu
  user:
    token: kube-emu
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_the_server_and_parses() {
        let text = kubeconfig_yaml("http://127.0.0.1:6443");
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            value["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:6443"
        );
        assert_eq!(value["current-context"], "kube-emu");
        assert_eq!(value["users"][0]["user"]["token"], "kube-emu");
    }
}
