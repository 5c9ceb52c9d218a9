//! A paginated API over a generated corpus, for end-to-end benches: the
//! same pages served in four pagination styles, each with the job file
//! that extracts it.

use bytes::Bytes;

use crate::Exchange;
use crate::corpus::Shape;

/// How the API says where the next page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `/offset?offset=N&limit=R`, ending on an empty page.
    Offset,
    /// `/next`, each page naming the next in `"next"`.
    NextLink,
    /// `/cursor`, each page giving the next `cursor`.
    Cursor,
    /// `/link`, each answer naming the next in an RFC 8288 `Link` header.
    LinkHeader,
}

impl Style {
    pub const ALL: [Style; 4] = [
        Style::Offset,
        Style::NextLink,
        Style::Cursor,
        Style::LinkHeader,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Style::Offset => "offset",
            Style::NextLink => "next_link",
            Style::Cursor => "cursor",
            Style::LinkHeader => "link_header",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Style::Offset => "/offset",
            Style::NextLink => "/next",
            Style::Cursor => "/cursor",
            Style::LinkHeader => "/link",
        }
    }
}

/// `pages` pages of `records` records of one shape. Page `k` carries the
/// records of corpus page `k % distinct`, so a large API costs little
/// memory to serve.
#[derive(Debug, Clone)]
pub struct CorpusApi {
    shape: Shape,
    pages: u64,
    records: usize,
    /// The `"data":[...]}` tail of each distinct page.
    tails: Vec<Bytes>,
}

impl CorpusApi {
    pub fn new(shape: Shape, pages: u64, records: usize, distinct: u64) -> CorpusApi {
        let tails = (0..distinct.clamp(1, pages.max(1)))
            .map(|page| {
                let mut body = shape.page(page, records);
                // `{"data":[...]}` without its `{`, to follow a prefix.
                body.remove(0);
                Bytes::from(body)
            })
            .collect();
        CorpusApi {
            shape,
            pages,
            records,
            tails,
        }
    }

    /// Records in the whole API.
    pub fn total_records(&self) -> u64 {
        self.pages * self.records as u64
    }

    /// The targets of every page of `style`, in order, for a raw fetch.
    pub fn targets(&self, style: Style) -> Vec<String> {
        let page_target = |k: u64| match (style, k) {
            (Style::Offset, _) => format!(
                "/offset?offset={}&limit={}",
                k * self.records as u64,
                self.records
            ),
            (_, 0) => style.path().to_owned(),
            (Style::Cursor, _) => format!("/cursor?cursor=c{k}"),
            (_, _) => format!("{}?page={k}", style.path()),
        };
        let mut targets: Vec<String> = (0..self.pages).map(page_target).collect();
        if style == Style::Offset {
            // The empty page that ends it.
            targets.push(page_target(self.pages));
        }
        targets
    }

    /// A job that extracts the whole API of `style` at `url` (the server's
    /// origin), the shape's columns, NDJSON into `output`.
    pub fn job(&self, style: Style, url: &str, output: &str, concurrency: u32) -> String {
        let paginate = match style {
            Style::Offset => format!("type = \"offset\"\nlimit = {}", self.records),
            Style::NextLink => "type = \"next_link\"\nfrom = \"$.next\"".to_owned(),
            Style::Cursor => {
                "type = \"cursor\"\nfrom = \"$.cursor\"\nparam = \"cursor\"".to_owned()
            }
            Style::LinkHeader => "type = \"link_header\"".to_owned(),
        };
        format!(
            "[request]\nurl = \"{url}{}\"\n\n[paginate]\n{paginate}\n\n[records]\npath = \"data\"\n\n\
             [limits]\nconcurrency = {concurrency}\n\n[output]\npath = \"{output}\"\nformat = \"ndjson\"\n\n{}",
            style.path(),
            self.shape.columns()
        )
    }

