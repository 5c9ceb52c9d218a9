//! The count of records a page says its query matches (GitHub's
//! `total_count`), held against the records a run read. Some APIs stop
//! paging before the end (GitHub's search at 1000 results), and a job
//! without `[paginate]` reads one page of many: both end with fewer
//! records than the API counts, as a last page would.

use hydrant_paginate::{Kind, Stop};

use crate::job::{Job, RecordMode};
use crate::json::node::{Node, View};
use crate::json::path::Segment;
use crate::read::near::{folded, near_top, spelled};

/// Names an API gives the number of records a query matches, folded
/// (see [`folded`]): GitHub's `total_count`, Jira's and HubSpot's
/// `total`, Salesforce's `totalSize`, OData's `@odata.count`, Spring's
/// `totalElements`, Django REST framework's `count`, Algolia's `nbHits`.
/// A `count` of the page's own records never exceeds what a run reads.
const COUNT_NAMES: [&str; 13] = [
    "total",
    "totalcount",
    "totalresults",
    "totalitems",
    "totalelements",
    "totalsize",
    "totalrecords",
    "totalentries",
    "totalrows",
    "totalhits",
    "count",
    "odatacount",
    "nbhits",
];

/// The number of records the API says its query matches, where the
/// first page says it, and that page.
#[derive(Debug, Clone)]
pub(crate) struct ApiCount {
    count: u64,
    at: String,
    shown: String,
}

impl ApiCount {
    /// The count and where, as `check` shows it: ``6 (`total_count`)``.
    pub(crate) fn said(&self) -> String {
        format!("{} (`{}`)", self.count, self.at)
    }
}

/// The first whole number named like a count (see [`COUNT_NAMES`]) among
/// `page`'s members outside the records, found by [`near_top`]. `records`
/// is the records path's keys, whose member is not looked into; `shown`
/// names the page.
pub(crate) fn api_count<'v, N: Node<'v>>(
    page: N,
    records: &[String],
    shown: &str,
) -> Option<ApiCount> {
    let mut found = None;
    near_top(page, records, |keys, value| {
        let here = keys.last().expect("a member has a key");
        let whole = match value.view() {
            View::U64(n) => Some(n),
            View::I64(n) => u64::try_from(n).ok(),
            _ => None,
        };
        if let Some(count) = whole.filter(|_| COUNT_NAMES.contains(&folded(here).as_str())) {
            found = Some(ApiCount {
                count,
                at: spelled(keys),
                shown: shown.to_owned(),
            });
        }
        found.is_some()
    });
    found
}

