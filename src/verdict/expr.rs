//! Threshold expressions in k6 syntax: `p(95)<1s`, `avg<=800ms`, `rate>=0.9999`, `value>3.8`.
//!
//! ```text
//! expression  := aggregation operator number [unit]      (spaces allowed between tokens)
//! aggregation := avg | min | med | max | count | rate | value | p( number )
//! operator    := < | <= | > | >= | == | !=
//! unit        := ms | s | m                              (delays; a bare number is ms)
//! ```
//!
//! Parsing knows nothing of metrics; which aggregations and units fit which metric is checked
//! when a [`Threshold`](super::Threshold) is built.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use thiserror::Error;

/// How a metric's samples are summarised before comparing (k6 aggregation methods).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean; decided with a t confidence interval.
    Avg,
    /// Smallest sample.
    Min,
    /// Median, the same as `p(50)`.
    Med,
    /// Largest sample.
    Max,
    /// The `N`th percentile, 0 < N ≤ 100 (`p(95)`, `p(99.9)`).
    Percentile(f64),
    /// Number of samples (of trials, for rate metrics).
    Count,
    /// Successes ÷ trials of a rate metric; decided with a Wilson interval.
    Rate,
    /// A score's value taken as a point estimate (its mean, no interval), e.g. `value>3.8`.
    Value,
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Avg => f.write_str("avg"),
            Self::Min => f.write_str("min"),
            Self::Med => f.write_str("med"),
            Self::Max => f.write_str("max"),
            Self::Percentile(p) => write!(f, "p({p})"),
            Self::Count => f.write_str("count"),
            Self::Rate => f.write_str("rate"),
            Self::Value => f.write_str("value"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// Whether `measured op limit` holds.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Self::Lt => measured < limit,
            Self::Le => measured <= limit,
            Self::Gt => measured > limit,
            Self::Ge => measured >= limit,
            Self::Eq => measured == limit,
            Self::Ne => measured != limit,
        }
    }

    /// `true` for `<` and `<=` (the limit is a ceiling), `false` for `>` and `>=` (a floor).
    pub fn is_upper_limit(self) -> Option<bool> {
        match self {
            Self::Lt | Self::Le => Some(true),
            Self::Gt | Self::Ge => Some(false),
            Self::Eq | Self::Ne => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit written after a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// No unit: milliseconds for delays, a plain number otherwise.
    None,
    /// `ms`
    Ms,
    /// `s`
    S,
    /// `m` (minutes)
    M,
}

impl Unit {
    /// The unit as written (empty for none).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Ms => "ms",
            Self::S => "s",
            Self::M => "m",
        }
    }

    /// Milliseconds per unit (a bare number counts as ms).
    pub fn millis(self) -> f64 {
        match self {
            Self::None | Self::Ms => 1.0,
            Self::S => 1_000.0,
            Self::M => 60_000.0,
        }
    }
}

/// The right-hand side of a threshold as written: a number and an optional unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limit {
    /// The number as written.
    pub number: f64,
    /// Its unit.
    pub unit: Unit,
    /// 1-based column of the number in the expression (for later checks' errors).
    #[serde(skip)]
    pub column: usize,
    /// 1-based column of the unit, when there is one.
    #[serde(skip)]
    pub unit_column: usize,
}

impl Limit {
    /// The limit in milliseconds (a bare number is ms, as in k6).
    pub fn millis(&self) -> f64 {
        self.number * self.unit.millis()
    }
}

/// A parsed threshold expression: `aggregation operator limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdExpr {
    /// What is compared.
    pub aggregation: Aggregation,
    /// How.
    pub op: Op,
    /// With what.
    pub limit: Limit,
}

impl fmt::Display for ThresholdExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}{}",
            self.aggregation,
            self.op,
            self.limit.number,
            self.limit.unit.as_str()
        )
    }
}

impl Serialize for ThresholdExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ThresholdExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_threshold(&text).map_err(serde::de::Error::custom)
    }
}

/// An expression that does not parse, or does not fit its metric: where and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ExprError {
    /// 1-based column (in characters) in the expression.
    pub column: usize,
    /// What would have been accepted there.
    pub expected: String,
    /// What is there instead (`end of expression` at the end).
    pub found: String,
}

