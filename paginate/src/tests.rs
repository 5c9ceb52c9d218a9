//! Every strategy on scripted responses.

use serde_json::{Value, json};

use super::*;

fn paginator(config: Value) -> Paginator {
    let config: Config = serde_json::from_value(config).unwrap();
    config.validate().unwrap();
    Paginator::new(&config).unwrap()
}

/// Shows a page with `records` records, these headers and body values.
fn show(p: &mut Paginator, records: usize, headers: &[(&str, &str)], body: Value) -> Step {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let watched: Vec<Option<Value>> = p
        .watched_paths()
        .iter()
        .map(|path| lookup(&body, path))
        .collect();
    p.next(&Page {
        status: 200,
        headers: &headers,
        records,
        watched: &watched,
    })
}

/// A tiny `$.a.b` / dotted evaluator, enough for scripted bodies.
fn lookup(body: &Value, path: &str) -> Option<Value> {
    let mut node = body;
    for key in path
        .trim_start_matches('$')
        .split('.')
        .filter(|k| !k.is_empty())
    {
        node = node.get(key)?;
    }
    Some(node.clone())
}

fn query(plan: &Plan, name: &str) -> Option<String> {
    plan.overrides.iter().find_map(|o| match o {
        Override::Query { name: n, value } if n == name => Some(value.clone()),
        _ => None,
    })
}

#[test]
fn offset_steps_by_limit_and_ends_on_a_short_page() {
    let mut p = paginator(json!({"type": "offset", "limit": 2}));
    assert!(p.is_counted());
    assert_eq!(p.offset_limit(), Some(("limit", 2)));
    let pages = paginator(json!({"type": "page", "size": 2, "size_param": "n"}));
    assert_eq!(pages.offset_limit(), None);
    let first = p.first();
    assert_eq!(
        (query(&first, "offset"), query(&first, "limit")),
        (Some("0".into()), Some("2".into()))
    );
    assert_eq!(query(&p.ahead(3).unwrap(), "offset").as_deref(), Some("6"));
    assert_eq!(show(&mut p, 2, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 1, &[], json!({})), Step::Done(Stop::ShortPage));
}

#[test]
fn right_after_starts_where_a_page_s_records_end() {
    let p = paginator(json!({"type": "offset", "limit": 500, "start": 20}));
    let after = p.right_after(0, 100).unwrap();
    assert_eq!(
        (query(&after, "offset"), query(&after, "limit")),
        (Some("120".into()), Some("500".into()))
    );
    assert_eq!(
        query(&p.right_after(2, 7).unwrap(), "offset").as_deref(),
        Some("1027")
    );
    let pages = paginator(json!({"type": "page", "size": 500, "size_param": "n"}));
    assert!(pages.right_after(0, 100).is_none());
}

#[test]
fn full_last_page_then_empty_page() {
    let mut p = paginator(json!({"type": "offset", "limit": 2}));
    p.first();
    assert_eq!(show(&mut p, 2, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 0, &[], json!({})), Step::Done(Stop::ShortPage));
    let mut p = paginator(json!({"type": "page"}));
    assert_eq!(query(&p.first(), "page").as_deref(), Some("1"));
    assert_eq!(show(&mut p, 3, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 0, &[], json!({})), Step::Done(Stop::EmptyPage));
}

#[test]
fn short_page_is_not_the_end_when_size_is_unset() {
    let mut p = paginator(json!({"type": "page", "param": "p", "start": 0}));
    assert_eq!(query(&p.first(), "p").as_deref(), Some("0"));
    assert_eq!(show(&mut p, 10, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 3, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 0, &[], json!({})), Step::Done(Stop::EmptyPage));
    let mut p = paginator(json!({"type": "page", "size": 10, "size_param": "per_page"}));
    assert_eq!(query(&p.first(), "per_page").as_deref(), Some("10"));
    assert_eq!(show(&mut p, 3, &[], json!({})), Step::Done(Stop::ShortPage));
}