/// The keys of the records path, where a run's records can be held
/// against the count its first page gives ([`api_count`]): records in one
/// array or object at a path of names, one pass (no `[fanout]`) that asks
/// for all of them (no `start` past the first record, no bounds of
/// `range` or rules).
pub(crate) fn count_checked(job: &Job) -> Option<Vec<String>> {
    if job.records.mode == RecordMode::One || job.fanout.is_some() {
        return None;
    }
    let paginate = &job.paginate;
    let whole = match paginate.kind {
        Kind::None | Kind::Cursor | Kind::NextLink | Kind::LinkHeader => true,
        Kind::Offset => matches!(paginate.start, None | Some(0)),
        Kind::Page => matches!(paginate.start, None | Some(0 | 1)),
        Kind::Range | Kind::Rules => false,
    };
    let keys: Vec<String> = (job.records.path.as_ref()?.segments()?.iter())
        .map(|segment| match segment {
            Segment::Key(key) => Some(key.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    (whole && !keys.is_empty()).then_some(keys)
}

/// What a run that ended of itself says when its pages held fewer
/// records (`read`) than its first page counted: the API stopped paging
/// before the end (GitHub's search gives 1000 results at most), or the
/// job's pagination missed pages. `None` when they held as many.
pub(crate) fn short_of_count(
    job: &Job,
    counted: &ApiCount,
    read: u64,
    stop: Stop,
) -> Option<String> {
    let ApiCount { count, at, shown } = counted;
    if read >= *count || !matches!(stop, Stop::NoNext | Stop::ShortPage | Stop::EmptyPage) {
        return None;
    }
    let head = format!("the first page, from {shown}, counts {count} records at `{at}`");
    let ignore = format!("if `{at}` counts something else, or is an estimate, this can be ignored");
    if job.paginate.kind == Kind::None {
        return Some(format!(
            "{head}, but the job has no [paginate] and its one request gave {read}: set \
             [paginate] to how the API pages; {ignore}"
        ));
    }
    let end = match stop {
        Stop::ShortPage => "a page shorter than the others",
        Stop::EmptyPage => "a page without records",
        _ => "a page that names no next page",
    };
    Some(format!(
        "{head}, but the pages gave {read}, pagination ending at {end}: the API may stop \
         paging at a limit (GitHub's search stops at 1000 results), or the job's pagination \
         misses pages; {ignore}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_of_records_is_read_where_apis_give_it() {
        let count = |page: &str, records: &[&str]| {
            let mut bytes = page.as_bytes().to_vec();
            let tree = simd_json::to_borrowed_value(&mut bytes).unwrap();
            let keys: Vec<String> = records.iter().map(|k| (*k).to_owned()).collect();
            api_count(&tree, &keys, "p").map(|c| (c.at, c.count))
        };
        let at = |path: &str, n| Some((path.to_owned(), n));
        let github = r#"{"total_count": 1234, "incomplete_results": false, "items": []}"#;
        assert_eq!(count(github, &["items"]), at("total_count", 1234));
        let odata = r#"{"@odata.count": 7, "value": []}"#;
        assert_eq!(count(odata, &["value"]), at("$['@odata.count']", 7));
        let spring = r#"{"content": [], "page": {"size": 20, "totalElements": 45}}"#;
        assert_eq!(count(spring, &["content"]), at("page.totalElements", 45));
        let strapi = r#"{"data": [], "meta": {"pagination": {"page": 1, "total": 9}}}"#;
        assert_eq!(count(strapi, &["data"]), at("meta.pagination.total", 9));
        // Nearer the top first.
        let both = r#"{"meta": {"count": 3}, "total": 5, "data": []}"#;
        assert_eq!(count(both, &["data"]), at("total", 5));
        for page in [
            // Not a whole number of records.
            r#"{"total": 12.5, "data": []}"#,
            r#"{"total": -1, "data": []}"#,
            r#"{"total": "40", "data": []}"#,
            // Elasticsearch's total is an object (a bound, not a count).
            r#"{"hits": {"total": {"value": 10000, "relation": "gte"}, "hits": []}}"#,
            // Names that count something else.
            r#"{"total_pages": 4, "total_amount": 100, "data": []}"#,
            // Inside the records, in an object of records too.
            r#"{"data": {"a": {"total": 3}}}"#,
            r#"{"data": [{"total": 3}]}"#,
        ] {
            let records = match page.contains("hits") {
                true => ["hits", "hits"].as_slice(),
                false => ["data"].as_slice(),
            };
            assert_eq!(count(page, records), None, "{page}");
        }
    }

    #[test]
    fn a_run_is_held_against_a_count_only_where_it_asks_for_every_record() {
        let checked = |rest: &str| {
            let text = format!("[request]\nurl = \"http://h/x\"\n{rest}");
            let vars = crate::job::vars::Vars::isolated([]);
            let job = Job::parse(&text, crate::job::JobFormat::Toml, "job.toml", &vars).unwrap();
            count_checked(&job)
        };
        let keys = |keys: &[&str]| Some(keys.iter().map(|k| (*k).to_owned()).collect());
        assert_eq!(checked("[records]\npath = \"data\""), keys(&["data"]));
        assert_eq!(
            checked("[records]\npath = \"$.result.items\"\n[paginate]\ntype = \"offset\""),
            keys(&["result", "items"])
        );
        assert_eq!(
            checked("[records]\npath = \"data\"\n[paginate]\ntype = \"page\"\nstart = 0"),
            keys(&["data"])
        );
        for rest in [
            // The records are the page, or some of an array's.
            "",
            "[records]\npath = \"$.data[?@.active]\"",
            "[records]\npath = \"$.orders[*].lines\"",
            "[records]\npath = \"data\"\nmode = \"one\"",
            // Records past the first asked for, or a range of them.
            "[records]\npath = \"data\"\n[paginate]\ntype = \"offset\"\nstart = 200",
            "[records]\npath = \"data\"\n[paginate]\ntype = \"page\"\nstart = 3",
            "[records]\npath = \"data\"\n[paginate]\ntype = \"range\"\nparam = \"p\"\nend = 9",
            // One pass a value.
            "[records]\npath = \"data\"\n[fanout]\nparam = \"c\"\nvalues = [\"a\"]",
        ] {
            assert_eq!(checked(rest), None, "{rest}");
        }
    }
}
