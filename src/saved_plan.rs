//! Saved plans (`jprov plan -o FILE`, `jprov apply FILE`): apply exactly what was reviewed, or nothing.
//!
//! A saved plan holds no secrets: the plan is the redacted one `--json` prints, plus the digest of the
//! profile and of each host's managed state. Apply recomputes the plan from the same profile and refuses
//! unless the profile, every host's managed files and the resulting changes are what was saved. A saved
//! teardown (`plan --destroy -o FILE`) says so (`destroy`), and `apply FILE` then tears down.

use crate::desired::Options;
use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const KIND: &str = "jprov-saved-plan";

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub kind: String,
    pub format_version: u32,
    /// Absolute path of the profile the plan was made from.
    pub profile: PathBuf,
    /// SHA-1 of the profile's bytes.
    pub profile_digest: String,
    pub start_tunnel: bool,
    /// A teardown plan (`plan --destroy`): applying it removes the profile's setup.
    #[serde(default)]
    pub destroy: bool,
    /// The plan as `plan --json` prints it (secrets redacted).
    pub plan: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot write the saved plan {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("cannot save the plan to {0}: offline plans can't be saved (a saved plan records the state of the hosts, which an offline plan never saw); run `jprov plan -o FILE` against the hosts")]
    Offline(PathBuf),
    #[error("the profile {0} changed since the plan was saved; run `jprov plan -o` again")]
    ProfileChanged(PathBuf),
    #[error("the {role}'s managed files changed since the plan was saved; nothing was applied. Run `jprov plan -o` again")]
    HostChanged { role: String },
    #[error("the changes jprov would make now differ from the saved plan; nothing was applied. Run `jprov plan -o` again")]
    PlanDiffers,
}

/// A saved plan of several profiles (`jprov plan -o FILE P1 P2 ...`): one entry per profile, applied
/// together by `jprov apply FILE`.
#[derive(Debug, Serialize, Deserialize)]
struct SavedPlans {
    kind: String,
    format_version: u32,
    plans: Vec<SavedPlan>,
}

/// What `plan` saves of one profile's plan, or what apply must find again.
pub fn of(profile: &Path, profile_digest: &str, plan: &Plan, options: Options) -> SavedPlan {
    SavedPlan {
        kind: KIND.into(),
        format_version: crate::plan::FORMAT_VERSION,
        profile: std::fs::canonicalize(profile).unwrap_or_else(|_| profile.to_path_buf()),
        profile_digest: profile_digest.into(),
        start_tunnel: options.start_tunnel,
        destroy: options.destroy,
        plan: serde_json::to_value(plan).expect("plans serialize"),
    }
}

pub fn save(
    path: &Path,
    profile: &Path,
    profile_digest: &str,
    plan: &Plan,
    options: Options,
) -> Result<(), SavedPlanError> {
    if plan.offline {
        return Err(SavedPlanError::Offline(path.to_path_buf()));
    }
    write(path, &of(profile, profile_digest, plan, options))
}

/// Save several profiles' plans in one file.
pub fn save_all(path: &Path, plans: Vec<SavedPlan>) -> Result<(), SavedPlanError> {
    if plans
        .iter()
        .any(|p| p.plan["offline"].as_bool() == Some(true))
    {
        return Err(SavedPlanError::Offline(path.to_path_buf()));
    }
    let saved = SavedPlans {
        kind: KIND.into(),
        format_version: crate::plan::FORMAT_VERSION,
        plans,
    };
    write(path, &saved)
}

fn write(path: &Path, saved: &impl Serialize) -> Result<(), SavedPlanError> {
    let text = serde_json::to_string_pretty(saved).expect("saved plans serialize");
    std::fs::write(path, text + "\n").map_err(|e| SavedPlanError::Write(path.to_path_buf(), e))
}

/// The saved plan in `path`, or `None` when the file is something else (a YAML profile).
pub fn load(path: &Path) -> Option<SavedPlan> {
    read::<SavedPlan>(path).filter(|s| s.kind == KIND)
}

/// The plans of several profiles saved in `path` by one `plan -o`; `None` when it holds something else.
pub fn load_all(path: &Path) -> Option<Vec<SavedPlan>> {
    (read::<SavedPlans>(path).filter(|s| s.kind == KIND)).map(|s| s.plans)
}

/// `path` as JSON of type `T`, when it is a JSON object of that shape.
fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(&text).ok()
}

impl SavedPlan {
    /// The options the plan was made with, for apply to make the same one.
    pub fn options(&self) -> Options {
        Options {
            start_tunnel: self.start_tunnel,
            destroy: self.destroy,
        }
    }

    pub fn check_profile(&self, digest: &str) -> Result<(), SavedPlanError> {
        if self.profile_digest == digest {
            Ok(())
        } else {
            Err(SavedPlanError::ProfileChanged(self.profile.clone()))
        }
    }

    /// The plan computed now must be the saved one: same host state, same changes.
    pub fn check_plan(&self, now: &Plan) -> Result<(), SavedPlanError> {
        let now = serde_json::to_value(now).expect("plans serialize");
        if self.plan["destroy"].as_bool().unwrap_or(false)
            != now["destroy"].as_bool().unwrap_or(false)
        {
            return Err(SavedPlanError::PlanDiffers);
        }
        let hosts = |v: &serde_json::Value| v["hosts"].as_array().cloned().unwrap_or_default();
        for (saved, current) in hosts(&self.plan).iter().zip(hosts(&now).iter()) {
            if saved["facts_digest"] != current["facts_digest"] {
                return Err(SavedPlanError::HostChanged {
                    role: saved["role"].as_str().unwrap_or("host").to_string(),
                });
            }
        }
        if hosts(&self.plan) != hosts(&now) {
            return Err(SavedPlanError::PlanDiffers);
        }
        Ok(())
    }
}