#[test]
fn offset_in_the_body_keeps_numbers() {
    let p = paginator(json!({"type": "offset", "in": "body", "param": "paging.from", "limit": 50}));
    let plan = p.ahead(2).unwrap();
    assert!(plan.overrides.contains(&Override::Body {
        path: "paging.from".into(),
        value: json!(100)
    }));
    assert!(plan.overrides.contains(&Override::Var {
        name: "offset".into(),
        value: "100".into()
    }));
}

#[test]
fn range_with_end_makes_exactly_those_requests() {
    let mut p =
        paginator(json!({"type": "range", "param": "day", "start": 1, "end": 3, "in": "url"}));
    assert_eq!(
        p.first().overrides,
        vec![Override::Var {
            name: "day".into(),
            value: "1".into()
        }]
    );
    assert!(p.ahead(2).is_some() && p.ahead(3).is_none());
    assert_eq!(
        show(&mut p, 0, &[], json!({})),
        Step::Continue,
        "empty pages do not end a closed range"
    );
    assert_eq!(show(&mut p, 5, &[], json!({})), Step::Continue);
    assert_eq!(
        show(&mut p, 5, &[], json!({})),
        Step::Done(Stop::EndOfRange)
    );
    let mut open = paginator(json!({"type": "range", "param": "n", "start": 10, "step": 10}));
    assert_eq!(query(&open.ahead(1).unwrap(), "n").as_deref(), Some("20"));
    assert_eq!(
        show(&mut open, 0, &[], json!({})),
        Step::Done(Stop::EmptyPage)
    );
}

#[test]
fn cursor_from_body_into_query_until_missing() {
    let mut p = paginator(json!({"type": "cursor"}));
    assert!(!p.is_counted());
    assert_eq!(p.first(), Plan::default());
    let Step::Next(plan) = show(&mut p, 5, &[], json!({"next_cursor": "c2"})) else {
        panic!()
    };
    assert_eq!(query(&plan, "cursor").as_deref(), Some("c2"));
    assert_eq!(
        show(&mut p, 5, &[], json!({"next_cursor": null})),
        Step::Done(Stop::NoNext)
    );
}

#[test]
fn empty_string_cursor_ends_and_repeated_cursor_is_a_loop() {
    let mut p = paginator(json!({"type": "cursor", "from": "$.meta.next"}));
    p.first();
    assert_eq!(
        show(&mut p, 1, &[], json!({"meta": {"next": ""}})),
        Step::Done(Stop::NoNext)
    );
    let mut p = paginator(json!({"type": "cursor", "from": "meta.next"}));
    p.first();
    assert!(matches!(
        show(&mut p, 1, &[], json!({"meta": {"next": "a"}})),
        Step::Next(_)
    ));
    assert!(matches!(
        show(&mut p, 1, &[], json!({"meta": {"next": "b"}})),
        Step::Next(_)
    ));
    assert_eq!(
        show(&mut p, 1, &[], json!({"meta": {"next": "a"}})),
        Step::Done(Stop::Loop)
    );
}

#[test]
fn cursor_from_header_into_body_with_initial() {
    let mut p = paginator(
        json!({"type": "cursor", "header": "X-Next-Cursor", "in": "body", "param": "page.token", "initial": 0}),
    );
    assert!(p.first().overrides.contains(&Override::Body {
        path: "page.token".into(),
        value: json!(0)
    }));
    let Step::Next(plan) = show(&mut p, 1, &[("x-next-cursor", "t9")], json!({})) else {
        panic!()
    };
    assert!(plan.overrides.contains(&Override::Body {
        path: "page.token".into(),
        value: json!("t9")
    }));
    assert_eq!(show(&mut p, 1, &[], json!({})), Step::Done(Stop::NoNext));
}

