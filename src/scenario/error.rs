//! Errors of configuration files (scenarios and the reference call center's configuration).

use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Where in which file: `file:line:col` (1-based; line 0 when the position is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file as it was named to the loader.
    pub file: PathBuf,
    /// 1-based line, 0 if unknown.
    pub line: u64,
    /// 1-based column, 0 if unknown.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// A configuration file that cannot be used; displays as `file:line:col: field: message`.
///
/// Secrets never appear: a missing `password_env` names the variable, never a value.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not YAML, or YAML that does not fit the model: unknown field, wrong type, missing
    /// required field, bad duration or enum value (found while deserializing).
    #[error("{at}: {}{message}", field_prefix(field))]
    Yaml {
        /// Where.
        at: Position,
        /// Field path, e.g. `call.hold`; empty at the document root.
        field: String,
        /// What serde-saphyr or the field's parser said.
        message: String,
    },
    /// A value that parsed but is not acceptable (checked after deserializing).
    #[error("{at}: {}{message}", field_prefix(field))]
    Invalid {
        /// Where the value is.
        at: Position,
        /// Field path.
        field: String,
        /// Why it is refused.
        message: String,
    },
    /// `password_env` names a variable that is unset, empty or not Unicode.
    #[error("{at}: {field}: environment variable {variable} is not set or is empty")]
    MissingEnv {
        /// Where `password_env` is.
        at: Position,
        /// Field path.
        field: String,
        /// The variable's name.
        variable: String,
    },
    /// A referenced file (prompt audio) does not exist.
    #[error("{at}: {field}: file not found: {}", path.display())]
    FileNotFound {
        /// Where the reference is.
        at: Position,
        /// Field path.
        field: String,
        /// The resolved path that was looked for.
        path: PathBuf,
    },
}

/// `field: `, or nothing for errors about the whole document.
fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

impl ScenarioError {
    /// The field path the error is about (empty for unreadable files and root-level errors).
    pub fn field(&self) -> &str {
        match self {
            Self::Read { .. } => "",
            Self::Yaml { field, .. }
            | Self::Invalid { field, .. }
            | Self::MissingEnv { field, .. }
            | Self::FileNotFound { field, .. } => field,
        }
    }

    /// The position the error is about, when there is one.
    pub fn position(&self) -> Option<&Position> {
        match self {
            Self::Read { .. } => None,
            Self::Yaml { at, .. }
            | Self::Invalid { at, .. }
            | Self::MissingEnv { at, .. }
            | Self::FileNotFound { at, .. } => Some(at),
        }
    }
}
