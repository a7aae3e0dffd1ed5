//! Reading the suites' `.req`/`.sreq`/`request.txt` files: HTTP/1.1 text into an `HttpRequest`.

use iam_sigv4::HttpRequest;

/// What a header line that starts with white space (RFC 7230 obs-fold) means.
#[derive(Clone, Copy)]
pub enum ObsFold {
    /// AWS's classic suite reads each continuation line as one more value of the header.
    SeparateValue,
    /// aws-c-auth replaces the fold with a space, as RFC 7230 section 3.2.4 allows.
    JoinWithSpace,
}

/// Parses `METHOD target HTTP/1.1`, header lines and an optional body after a blank line.
/// The target may contain spaces (`get-space`), so the version is split off from the right.
pub fn parse_http(text: &str, fold: ObsFold) -> Result<HttpRequest, String> {
    let (head, body) = match text.split_once("\n\n") {
        Some((head, body)) => (head, body),
        None => (text.trim_end_matches('\n'), ""),
    };
    let mut lines = head.split('\n');
    let request_line = lines.next().ok_or("empty request")?;
    let (method, rest) = request_line
        .split_once(' ')
        .ok_or_else(|| format!("bad request line `{request_line}`"))?;
    let (target, _version) = rest
        .rsplit_once(' ')
        .ok_or_else(|| format!("bad request line `{request_line}`"))?;
    let mut request = HttpRequest::from_target(method, target);
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let (name, value) = request
                .headers
                .last_mut()
                .ok_or("continuation line before any header")?;
            match fold {
                ObsFold::SeparateValue => {
                    let name = name.clone();
                    request.headers.push((name, line.trim().to_owned()));
                }
                ObsFold::JoinWithSpace => {
                    value.push(' ');
                    value.push_str(line);
                }
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line `{line}`"))?;
        request.headers.push((name.to_owned(), value.to_owned()));
    }
    Ok(request.with_body(body.as_bytes()))
}