/// MediaWiki's `continue`: every member goes back as a parameter, and
/// a member of the last answer's object that this one lacks is not sent.
#[test]
fn an_object_cursor_without_a_param_sends_each_member() {
    let mut p = paginator(json!({"type": "cursor", "from": "continue"}));
    p.first();
    let page = json!({"continue": {"rvcontinue": "20|7", "continue": "||", "gone": null}});
    let Step::Next(plan) = show(&mut p, 5, &[], page) else {
        panic!()
    };
    assert_eq!(query(&plan, "rvcontinue").as_deref(), Some("20|7"));
    assert_eq!(query(&plan, "continue").as_deref(), Some("||"));
    assert_eq!(query(&plan, "gone"), None);
    assert_eq!(query(&plan, "cursor"), None);
    let page = json!({"continue": {"gapcontinue": "Page_04", "continue": "gapcontinue||"}});
    let Step::Next(plan) = show(&mut p, 5, &[], page.clone()) else {
        panic!()
    };
    let sent: Vec<_> = (plan.overrides.iter())
        .filter(|o| matches!(o, Override::Query { .. }))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(query(&plan, "gapcontinue").as_deref(), Some("Page_04"));
    assert_eq!(show(&mut p, 5, &[], page), Step::Done(Stop::Loop));
    assert_eq!(
        show(&mut p, 5, &[], json!({"batchcomplete": true})),
        Step::Done(Stop::NoNext)
    );
    // A job that names a `param` sends one value: an object is none.
    let mut p = paginator(json!({"type": "cursor", "from": "continue", "param": "c"}));
    p.first();
    let page = json!({"continue": {"apcontinue": "B"}});
    assert_eq!(show(&mut p, 5, &[], page), Step::Done(Stop::NoNext));
    // Nor is an object holding an object, nor an empty one.
    let mut p = paginator(json!({"type": "cursor", "from": "continue"}));
    p.first();
    let page = json!({"continue": {"a": {"b": 1}}});
    assert_eq!(show(&mut p, 5, &[], page), Step::Done(Stop::NoNext));
    let page = json!({"continue": {}});
    assert_eq!(show(&mut p, 5, &[], page), Step::Done(Stop::NoNext));
}

/// DynamoDB's `LastEvaluatedKey` and Elasticsearch's `search_after`: a
/// cursor set in the body keeps its JSON, objects and arrays too.
#[test]
fn a_cursor_set_in_the_body_may_be_an_object_or_an_array() {
    // (This file's evaluator reads names alone: `$.hits.hits[-1].sort` in
    // a job.)
    let mut p = paginator(
        json!({"type": "cursor", "from": "last.sort", "param": "search_after", "in": "body"}),
    );
    p.first();
    let page = json!({"last": {"sort": [1700000000001u64, "b"]}});
    let Step::Next(plan) = show(&mut p, 2, &[], page) else {
        panic!()
    };
    assert!(plan.overrides.contains(&Override::Body {
        path: "search_after".into(),
        value: json!([1700000000001u64, "b"])
    }));
    assert!(plan.overrides.contains(&Override::Var {
        name: "cursor".into(),
        value: r#"[1700000000001,"b"]"#.into()
    }));
    assert_eq!(
        show(&mut p, 0, &[], json!({"last": null})),
        Step::Done(Stop::NoNext)
    );
    let mut p = paginator(
        json!({"type": "cursor", "from": "LastEvaluatedKey", "param": "ExclusiveStartKey", "in": "body"}),
    );
    p.first();
    let key = json!({"pk": {"S": "order#7"}});
    let Step::Next(plan) = show(&mut p, 2, &[], json!({"LastEvaluatedKey": key})) else {
        panic!()
    };
    assert!(plan.overrides.contains(&Override::Body {
        path: "ExclusiveStartKey".into(),
        value: key.clone()
    }));
    assert_eq!(
        show(&mut p, 2, &[], json!({"LastEvaluatedKey": key})),
        Step::Done(Stop::Loop)
    );
}

#[test]
fn next_link_and_its_loop() {
    let mut p = paginator(json!({"type": "next_link", "from": "$.paging.next"}));
    p.first();
    assert_eq!(
        show(&mut p, 1, &[], json!({"paging": {"next": "/items?page=2"}})),
        Step::Next(Plan {
            overrides: vec![Override::Link("/items?page=2".into())]
        })
    );
    assert_eq!(
        show(&mut p, 1, &[], json!({"paging": {"next": "/items?page=2"}})),
        Step::Done(Stop::Loop)
    );
    let mut p = paginator(json!({"type": "next_link", "header": "X-Next"}));
    p.first();
    assert_eq!(show(&mut p, 1, &[], json!({})), Step::Done(Stop::NoNext));
}