impl ExprError {
    /// An error at `column` (1-based).
    pub(crate) fn new(
        column: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        ExprError {
            column,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// Parses a k6 threshold expression (`p(95)<1s`, `rate>=0.9999`). Never panics.
pub fn parse_threshold(text: &str) -> Result<ThresholdExpr, ExprError> {
    let mut cursor = Cursor::new(text);
    cursor.skip_spaces();
    let aggregation = cursor.aggregation()?;
    cursor.skip_spaces();
    let op = cursor.op()?;
    cursor.skip_spaces();
    let column = cursor.column();
    let number = cursor.number("a number")?;
    let unit_column = cursor.column();
    let unit = cursor.unit()?;
    cursor.skip_spaces();
    if let Some(c) = cursor.peek() {
        return Err(cursor.error("end of expression", describe(c)));
    }
    Ok(ThresholdExpr {
        aggregation,
        op,
        limit: Limit {
            number,
            unit,
            column,
            unit_column: if unit == Unit::None { 0 } else { unit_column },
        },
    })
}

/// Reads characters left to right, counting columns in characters.
struct Cursor {
    chars: Vec<char>,
    at: usize,
}

const AGGREGATIONS: &str = "an aggregation: avg, min, med, max, p(N), count, rate or value";

impl Cursor {
    fn new(text: &str) -> Self {
        Cursor {
            chars: text.chars().collect(),
            at: 0,
        }
    }

    fn column(&self) -> usize {
        self.at + 1
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of expression".into(), describe)
    }

    fn error(&self, expected: &str, found: String) -> ExprError {
        ExprError::new(self.column(), expected, found)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    fn aggregation(&mut self) -> Result<Aggregation, ExprError> {
        let start = self.at;
        let word = self.word();
        let aggregation = match word.as_str() {
            "avg" => Aggregation::Avg,
            "min" => Aggregation::Min,
            "med" => Aggregation::Med,
            "max" => Aggregation::Max,
            "count" => Aggregation::Count,
            "rate" => Aggregation::Rate,
            "value" => Aggregation::Value,
            "p" => return self.percentile(),
            "" => return Err(self.error(AGGREGATIONS, self.found())),
            other => {
                return Err(ExprError::new(start + 1, AGGREGATIONS, quote(other)));
            }
        };
        Ok(aggregation)
    }

    /// After `p`: `( number )`.
    fn percentile(&mut self) -> Result<Aggregation, ExprError> {
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(self.error("`(` after `p`", self.found()));
        }
        self.at += 1;
        self.skip_spaces();
        let column = self.column();
        let n = self.number("a percentile between 0 and 100")?;
        if !(n > 0.0 && n <= 100.0) {
            return Err(ExprError::new(
                column,
                "a percentile above 0 and at most 100",
                n.to_string(),
            ));
        }
        self.skip_spaces();
        if self.peek() != Some(')') {
            return Err(self.error("`)`", self.found()));
        }
        self.at += 1;
        Ok(Aggregation::Percentile(n))
    }

    fn op(&mut self) -> Result<Op, ExprError> {
        let first = self.peek();
        let second = self.chars.get(self.at + 1).copied();
        let (op, len) = match (first, second) {
            (Some('<'), Some('=')) => (Op::Le, 2),
            (Some('>'), Some('=')) => (Op::Ge, 2),
            (Some('='), Some('=')) => (Op::Eq, 2),
            (Some('!'), Some('=')) => (Op::Ne, 2),
            (Some('<'), _) => (Op::Lt, 1),
            (Some('>'), _) => (Op::Gt, 1),
            _ => {
                return Err(self.error("an operator: <, <=, >, >=, == or !=", self.found()));
            }
        };
        self.at += len;
        Ok(op)
    }

    /// A decimal number, optionally signed: `3`, `0.9999`, `.5`, `-0.5`.
    fn number(&mut self, expected: &str) -> Result<f64, ExprError> {
        let start = self.at;
        if matches!(self.peek(), Some('-' | '+')) {
            self.at += 1;
        }
        let mut digits = 0;
        let mut dots = 0;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                digits += 1;
            } else if c == '.' && dots == 0 {
                dots += 1;
            } else {
                break;
            }
            self.at += 1;
        }
        if digits == 0 {
            self.at = start;
            return Err(self.error(expected, self.found()));
        }
        let text: String = self.chars[start..self.at].iter().collect();
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| ExprError::new(start + 1, expected, quote(&text)))
    }

    fn unit(&mut self) -> Result<Unit, ExprError> {
        let start = self.at;
        let word = self.word();
        match word.as_str() {
            "" => Ok(Unit::None),
            "ms" => Ok(Unit::Ms),
            "s" => Ok(Unit::S),
            "m" => Ok(Unit::M),
            other => Err(ExprError::new(
                start + 1,
                "a unit (ms, s or m) or the end of the expression",
                quote(other),
            )),
        }
    }
}

/// A character as it appears in an error message.
fn describe(c: char) -> String {
    if c.is_control() {
        format!("{:?}", c)
    } else {
        format!("`{c}`")
    }
}

