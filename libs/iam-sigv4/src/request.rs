//! The HTTP request as the signer saw it or the server received it: raw path, raw query, headers in order.

use sha2::{Digest, Sha256};

use crate::error::SigV4Error;

/// The parts of an HTTP request that SigV4 covers, exactly as they travel on the wire.
///
/// The gateway builds one from the received request without decoding anything: `path` and
/// `query` are the raw (still percent-encoded) parts of the request target, `headers` keep
/// their order and repeats. For HTTP/2 the `:authority` pseudo-header goes in as `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ... as sent; not case-folded.
    pub method: String,
    /// Raw path, for example `/my%20bucket/a//b`.
    pub path: String,
    /// Raw query string without the leading `?`; empty when there is none.
    pub query: String,
    /// Header names and values in received order; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// The body, or its digest when the caller hashed it while streaming.
    pub payload: Payload,
}

/// The request body, as bytes or as an already computed SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The whole body.
    Bytes(Vec<u8>),
    /// SHA-256 of the body, for callers that hash while reading it.
    Sha256([u8; 32]),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Bytes(Vec::new())
    }
}

impl Payload {
    /// SHA-256 of the body.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Payload::Bytes(bytes) => Sha256::digest(bytes).into(),
            Payload::Sha256(digest) => *digest,
        }
    }

    /// SHA-256 of the body as lowercase hex, the form the canonical request uses.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: impl Into<String>, path: impl Into<String>, query: impl Into<String>) -> Self {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: Vec::new(),
            payload: Payload::default(),
        }
    }

    /// A request from a request target such as `/path?query`, split at the first `?`.
    pub fn from_target(method: impl Into<String>, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        HttpRequest::new(method, path, query)
    }

    /// Adds a header after the existing ones.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.payload = Payload::Bytes(body.into());
        self
    }

    /// Values of every header called `name` (case-insensitive), in received order.
    pub fn header_values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The value of a header that may appear at most once.
    pub(crate) fn single_header(&self, name: &str) -> Result<Option<&str>, SigV4Error> {
        let mut values = self.header_values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(SigV4Error::Duplicate(name.to_owned()));
        }
        Ok(first)
    }

    /// Sets a header, replacing every existing header of that name at the position of the first.
    pub(crate) fn set_header(&mut self, name: &str, value: String) {
        match self
            .headers
            .iter()
            .position(|(header, _)| header.eq_ignore_ascii_case(name))
        {
            Some(first) => {
                self.headers[first].1 = value;
                let mut index = 0;
                self.headers.retain(|(header, _)| {
                    let keep = index <= first || !header.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    /// Drops every header called `name`.
    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(header, _)| !header.eq_ignore_ascii_case(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_splits_at_the_first_question_mark() {
        let request = HttpRequest::from_target("GET", "/a?b=c?d");
        assert_eq!((request.path.as_str(), request.query.as_str()), ("/a", "b=c?d"));
        let request = HttpRequest::from_target("GET", "/a");
        assert_eq!((request.path.as_str(), request.query.as_str()), ("/a", ""));
    }

    #[test]
    fn header_lookup_ignores_case_and_keeps_order() {
        let request = HttpRequest::new("GET", "/", "")
            .with_header("My-Header", "1")
            .with_header("other", "x")
            .with_header("my-header", "2");
        assert_eq!(request.header_values("MY-HEADER").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(
            request.single_header("my-header"),
            Err(SigV4Error::Duplicate("my-header".into()))
        );
        assert_eq!(request.single_header("other"), Ok(Some("x")));
        assert_eq!(request.single_header("absent"), Ok(None));
    }

    #[test]
    fn set_header_replaces_all_in_place() {
        let mut request = HttpRequest::new("GET", "/", "")
            .with_header("a", "1")
            .with_header("X-Amz-Date", "old")
            .with_header("b", "2")
            .with_header("x-amz-date", "older");
        request.set_header("x-amz-date", "new".into());
        let names: Vec<_> = request.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(names, ["a=1", "X-Amz-Date=new", "b=2"]);
        request.set_header("c", "3".into());
        assert_eq!(request.headers.last(), Some(&("c".to_owned(), "3".to_owned())));
    }

    #[test]
    fn payload_digest_of_empty_body_is_the_well_known_value() {
        assert_eq!(
            Payload::default().sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let digest = Payload::Bytes(b"abc".to_vec()).sha256();
        assert_eq!(
            Payload::Sha256(digest),
            Payload::Sha256(Payload::Bytes(b"abc".to_vec()).sha256())
        );
    }
}
