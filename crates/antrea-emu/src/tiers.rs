//! The system Tiers antrea-controller creates when it starts (`pkg/controller/networkpolicy/
//! tier.go InitializeTiers`): each missing one is created, and one whose priority drifted is
//! updated back (under the controller's identity, which the Tier webhook lets change a
//! priority). Failed attempts are retried with backoff until they succeed. The Tier webhook
//! makes them undeletable.

use std::sync::Arc;
use std::time::Duration;

use antrea_types::{Tier, TierSpec};
use kube::api::{Api, PostParams};

use crate::Shared;

/// A Tier antrea-controller creates at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemTier {
    pub name: &'static str,
    pub priority: i32,
    pub description: &'static str,
}

/// The system Tiers in the order antrea-controller creates them (`systemGeneratedTiers`),
/// with its descriptions.
pub const SYSTEM_TIERS: [SystemTier; 6] = [
    SystemTier {
        name: "baseline",
        priority: 253,
        description: "[READ-ONLY]: System generated Baseline Tier",
    },
    SystemTier {
        name: "application",
        priority: 250,
        description: "[READ-ONLY]: System generated default Application Tier",
    },
    SystemTier {
        name: "platform",
        priority: 200,
        description: "[READ-ONLY]: System generated Platform Tier",
    },
    SystemTier {
        name: "networkops",
        priority: 150,
        description: "[READ-ONLY]: System generated NetworkOps Tier",
    },
    SystemTier {
        name: "securityops",
        priority: 100,
        description: "[READ-ONLY]: System generated SecurityOps Tier",
    },
    SystemTier {
        name: "emergency",
        priority: 50,
        description: "[READ-ONLY]: System generated Emergency Tier",
    },
];

impl SystemTier {
    /// The Tier object antrea-controller creates.
    pub fn object(&self) -> Tier {
        let mut tier = Tier::new(
            self.name,
            TierSpec {
                priority: self.priority,
                description: Some(self.description.to_string()),
            },
        );
        tier.metadata.labels = None;
        tier
    }
}

/// Longest pause between attempts (Antrea backs off 1 s, 2 s, 4 s, 8 s).
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// Creates or repairs the system Tiers. A first attempt runs now; if it fails, attempts go
/// on in the background.
pub(crate) async fn initialize(shared: &Arc<Shared>) {
    if let Err(error) = initialize_once(shared).await {
        tracing::info!(%error, "initializing system Tiers failed; will retry");
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                tokio::select! {
                    () = shared.cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                if !shared.hooks.controller_is_up() {
                    return;
                }
                match initialize_once(&shared).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::info!(%error, "initializing system Tiers failed; will retry");
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        });
    }
}

async fn initialize_once(shared: &Arc<Shared>) -> Result<(), kube::Error> {
    let api: Api<Tier> = Api::all(shared.client.clone());
    for system in &SYSTEM_TIERS {
        match api.get_opt(system.name).await? {
            Some(existing) if existing.spec.priority == system.priority => {}
            Some(mut existing) => {
                tracing::info!(
                    tier = system.name,
                    "resetting the priority of a system Tier"
                );
                existing.spec.priority = system.priority;
                shared
                    .controller_writes
                    .authorize_tier_priority(system.name, system.priority);
                let result = api
                    .replace(system.name, &PostParams::default(), &existing)
                    .await;
                shared
                    .controller_writes
                    .revoke_tier_priority(system.name, system.priority);
                result?;
            }
            None => {
                api.create(&PostParams::default(), &system.object()).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_tiers_match_antrea_types() {
        for system in &SYSTEM_TIERS {
            let known = antrea_types::tier::system_tier(system.name).expect("a system tier");
            assert_eq!(known.priority, system.priority, "{}", system.name);
            assert!(
                system
                    .description
                    .starts_with("[READ-ONLY]: System generated")
            );
        }
        let object = SYSTEM_TIERS[1].object();
        assert_eq!(object.metadata.name.as_deref(), Some("application"));
        assert_eq!(object.spec.priority, 250);
    }
}
