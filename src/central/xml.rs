//! The few XML documents S3 speaks, read and written without a general XML library: a reader
//! that finds elements by name in a response body, and the request bodies the store needs
//! (retention, legal hold, the parts of a multipart upload). Pure.
//!
//! S3 responses are flat, namespace-default documents; the reader looks for `<Name>` or
//! `<Name attr=...>` and its matching `</Name>`, never follows entities beyond the five
//! predefined ones and character references, and returns `None` for anything else: a store
//! answering nonsense is an error, never a panic.

/// The inner text of every `<tag>…</tag>` in `doc`, in order (not unescaped; may hold
/// child elements). `<tag/>` yields an empty string.
pub fn elements<'a>(doc: &'a str, tag: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut rest = doc;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // The next character must end the name: `>`, `/` or white space.
        let Some(next) = after.chars().next() else { break };
        if !(next == '>' || next == '/' || next.is_whitespace()) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        if after[..gt].ends_with('/') {
            out.push("");
            rest = &after[gt + 1..];
            continue;
        }
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// The unescaped text of the first `<tag>` in `doc`.
pub fn text(doc: &str, tag: &str) -> Option<String> {
    elements(doc, tag).first().and_then(|s| unescape(s))
}

/// Replaces the predefined entities and character references; `None` for any other `&`.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let semi = tail.find(';')?;
        let name = &tail[..semi];
        match name {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()?
                } else {
                    name.strip_prefix('#')?.parse().ok()?
                };
                out.push(char::from_u32(code)?);
            }
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Escapes text for an element's content.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The body of `PUT ?retention`: COMPLIANCE until `until` (ISO 8601, UTC).
pub fn retention(until: &str) -> String {
    format!(
        "<Retention xmlns=\"{NS}\"><Mode>COMPLIANCE</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
        escape(until)
    )
}

/// The body of `PUT ?legal-hold`.
pub fn legal_hold(on: bool) -> String {
    format!("<LegalHold xmlns=\"{NS}\"><Status>{}</Status></LegalHold>", if on { "ON" } else { "OFF" })
}

/// The body of `POST ?uploadId=…` completing a multipart upload: (part number, ETag).
pub fn complete_multipart(parts: &[(u32, String)]) -> String {
    let mut s = format!("<CompleteMultipartUpload xmlns=\"{NS}\">");
    for (n, etag) in parts {
        s.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{}</ETag></Part>", escape(etag)));
    }
    s.push_str("</CompleteMultipartUpload>");
    s
}

/// The body of `PUT ?object-lock` on a bucket: Object Lock enabled, no default retention
/// (every object carries its own date).
pub fn lock_configuration() -> String {
    format!("<ObjectLockConfiguration xmlns=\"{NS}\"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_listing() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated><Contents><Key>st/2024/05/01/案件 A&amp;B/SN1/a.mp4</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents><Contents><Key>st/x</Key><Size>0</Size></Contents><NextContinuationToken>t&#x41;&#66;</NextContinuationToken></ListBucketResult>"#;
        let contents = elements(doc, "Contents");
        assert_eq!(contents.len(), 2);
        assert_eq!(text(contents[0], "Key").unwrap(), "st/2024/05/01/案件 A&B/SN1/a.mp4");
        assert_eq!(text(contents[0], "ETag").unwrap(), "\"abc\"");
        assert_eq!(text(doc, "IsTruncated").unwrap(), "true");
        assert_eq!(text(doc, "NextContinuationToken").unwrap(), "tAB");
        // `<Name>` is not `<NameX>`; an empty element reads as empty.
        assert_eq!(elements("<NameX>1</NameX><Name/>", "Name"), vec![""]);
    }

    #[test]
    fn nonsense_is_none_not_a_panic() {
        assert_eq!(text("<Key>a&bogus;</Key>", "Key"), None);
        assert_eq!(text("<Key>a&#xFFFFFFFF;</Key>", "Key"), None);
        assert_eq!(text("<Key>unclosed", "Key"), None);
        assert_eq!(text("<Key", "Key"), None);
        assert!(elements("<<<>>>&&&", "Key").is_empty());
    }

    #[test]
    fn writes_request_bodies() {
        assert!(
            retention("2030-01-01T00:00:00Z").contains("<Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z<")
        );
        assert!(legal_hold(true).contains("<Status>ON</Status>"));
        let c = complete_multipart(&[(1, "\"a\"".into()), (2, "\"b\"".into())]);
        assert!(c.contains("<Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part>"));
        assert_eq!(text(&c, "PartNumber").unwrap(), "1");
    }

    proptest::proptest! {
        /// Whatever a store sends, the reader returns, never panics.
        #[test]
        fn any_text_reads_without_panic(doc in ".{0,200}", tag in "[A-Za-z]{1,8}") {
            let _ = elements(&doc, &tag);
            let _ = text(&doc, &tag);
            let _ = unescape(&doc);
        }
    }
}
