//! YAML loading shared by scenario files and the reference call center's configuration:
//! serde-saphyr for the typed model, and a map from source positions to field paths so every
//! error reads `file:line:col: field.path: message` (STYLE.md rule 9).

use super::duration::parse_duration;
use super::error::{Position, ScenarioError};
use crate::sip::sdp::AudioCodec;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_saphyr::granit_parser::{Event, Parser};
use serde_saphyr::{DefaultMessageFormatter, Location, MessageFormatter, Spanned};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Reads an environment variable (the process environment, or a map in tests).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// A duration field (`500ms`, `3s`) that can sit inside [`Spanned`] for post-parse checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

/// An [`ScenarioError::Invalid`] at a spanned value.
pub(crate) fn invalid<T>(
    file: &Path,
    value: &Spanned<T>,
    field: &str,
    message: impl Into<String>,
) -> ScenarioError {
    ScenarioError::Invalid {
        at: position(file, Some(value.referenced)),
        field: field.to_string(),
        message: message.into(),
    }
}

/// A codec list: not empty, no repeats.
pub(crate) fn check_codecs(
    file: &Path,
    list: &Spanned<Vec<AudioCodec>>,
    field: &str,
) -> Result<Vec<AudioCodec>, ScenarioError> {
    if list.value.is_empty() {
        return Err(invalid(file, list, field, "must list at least one codec"));
    }
    let mut out: Vec<AudioCodec> = Vec::new();
    for (i, c) in list.value.iter().enumerate() {
        if out.contains(c) {
            return Err(invalid(
                file,
                list,
                &format!("{field}[{i}]"),
                format!("{} is listed twice", c.encoding_name().to_lowercase()),
            ));
        }
        out.push(*c);
    }
    Ok(out)
}

/// `relative` resolved against the folder of the configuration file `file`.
pub(crate) fn relative_to(file: &Path, relative: &str) -> PathBuf {
    let base = file.parent().unwrap_or(Path::new(""));
    base.join(relative)
}

/// Deserializes `text` into `T`, mapping serde-saphyr errors to [`ScenarioError::Yaml`] with the
/// field path found at the error's position.
pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ScenarioError> {
    serde_saphyr::from_str::<T>(text).map_err(|err| {
        let err = err.without_snippet();
        let location = err.location();
        let map = SourceMap::build(text);
        let field = match (err, location) {
            (serde_saphyr::Error::SerdeMissingField { field, .. }, Some(loc)) => {
                join(&map.parent_at(loc.line(), loc.column()), field)
            }
            (_, Some(loc)) => map.path_at(loc.line(), loc.column()),
            (_, None) => String::new(),
        };
        ScenarioError::Yaml {
            at: position(file, location),
            field,
            message: sanitize(&DefaultMessageFormatter.format_message(err)),
        }
    })
}

