//! The RFC 9535 compliance test suite, run through `hydrant query`'s
//! engine function.

use serde_json::Value;

/// Numbers compare by value: the engine writes `1.0` as `1.0`, serde
/// may hold it as an integer.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn every_case_of_the_compliance_suite_passes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/jsonpath/cts.json");
    let suite: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let tests = suite["tests"].as_array().unwrap();
    let mut failed = Vec::new();
    for case in tests {
        let name = case["name"].as_str().unwrap();
        let selector = case["selector"].as_str().unwrap();
        let document = serde_json::to_vec(&case["document"]).unwrap();
        let got = hydrant_engine::query(selector, &document);
        let ok = if case["invalid_selector"] == true {
            got.as_ref().is_err_and(|e| e.is_config())
        } else {
            let got: Option<Value> = got.ok().and_then(|out| serde_json::from_slice(&out).ok());
            let expected: Vec<&Value> = match case.get("results") {
                Some(results) => results.as_array().unwrap().iter().collect(),
                None => vec![&case["result"]],
            };
            got.is_some_and(|got| expected.iter().any(|e| same(&got, e)))
        };
        if !ok {
            failed.push(format!("{name}: `{selector}`"));
        }
    }
    assert_eq!(tests.len(), 703);
    assert!(
        failed.is_empty(),
        "{} of 703 failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