/// A word as it appears in an error message.
fn quote(s: &str) -> String {
    format!("`{}`", s.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> ThresholdExpr {
        parse_threshold(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> ExprError {
        match parse_threshold(text) {
            Ok(e) => panic!("{text} parsed as {e}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_the_k6_forms() {
        let e = ok("p(95)<1s");
        assert_eq!(e.aggregation, Aggregation::Percentile(95.0));
        assert_eq!(e.op, Op::Lt);
        assert_eq!(e.limit.millis(), 1_000.0);
        let e = ok("p(99.9)<=2500ms");
        assert_eq!(e.aggregation, Aggregation::Percentile(99.9));
        assert_eq!((e.op, e.limit.millis()), (Op::Le, 2_500.0));
        assert_eq!(ok("avg<=800ms").limit.millis(), 800.0);
        let e = ok("med<300");
        assert_eq!(
            (e.aggregation, e.limit.unit, e.limit.millis()),
            (Aggregation::Med, Unit::None, 300.0)
        );
        assert_eq!(ok("min>0").op, Op::Gt);
        assert_eq!(ok("max<5s").limit.millis(), 5_000.0);
        assert_eq!(ok("max<2m").limit.millis(), 120_000.0);
        assert_eq!(ok("count>=100").aggregation, Aggregation::Count);
        let e = ok("rate>=0.9999");
        assert_eq!(
            (e.aggregation, e.op, e.limit.number),
            (Aggregation::Rate, Op::Ge, 0.9999)
        );
        assert_eq!(ok("value>3.8").aggregation, Aggregation::Value);
        assert_eq!(ok("avg==1").op, Op::Eq);
        assert_eq!(ok("avg!=1").op, Op::Ne);
        assert_eq!(ok("  p( 95 ) <  1s ").limit.millis(), 1_000.0);
        // k6 has no space between a number and its unit.
        assert_eq!(err("p(95)<1 s").column, 9);
        assert_eq!(ok("value>-0.5").limit.number, -0.5);
        assert_eq!(ok("rate<.05").limit.number, 0.05);
    }

    #[test]
    fn never_panics_on_short_inputs() {
        // Every string of up to 4 characters over the grammar's alphabet and a few strangers.
        let alphabet: Vec<char> = "p()<>=!.-+0159msavgrtecnlux é\u{0}".chars().collect();
        let mut stack = vec![String::new()];
        while let Some(s) = stack.pop() {
            let _ = parse_threshold(&s);
            if s.chars().count() < 4 {
                for c in &alphabet {
                    stack.push(format!("{s}{c}"));
                }
            }
        }
        assert!(parse_threshold("p(1e400)<1").is_err());
        assert!(parse_threshold(&"9".repeat(400)).is_err());
    }

    #[test]
    fn round_trips_through_display() {
        for text in [
            "p(95)<1s",
            "p(99.9)<=2500ms",
            "avg<=800ms",
            "rate>=0.9999",
            "value>3.8",
            "count!=0",
        ] {
            assert_eq!(ok(text).to_string(), text);
        }
    }

    #[test]
    fn errors_carry_column_and_expectation() {
        let e = err("");
        assert_eq!((e.column, e.found.as_str()), (1, "end of expression"));
        assert!(e.expected.contains("aggregation"));
        let e = err("mean<1s");
        assert_eq!((e.column, e.found.as_str()), (1, "`mean`"));
        let e = err("p95<1s");
        assert_eq!(e.column, 2);
        assert!(e.expected.contains('('));
        let e = err("p(95<1s");
        assert_eq!((e.column, e.expected.as_str()), (5, "`)`"));
        let e = err("p(101)<1s");
        assert_eq!(e.column, 3);
        assert!(e.expected.contains("percentile"));
        assert_eq!(err("p(0)<1s").column, 3);
        let e = err("avg=>1s");
        assert_eq!((e.column, e.found.as_str()), (4, "`=`"));
        assert!(e.expected.contains("operator"));
        let e = err("avg<=");
        assert_eq!((e.column, e.found.as_str()), (6, "end of expression"));
        let e = err("avg<=1h");
        assert_eq!((e.column, e.found.as_str()), (7, "`h`"));
        let e = err("avg<=1s extra");
        assert_eq!((e.column, e.found.as_str()), (9, "`e`"));
        let e = err("avg <= abc");
        assert_eq!(e.column, 8);
        let e = err("avg<=1.2.3");
        assert_eq!(e.column, 9);
        // Multi-byte characters count as one column.
        assert_eq!(err("é<1").column, 1);
        assert_eq!(err("avg<1µs").column, 6);
    }
}
