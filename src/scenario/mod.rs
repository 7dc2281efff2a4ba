//! Scenario files: the YAML that `callcert run` executes, parsed with serde-saphyr into a typed
//! model and validated once, at load, with errors that read `file:line:col: field: message`
//! (STYLE.md rule 9).
//!
//! ```yaml
//! name: smoke
//! target: sip:ivr@127.0.0.1:5080
//! calls: 20
//! rate: 10
//! call: { hold: 2s, audio: prompts/caller.wav }
//! ```
//!
//! The loader helpers here are shared with the reference call center's configuration
//! (`crate::sut::config`).

pub mod daytime;
pub mod duration;
mod error;
mod model;
mod raw;
mod raw_load;
mod raw_quality;
pub use raw_quality::spec_threshold;
mod raw_steps;
pub mod runner;
pub mod steps;
pub(crate) mod yaml;

pub use duration::{format_duration, parse_duration, DurationError};
pub use error::{Position, ScenarioError};
pub use model::{CallPlan, CallerAudio, QualityPlan, Scenario, ScenarioLoad, Timers};

use std::ffi::OsString;
use std::path::Path;

/// Reads, parses and validates a scenario file; `password_env` is read from the process
/// environment.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_scenario(&text, path)
}

/// Parses and validates scenario text; `path` names the file in errors and is the base of
/// relative audio paths. `password_env` is read from the process environment.
pub fn parse_scenario(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    parse_scenario_with_env(text, path, &|name| std::env::var_os(name))
}

/// [`parse_scenario`] with the environment given as a lookup function (for tests).
pub fn parse_scenario_with_env(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario = yaml::from_yaml(text, path)?;
    raw.validate(path, env, text)
}

#[cfg(test)]
mod tests;
