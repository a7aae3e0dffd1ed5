//! SigV4's `UriEncode`, dot-segment removal and query-string decoding, on raw bytes.

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) gets `%XX`-encoded.
const ENCODE_ALL_BUT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Same, but `/` stays: path separators are not encoded in the canonical URI.
const ENCODE_ALL_BUT_UNRESERVED_AND_SLASH: &AsciiSet = &ENCODE_ALL_BUT_UNRESERVED.remove(b'/');

/// SigV4 `UriEncode`: every byte but the unreserved ones as `%XX` with uppercase hex.
pub(crate) fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, ENCODE_ALL_BUT_UNRESERVED).to_string()
}

/// `UriEncode` that leaves `/` alone.
pub(crate) fn uri_encode_path(path: &str) -> String {
    percent_encode(path.as_bytes(), ENCODE_ALL_BUT_UNRESERVED_AND_SLASH).to_string()
}

/// Percent-decodes to bytes. A `%` not followed by two hex digits stays literal, and `+` stays
/// `+`: SigV4 encodes a space as `%20`, never as `+`.
pub(crate) fn percent_decode(raw: &str) -> Vec<u8> {
    percent_decode_str(raw).collect()
}

/// RFC 3986 dot-segment removal plus what AWS adds: empty segments (`//`) are dropped too.
///
/// The result starts with `/` and ends with `/` when the input ended in `/`, `/.` or `/..`,
/// as the AWS SDKs do it (`/a/b/.` becomes `/a/b/`).
pub(crate) fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            name => kept.push(name),
        }
    }
    let mut normalized = String::with_capacity(path.len() + 1);
    normalized.push('/');
    normalized.push_str(&kept.join("/"));
    let ends_in_directory = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if ends_in_directory && !normalized.ends_with('/') {
        normalized.push('/');
    }
    normalized
}

/// A raw query string as `(name, value)` pairs, still percent-encoded; empty pieces skipped
/// and a piece without `=` taken as a name with an empty value.
pub(crate) fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encode_keeps_only_unreserved_bytes() {
        assert_eq!(uri_encode(b"AZaz09-._~"), "AZaz09-._~");
        assert_eq!(uri_encode(b"a b+c/d=e%"), "a%20b%2Bc%2Fd%3De%25");
        assert_eq!(uri_encode("ሴ".as_bytes()), "%E1%88%B4");
        assert_eq!(uri_encode_path("/a b/c"), "/a%20b/c");
    }

    #[test]
    fn percent_decode_is_lenient_and_leaves_plus() {
        assert_eq!(percent_decode("a%20b+c"), b"a b+c");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz"), b"%zz");
        assert_eq!(percent_decode("%e1%88%b4"), "ሴ".as_bytes());
    }

    #[test]
    fn dot_segments_and_empty_segments_are_removed() {
        let cases = [
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("//example//", "/example/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/../a", "/a"),
            ("/a/./b/../c", "/a/c"),
            ("/a..b/.c", "/a..b/.c"),
            ("relative", "/relative"),
        ];
        for (raw, expected) in cases {
            assert_eq!(remove_dot_segments(raw), expected, "normalizing `{raw}`");
        }
    }

    #[test]
    fn query_pairs_split_on_ampersand_and_first_equals() {
        let pairs: Vec<_> = raw_query_pairs("a=1&&b&c=d=e&=f").collect();
        assert_eq!(pairs, [("a", "1"), ("b", ""), ("c", "d=e"), ("", "f")]);
    }
}
