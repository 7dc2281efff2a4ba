//! SIP digest authentication (RFC 3261 §22.4 on RFC 2617, with RFC 7616 algorithms per RFC 8760).
//!
//! Our own parser and builder rather than rsip's typed auth headers: those spell SHA-256 as
//! `SHA256`, quote `qop` in credentials and keep `nc` in a `u8`, all of which real peers reject.
//!
//! Client side: [`Challenge::parse`] a `WWW-Authenticate`/`Proxy-Authenticate` value, then
//! [`DigestClient::authorize`] (or [`answer_challenge`]) gives the `Authorization`/
//! `Proxy-Authorization` value. Server side: [`Challenge::issue`] and [`verify`].
//!
//! Passwords never reach `Debug` output or error messages.

use md5::Md5;
use rand::Rng;
use sha2::{Sha256, Sha512_256};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Errors of the digest layer: malformed challenges and credentials headers, missing secrets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The header value does not start with the `Digest` scheme (RFC 7616 §3.3).
    #[error("unsupported authentication scheme {0:?} (only Digest)")]
    UnsupportedScheme(String),
    /// The auth-param list is malformed at the given byte offset (RFC 7235 §2.1 grammar).
    #[error("malformed auth-params at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset into the header value.
        offset: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// A parameter appears twice (RFC 7235 §2.1: each parameter name MUST only occur once).
    #[error("parameter {0:?} appears more than once")]
    DuplicateParam(String),
    /// A parameter the message needs is absent (e.g. `realm`, `nonce`).
    #[error("missing parameter {0:?}")]
    MissingParam(&'static str),
    /// The `algorithm` is not one of MD5, SHA-256, SHA-512-256 or their `-sess` forms.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The `qop` offers neither `auth` nor `auth-int` (RFC 7616 §3.3).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
    /// The `nc` is not 8 hexadecimal digits (RFC 7616 §3.4).
    #[error("invalid nonce count {0:?}")]
    InvalidNonceCount(String),
    /// The environment variable that should hold a password is not set (its value is never shown).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The environment variable that should hold a password is set but empty or not Unicode.
    #[error("environment variable {0} is empty or not valid Unicode")]
    InvalidEnv(String),
}

