//! Just enough HTTP/1.1 for the interop examples' signalling: a JSON POST and its reply.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `http://host:port/path?query` cut into its parts (the harness gives nothing fancier).
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((authority.to_owned(), path.to_owned()))
}

/// POSTs JSON over HTTP/1.1 and returns the response body.
pub async fn post_json(
    url: &str,
    body: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let (authority, path) = split_url(url).ok_or("only http:// URLs")?;
    let mut stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
    let status = head.split(' ').nth(1).ok_or("bad HTTP status line")?;
    if status != "200" {
        return Err(format!("HTTP {status}: {body}").into());
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body).ok_or("bad chunked body")?);
    }
    Ok(body.to_owned())
}

/// The body of a chunked response.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}