#[test]
fn link_header_follows_rel_next() {
    let mut p = paginator(json!({"type": "link_header"}));
    p.first();
    let step = show(
        &mut p,
        1,
        &[(
            "link",
            "<https://x/a?p=2>; rel=\"next\", <https://x/a?p=9>; rel=\"last\"",
        )],
        json!({}),
    );
    assert_eq!(
        step,
        Step::Next(Plan {
            overrides: vec![Override::Link("https://x/a?p=2".into())]
        })
    );
    assert_eq!(
        show(
            &mut p,
            1,
            &[("link", "<https://x/a?p=1>; rel=\"prev\"")],
            json!({})
        ),
        Step::Done(Stop::NoNext)
    );
}

#[test]
fn stop_conditions_end_after_the_page() {
    let mut p = paginator(json!({"type": "page", "stop": [{"path": "$.data", "is": "empty"}]}));
    p.first();
    assert_eq!(
        show(&mut p, 2, &[], json!({"data": [1, 2]})),
        Step::Continue
    );
    assert_eq!(
        show(&mut p, 0, &[], json!({"data": null})),
        Step::Done(Stop::EndCondition)
    );
    let mut p = paginator(
        json!({"type": "page", "stop": [{"path": "$.meta.page", "equals_path": "$.meta.pages"}]}),
    );
    p.first();
    assert_eq!(
        show(&mut p, 2, &[], json!({"meta": {"page": 1, "pages": 2}})),
        Step::Continue
    );
    assert_eq!(
        show(&mut p, 2, &[], json!({"meta": {"page": 2, "pages": 2}})),
        Step::Done(Stop::EndCondition)
    );
    let mut p = paginator(
        json!({"type": "page", "stop": [{"path": "$.total_pages", "equals_param": "page"}]}),
    );
    p.first();
    assert_eq!(
        show(&mut p, 2, &[], json!({"total_pages": 2})),
        Step::Continue
    );
    assert_eq!(
        show(&mut p, 2, &[], json!({"total_pages": 2})),
        Step::Done(Stop::EndCondition)
    );
    let mut p = paginator(
        json!({"type": "cursor", "stop": [{"header": "X-Complete", "equals": true}, {"records_below": 3}]}),
    );
    p.first();
    assert_eq!(
        show(&mut p, 3, &[("x-complete", "true")], json!({})),
        Step::Done(Stop::EndCondition)
    );
    let mut p = paginator(json!({"type": "cursor", "stop": [{"records_below": 3}]}));
    p.first();
    assert_eq!(
        show(&mut p, 2, &[], json!({"next_cursor": "x"})),
        Step::Done(Stop::EndCondition)
    );
}

#[test]
fn status_204_and_max_requests() {
    let mut p = paginator(json!({"type": "cursor"}));
    p.first();
    assert_eq!(
        p.next(&Page {
            status: 204,
            headers: &[],
            records: 0,
            watched: &[]
        }),
        Step::Done(Stop::Status204)
    );
    let mut p = paginator(json!({"type": "page", "max_requests": 2}));
    p.first();
    assert!(p.ahead(1).is_some() && p.ahead(2).is_none());
    assert_eq!(show(&mut p, 5, &[], json!({})), Step::Continue);
    assert_eq!(
        show(&mut p, 5, &[], json!({})),
        Step::Done(Stop::MaxRequests)
    );
}

