//! RFC 9535 JSONPath beyond names, indexes and `[*]`, evaluated on any
//! [`Node`]: slices, unions, descendants and filters, on a page's
//! structural index as on a tree, with no copy of the page.
//!
//! The parser reads a path `serde_json_path` has already found valid, with
//! the RFC's five functions (`length`, `count`, `value`, `match`,
//! `search`); [`JsonPath::parse`] refuses, by name, a valid path it could
//! not read, rather than evaluate it otherwise. Comparisons
//! follow the RFC: numbers compare by value (a number past 64 bits as the
//! double that keeps its order), strings by their characters, and only
//! numbers and strings are ordered. `match` and `search` read their
//! pattern as `serde_json_path` does, compiled once when it is a literal.

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::json::node::{Node, View, big_double};
#[cfg(doc)]
use crate::json::path::JsonPath;

mod grammar;

use grammar::Reader;

/// A path the evaluator takes: `$` and its segments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    /// `$` (the root), else `@` (the node a filter tests).
    root: bool,
    segments: Vec<Part>,
}

/// A segment: its selectors, applied to the node or (`..`) to the node
/// and every node under it.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    descendant: bool,
    selectors: Vec<Selector>,
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Wildcard,
    Index(i64),
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: Option<i64>,
    },
    Filter(Or),
}

/// `a || b || ...`
#[derive(Debug, Clone, PartialEq)]
struct Or(Vec<And>);

/// `a && b && ...`
#[derive(Debug, Clone, PartialEq)]
struct And(Vec<Test>);

#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// `(...)`, or `!(...)`.
    Paren { not: bool, expr: Or },
    /// `match(...)` or `search(...)`, or either after `!`.
    Pattern { not: bool, pattern: Box<Pattern> },
    /// A query that selects something, or (`!`) nothing.
    Exists { not: bool, query: Query },
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Literal),
    /// A singular query: names and indexes only.
    Query(Query),
    /// `length(...)`, `count(...)` or `value(...)`.
    Function(Box<Function>),
}

/// A function whose result is a value.
#[derive(Debug, Clone, PartialEq)]
enum Function {
    /// The characters of a string, elements of an array, members of an
    /// object; nothing for any other value.
    Length(Operand),
    /// How many nodes a query selects.
    Count(Query),
    /// The one node a query selects, else nothing.
    Value(Query),
}

/// `match` (the whole string) or `search` (somewhere in it).
#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    whole: bool,
    subject: Operand,
    pattern: Operand,
    /// The pattern compiled at parse time, when it is a literal.
    compiled: Option<Regex>,
}

/// A compiled pattern, compared by its text.
#[derive(Debug, Clone)]
struct Regex(regex::Regex);

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Pattern {
    /// The expression as `serde_json_path` builds it: `(?R)` makes `.`
    /// stop at `\r` as at `\n`, as I-Regexp's does.
    fn compile(whole: bool, pattern: &str) -> Option<Regex> {
        let text = if whole {
            format!("(?R)^({pattern})$")
        } else {
            format!("(?R)({pattern})")
        };
        regex::Regex::new(&text).ok().map(Regex)
    }

    fn test<'v, N: Node<'v>>(&self, current: N, root: N) -> bool {
        let subject = value(&self.subject, current, root);
        let Some(Scalar::Str(subject)) = subject.scalar() else {
            return false;
        };
        if let Some(compiled) = &self.compiled {
            return compiled.0.is_match(subject);
        }
        match value(&self.pattern, current, root).scalar() {
            Some(Scalar::Str(pattern)) => {
                Pattern::compile(self.whole, pattern).is_some_and(|r| r.0.is_match(subject))
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Bool(bool),
    Number(Number),
    Str(String),
}

/// A number as filters compare it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i128),
    Double(f64),
}

impl Number {
    fn cmp(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.double().partial_cmp(&b.double()),
        }
    }

    fn double(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Double(d) => d,
        }
    }
}