    /// The answer to `GET target`.
    pub fn answer(&self, target: &str) -> Exchange {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let Some(style) = Style::ALL.into_iter().find(|s| s.path() == path) else {
            return not_found(target);
        };
        let page = match style {
            Style::Offset => {
                let offset: Option<u64> = param("offset").and_then(|o| o.parse().ok());
                let limit: Option<usize> = param("limit").and_then(|l| l.parse().ok());
                match (offset, limit) {
                    (Some(offset), Some(limit))
                        if limit == self.records && offset % limit as u64 == 0 =>
                    {
                        offset / limit as u64
                    }
                    _ => return not_found(target),
                }
            }
            Style::Cursor => match param("cursor") {
                None => 0,
                Some(cursor) => match cursor.strip_prefix('c').and_then(|k| k.parse().ok()) {
                    Some(k) => k,
                    None => return not_found(target),
                },
            },
            Style::NextLink | Style::LinkHeader => match param("page") {
                None => 0,
                Some(k) => match k.parse() {
                    Ok(k) => k,
                    Err(_) => return not_found(target),
                },
            },
        };
        if page >= self.pages {
            return Exchange::json(target, "{\"data\":[]}");
        }
        let next = (page + 1 < self.pages).then(|| page + 1);
        let mut prefix = String::from("{");
        let mut exchange = Exchange::json(target, Bytes::new());
        match (style, next) {
            (Style::NextLink, Some(k)) => prefix.push_str(&format!("\"next\":\"/next?page={k}\",")),
            (Style::NextLink, None) => prefix.push_str("\"next\":null,"),
            (Style::Cursor, Some(k)) => prefix.push_str(&format!("\"cursor\":\"c{k}\",")),
            (Style::Cursor, None) => prefix.push_str("\"cursor\":null,"),
            (Style::LinkHeader, Some(k)) => exchange
                .headers
                .push(("link".to_owned(), format!("</link?page={k}>; rel=\"next\""))),
            _ => {}
        }
        let tail = &self.tails[(page % self.tails.len() as u64) as usize];
        let mut body = Vec::with_capacity(prefix.len() + tail.len());
        body.extend_from_slice(prefix.as_bytes());
        body.extend_from_slice(tail);
        exchange.body = body.into();
        exchange
    }
}

fn not_found(target: &str) -> Exchange {
    Exchange {
        status: 404,
        ..Exchange::json(target, "{\"error\":\"no such page\"}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_chains_its_pages_to_the_end() {
        let api = CorpusApi::new(Shape::Flat, 3, 4, 2);
        for style in Style::ALL {
            let targets = api.targets(style);
            let mut records = 0;
            for (i, target) in targets.iter().enumerate() {
                let answer = api.answer(target);
                assert_eq!(answer.status, 200, "{target}");
                let page: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
                records += page["data"].as_array().unwrap().len();
                let link = answer.headers.iter().find(|(n, _)| n == "link");
                let next = targets.get(i + 1).filter(|_| style != Style::Offset);
                match style {
                    Style::NextLink => assert_eq!(page["next"].as_str(), next.map(|s| s.as_str())),
                    Style::Cursor => assert_eq!(
                        page["cursor"].as_str(),
                        next.map(|t| t.trim_start_matches("/cursor?cursor="))
                    ),
                    Style::LinkHeader => assert_eq!(
                        link.map(|(_, v)| v.clone()),
                        next.map(|t| format!("<{t}>; rel=\"next\""))
                    ),
                    Style::Offset => assert!(link.is_none()),
                }
            }
            assert_eq!(records as u64, api.total_records(), "{}", style.name());
        }
        // Page 2 repeats the records of distinct page 0.
        let first = api.answer("/link");
        let third = api.answer("/link?page=2");
        assert_eq!(first.body, third.body);
        assert_eq!(api.answer("/offset?offset=3&limit=4").status, 404);
        assert_eq!(api.answer("/nope").status, 404);
    }
}