#[test]
fn adf_rules_absolute_url_and_end_condition() {
    let mut p = paginator(json!({"type": "rules", "rules": {
        "AbsoluteUrl": "$['@odata.nextLink']",
        "EndCondition:$.value": "Empty",
        "MaxRequestNumber": "10"
    }}));
    assert_eq!(p.watched_paths(), ["$['@odata.nextLink']", "$.value"]);
    p.first();
    let headers: Vec<(String, String)> = Vec::new();
    let step = p.next(&Page {
        status: 200,
        headers: &headers,
        records: 1,
        watched: &[Some(json!("https://x/n2")), Some(json!([1]))],
    });
    assert_eq!(
        step,
        Step::Next(Plan {
            overrides: vec![Override::Link("https://x/n2".into())]
        })
    );
    let step = p.next(&Page {
        status: 200,
        headers: &headers,
        records: 0,
        watched: &[Some(json!("https://x/n3")), Some(json!([]))],
    });
    assert_eq!(step, Step::Done(Stop::EndCondition));
}

#[test]
fn adf_rules_range_is_counted() {
    let mut p = paginator(
        json!({"type": "rules", "rules": {"QueryParameters['offset']": "RANGE:0:200:100"}}),
    );
    assert!(p.is_counted());
    assert_eq!(query(&p.first(), "offset").as_deref(), Some("0"));
    assert_eq!(
        query(&p.ahead(2).unwrap(), "offset").as_deref(),
        Some("200")
    );
    assert!(p.ahead(3).is_none());
    assert_eq!(show(&mut p, 1, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut p, 1, &[], json!({})), Step::Continue);
    assert_eq!(
        show(&mut p, 1, &[], json!({})),
        Step::Done(Stop::EndOfRange)
    );
    let mut open =
        paginator(json!({"type": "rules", "rules": {"QueryParameters.page": "RANGE:1::1"}}));
    open.first();
    assert_eq!(
        show(&mut open, 0, &[], json!({})),
        Step::Done(Stop::EmptyPage)
    );
}

#[test]
fn adf_rules_from_headers_and_rfc5988() {
    let mut p = paginator(
        json!({"type": "rules", "rules": {"Headers.X-Token": "Headers.X-Next-Token", "EndCondition:Headers.X-Done": "Const:1"}}),
    );
    p.first();
    let Step::Next(plan) = show(&mut p, 1, &[("x-next-token", "abc")], json!({})) else {
        panic!()
    };
    assert_eq!(
        plan.overrides,
        vec![Override::Header {
            name: "X-Token".into(),
            value: "abc".into()
        }]
    );
    assert_eq!(
        show(
            &mut p,
            1,
            &[("x-next-token", "abd"), ("x-done", "1")],
            json!({})
        ),
        Step::Done(Stop::EndCondition)
    );
    let mut rfc = paginator(json!({"type": "rules", "rules": {"EndCondition:$.data": "NonExist"}}));
    rfc.first();
    let step = show(
        &mut rfc,
        1,
        &[("link", "</p2>; rel=next")],
        json!({"data": []}),
    );
    assert_eq!(
        step,
        Step::Next(Plan {
            overrides: vec![Override::Link("/p2".into())]
        })
    );
    assert_eq!(
        show(&mut rfc, 1, &[("link", "</p3>; rel=next")], json!({})),
        Step::Done(Stop::EndCondition)
    );
}

#[test]
fn adf_rules_refuse_unknown_keys() {
    let config: Config =
        serde_json::from_value(json!({"type": "rules", "rules": {"NextPage": "$.x"}})).unwrap();
    let err = Paginator::new(&config).unwrap_err().to_string();
    assert!(
        err.starts_with("paginate.rules.NextPage: is not a rule ADF knows"),
        "{err}"
    );
}

#[test]
fn a_restored_cursor_paginator_still_knows_the_cursors_followed() {
    let config = json!({"type": "cursor", "from": "$.next"});
    let mut before = paginator(config.clone());
    before.first();
    assert!(matches!(
        show(&mut before, 2, &[], json!({"next": "a"})),
        Step::Next(_)
    ));
    assert!(matches!(
        show(&mut before, 2, &[], json!({"next": "b"})),
        Step::Next(_)
    ));
    let saved = serde_json::to_string(&before.checkpoint()).unwrap();

    let mut after = paginator(config);
    after.first();
    after.restore(serde_json::from_str(&saved).unwrap());
    assert_eq!(after.checkpoint().pages, 2);
    let next = show(&mut after, 2, &[], json!({"next": "c"}));
    assert_eq!(
        next,
        Step::Next(cursor_plan("cursor", Placement::Query, &json!("c")))
    );
    assert_eq!(
        show(&mut after, 2, &[], json!({"next": "a"})),
        Step::Done(Stop::Loop)
    );
}

