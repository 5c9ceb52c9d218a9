//! RFC 8288 `Link` header parsing.

/// The target of the first link whose `rel` (a space-separated list,
/// compared case-insensitively) contains `rel`, across all given values.
/// A link with `results="false"` leads to an empty page and is none:
/// Sentry names a next page on every page, its last too, and says so.
pub fn find_rel<'h>(values: impl IntoIterator<Item = &'h str>, rel: &str) -> Option<String> {
    values
        .into_iter()
        .flat_map(parse)
        .find(|link| {
            !link.empty
                && link
                    .rel
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case(rel))
        })
        .map(|link| link.target)
}

/// Every `rel` the links name, lower case, each once, in their order.
pub fn rels<'h>(values: impl IntoIterator<Item = &'h str>) -> Vec<String> {
    let mut rels: Vec<String> = Vec::new();
    for link in values.into_iter().flat_map(parse) {
        for rel in link.rel.split_ascii_whitespace() {
            let rel = rel.to_ascii_lowercase();
            if !rels.contains(&rel) {
                rels.push(rel);
            }
        }
    }
    rels
}

#[derive(Debug, PartialEq)]
struct Link {
    target: String,
    rel: String,
    /// Whether the link says its page holds nothing (`results="false"`).
    empty: bool,
}

fn parse(header: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let bytes = header.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            return links;
        }
        if bytes[i] != b'<' {
            // Not a link (or what follows one's parameters): skipped up to
            // the next comma outside quotes, as other clients skip it, so
            // that a link after it is still found.
            i = past_item(bytes, i);
            continue;
        }
        let Some(close) = header[i..].find('>') else {
            return links;
        };
        let target = header[i + 1..i + close].trim().to_owned();
        i += close + 1;
        let mut rel = String::new();
        let mut empty = false;
        // Parameters: `; name=value` or `; name="quoted, value"`, up to the next top-level comma.
        loop {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] != b';' {
                break;
            }
            i += 1;
            let name_start = i;
            while i < bytes.len() && !matches!(bytes[i], b'=' | b';' | b',') {
                i += 1;
            }
            let name = header[name_start..i].trim().to_ascii_lowercase();
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'"' {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        if bytes[i] == b'\\' && i + 1 < bytes.len() {
                            i += 1;
                        }
                        let ch = header[i..].chars().next().unwrap_or('\u{fffd}');
                        value.push(ch);
                        i += ch.len_utf8();
                    }
                    i += 1;
                } else {
                    let start = i;
                    while i < bytes.len() && !matches!(bytes[i], b';' | b',') {
                        i += 1;
                    }
                    value = header[start..i].trim().to_owned();
                }
            }
            if name == "rel" && rel.is_empty() {
                rel = value;
            } else if name == "results" {
                empty = value.eq_ignore_ascii_case("false");
            }
        }
        links.push(Link { target, rel, empty });
    }
}

/// The index of the first comma at or after `i` that is outside quotes,
/// or the end of `bytes`.
fn past_item(bytes: &[u8], mut i: usize) -> usize {
    let mut quoted = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b',' if !quoted => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sentry names a previous and a next page on every page, each with
    /// `results` saying whether it holds anything.
    #[test]
    fn a_link_that_says_it_leads_to_no_results_is_none() {
        let sentry = |next: &str| {
            format!(
                "<https://sentry.io/api/0/projects/1/issues/?&cursor=1:0:1>; rel=\"previous\"; \
                 results=\"false\"; cursor=\"1:0:1\", \
                 <https://sentry.io/api/0/projects/1/issues/?&cursor=1:100:0>; rel=\"next\"; \
                 results=\"{next}\"; cursor=\"1:100:0\""
            )
        };
        assert_eq!(
            find_rel([sentry("true").as_str()], "next").as_deref(),
            Some("https://sentry.io/api/0/projects/1/issues/?&cursor=1:100:0")
        );
        assert_eq!(find_rel([sentry("false").as_str()], "next"), None);
        assert_eq!(find_rel([sentry("true").as_str()], "previous"), None);
        assert_eq!(find_rel(["<a>; results=False; rel=next"], "next"), None);
    }

    #[test]
    fn several_links_quoted_params_and_rel_lists() {
        let header = r#"<https://api.example.com/items?page=1>; rel="first", <https://api.example.com/items?page=3&a=1,2>; title="next, please"; rel="prev next", </items?page=9>; rel=last"#;
        assert_eq!(
            find_rel([header], "next").as_deref(),
            Some("https://api.example.com/items?page=3&a=1,2")
        );
        assert_eq!(find_rel([header], "LAST").as_deref(), Some("/items?page=9"));
        assert_eq!(find_rel([header], "self"), None);
        assert_eq!(
            rels([header, "<a>; rel=Next"]),
            ["first", "prev", "next", "last"]
        );
    }

    #[test]
    fn links_across_several_header_values() {
        let values = [r#"<a>; rel="prev""#, r#"<b>; rel="next""#];
        assert_eq!(find_rel(values, "next").as_deref(), Some("b"));
        assert_eq!(find_rel(["garbage"], "next"), None);
    }

    /// Text that is no link, or that trails one's parameters, is skipped
    /// to the next comma outside quotes: a `next` after it is found.
    #[test]
    fn a_link_after_text_that_is_no_link_is_found() {
        for header in [
            r#"<a>; rel="prev" junk, <b>; rel="next""#,
            r#"junk "x, y", <b>; rel="next""#,
            r#"<a>; rel="prev"; title="t" "q, r", <b>; rel=next"#,
            r#", ,<b>; rel="next""#,
        ] {
            assert_eq!(find_rel([header], "next").as_deref(), Some("b"), "{header}");
        }
        assert_eq!(
            find_rel([r#"<a>; rel="prev" "unclosed, <b>; rel=next"#], "next"),
            None
        );
    }
}