/// The path read, or `None` where the evaluator declines it.
pub(crate) fn parse(text: &str) -> Option<Query> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
    };
    let query = reader.query()?;
    reader.blank();
    (reader.at == reader.text.len()).then_some(query)
}

/// The keys to the array a path takes its values from, for a path of
/// names that ends in one segment of filters, slices or indexes
/// (`$.data[?@.ok]`, `$.data[0:100]`): what it selects are elements of
/// that array, which the index's check notes as it notes the elements of
/// a plain records path.
pub(crate) fn array_keys(query: &Query) -> Option<Vec<String>> {
    let (last, names) = query.segments.split_last()?;
    let picks = |s: &Selector| {
        matches!(
            s,
            Selector::Filter(_) | Selector::Slice { .. } | Selector::Index(_)
        )
    };
    if !query.root || last.descendant || !last.selectors.iter().all(picks) {
        return None;
    }
    (names.iter())
        .map(|part| match part.selectors.as_slice() {
            [Selector::Name(name)] if !part.descendant => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Whether the last segment of `query` selects members by name only
/// (`$..items`, `$.data[?@.ok].items`): values at names, not elements.
pub(crate) fn ends_in_name(query: &Query) -> bool {
    (query.segments.last()).is_some_and(|last| {
        (last.selectors.iter()).all(|selector| matches!(selector, Selector::Name(_)))
    })
}

/// What `query` selects under `root`, in document order.
pub(crate) fn select<'v, N: Node<'v>>(query: &Query, root: N) -> Vec<N> {
    run(query, root, root)
}

fn run<'v, N: Node<'v>>(query: &Query, current: N, root: N) -> Vec<N> {
    match singular(query, current, root) {
        Some(found) => found.into_iter().collect(),
        None => evaluate(query, current, root),
    }
}

/// What any query selects, a list of nodes for each segment.
fn evaluate<'v, N: Node<'v>>(query: &Query, current: N, root: N) -> Vec<N> {
    let mut nodes = vec![if query.root { root } else { current }];
    for part in &query.segments {
        let mut next = Vec::new();
        for node in nodes {
            if part.descendant {
                descend(part, node, root, &mut next);
            } else {
                part.selectors
                    .iter()
                    .for_each(|s| apply(s, node, root, &mut next));
            }
        }
        nodes = next;
    }
    nodes
}

/// What a query of names and indexes only (`@.user.id`, `$.a[0]`)
/// selects: at most one node, found with no list of the nodes on the
/// way, as a filter tests each record with such queries. `None` for any
/// other query.
fn singular<'v, N: Node<'v>>(query: &Query, current: N, root: N) -> Option<Option<N>> {
    let mut node = Some(if query.root { root } else { current });
    for part in &query.segments {
        let [selector] = part.selectors.as_slice() else {
            return None;
        };
        node = match (selector, part.descendant) {
            (Selector::Name(name), false) => node.and_then(|n| n.get(name)),
            (Selector::Index(i), false) => node.and_then(|n| n.at(*i)),
            _ => return None,
        };
    }
    Some(node)
}

/// The selectors applied to `node`, then to each node under it in turn,
/// as `serde_json_path` orders them.
fn descend<'v, N: Node<'v>>(part: &Part, node: N, root: N, out: &mut Vec<N>) {
    if let [Selector::Name(name)] = part.selectors.as_slice() {
        return descend_to(name, node, out, &mut Vec::new());
    }
    part.selectors
        .iter()
        .for_each(|s| apply(s, node, root, out));
    for child in children(node) {
        descend(part, child, root, out);
    }
}

/// [`descend`] for one name (`..user`): the member of that name is found
/// on the walk over an object's members that lists its children, not on
/// a walk of its own. `under` holds the children of the nodes on the way down, each
/// node's after its parent's, so that no node has a list of its own.
fn descend_to<'v, N: Node<'v>>(name: &str, node: N, out: &mut Vec<N>, under: &mut Vec<N>) {
    let start = under.len();
    out.extend(push_children(node, Some(name), under));
    for at in start..under.len() {
        descend_to(name, under[at], out, under);
    }
    under.truncate(start);
}

fn apply<'v, N: Node<'v>>(selector: &Selector, node: N, root: N, out: &mut Vec<N>) {
    match selector {
        Selector::Name(name) => out.extend(node.get(name)),
        Selector::Wildcard => out.extend(children(node)),
        Selector::Index(i) => out.extend(node.at(*i)),
        Selector::Slice { start, end, step } => {
            let mut elements = Vec::new();
            if node.elements(&mut elements).is_some() {
                for i in slice(*start, *end, *step, elements.len()) {
                    out.push(elements[i]);
                }
            }
        }
        Selector::Filter(expr) => {
            out.extend(children(node).into_iter().filter(|c| or(expr, *c, root)));
        }
    }
}

/// An array's elements, or an object's values with a repeated key's first
/// only, as `get` finds it.
fn children<'v, N: Node<'v>>(node: N) -> Vec<N> {
    let mut out = Vec::new();
    push_children(node, None, &mut out);
    out
}

/// Pushes [`children`] onto `out`, and gives the member named `name` as
/// `get` finds it (the first of a repeated key).
fn push_children<'v, N: Node<'v>>(node: N, name: Option<&str>, out: &mut Vec<N>) -> Option<N> {
    if node.elements(out).is_some() || !node.is_object() {
        return None;
    }
    // Keys are told apart by a hash, with no copy of each: a repeated
    // key is rare, and only an object with two keys of one hash has its
    // keys compared. A short object's hashes stay on the stack.
    let start = out.len();
    out.reserve(Keys::LISTED);
    let (mut short, mut long) = ([0; Keys::LISTED], Vec::new());
    let mut named = None;
    node.members(&mut |key, value| {
        if named.is_none() && name == Some(key) {
            named = Some(value);
        }
        let hash = key_hash(key);
        match short.get_mut(out.len() - start) {
            Some(slot) => *slot = hash,
            None if long.is_empty() => long.extend(short.iter().copied().chain([hash])),
            None => long.push(hash),
        }
        out.push(value);
    });
    let hashes = match short.get_mut(..out.len() - start) {
        Some(short) => short,
        None => &mut long[..],
    };
    if has_repeats(hashes) {
        out.truncate(start);
        first_of_each_key(node, out);
    }
    named
}

/// Pushes an object's values with a repeated key's first only, keys
/// compared as text: out of line, as it is rare.
#[cold]
#[inline(never)]
fn first_of_each_key<'v, N: Node<'v>>(node: N, out: &mut Vec<N>) {
    let mut keys = Keys::default();
    node.members(&mut |key, value| {
        if keys.insert(key) {
            out.push(value);
        }
    });
}

/// A hash of a key's bytes (FxHash's mixing): cheap, and good enough to
/// tell keys apart, as keys of equal hashes are compared.
fn key_hash(key: &str) -> u64 {
    let mix =
        |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut words = key.as_bytes().chunks_exact(8);
    let mut hash = key.len() as u64;
    for word in words.by_ref() {
        hash = mix(
            hash,
            u64::from_le_bytes(word.try_into().expect("eight bytes")),
        );
    }
    let tail = words.remainder();
    mix(
        hash,
        tail.iter().fold(0, |word, &b| word << 8 | u64::from(b)),
    )
}

/// Whether two of `hashes` are equal (they are reordered).
fn has_repeats(hashes: &mut [u64]) -> bool {
    if hashes.len() <= Keys::LISTED {
        return hashes
            .iter()
            .enumerate()
            .any(|(i, h)| hashes[..i].contains(h));
    }
    hashes.sort_unstable();
    hashes.windows(2).any(|pair| pair[0] == pair[1])
}

/// The keys of an object met so far: a list while short, a set past
/// that, so that an object of many keys is not read in quadratic time.
#[derive(Default)]
struct Keys {
    list: Vec<String>,
    set: HashSet<String>,
}

impl Keys {
    const LISTED: usize = 16;

    /// Whether `key` is met for the first time; it is noted.
    fn insert(&mut self, key: &str) -> bool {
        if !self.set.is_empty() {
            return self.set.insert(key.to_owned());
        }
        if self.list.iter().any(|k| k == key) {
            return false;
        }
        self.list.push(key.to_owned());
        if self.list.len() > Keys::LISTED {
            self.set.extend(self.list.drain(..));
        }
        true
    }

    fn len(&self) -> usize {
        self.list.len() + self.set.len()
    }

    fn iter(&self) -> impl Iterator<Item = &String> {
        self.list.iter().chain(&self.set)
    }
}

/// The indexes a slice selects of an array of `len` (RFC 9535, 2.3.4.2).
fn slice(start: Option<i64>, end: Option<i64>, step: Option<i64>, len: usize) -> Vec<usize> {
    let len = len as i64;
    let step = step.unwrap_or(1);
    let normal = |i: i64| if i >= 0 { i } else { len.saturating_add(i) };
    let mut out = Vec::new();
    if step > 0 {
        let lower = normal(start.unwrap_or(0)).clamp(0, len);
        let upper = normal(end.unwrap_or(len)).clamp(0, len);
        let mut i = lower;
        while i < upper {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    } else if step < 0 {
        let upper = normal(start.unwrap_or(len - 1)).clamp(-1, len - 1);
        let lower = normal(end.unwrap_or(-len - 1)).clamp(-1, len - 1);
        let mut i = upper;
        while lower < i {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    }
    out
}

fn or<'v, N: Node<'v>>(expr: &Or, current: N, root: N) -> bool {
    expr.0
        .iter()
        .any(|and| and.0.iter().all(|t| test(t, current, root)))
}

fn test<'v, N: Node<'v>>(test: &Test, current: N, root: N) -> bool {
    match test {
        Test::Paren { not, expr } => or(expr, current, root) != *not,
        Test::Pattern { not, pattern } => pattern.test(current, root) != *not,
        Test::Exists { not, query } => match singular(query, current, root) {
            Some(found) => found.is_none() == *not,
            None => evaluate(query, current, root).is_empty() == *not,
        },
        Test::Compare { left, op, right } => {
            let (left, right) = (value(left, current, root), value(right, current, root));
            match op {
                Op::Eq => equal(&left, &right),
                Op::Ne => !equal(&left, &right),
                Op::Lt => less(&left, &right),
                Op::Gt => less(&right, &left),
                Op::Le => less(&left, &right) || equal(&left, &right),
                Op::Ge => less(&right, &left) || equal(&left, &right),
            }
        }
    }
}

/// A side of a comparison: a literal, a node, or nothing (a query that
/// selects none).
enum Value<'l, N> {
    Nothing,
    Literal(&'l Literal),
    Node(N),
    /// What `length()` or `count()` gives.
    Count(usize),
}

impl<'l, N> Value<'l, N> {
    /// The value as a scalar; `None` for nothing, an array or an object.
    fn scalar<'s, 'v: 's>(&self) -> Option<Scalar<'s>>
    where
        'l: 's,
        N: Node<'v>,
    {
        match self {
            Value::Nothing => None,
            Value::Literal(l) => Some(Scalar::of_literal(l)),
            Value::Node(n) => Scalar::of_view(n.view()),
            Value::Count(c) => Some(Scalar::Number(Number::Int(*c as i128))),
        }
    }
}

fn value<'l, 'v, N: Node<'v>>(operand: &'l Operand, current: N, root: N) -> Value<'l, N> {
    let one = |query: &Query| match singular(query, current, root) {
        Some(Some(node)) => Value::Node(node),
        Some(None) => Value::Nothing,
        None => match evaluate(query, current, root).as_slice() {
            [node] => Value::Node(*node),
            _ => Value::Nothing,
        },
    };
    match operand {
        Operand::Literal(literal) => Value::Literal(literal),
        Operand::Query(query) => one(query),
        Operand::Function(function) => match &**function {
            Function::Count(query) => Value::Count(run(query, current, root).len()),
            Function::Value(query) => one(query),
            Function::Length(of) => match value(of, current, root) {
                Value::Literal(Literal::Str(s)) => Value::Count(s.chars().count()),
                Value::Node(node) => match node.view() {
                    View::Str(s) => Value::Count(s.chars().count()),
                    // Elements, or members with a repeated key once.
                    View::Compound => Value::Count(children(node).len()),
                    _ => Value::Nothing,
                },
                _ => Value::Nothing,
            },
        },
    }
}

/// A scalar as comparisons see it; `None` for an array or object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar<'s> {
    Null,
    Bool(bool),
    Number(Number),
    Str(&'s str),
}

impl<'s> Scalar<'s> {
    fn of_literal(literal: &'s Literal) -> Scalar<'s> {
        match literal {
            Literal::Null => Scalar::Null,
            Literal::Bool(b) => Scalar::Bool(*b),
            Literal::Number(n) => Scalar::Number(*n),
            Literal::Str(s) => Scalar::Str(s),
        }
    }

    fn of_view(view: View<'s>) -> Option<Scalar<'s>> {
        Some(match view {
            View::Null => Scalar::Null,
            View::Bool(b) => Scalar::Bool(b),
            View::I64(i) => Scalar::Number(Number::Int(i.into())),
            View::U64(u) => Scalar::Number(Number::Int(u.into())),
            View::F64(f) => Scalar::Number(Number::Double(f)),
            View::Big(literal) => Scalar::Number(Number::Double(big_double(literal))),
            View::Str(s) => Scalar::Str(s),
            View::Compound => return None,
        })
    }

    fn same(self, other: Scalar<'_>) -> bool {
        match (self, other) {
            (Scalar::Number(a), Scalar::Number(b)) => a.cmp(b) == Some(Ordering::Equal),
            (Scalar::Str(a), Scalar::Str(b)) => a == b,
            (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
            (Scalar::Null, Scalar::Null) => true,
            _ => false,
        }
    }
}

fn equal<'v, N: Node<'v>>(a: &Value<'_, N>, b: &Value<'_, N>) -> bool {
    match (a, b) {
        (Value::Nothing, Value::Nothing) => true,
        (Value::Nothing, _) | (_, Value::Nothing) => false,
        (Value::Node(a), Value::Node(b)) => nodes_equal(*a, *b),
        // One side is a scalar, or neither is a node.
        (a, b) => match (a.scalar(), b.scalar()) {
            (Some(x), Some(y)) => x.same(y),
            _ => false,
        },
    }
}

/// Whether two values are equal: scalars as above, arrays element by
/// element, objects with the same keys and equal values (a repeated
/// key's first, as `get` finds it).
fn nodes_equal<'v, N: Node<'v>>(a: N, b: N) -> bool {
    match (Scalar::of_view(a.view()), Scalar::of_view(b.view())) {
        (Some(a), Some(b)) => return a.same(b),
        (None, None) => {}
        _ => return false,
    }
    let (mut left, mut right) = (Vec::new(), Vec::new());
    match (a.elements(&mut left), b.elements(&mut right)) {
        (Some(()), Some(())) => {
            return left.len() == right.len()
                && left.iter().zip(&right).all(|(x, y)| nodes_equal(*x, *y));
        }
        (None, None) => {}
        _ => return false,
    }
    let (keys, others) = (distinct_keys(a), distinct_keys(b));
    keys.len() == others.len()
        && keys.iter().all(|k| match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => nodes_equal(x, y),
            _ => false,
        })
}

fn distinct_keys<'v, N: Node<'v>>(node: N) -> Keys {
    let mut keys = Keys::default();
    node.members(&mut |key, _| {
        keys.insert(key);
    });
    keys
}

/// `a < b`: only two numbers or two strings are ordered.
fn less<'s, 'v: 's, N: Node<'v>>(a: &Value<'s, N>, b: &Value<'s, N>) -> bool {
    match (a.scalar(), b.scalar()) {
        (Some(Scalar::Number(x)), Some(Scalar::Number(y))) => x.cmp(y) == Some(Ordering::Less),
        (Some(Scalar::Str(x)), Some(Scalar::Str(y))) => x < y,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