#[test]
fn a_restored_counter_goes_on_from_the_next_page_and_keeps_max_requests() {
    let config = json!({"type": "page", "size": 2, "max_requests": 4});
    let mut before = paginator(config.clone());
    before.first();
    assert_eq!(show(&mut before, 2, &[], json!({})), Step::Continue);
    assert_eq!(show(&mut before, 2, &[], json!({})), Step::Continue);

    let mut after = paginator(config);
    after.first();
    after.restore(before.checkpoint());
    assert_eq!(after.checkpoint(), before.checkpoint());
    assert_eq!(query(&after.ahead(2).unwrap(), "page"), Some("3".into()));
    assert_eq!(show(&mut after, 2, &[], json!({})), Step::Continue);
    assert_eq!(
        show(&mut after, 2, &[], json!({})),
        Step::Done(Stop::MaxRequests)
    );
}

#[test]
fn plans_and_stops_survive_a_json_round_trip() {
    let plan = Plan {
        overrides: vec![
            Override::Query {
                name: "q".into(),
                value: "1".into(),
            },
            Override::Body {
                path: "a.b".into(),
                value: json!({"n": [1, 2]}),
            },
            Override::Link("https://api.example.com/x?page=2".into()),
        ],
    };
    let text = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&text).unwrap(), plan);
    assert_eq!(
        serde_json::to_string(&Stop::EndOfRange).unwrap(),
        "\"end_of_range\""
    );
}

#[test]
fn only_counters_rules_and_records_below_read_the_records_count() {
    let reads = |config: serde_json::Value| paginator(config).reads_records();
    assert!(reads(json!({"type": "offset"})));
    assert!(reads(json!({"type": "page"})));
    assert!(!reads(json!({"type": "next_link", "from": "$.next"})));
    assert!(!reads(
        json!({"type": "cursor", "from": "$.cursor", "param": "c"})
    ));
    assert!(!reads(json!({"type": "link_header"})));
    assert!(reads(
        json!({"type": "next_link", "from": "$.next", "stop": [{"records_below": 10}]})
    ));
    assert!(!reads(
        json!({"type": "next_link", "from": "$.next", "stop": [{"path": "$.done", "equals": true}]})
    ));
}

/// A number handed over as [`NUMBER_TEXT`] goes out as its literal, and
/// conditions compare it as the number it is: whole numbers past 64 bits
/// by their digits.
#[test]
fn numbers_kept_as_written_go_out_so_and_compare_as_numbers() {
    let kept = |text: &str| json!(format!("{NUMBER_TEXT}{text}"));
    let mut p = paginator(json!({"type": "cursor", "from": "$.next"}));
    p.first();
    let Step::Next(plan) = show(&mut p, 1, &[], json!({"next": kept("1.50")})) else {
        panic!("a cursor to follow");
    };
    assert_eq!(query(&plan, "cursor").as_deref(), Some("1.50"));

    assert!(same(&kept("1.50"), &json!(1.5), false));
    assert!(same(&kept("1e2"), &kept("100.0"), false));
    assert!(same(
        &kept("12345678901234567890123"),
        &kept("12345678901234567890123"),
        false
    ));
    assert!(!same(
        &kept("12345678901234567890123"),
        &kept("12345678901234567890124"),
        false
    ));
    assert!(!same(&kept("1.50"), &json!("1.50"), false));
    assert!(same(&kept("1.50"), &json!("1.50"), true));

    let mut p = paginator(
        json!({"type": "next_link", "from": "$.next", "stop": [{"path": "$.done", "equals": 1.5}]}),
    );
    p.first();
    assert_eq!(
        show(&mut p, 1, &[], json!({"next": "/2", "done": kept("1.50")})),
        Step::Done(Stop::EndCondition)
    );
}

