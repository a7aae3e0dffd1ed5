//! Task 1 of SigV4: the canonical request, built from the raw request exactly as AWS documents it.

use crate::claim::{SignatureClaim, SignatureLocation};
use crate::encoding::{percent_decode, raw_query_pairs, remove_dot_segments, uri_encode, uri_encode_path};
use crate::error::SigV4Error;
use crate::request::HttpRequest;

/// Header that declares the body hash (S3 and any client that sends it).
pub(crate) const CONTENT_SHA256_HEADER: &str = "x-amz-content-sha256";
/// Query parameter that carries the signature of a presigned request; never itself signed.
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";
/// Query parameter that carries the session token of a presigned request.
pub(crate) const SESSION_TOKEN_PARAM: &str = "X-Amz-Security-Token";

/// How the path becomes the canonical URI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UriPathMode {
    /// Every service but S3: remove `.`/`..` and empty segments, then `UriEncode` the received
    /// (already encoded) path again, which is the "encode twice" of the AWS documentation.
    #[default]
    Normalized,
    /// S3: keep the path as sent, and `UriEncode` each decoded segment once.
    S3,
}

/// Choices a verifier (or signer) makes about canonicalization beyond the request itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CanonicalOptions {
    /// Path handling: normalized for every service but S3.
    pub uri_path: UriPathMode,
    /// Leave `X-Amz-Security-Token` out of a presigned request's canonical query, for clients
    /// that append the session token after signing.
    pub session_token_unsigned: bool,
}

/// The canonical request a verifier recomputes for `request` under `claim`.
///
/// The payload hash is the `x-amz-content-sha256` header when present (checked against the body
/// by [`crate::verify()`]), otherwise the SHA-256 of the body.
pub fn canonical_request(
    request: &HttpRequest,
    claim: &SignatureClaim,
    options: &CanonicalOptions,
) -> Result<String, SigV4Error> {
    let mut unsigned_params = Vec::new();
    if claim.location() == SignatureLocation::Query {
        unsigned_params.push(SIGNATURE_PARAM);
        if options.session_token_unsigned {
            unsigned_params.push(SESSION_TOKEN_PARAM);
        }
    }
    let payload_hash = match request.single_header(CONTENT_SHA256_HEADER)? {
        Some(declared) => declared.trim().to_owned(),
        None => request.payload.sha256_hex(),
    };
    build_canonical_request(
        request,
        claim.signed_headers(),
        &unsigned_params,
        &payload_hash,
        options.uri_path,
    )
}

/// The canonical request from its parts; shared by the verifier and the signer.
pub(crate) fn build_canonical_request(
    request: &HttpRequest,
    signed_headers: &[String],
    unsigned_params: &[&str],
    payload_hash: &str,
    uri_path: UriPathMode,
) -> Result<String, SigV4Error> {
    let mut canonical = String::with_capacity(256);
    canonical.push_str(&request.method);
    canonical.push('\n');
    canonical.push_str(&canonical_uri(&request.path, uri_path));
    canonical.push('\n');
    canonical.push_str(&canonical_query(&request.query, unsigned_params));
    canonical.push('\n');
    for name in signed_headers {
        let mut values = request.header_values(name).map(trim_and_collapse_spaces).peekable();
        if values.peek().is_none() {
            return Err(SigV4Error::SignedHeaderMissing(name.clone()));
        }
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&values.collect::<Vec<_>>().join(","));
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(payload_hash);
    Ok(canonical)
}

/// The canonical URI of a raw request path.
pub(crate) fn canonical_uri(raw_path: &str, mode: UriPathMode) -> String {
    match mode {
        UriPathMode::Normalized => uri_encode_path(&remove_dot_segments(raw_path)),
        UriPathMode::S3 => {
            let segments = raw_path.strip_prefix('/').unwrap_or(raw_path).split('/');
            let encoded: Vec<String> = segments.map(|segment| uri_encode(&percent_decode(segment))).collect();
            format!("/{}", encoded.join("/"))
        }
    }
}