/// Escapes control characters (the raw formatter does not, see `MessageFormatter`).
fn sanitize(message: &str) -> String {
    message
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_debug().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// A [`Position`] from a serde-saphyr location (unknown locations become line 0).
pub(crate) fn position(file: &Path, location: Option<Location>) -> Position {
    let (line, column) = location
        .filter(|l| l.line() > 0)
        .map_or((0, 0), |l| (l.line(), l.column()));
    Position {
        file: file.to_path_buf(),
        line,
        column,
    }
}

/// `parent.child`, or `child` at the root.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// Where each node of a YAML document starts and the field path that names it
/// (`call.hold`, `codecs[1]`, `auth.users.alice`).
#[derive(Debug, Default)]
pub(crate) struct SourceMap {
    /// In document order, which is source order.
    nodes: Vec<Node>,
    /// Where the YAML stopped being parseable, if it did: no field is named from there on.
    syntax_error_at: Option<(u64, u64)>,
}

#[derive(Debug)]
struct Node {
    line: u64,
    /// 1-based, as serde-saphyr reports columns.
    column: u64,
    path: String,
    parent: String,
}

enum Frame {
    Map {
        path: String,
        /// `Some(key)` when the next node is the value of `key`; `None` when it is a key.
        key: Option<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

impl SourceMap {
    /// Walks the parser's events; stops quietly at a syntax error (serde-saphyr reports it).
    pub(crate) fn build(text: &str) -> Self {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let (event, span) = match item {
                Ok(ok) => ok,
                Err(e) => {
                    let m = e.marker();
                    map.syntax_error_at = Some((m.line() as u64, m.col() as u64 + 1));
                    break;
                }
            };
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::Alias(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
            );
            if is_node {
                let key_text = match &event {
                    Event::Scalar(v, ..) => v.to_string(),
                    _ => "?".to_string(),
                };
                let (parent, path, is_key) = match stack.last() {
                    None => (String::new(), String::new(), false),
                    Some(Frame::Map { path, key: None }) => {
                        (path.clone(), join(path, &key_text), true)
                    }
                    Some(Frame::Map { path, key: Some(k) }) => (path.clone(), join(path, k), false),
                    Some(Frame::Seq { path, index }) => {
                        (path.clone(), format!("{path}[{index}]"), false)
                    }
                };
                map.nodes.push(Node {
                    line: span.start.line() as u64,
                    column: span.start.col() as u64 + 1,
                    path: path.clone(),
                    parent,
                });
                match event {
                    Event::MappingStart(..) if !is_key => {
                        stack.push(Frame::Map { path, key: None })
                    }
                    Event::SequenceStart(..) if !is_key => {
                        stack.push(Frame::Seq { path, index: 0 })
                    }
                    Event::MappingStart(..) | Event::SequenceStart(..) => {
                        // A complex key: its contents are not fields; track them under `?`.
                        stack.push(Frame::Seq { path, index: 0 })
                    }
                    _ => Self::complete(&mut stack, Some(key_text)),
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
                Self::complete(&mut stack, None);
            }
        }
        map
    }

    /// A node finished: a key makes the map expect its value; a value makes it expect a key.
    fn complete(stack: &mut [Frame], key_text: Option<String>) {
        match stack.last_mut() {
            Some(Frame::Map { key, .. }) => {
                *key = match key.take() {
                    None => Some(key_text.unwrap_or_else(|| "?".into())),
                    Some(_) => None,
                };
            }
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }

    fn node_at(&self, line: u64, column: u64) -> Option<&Node> {
        if self.syntax_error_at.is_some_and(|e| (line, column) >= e) {
            return None;
        }
        self.nodes
            .iter()
            .take_while(|n| (n.line, n.column) <= (line, column))
            .last()
    }

    /// The field path of the node at or just before `line:column`.
    pub(crate) fn path_at(&self, line: u64, column: u64) -> String {
        self.node_at(line, column)
            .map(|n| n.path.clone())
            .unwrap_or_default()
    }

    /// The path of the mapping that holds the node at or just before `line:column`.
    pub(crate) fn parent_at(&self, line: u64, column: u64) -> String {
        self.node_at(line, column)
            .map(|n| n.parent.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_block_flow_and_sequences() {
        let text = "name: x\ncall:\n  hold: 3s\n  audio: a.wav\ntimers: { t1: 1s, t2: 2s }\ncodecs:\n  - pcmu\n  - pcma\nlist: [a, b]\n";
        let map = SourceMap::build(text);
        assert_eq!(map.path_at(1, 7), "name");
        assert_eq!(map.path_at(3, 3), "call.hold");
        assert_eq!(map.path_at(3, 9), "call.hold");
        assert_eq!(map.parent_at(3, 9), "call");
        assert_eq!(map.path_at(4, 10), "call.audio");
        assert_eq!(map.path_at(5, 19), "timers.t2");
        assert_eq!(map.path_at(8, 5), "codecs[1]");
        assert_eq!(map.path_at(9, 11), "list[1]");
    }
}