#[test]
fn a_followed_strategy_says_where_it_reads_the_next_value() {
    let cursor = paginator(json!({"type": "cursor", "from": "meta.next", "param": "c",
        "stop": [{"path": "done", "equals": true}]}));
    assert_eq!(
        cursor.follows(),
        Some(Follows::Body {
            index: 0,
            path: "meta.next"
        })
    );
    let link = paginator(json!({"type": "next_link"}));
    assert_eq!(
        link.follows(),
        Some(Follows::Body {
            index: 0,
            path: "$.paging.next"
        })
    );
    let header = paginator(json!({"type": "cursor", "header": "X-Next", "param": "c"}));
    assert_eq!(header.follows(), Some(Follows::Header("x-next")));
    let offset = paginator(json!({"type": "offset"}));
    assert_eq!(offset.follows(), None);
    assert_eq!(cursor.ends_when_absent(), vec![0]);
    assert_eq!(header.ends_when_absent(), Vec::<usize>::new());
    let rules = paginator(json!({"type": "next_link", "from": "next", "stop": [
        {"path": "total", "equals": 0}, {"path": "more", "is": "empty"}]}));
    assert_eq!(rules.ends_when_absent(), vec![0, 2]);
    assert_eq!(paginator(json!({"type": "link_header"})).follows(), None);
}

