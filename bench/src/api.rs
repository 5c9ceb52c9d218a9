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
    /// With gzip: each distinct page whole (`{"data":[...]}`), compressed
    /// once, for the styles whose bodies hold no link.
    gzipped: Vec<Bytes>,
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
            gzipped: Vec::new(),
        }
    }

    /// The same API serving its pages gzip-compressed (`Content-Encoding:
    /// gzip`), compressed once when it starts. Only the offset and
    /// link-header styles serve it: their bodies hold no link, so each
    /// distinct page is one compressed body.
    pub fn gzip(mut self) -> CorpusApi {
        use std::io::Write;
        self.gzipped = self
            .tails
            .iter()
            .map(|tail| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(b"{").expect("to memory");
                encoder.write_all(tail).expect("to memory");
                Bytes::from(encoder.finish().expect("to memory"))
            })
            .collect();
        self
    }

    /// The styles this API serves.
    pub fn styles(&self) -> Vec<Style> {
        Style::ALL
            .into_iter()
            .filter(|s| self.gzipped.is_empty() || matches!(s, Style::Offset | Style::LinkHeader))
            .collect()
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
        let at = if self.shape.link_at_tail() {
            "paging."
        } else {
            ""
        };
        let paginate = match style {
            Style::Offset => format!("type = \"offset\"\nlimit = {}", self.records),
            Style::NextLink => format!("type = \"next_link\"\nfrom = \"$.{at}next\""),
            Style::Cursor => {
                format!("type = \"cursor\"\nfrom = \"$.{at}cursor\"\nparam = \"cursor\"")
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
        let mut link = String::new();
        let mut exchange = Exchange::json(target, Bytes::new());
        match (style, next) {
            (Style::NextLink, Some(k)) => link = format!("\"next\":\"/next?page={k}\""),
            (Style::NextLink, None) => link = "\"next\":null".to_owned(),
            (Style::Cursor, Some(k)) => link = format!("\"cursor\":\"c{k}\""),
            (Style::Cursor, None) => link = "\"cursor\":null".to_owned(),
            (Style::LinkHeader, Some(k)) => exchange
                .headers
                .push(("link".to_owned(), format!("</link?page={k}>; rel=\"next\""))),
            _ => {}
        }
        let distinct = (page % self.tails.len() as u64) as usize;
        if !self.gzipped.is_empty() {
            if !link.is_empty() {
                return not_found(target);
            }
            exchange
                .headers
                .push(("content-encoding".to_owned(), "gzip".to_owned()));
            exchange.body = self.gzipped[distinct].clone();
            return exchange;
        }
        let tail = &self.tails[distinct];
        let mut body = Vec::with_capacity(link.len() + tail.len() + 16);
        body.push(b'{');
        match (link.is_empty(), self.shape.link_at_tail()) {
            (true, _) => body.extend_from_slice(tail),
            (false, false) => {
                body.extend_from_slice(link.as_bytes());
                body.push(b',');
                body.extend_from_slice(tail);
            }
            (false, true) => {
                // `"data":[...]` then `,"paging":{LINK}}`: the link last.
                body.extend_from_slice(&tail[..tail.len() - 1]);
                body.extend_from_slice(b",\"paging\":{");
                body.extend_from_slice(link.as_bytes());
                body.extend_from_slice(b"}}");
            }
        }
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
        // With the link at the tail, after the records.
        let api = CorpusApi::new(Shape::Realistic, 3, 4, 2);
        let body = api.answer("/next?page=1").body;
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(page["paging"]["next"], "/next?page=2");
        assert!(body.ends_with(b",\"paging\":{\"next\":\"/next?page=2\"}}"));
        assert!(
            api.job(Style::NextLink, "http://h", "o", 1)
                .contains("from = \"$.paging.next\"")
        );
        // Gzip: the offset and link-header pages, compressed.
        let api = CorpusApi::new(Shape::Flat, 3, 4, 2).gzip();
        assert_eq!(api.styles(), [Style::Offset, Style::LinkHeader]);
        let answer = api.answer("/link?page=1");
        assert!(
            answer
                .headers
                .contains(&("content-encoding".to_owned(), "gzip".to_owned()))
        );
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&answer.body[..]),
            &mut text,
        )
        .unwrap();
        assert_eq!(
            text.as_bytes(),
            &CorpusApi::new(Shape::Flat, 3, 4, 2)
                .answer("/offset?offset=4&limit=4")
                .body[..]
        );
        assert_eq!(api.answer("/next").status, 404);
        let api = CorpusApi::new(Shape::Flat, 3, 4, 2);
        // Page 2 repeats the records of distinct page 0.
        let first = api.answer("/link");
        let third = api.answer("/link?page=2");
        assert_eq!(first.body, third.body);
        assert_eq!(api.answer("/offset?offset=3&limit=4").status, 404);
        assert_eq!(api.answer("/nope").status, 404);
    }
}