/// Digest algorithm (RFC 7616 §3.3; RFC 8760 §2 registers SHA-256 and SHA-512-256 for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617 §3.2.2.2); the default when a challenge names none.
    Md5,
    /// `MD5-sess`: HA1 re-hashed with nonce and cnonce.
    Md5Sess,
    /// `SHA-256` (RFC 7616 §3.3, RFC 8760 §2.1).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (RFC 7616 §3.3, RFC 8760 §2.1).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// The token as written in headers (RFC 7616 §6.1 registry spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant (RFC 7616 §3.4.2: HA1 includes nonce and cnonce).
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess
        )
    }

    /// Preference when a response carries several challenges (RFC 8760 §2.4: strongest first).
    pub fn strength(self) -> u8 {
        match self {
            Self::Md5 | Self::Md5Sess => 1,
            Self::Sha256 | Self::Sha256Sess => 2,
            Self::Sha512_256 | Self::Sha512_256Sess => 3,
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:` (RFC 7616 §3.4.1 `H(...)`/`KD(...)`).
    fn hash_hex(self, parts: &[&[u8]]) -> String {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self {
            Self::Md5 | Self::Md5Sess => run::<Md5>(parts),
            Self::Sha256 | Self::Sha256Sess => run::<Sha256>(parts),
            Self::Sha512_256 | Self::Sha512_256Sess => run::<Sha512_256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = AuthError;

    /// Parses the token case-insensitively (RFC 7616 §3.3).
    fn from_str(s: &str) -> Result<Self, AuthError> {
        const ALL: [Algorithm; 6] = [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Sha512_256,
            Algorithm::Sha512_256Sess,
        ];
        ALL.into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| AuthError::UnsupportedAlgorithm(s.to_string()))
    }
}

/// Quality of protection (RFC 7616 §3.3 `qop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication of method and request-URI.
    Auth,
    /// `auth-int`: also covers the message body (RFC 7616 §3.4.3).
    AuthInt,
}

impl Qop {
    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    fn from_token(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auth") {
            Some(Self::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Self::AuthInt)
        } else {
            None
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's digest secret. `Debug` shows the username only; there is no `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The digest `username` (RFC 7616 §3.4).
    pub username: String,
    password: String,
}

impl Credentials {
    /// Credentials from a username and a password held in memory.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Credentials whose password is read from the environment variable `password_var`.
    ///
    /// The variable must be set, non-empty and valid Unicode; otherwise the error names the
    /// variable and never its value. The username is given literally (it is not a secret). The
    /// variable is read once, now: later changes to the environment are not seen.
    pub fn from_env(username: impl Into<String>, password_var: &str) -> Result<Self, AuthError> {
        Self::from_lookup(username, password_var, |name| std::env::var_os(name))
    }

    /// Like [`Credentials::from_env`] with the environment replaced by `lookup` (for tests and
    /// for configuration loaders that inject an environment).
    pub fn from_lookup(
        username: impl Into<String>,
        password_var: &str,
        lookup: impl FnOnce(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Self, AuthError> {
        let value =
            lookup(password_var).ok_or_else(|| AuthError::MissingEnv(password_var.into()))?;
        match value.into_string() {
            Ok(p) if !p.is_empty() => Ok(Self::new(username, p)),
            _ => Err(AuthError::InvalidEnv(password_var.into())),
        }
    }

    /// The password, for computing digests. Never log it.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` digest challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space shown to users and mixed into HA1.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value the client must echo unchanged.
    pub opaque: Option<String>,
    /// The algorithm as the server named it; `None` means MD5 (RFC 2617 §3.2.1).
    pub algorithm: Option<Algorithm>,
    /// The qop values offered, in server order; empty means RFC 2069 compatibility mode.
    pub qop: Vec<Qop>,
    /// The previous request was rejected only because its nonce went stale (RFC 7616 §3.3).
    pub stale: bool,
    /// The `domain` parameter, kept verbatim (unused in SIP, RFC 3261 §22.4).
    pub domain: Option<String>,
}

impl Challenge {
    /// Parses a challenge header value, e.g. `Digest realm="a", nonce="b", qop="auth"`.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let params = parse_digest_params(value)?;
        let mut realm = None;
        let mut nonce = None;
        let mut challenge = Challenge {
            realm: String::new(),
            nonce: String::new(),
            opaque: None,
            algorithm: None,
            qop: Vec::new(),
            stale: false,
            domain: None,
        };
        for (name, v) in params {
            match name.as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => challenge.opaque = Some(v),
                "algorithm" => challenge.algorithm = Some(v.parse()?),
                "stale" => challenge.stale = v.trim().eq_ignore_ascii_case("true"),
                "domain" => challenge.domain = Some(v),
                "qop" => {
                    challenge.qop = v.split(',').filter_map(Qop::from_token).collect();
                    if challenge.qop.is_empty() {
                        return Err(AuthError::UnsupportedQop(v));
                    }
                }
                _ => {} // charset, userhash and extensions: ignored (RFC 7616 §3.3)
            }
        }
        challenge.realm = realm.ok_or(AuthError::MissingParam("realm"))?;
        challenge.nonce = nonce.ok_or(AuthError::MissingParam("nonce"))?;
        Ok(challenge)
    }

    /// Picks the strongest parseable challenge among several headers (RFC 8760 §2.4).
    ///
    /// Returns the first parse error when none of them parses.
    pub fn best<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, AuthError> {
        let mut best: Option<Challenge> = None;
        let mut first_err = None;
        for v in values {
            match Challenge::parse(v) {
                Ok(c) => {
                    let better = best.as_ref().is_none_or(|b| {
                        c.effective_algorithm().strength() > b.effective_algorithm().strength()
                    });
                    if better {
                        best = Some(c);
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        best.ok_or_else(|| first_err.unwrap_or(AuthError::MissingParam("nonce")))
    }

    /// A fresh challenge for the reference call center: 128-bit random nonce, `qop="auth"`.
    pub fn issue<R: Rng + ?Sized>(realm: &str, algorithm: Algorithm, rng: &mut R) -> Self {
        Challenge {
            realm: realm.to_string(),
            nonce: random_hex(rng),
            opaque: None,
            algorithm: Some(algorithm),
            qop: vec![Qop::Auth],
            stale: false,
            domain: None,
        }
    }

    /// The algorithm in force: the named one, else MD5 (RFC 2617 §3.2.1).
    pub fn effective_algorithm(&self) -> Algorithm {
        self.algorithm.unwrap_or(Algorithm::Md5)
    }

    /// The qop a client uses: `auth` when offered, else `auth-int`, else none (RFC 7616 §3.4).
    pub fn preferred_qop(&self) -> Option<Qop> {
        if self.qop.contains(&Qop::Auth) {
            Some(Qop::Auth)
        } else {
            self.qop.first().copied()
        }
    }

    /// Answers this challenge with a given nonce count and cnonce (deterministic; see
    /// [`DigestClient`] for the counting and the random cnonce).
    pub fn respond(
        &self,
        credentials: &Credentials,
        request: &DigestRequest<'_>,
        nc: u32,
        cnonce: &str,
    ) -> Authorization {
        let algorithm = self.effective_algorithm();
        let qop = self.preferred_qop();
        let needs_cnonce = qop.is_some() || algorithm.is_session();
        let cnonce = needs_cnonce.then(|| cnonce.to_string());
        let response = compute_response(&DigestInput {
            algorithm,
            username: &credentials.username,
            password: credentials.password(),
            realm: &self.realm,
            nonce: &self.nonce,
            cnonce: cnonce.as_deref().unwrap_or(""),
            nc,
            qop,
            method: request.method,
            uri: request.uri,
            body: request.body,
        });
        Authorization {
            username: credentials.username.clone(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: request.uri.to_string(),
            response,
            algorithm: self.algorithm,
            cnonce,
            opaque: self.opaque.clone(),
            qop,
            nc: qop.map(|_| nc),
        }
    }
}

impl FromStr for Challenge {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        Challenge::parse(s)
    }
}

impl fmt::Display for Challenge {
    /// Writes the header value (RFC 7616 §3.3: realm, nonce, opaque, domain quoted; algorithm
    /// and stale tokens; qop a quoted list).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest realm=")?;
        write_quoted(f, &self.realm)?;
        write!(f, ", nonce=")?;
        write_quoted(f, &self.nonce)?;
        if let Some(d) = &self.domain {
            write!(f, ", domain=")?;
            write_quoted(f, d)?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some(a) = self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if !self.qop.is_empty() {
            let list: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            write!(f, ", qop=\"{}\"", list.join(","))?;
        }
        if self.stale {
            write!(f, ", stale=true")?;
        }
        Ok(())
    }
}

/// The parts of the request a digest covers (RFC 7616 §3.4.3: method, request-URI, body).
#[derive(Debug, Clone, Copy)]
pub struct DigestRequest<'a> {
    /// The SIP method, e.g. `INVITE` (for ACK/CANCEL reuse the INVITE's, RFC 3261 §22.4).
    pub method: &'a str,
    /// The Request-URI exactly as sent in the request line (RFC 3261 §22.4 `digest-uri`).
    pub uri: &'a str,
    /// The message body; only hashed for `qop=auth-int`.
    pub body: &'a [u8],
}

/// Everything that goes into a digest `response` (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// Username.
    pub username: &'a str,
    /// Password (not logged: this struct is only built on the stack while hashing).
    pub password: &'a str,
    /// Realm.
    pub realm: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// Client nonce (ignored unless qop or a `-sess` algorithm is in use).
    pub cnonce: &'a str,
    /// Nonce count (ignored without qop).
    pub nc: u32,
    /// Quality of protection; `None` is the RFC 2069 form.
    pub qop: Option<Qop>,
    /// Request method.
    pub method: &'a str,
    /// digest-uri.
    pub uri: &'a str,
    /// Body, hashed for `auth-int`.
    pub body: &'a [u8],
}

/// Computes the lower-case hex `response` (RFC 7616 §3.4.1–§3.4.3, RFC 2617 §3.2.2.1).
pub fn compute_response(input: &DigestInput<'_>) -> String {
    let alg = input.algorithm;
    let mut ha1 = alg.hash_hex(&[
        input.username.as_bytes(),
        input.realm.as_bytes(),
        input.password.as_bytes(),
    ]);
    if alg.is_session() {
        ha1 = alg.hash_hex(&[
            ha1.as_bytes(),
            input.nonce.as_bytes(),
            input.cnonce.as_bytes(),
        ]);
    }
    let ha2 = match input.qop {
        Some(Qop::AuthInt) => {
            let body_hash = alg.hash_hex(&[input.body]);
            alg.hash_hex(&[
                input.method.as_bytes(),
                input.uri.as_bytes(),
                body_hash.as_bytes(),
            ])
        }
        _ => alg.hash_hex(&[input.method.as_bytes(), input.uri.as_bytes()]),
    };
    match input.qop {
        Some(qop) => {
            let nc = format_nc(input.nc);
            alg.hash_hex(&[
                ha1.as_bytes(),
                input.nonce.as_bytes(),
                nc.as_bytes(),
                input.cnonce.as_bytes(),
                qop.as_str().as_bytes(),
                ha2.as_bytes(),
            ])
        }
        None => alg.hash_hex(&[ha1.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// A parsed or generated `Authorization` / `Proxy-Authorization` digest value (RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Username.
    pub username: String,
    /// Realm, echoed from the challenge.
    pub realm: String,
    /// Server nonce, echoed.
    pub nonce: String,
    /// digest-uri: the Request-URI.
    pub uri: String,
    /// Lower-case hex digest.
    pub response: String,
    /// Algorithm, echoed exactly when the challenge named one.
    pub algorithm: Option<Algorithm>,
    /// Client nonce (present with qop or a `-sess` algorithm).
    pub cnonce: Option<String>,
    /// Opaque, echoed.
    pub opaque: Option<String>,
    /// The qop chosen.
    pub qop: Option<Qop>,
    /// Nonce count, written as 8 hex digits (present with qop).
    pub nc: Option<u32>,
}

impl Authorization {
    /// Parses a credentials header value (tolerates a quoted `qop`, which some peers send).
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let params = parse_digest_params(value)?;
        let (mut username, mut realm, mut nonce, mut uri, mut response) =
            (None, None, None, None, None);
        let mut auth = Authorization {
            username: String::new(),
            realm: String::new(),
            nonce: String::new(),
            uri: String::new(),
            response: String::new(),
            algorithm: None,
            cnonce: None,
            opaque: None,
            qop: None,
            nc: None,
        };
        for (name, v) in params {
            match name.as_str() {
                "username" => username = Some(v),
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "uri" => uri = Some(v),
                "response" => response = Some(v),
                "algorithm" => auth.algorithm = Some(v.parse()?),
                "cnonce" => auth.cnonce = Some(v),
                "opaque" => auth.opaque = Some(v),
                "qop" => auth.qop = Some(Qop::from_token(&v).ok_or(AuthError::UnsupportedQop(v))?),
                "nc" => {
                    let ok = v.len() == 8 && v.bytes().all(|b| b.is_ascii_hexdigit());
                    let n = u32::from_str_radix(&v, 16).ok().filter(|_| ok);
                    auth.nc = Some(n.ok_or(AuthError::InvalidNonceCount(v))?);
                }
                _ => {}
            }
        }
        auth.username = username.ok_or(AuthError::MissingParam("username"))?;
        auth.realm = realm.ok_or(AuthError::MissingParam("realm"))?;
        auth.nonce = nonce.ok_or(AuthError::MissingParam("nonce"))?;
        auth.uri = uri.ok_or(AuthError::MissingParam("uri"))?;
        auth.response = response.ok_or(AuthError::MissingParam("response"))?;
        if auth.qop.is_some() {
            if auth.cnonce.is_none() {
                return Err(AuthError::MissingParam("cnonce"));
            }
            if auth.nc.is_none() {
                return Err(AuthError::MissingParam("nc"));
            }
        }
        Ok(auth)
    }
}

impl FromStr for Authorization {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        Authorization::parse(s)
    }
}

impl fmt::Display for Authorization {
    /// Writes the header value: quoted username, realm, nonce, uri, response, cnonce, opaque;
    /// unquoted algorithm, qop and nc (RFC 7616 §3.4, RFC 3261 §25.1 `dig-resp`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest username=")?;
        write_quoted(f, &self.username)?;
        write!(f, ", realm=")?;
        write_quoted(f, &self.realm)?;
        write!(f, ", nonce=")?;
        write_quoted(f, &self.nonce)?;
        write!(f, ", uri=")?;
        write_quoted(f, &self.uri)?;
        write!(f, ", response=")?;
        write_quoted(f, &self.response)?;
        if let Some(a) = self.algorithm {
            write!(f, ", algorithm={a}")?;
        }
        if let Some(c) = &self.cnonce {
            write!(f, ", cnonce=")?;
            write_quoted(f, c)?;
        }
        if let Some(o) = &self.opaque {
            write!(f, ", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some(q) = self.qop {
            write!(f, ", qop={q}")?;
        }
        if let (Some(_), Some(nc)) = (self.qop, self.nc) {
            write!(f, ", nc={}", format_nc(nc))?;
        }
        Ok(())
    }
}

/// Client-side digest state for one call: counts `nc` per nonce (RFC 7616 §3.4: the count
/// restarts at 1 for each new nonce) and draws cnonces from the caller's seeded rng.
#[derive(Debug, Clone, Default)]
pub struct DigestClient {
    nonce: Option<String>,
    nc: u32,
}

impl DigestClient {
    /// A client that has not answered any challenge yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `challenge` for `request`: the next `nc` for its nonce and a fresh random cnonce.
    pub fn authorize<R: Rng + ?Sized>(
        &mut self,
        challenge: &Challenge,
        credentials: &Credentials,
        request: &DigestRequest<'_>,
        rng: &mut R,
    ) -> Authorization {
        if self.nonce.as_deref() != Some(challenge.nonce.as_str()) {
            self.nonce = Some(challenge.nonce.clone());
            self.nc = 0;
        }
        self.nc = self.nc.wrapping_add(1).max(1);
        let cnonce = random_hex(rng);
        challenge.respond(credentials, request, self.nc, &cnonce)
    }
}

/// Answers a challenge header value in one step: parse, compute with `nc` and a random cnonce.
///
/// The caller counts `nc` (1 for the first answer to a nonce); the result is the
/// `Authorization`/`Proxy-Authorization` header value.
pub fn answer_challenge<R: Rng + ?Sized>(
    challenge: &str,
    credentials: &Credentials,
    method: &str,
    uri: &str,
    body: &[u8],
    nc: u32,
    rng: &mut R,
) -> Result<String, AuthError> {
    let challenge = Challenge::parse(challenge)?;
    let cnonce = random_hex(rng);
    let request = DigestRequest { method, uri, body };
    Ok(challenge
        .respond(credentials, &request, nc, &cnonce)
        .to_string())
}

/// Server side (RFC 3261 §22.4, RFC 7616 §3.5): whether an `Authorization` value answers our
/// challenge (`nonce`, `realm`) for `method` with the password `password_lookup` returns for
/// its username. Requests with `qop=auth-int` need [`verify_with_body`].
///
/// Anything malformed, another nonce or realm, an unknown user or a wrong digest is `false`.
/// Nonce expiry and replay (`nc` reuse) are the caller's to track.
pub fn verify(
    authorization_value: &str,
    method: &str,
    nonce: &str,
    realm: &str,
    password_lookup: impl FnOnce(&str) -> Option<String>,
) -> bool {
    verify_with_body(
        authorization_value,
        method,
        &[],
        nonce,
        realm,
        password_lookup,
    )
}

/// [`verify`] with the request body, needed when the client chose `qop=auth-int`.
pub fn verify_with_body(
    authorization_value: &str,
    method: &str,
    body: &[u8],
    nonce: &str,
    realm: &str,
    password_lookup: impl FnOnce(&str) -> Option<String>,
) -> bool {
    let Ok(auth) = Authorization::parse(authorization_value) else {
        return false;
    };
    if auth.nonce != nonce || auth.realm != realm {
        return false;
    }
    let Some(password) = password_lookup(&auth.username) else {
        return false;
    };
    let algorithm = auth.algorithm.unwrap_or(Algorithm::Md5);
    if algorithm.is_session() && auth.cnonce.is_none() {
        return false;
    }
    let expected = compute_response(&DigestInput {
        algorithm,
        username: &auth.username,
        password: &password,
        realm: &auth.realm,
        nonce: &auth.nonce,
        cnonce: auth.cnonce.as_deref().unwrap_or(""),
        nc: auth.nc.unwrap_or(0),
        qop: auth.qop,
        method,
        uri: &auth.uri,
        body,
    });
    constant_time_eq(
        expected.as_bytes(),
        auth.response.to_ascii_lowercase().as_bytes(),
    )
}

/// `nc` as exactly 8 lower-case hex digits (RFC 7616 §3.4).
fn format_nc(nc: u32) -> String {
    format!("{nc:08x}")
}

/// 128 random bits as 32 hex digits: cnonces and nonces.
fn random_hex<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// Compares without an early exit, so response checks do not leak a matching prefix length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `s` as a quoted-string, escaping `"` and `\` (RFC 3261 §25.1).
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Splits `Digest name=value, name="quoted"` into lower-cased names and unescaped values.
fn parse_digest_params(value: &str) -> Result<Vec<(String, String)>, AuthError> {
    let bytes = value.as_bytes();
    let mut i = skip_ws(bytes, 0);
    let scheme_start = i;
    while i < bytes.len() && is_token_byte(bytes[i]) {
        i += 1;
    }
    let scheme = &value[scheme_start..i];
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::UnsupportedScheme(scheme.to_string()));
    }
    if i < bytes.len() && !bytes[i].is_ascii_whitespace() {
        return Err(AuthError::Malformed {
            offset: i,
            reason: "whitespace after the scheme",
        });
    }
    let mut params: Vec<(String, String)> = Vec::new();
    loop {
        // Separators: whitespace and commas (empty list elements are allowed, RFC 7230 §7).
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(AuthError::Malformed {
                offset: i,
                reason: "a parameter name",
            });
        }
        let name = value[name_start..i].to_ascii_lowercase();
        i = skip_ws(bytes, i);
        if bytes.get(i) != Some(&b'=') {
            return Err(AuthError::Malformed {
                offset: i,
                reason: "'=' after a parameter name",
            });
        }
        i = skip_ws(bytes, i + 1);
        let v = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut out = Vec::new();
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(AuthError::Malformed {
                            offset: i,
                            reason: "a closing quote",
                        })
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let Some(&next) = bytes.get(i + 1) else {
                            return Err(AuthError::Malformed {
                                offset: i,
                                reason: "a character after '\\'",
                            });
                        };
                        out.push(next);
                        i += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            // Escapes only ever drop ASCII backslashes, so the bytes stay UTF-8; be safe anyway.
            String::from_utf8_lossy(&out).into_owned()
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b',' && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == start {
                return Err(AuthError::Malformed {
                    offset: i,
                    reason: "a parameter value",
                });
            }
            value[start..i].to_string()
        };
        i = skip_ws(bytes, i);
        if i < bytes.len() && bytes[i] != b',' {
            return Err(AuthError::Malformed {
                offset: i,
                reason: "',' between parameters",
            });
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(AuthError::DuplicateParam(name));
        }
        params.push((name, v));
    }
    Ok(params)
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// RFC 7230 §3.2.6 tchar.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn mufasa(password: &str) -> Credentials {
        Credentials::new("Mufasa", password)
    }

    /// RFC 2617 §3.5.
    #[test]
    fn rfc2617_example() {
        let c = Challenge::parse(
            r#"Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .expect("challenge parses");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert_eq!(c.effective_algorithm(), Algorithm::Md5);
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        let a = c.respond(&mufasa("Circle Of Life"), &req, 1, "0a4f113b");
        assert_eq!(a.response, "6629fae49393a05397450978507c4ef1");
        let s = a.to_string();
        assert!(s.contains("nc=00000001"), "{s}");
        assert!(
            s.contains("qop=auth,") || s.ends_with("qop=auth, nc=00000001"),
            "{s}"
        );
        assert!(
            s.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#),
            "{s}"
        );
        assert!(s.contains(r#"cnonce="0a4f113b""#), "{s}");
        assert!(
            !s.contains("algorithm"),
            "no algorithm in the challenge, none echoed: {s}"
        );
    }

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

    fn rfc7616(algorithm: &str) -> Authorization {
        let header = format!(
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}""#
        );
        let c = Challenge::parse(&header).expect("challenge parses");
        let req = DigestRequest {
            method: "GET",
            uri: "/dir/index.html",
            body: b"",
        };
        c.respond(&mufasa("Circle of Life"), &req, 1, RFC7616_CNONCE)
    }

    /// RFC 7616 §3.9.1, MD5 and SHA-256.
    #[test]
    fn rfc7616_examples() {
        let md5 = rfc7616("MD5");
        assert_eq!(md5.response, "8ca523f5e9506fed4657c9700eebdbec");
        assert!(md5.to_string().contains("algorithm=MD5,"));
        let sha = rfc7616("SHA-256");
        assert_eq!(
            sha.response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert!(sha.to_string().contains("algorithm=SHA-256,"));
        // Our own verifier accepts both.
        for a in [md5, sha] {
            let value = a.to_string();
            let lookup = |u: &str| (u == "Mufasa").then(|| "Circle of Life".to_string());
            assert!(verify(
                &value,
                "GET",
                RFC7616_NONCE,
                "http-auth@example.org",
                lookup
            ));
            assert!(!verify(
                &value,
                "GET",
                "other-nonce",
                "http-auth@example.org",
                lookup
            ));
            assert!(!verify(&value, "GET", RFC7616_NONCE, "other-realm", lookup));
        }
    }

    /// A SIP INVITE challenged by the reference call center, answered and verified, per
    /// algorithm and qop.
    #[test]
    fn sip_round_trip_verified() {
        let mut rng = StdRng::seed_from_u64(7);
        let creds = Credentials::new("alice", "secret");
        let body = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";
        let lookup = |u: &str| (u == "alice").then(|| "secret".to_string());
        for alg in [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Sha512_256,
            Algorithm::Sha512_256Sess,
        ] {
            for qop in [vec![], vec![Qop::Auth], vec![Qop::AuthInt]] {
                let mut ch = Challenge::issue("callcert", alg, &mut rng);
                ch.qop = qop.clone();
                let header = ch.to_string();
                let parsed = Challenge::parse(&header).expect("own challenge parses");
                assert_eq!(parsed, ch);
                let req = DigestRequest {
                    method: "INVITE",
                    uri: "sip:ivr@127.0.0.1:5080",
                    body,
                };
                let mut client = DigestClient::new();
                let a = client.authorize(&parsed, &creds, &req, &mut rng);
                let value = a.to_string();
                assert!(
                    value.contains(&format!("algorithm={}", alg.as_str())),
                    "{value}"
                );
                let n = ch.nonce.as_str();
                assert!(
                    verify_with_body(&value, "INVITE", body, n, "callcert", lookup),
                    "{alg} {qop:?}: {value}"
                );
                assert!(!verify_with_body(
                    &value, "BYE", body, n, "callcert", lookup
                ));
                let wrong = |_: &str| Some("wrong".to_string());
                assert!(!verify_with_body(
                    &value, "INVITE", body, n, "callcert", wrong
                ));
                let unknown = |_: &str| None;
                assert!(!verify_with_body(
                    &value, "INVITE", body, n, "callcert", unknown
                ));
                if qop == [Qop::AuthInt] {
                    let tampered = b"tampered";
                    assert!(!verify_with_body(
                        &value, "INVITE", tampered, n, "callcert", lookup
                    ));
                } else {
                    assert!(verify(&value, "INVITE", n, "callcert", lookup));
                }
            }
        }
    }

    #[test]
    fn nonce_count_per_nonce() {
        let mut rng = StdRng::seed_from_u64(1);
        let creds = Credentials::new("alice", "secret");
        let req = DigestRequest {
            method: "INVITE",
            uri: "sip:ivr@example.org",
            body: b"",
        };
        let mut ch = Challenge::issue("callcert", Algorithm::Md5, &mut rng);
        let mut client = DigestClient::new();
        let a1 = client.authorize(&ch, &creds, &req, &mut rng);
        let a2 = client.authorize(&ch, &creds, &req, &mut rng);
        assert_eq!((a1.nc, a2.nc), (Some(1), Some(2)));
        assert!(a2.to_string().contains("nc=00000002"));
        assert_ne!(a1.cnonce, a2.cnonce);
        ch.nonce = "fresh".into();
        let a3 = client.authorize(&ch, &creds, &req, &mut rng);
        assert_eq!(a3.nc, Some(1));
        let a4 = Authorization {
            nc: Some(0x1a),
            ..a3
        };
        assert!(a4.to_string().contains("nc=0000001a"));
    }

    #[test]
    fn answer_challenge_one_step() {
        let mut rng = StdRng::seed_from_u64(3);
        let v = answer_challenge(
            r#"Digest realm="callcert", nonce="abc", qop="auth", algorithm=SHA-256"#,
            &Credentials::new("alice", "secret"),
            "INVITE",
            "sip:ivr@127.0.0.1:5080",
            b"",
            1,
            &mut rng,
        )
        .expect("answers");
        assert!(v.starts_with(r#"Digest username="alice", realm="callcert", nonce="abc", uri="sip:ivr@127.0.0.1:5080", response=""#));
        assert!(verify(&v, "INVITE", "abc", "callcert", |_| Some(
            "secret".into()
        )));
    }

    #[test]
    fn parse_tolerates_spacing_case_and_escapes() {
        let c = Challenge::parse(
            "digest REALM = \"a \\\"quoted\\\" realm\" ,, nonce=tok123,algorithm=md5-SESS, stale=TRUE, qop=\"auth-int\"",
        )
        .expect("parses");
        assert_eq!(c.realm, "a \"quoted\" realm");
        assert_eq!(c.nonce, "tok123");
        assert_eq!(c.algorithm, Some(Algorithm::Md5Sess));
        assert!(c.stale);
        assert_eq!(c.qop, vec![Qop::AuthInt]);
        // Round trip through Display keeps the escapes right.
        assert_eq!(Challenge::parse(&c.to_string()).expect("re-parses"), c);
    }

    #[test]
    fn best_picks_strongest() {
        let c = Challenge::best([
            r#"Digest realm="r", nonce="1", algorithm=MD5"#,
            r#"Digest realm="r", nonce="2", algorithm=SHA-256"#,
            r#"Basic realm="r""#,
        ])
        .expect("one parses");
        assert_eq!(c.nonce, "2");
        assert!(Challenge::best([r#"Basic realm="r""#]).is_err());
    }

    #[test]
    fn malformed_challenges_are_errors() {
        let cases: &[(&str, AuthError)] = &[
            ("", AuthError::UnsupportedScheme(String::new())),
            (
                r#"Basic realm="x""#,
                AuthError::UnsupportedScheme("Basic".into()),
            ),
            ("Digest", AuthError::MissingParam("realm")),
            (r#"Digest realm="x""#, AuthError::MissingParam("nonce")),
            (
                r#"Digest realm="x", nonce="y", algorithm=SHA-1"#,
                AuthError::UnsupportedAlgorithm("SHA-1".into()),
            ),
            (
                r#"Digest realm="x", nonce="y", qop="foo""#,
                AuthError::UnsupportedQop("foo".into()),
            ),
            (
                r#"Digest realm="x", realm="y""#,
                AuthError::DuplicateParam("realm".into()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Challenge::parse(input).as_ref(), Err(want), "{input:?}");
        }
        for input in [
            r#"Digest realm="unterminated"#,
            r#"Digest realm"#,
            r#"Digest realm="#,
            r#"Digest ="x""#,
            r#"Digest realm="x" nonce="y""#,
            "Digest realm=\"x\\",
            "Digestrealm=\"x\"",
        ] {
            assert!(
                matches!(
                    Challenge::parse(input),
                    Err(AuthError::Malformed { .. } | AuthError::UnsupportedScheme(_))
                ),
                "{input:?}: {:?}",
                Challenge::parse(input)
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = StdRng::seed_from_u64(99);
        let alphabet = b"Digest realm=\"\\,  nonce qop=auth-int algorithm=MD5 \xc3\xa9\xff";
        for _ in 0..5000 {
            let len = rng.random_range(0..60);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let s = String::from_utf8_lossy(&bytes);
            let _ = Challenge::parse(&s);
            let _ = Authorization::parse(&s);
            let _ = verify(&s, "INVITE", "n", "r", |_| Some("x".into()));
        }
    }

    #[test]
    fn malformed_authorization_fails_verification() {
        let ok = |_: &str| Some("secret".to_string());
        assert!(!verify("", "INVITE", "n", "r", ok));
        assert!(!verify(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth"#,
            "INVITE",
            "n",
            "r",
            ok
        ));
        assert_eq!(
            Authorization::parse(
                r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, cnonce="c", nc=1"#
            ),
            Err(AuthError::InvalidNonceCount("1".into()))
        );
        assert!(!verify(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="x""#,
            "INVITE",
            "n",
            "r",
            |_| None
        ));
    }

    #[test]
    fn credentials_never_print_the_password() {
        let c = Credentials::new("alice", "hunter2");
        let dbg = format!("{c:?} {:#?}", Some(&c));
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("alice"));
    }

    #[test]
    fn credentials_from_lookup() {
        let c = Credentials::from_lookup("alice", "PW", |_| Some("s3cret".into())).expect("set");
        assert_eq!(c.password(), "s3cret");
        let e = Credentials::from_lookup("alice", "PW", |_| None).unwrap_err();
        assert_eq!(e, AuthError::MissingEnv("PW".into()));
        assert_eq!(e.to_string(), "environment variable PW is not set");
        let e = Credentials::from_lookup("alice", "PW", |_| Some("".into())).unwrap_err();
        assert_eq!(e, AuthError::InvalidEnv("PW".into()));
    }
}