#[test]
fn a_stop_rule_that_holds_for_want_of_its_value_is_named() {
    let p = paginator(json!({"type": "offset", "stop": [
        {"path": "total", "equals": 0},
        {"path": "links.next", "is": "missing"},
        {"header": "X-More", "is": "empty"},
    ]}));
    let page = |watched: &[Option<Value>], headers: &[(String, String)]| {
        let page = Page {
            status: 200,
            headers,
            records: 1,
            watched,
        };
        p.stopped_by_absence(&page).map(|f| format!("{f:?}"))
    };
    let more = [("x-more".to_owned(), "yes".to_owned())];
    // `total` absent holds nothing: `equals` needs a value.
    assert_eq!(
        page(&[None, None], &more).as_deref(),
        Some(r#"Body { index: 1, path: "links.next" }"#)
    );
    assert_eq!(page(&[None, Some(json!("/p2"))], &more), None);
    assert_eq!(
        page(&[None, Some(json!("/p2"))], &[]).as_deref(),
        Some(r#"Header("x-more")"#)
    );
    // Present but empty is what the rule asks about, not an absence.
    let empty = [("x-more".to_owned(), String::new())];
    assert_eq!(page(&[None, Some(json!("/p2"))], &empty), None);
}

#[test]
fn a_page_that_names_its_own_cursor_is_told_from_a_loop() {
    let config = json!({"type": "cursor", "from": "next", "param": "c"});
    // The API does not read `c`: the second page names the cursor it was
    // asked with.
    let mut p = paginator(config.clone());
    p.first();
    assert!(matches!(
        show(&mut p, 2, &[], json!({"next": "a"})),
        Step::Next(_)
    ));
    assert!(!p.named_its_own());
    assert_eq!(
        show(&mut p, 2, &[], json!({"next": "a"})),
        Step::Done(Stop::Loop)
    );
    assert!(p.named_its_own());
    // A cursor that comes back later is a loop of another kind.
    let mut p = paginator(config);
    p.first();
    show(&mut p, 2, &[], json!({"next": "a"}));
    show(&mut p, 2, &[], json!({"next": "b"}));
    assert_eq!(
        show(&mut p, 2, &[], json!({"next": "a"})),
        Step::Done(Stop::Loop)
    );
    assert!(!p.named_its_own());
    // The same for a link.
    let mut p = paginator(json!({"type": "next_link", "from": "self"}));
    p.first();
    show(&mut p, 2, &[], json!({"self": "/x"}));
    assert_eq!(
        show(&mut p, 2, &[], json!({"self": "/x"})),
        Step::Done(Stop::Loop)
    );
    assert!(p.named_its_own());
}

/// Solr ends `cursorMark` paging with an empty page that names the mark
/// it was asked with; an empty result names the initial `*`.
#[test]
fn an_empty_page_that_names_its_own_cursor_or_link_is_the_last() {
    let config =
        json!({"type": "cursor", "from": "nextCursorMark", "param": "cursorMark", "initial": "*"});
    let mut p = paginator(config.clone());
    p.first();
    let told = p.last_followed().unwrap();
    let page = |mark: &str| {
        let watched = [Some(json!(mark))];
        told.named_by(&Page {
            status: 200,
            headers: &[],
            records: 0,
            watched: &watched,
        })
    };
    assert!(page("*") && !page("AoE"));
    assert!(!told.reads_headers());
    assert_eq!(
        show(&mut p, 0, &[], json!({"nextCursorMark": "*"})),
        Step::Done(Stop::NoNext)
    );
    let mut p = paginator(config);
    p.first();
    show(&mut p, 2, &[], json!({"nextCursorMark": "AoE"}));
    assert!(p.last_followed().unwrap().named_by(&Page {
        status: 200,
        headers: &[],
        records: 0,
        watched: &[Some(json!("AoE"))],
    }));
    assert_eq!(
        show(&mut p, 0, &[], json!({"nextCursorMark": "AoE"})),
        Step::Done(Stop::NoNext)
    );
    assert!(!p.named_its_own());
    // After a resume too.
    let mut p = paginator(
        json!({"type": "cursor", "from": "nextCursorMark", "param": "cursorMark", "initial": "*"}),
    );
    p.first();
    show(&mut p, 2, &[], json!({"nextCursorMark": "AoF"}));
    let saved: Checkpoint =
        serde_json::from_value(serde_json::to_value(p.checkpoint()).unwrap()).unwrap();
    let mut resumed = paginator(
        json!({"type": "cursor", "from": "nextCursorMark", "param": "cursorMark", "initial": "*"}),
    );
    resumed.restore(saved);
    assert_eq!(
        show(&mut resumed, 0, &[], json!({"nextCursorMark": "AoF"})),
        Step::Done(Stop::NoNext)
    );
    // A link in the body or a `Link` header, the same.
    let mut p = paginator(json!({"type": "next_link", "from": "next"}));
    p.first();
    assert!(p.last_followed().is_none());
    show(&mut p, 2, &[], json!({"next": "/x"}));
    assert_eq!(
        show(&mut p, 0, &[], json!({"next": "/x"})),
        Step::Done(Stop::NoNext)
    );
    let mut p = paginator(json!({"type": "link_header"}));
    p.first();
    let link = [("link", "</x>; rel=\"next\"")];
    show(&mut p, 2, &link, json!({}));
    let headers = [("link".to_owned(), "</x>; rel=\"next\"".to_owned())];
    let empty = Page {
        status: 200,
        headers: &headers,
        records: 0,
        watched: &[],
    };
    assert!(p.last_followed().unwrap().named_by(&empty));
    assert!(p.last_followed().unwrap().reads_headers());
    assert_eq!(show(&mut p, 0, &link, json!({})), Step::Done(Stop::NoNext));
}

#[test]
fn the_values_of_the_next_request_are_listed_for_rules_too() {
    let rules = paginator(json!({"type": "rules", "rules": {
        "AbsoluteUrl": "$.links.next",
        "QueryParameters.after": "$.paging.after",
        "Headers.x-token": "Headers.x-next",
    }}));
    let listed: Vec<String> = rules.next_from().iter().map(|f| format!("{f:?}")).collect();
    assert_eq!(
        listed,
        [
            r#"Body { index: 0, path: "$.links.next" }"#,
            r#"Header("x-next")"#,
            r#"Body { index: 1, path: "$.paging.after" }"#,
        ]
    );
    assert_eq!(rules.ends_when_absent(), vec![0, 1]);
    let ranges = paginator(json!({"type": "rules", "rules": {
        "QueryParameters.offset": "RANGE:0:100:10"}}));
    assert!(ranges.next_from().is_empty());
    let cursor = paginator(json!({"type": "cursor", "from": "next"}));
    assert_eq!(
        cursor.next_from(),
        cursor.follows().into_iter().collect::<Vec<_>>()
    );
}