/// Parameters decoded then re-encoded with `UriEncode`, sorted by name then value (byte order),
/// joined with `&`; a parameter without value keeps its `=`.
pub(crate) fn canonical_query(raw_query: &str, unsigned_params: &[&str]) -> String {
    let mut pairs: Vec<(String, String)> = raw_query_pairs(raw_query)
        .map(|(name, value)| (percent_decode(name), percent_decode(value)))
        .filter(|(name, _)| {
            !unsigned_params
                .iter()
                .any(|unsigned| unsigned.as_bytes() == name.as_slice())
        })
        .map(|(name, value)| (uri_encode(&name), uri_encode(&value)))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Leading and trailing white space removed and runs of spaces inside collapsed to one.
fn trim_and_collapse_spaces(value: &str) -> String {
    value
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_paths_are_encoded_a_second_time() {
        assert_eq!(canonical_uri("", UriPathMode::Normalized), "/");
        assert_eq!(
            canonical_uri("/example space/", UriPathMode::Normalized),
            "/example%20space/"
        );
        // The wire form of an object called `a b` is `a%20b`; non-S3 services encode it again.
        assert_eq!(canonical_uri("/a%20b", UriPathMode::Normalized), "/a%2520b");
        assert_eq!(canonical_uri("//a/./b/../c", UriPathMode::Normalized), "/a/c");
    }

    #[test]
    fn s3_paths_keep_their_segments_and_are_encoded_once() {
        assert_eq!(canonical_uri("", UriPathMode::S3), "/");
        assert_eq!(canonical_uri("//a/./b/..", UriPathMode::S3), "//a/./b/..");
        assert_eq!(canonical_uri("/a%20b", UriPathMode::S3), "/a%20b");
        assert_eq!(canonical_uri("/a b/c+d", UriPathMode::S3), "/a%20b/c%2Bd");
        assert_eq!(canonical_uri("/a%2Fb", UriPathMode::S3), "/a%2Fb");
        assert_eq!(canonical_uri("a/b", UriPathMode::S3), "/a/b");
    }

    #[test]
    fn query_is_reencoded_sorted_by_name_then_value() {
        assert_eq!(canonical_query("", &[]), "");
        assert_eq!(canonical_query("b=2&a=1&a=0", &[]), "a=0&a=1&b=2");
        // Sorting is by name first: `a` < `a-b` although `a-b=` < `a=` as whole strings.
        assert_eq!(canonical_query("a-b=1&a=2", &[]), "a=2&a-b=1");
        assert_eq!(canonical_query("flag&x=%7e+%2a", &[]), "flag=&x=~%2B%2A");
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", &[]),
            "Param1=Value1&Param1=value2"
        );
    }

    #[test]
    fn unsigned_parameters_are_left_out_by_decoded_name() {
        let query = "X-Amz-Signature=abc&X%2DAmz%2DSecurity%2DToken=t&a=1";
        assert_eq!(canonical_query(query, &[SIGNATURE_PARAM]), "X-Amz-Security-Token=t&a=1");
        assert_eq!(canonical_query(query, &[SIGNATURE_PARAM, SESSION_TOKEN_PARAM]), "a=1");
    }

    #[test]
    fn header_values_are_trimmed_and_spaces_collapsed() {
        assert_eq!(trim_and_collapse_spaces("  a   b  c \t"), "a b c");
        assert_eq!(trim_and_collapse_spaces("\"a   b\""), "\"a b\"");
        assert_eq!(trim_and_collapse_spaces("   "), "");
    }

    #[test]
    fn repeated_headers_join_in_order_and_missing_ones_are_refused() {
        let request = HttpRequest::new("GET", "/", "")
            .with_header("Host", "example.com")
            .with_header("My-Header", " b ")
            .with_header("my-header", "a");
        let signed = ["host".to_owned(), "my-header".to_owned()];
        let canonical = build_canonical_request(&request, &signed, &[], "hash", UriPathMode::Normalized);
        assert_eq!(
            canonical,
            Ok("GET\n/\n\nhost:example.com\nmy-header:b,a\n\nhost;my-header\nhash".to_owned())
        );
        let signed = ["host".to_owned(), "x-absent".to_owned()];
        let canonical = build_canonical_request(&request, &signed, &[], "hash", UriPathMode::Normalized);
        assert_eq!(canonical, Err(SigV4Error::SignedHeaderMissing("x-absent".into())));
    }
}
