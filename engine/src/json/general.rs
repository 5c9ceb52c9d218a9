//! RFC 9535 JSONPath beyond names, indexes and `[*]`, evaluated on any
//! [`Node`]: slices, unions, descendants and filters, on a page's
//! structural index as on a tree, with no copy of the page.
//!
//! The parser reads a path `serde_json_path` has already found valid, with
//! the RFC's five functions (`length`, `count`, `value`, `match`,
//! `search`). It declines what it does not know; such a path is
//! evaluated by `serde_json_path` on a copy of the page. Comparisons
//! follow the RFC: numbers compare by value (a number past 64 bits as the
//! double that keeps its order), strings by their characters, and only
//! numbers and strings are ordered. `match` and `search` read their
//! pattern as `serde_json_path` does, compiled once when it is a literal.

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::json::node::{Node, View, big_double};

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

/// What `query` selects under `root`, in document order.
pub(crate) fn select<'v, N: Node<'v>>(query: &Query, root: N) -> Vec<N> {
    run(query, root, root)
}

fn run<'v, N: Node<'v>>(query: &Query, current: N, root: N) -> Vec<N> {
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

/// The selectors applied to `node`, then to each node under it in turn,
/// as `serde_json_path` orders them.
fn descend<'v, N: Node<'v>>(part: &Part, node: N, root: N, out: &mut Vec<N>) {
    part.selectors
        .iter()
        .for_each(|s| apply(s, node, root, out));
    for child in children(node) {
        descend(part, child, root, out);
    }
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
    if node.elements(&mut out).is_some() {
        return out;
    }
    let mut keys = Keys::default();
    node.members(&mut |key, value| {
        if keys.insert(key) {
            out.push(value);
        }
    });
    out
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
        Test::Exists { not, query } => run(query, current, root).is_empty() == *not,
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
    let one = |query: &Query| match run(query, current, root).as_slice() {
        [node] => Value::Node(*node),
        _ => Value::Nothing,
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
                    View::Compound if node.is_object() => Value::Count(children(node).len()),
                    View::Compound => {
                        let mut elements = Vec::new();
                        node.elements(&mut elements);
                        Value::Count(elements.len())
                    }
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

/// Reads a path: a recursive descent over RFC 9535's grammar, answering
/// `None` for what the evaluator declines.
struct Reader<'t> {
    text: &'t [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.text[self.at..].starts_with(token.as_bytes());
        if found {
            self.at += token.len();
        }
        found
    }

    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn query(&mut self) -> Option<Query> {
        let root = match self.peek()? {
            b'$' => true,
            b'@' => false,
            _ => return None,
        };
        self.at += 1;
        let mut segments = Vec::new();
        loop {
            let before = self.at;
            self.blank();
            match self.peek() {
                Some(b'[') => segments.push(Part {
                    descendant: false,
                    selectors: self.bracketed()?,
                }),
                Some(b'.') if self.text.get(self.at + 1) == Some(&b'.') => {
                    self.at += 2;
                    let selectors = match self.peek()? {
                        b'[' => self.bracketed()?,
                        _ => vec![self.dotted()?],
                    };
                    segments.push(Part {
                        descendant: true,
                        selectors,
                    });
                }
                Some(b'.') => {
                    self.at += 1;
                    segments.push(Part {
                        descendant: false,
                        selectors: vec![self.dotted()?],
                    });
                }
                _ => {
                    // White space after a query belongs to what follows.
                    self.at = before;
                    return Some(Query { root, segments });
                }
            }
        }
    }

    /// `*` or a member name after `.` or `..`.
    fn dotted(&mut self) -> Option<Selector> {
        if self.eat("*") {
            return Some(Selector::Wildcard);
        }
        let start = self.at;
        while let Some(b) = self.peek() {
            let first = self.at == start;
            let name_char = b.is_ascii_alphabetic() || b == b'_' || b >= 0x80;
            if !(name_char || (!first && b.is_ascii_digit())) {
                break;
            }
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        (!name.is_empty()).then(|| Selector::Name(name.to_owned()))
    }

    fn bracketed(&mut self) -> Option<Vec<Selector>> {
        self.eat("[").then_some(())?;
        self.items("]", Reader::selector)
    }

    fn selector(&mut self) -> Option<Selector> {
        match self.peek()? {
            b'\'' | b'"' => Some(Selector::Name(self.string()?)),
            b'*' => {
                self.at += 1;
                Some(Selector::Wildcard)
            }
            b'?' => {
                self.at += 1;
                self.blank();
                Some(Selector::Filter(self.or()?))
            }
            _ => self.index_or_slice(),
        }
    }

    fn index_or_slice(&mut self) -> Option<Selector> {
        let start = self.integer();
        self.blank();
        if !self.eat(":") {
            return start.map(Selector::Index);
        }
        self.blank();
        let end = self.integer();
        self.blank();
        let step = if self.eat(":") {
            self.blank();
            self.integer()
        } else {
            None
        };
        Some(Selector::Slice { start, end, step })
    }

    fn integer(&mut self) -> Option<i64> {
        let start = self.at;
        self.eat("-");
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        match text.parse() {
            Ok(i) => Some(i),
            Err(_) => {
                self.at = start;
                None
            }
        }
    }

    /// A string literal in either quote, its escapes read.
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = String::new();
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    match escaped {
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'/' | b'\\' | b'\'' | b'"' => out.push(escaped as char),
                        b'u' => out.push(self.unicode()?),
                        _ => return None,
                    }
                }
                _ if b == quote => return Some(out),
                _ => {
                    // A character of one or more bytes, copied whole.
                    let start = self.at - 1;
                    while self.peek().is_some_and(|b| b & 0xC0 == 0x80) {
                        self.at += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.text[start..self.at]).ok()?);
                }
            }
        }
    }

    /// The character of `\uXXXX`, or of a surrogate pair's two.
    fn unicode(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high);
        }
        self.eat("\\u").then_some(())?;
        let low = self.hex4()?;
        (0xDC00..0xE000).contains(&low).then_some(())?;
        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        let value = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.at += 4;
        Some(value)
    }

    fn or(&mut self) -> Option<Or> {
        self.joined("||", Reader::and).map(Or)
    }

    fn and(&mut self) -> Option<And> {
        self.joined("&&", Reader::test).map(And)
    }

    /// One or more of `item`, joined by `operator`.
    fn joined<T>(&mut self, operator: &str, item: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut items = vec![item(self)?];
        loop {
            let before = self.at;
            self.blank();
            if !self.eat(operator) {
                self.at = before;
                return Some(items);
            }
            self.blank();
            items.push(item(self)?);
        }
    }

    fn test(&mut self) -> Option<Test> {
        let not = self.eat("!");
        if not {
            self.blank();
        }
        if self.eat("(") {
            self.blank();
            let expr = self.or()?;
            self.blank();
            self.eat(")").then_some(())?;
            return Some(Test::Paren { not, expr });
        }
        let rest = &self.text[self.at..];
        if rest.starts_with(b"match(") || rest.starts_with(b"search(") {
            let (name, args) = self.function()?;
            let [subject, pattern] = <[Operand; 2]>::try_from(args).ok()?;
            let whole = name == "match";
            let compiled = match &pattern {
                Operand::Literal(Literal::Str(text)) => Pattern::compile(whole, text),
                _ => None,
            };
            let pattern = Box::new(Pattern {
                whole,
                subject,
                pattern,
                compiled,
            });
            return Some(Test::Pattern { not, pattern });
        }
        let left = self.operand()?;
        let before = self.at;
        self.blank();
        let op = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find(|(token, _)| self.eat(token));
        match (op, left) {
            (Some((_, op)), left) if !not => {
                self.blank();
                let right = self.operand()?;
                Some(Test::Compare { left, op, right })
            }
            (None, Operand::Query(query)) => {
                self.at = before;
                Some(Test::Exists { not, query })
            }
            _ => None,
        }
    }

    fn operand(&mut self) -> Option<Operand> {
        match self.peek()? {
            b'$' | b'@' => Some(Operand::Query(self.query()?)),
            b'\'' | b'"' => Some(Operand::Literal(Literal::Str(self.string()?))),
            _ if self.eat("true") => Some(Operand::Literal(Literal::Bool(true))),
            _ if self.eat("false") => Some(Operand::Literal(Literal::Bool(false))),
            _ if self.eat("null") => Some(Operand::Literal(Literal::Null)),
            b'-' | b'0'..=b'9' => self.number().map(|n| Operand::Literal(Literal::Number(n))),
            _ => {
                let (name, args) = self.function()?;
                let [arg] = <[Operand; 1]>::try_from(args).ok()?;
                let function = match (name.as_str(), arg) {
                    ("length", arg) => Function::Length(arg),
                    ("count", Operand::Query(query)) => Function::Count(query),
                    ("value", Operand::Query(query)) => Function::Value(query),
                    _ => return None,
                };
                Some(Operand::Function(Box::new(function)))
            }
        }
    }

    /// `name(arg, ...)`: the name and the arguments.
    fn function(&mut self) -> Option<(String, Vec<Operand>)> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.text[start..self.at])
            .ok()?
            .to_owned();
        (!name.is_empty() && self.eat("(")).then_some(())?;
        Some((name, self.items(")", Reader::operand)?))
    }

    /// One or more of `item`, separated by commas, up to `close`.
    fn items<T>(&mut self, close: &str, item: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut items = Vec::new();
        loop {
            self.blank();
            items.push(item(self)?);
            self.blank();
            if self.eat(close) {
                return Some(items);
            }
            self.eat(",").then_some(())?;
        }
    }

    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        self.eat("-");
        let digits = |r: &mut Self| {
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.at += 1;
            }
        };
        digits(self);
        let mut whole = true;
        if self.eat(".") {
            whole = false;
            digits(self);
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            whole = false;
            self.at += 1;
            if !self.eat("-") {
                self.eat("+");
            }
            digits(self);
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        if whole && let Ok(i) = text.parse::<i128>() {
            return Some(Number::Int(i));
        }
        text.parse::<f64>().ok().map(Number::Double)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    fn copies<'v, N: Node<'v>>(found: Vec<N>) -> Json {
        Json::Array(found.into_iter().map(Node::to_serde).collect())
    }

    /// Every valid case of the RFC 9535 compliance suite is taken by the
    /// reader, and selects what the suite expects, on a page's index and
    /// on a tree alike.
    #[test]
    fn the_evaluator_passes_the_compliance_suite() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/jsonpath/cts.json");
        let suite: Json = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let (mut taken, mut failed) = (0, Vec::new());
        for case in suite["tests"].as_array().unwrap() {
            let selector = case["selector"].as_str().unwrap();
            if case["invalid_selector"] == true {
                continue;
            }
            let name = case["name"].as_str().unwrap();
            let Some(query) = parse(selector) else {
                failed.push(format!("{name}: `{selector}` declined"));
                continue;
            };
            taken += 1;
            let text = serde_json::to_vec(&case["document"]).unwrap();
            let mut scanner = crate::json::scan::Scanner::default();
            let doc = scanner.scan(&text, None).unwrap();
            let by_index = copies(select(&query, doc.root()));
            let mut parser = crate::json::Parser::default();
            let mut scratch = crate::json::Scratch::default();
            let tree = parser.parse(&text, &mut scratch).unwrap();
            let by_tree = copies(select(&query, &tree));
            let expected: Vec<&Json> = match case.get("results") {
                Some(results) => results.as_array().unwrap().iter().collect(),
                None => vec![&case["result"]],
            };
            for (form, got) in [("index", by_index), ("tree", by_tree)] {
                if !expected.contains(&&got) {
                    failed.push(format!("{name}: `{selector}` on the {form} gave {got}"));
                }
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        assert_eq!(taken, 456, "the valid cases");
    }

    /// On a page with repeated keys, numbers past 64 bits and numbers
    /// spelled two ways, the evaluator selects what `serde_json_path`
    /// finds on the page's copy.
    #[test]
    fn the_evaluator_selects_what_serde_json_path_selects_on_a_copy() {
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 30)).collect();
        let page = r#"{"o": {"a": 1, "b": {"a": 3}, "a": 2}, "m": {MANY}, "n": {MANY},
            "data": [{"id": 1, "v": 1.50, "t": ["a", "b"]}, {"id": 2, "v": 123456789012345678901234567890},
            {"id": 3, "v": -2, "id": 9}, [7, {"v": 1e-400}], {"id": 4, "v": 1.5, "s": "x\u00e9", "f": true},
            {"id": 5, "v": -123456789012345678901234567890, "s": "xé"}, {"v": 18446744073709551615}]}"#;
        let page = page.replace("{MANY}", &format!("{{{}}}", many.join(",")));
        let mut scanner = crate::json::scan::Scanner::default();
        let doc = scanner.scan(page.as_bytes(), None).unwrap();
        for path in [
            "$.o[*]",
            "$.m[?@ > 25]",
            "$[?@ == $.n]",
            "$[?@ == $.o]",
            "$[?@ != $.m]",
            "$[?@.m.k29 == 29]",
            "$.o..*",
            "$..a",
            "$..[?@ == 3]",
            "$.o[?@ > 1]",
            "$.data[?@.id > 1]",
            "$.data[?@.id == 9]",
            "$.data[?@.id == 3]",
            "$.data[?@.v > 100]",
            "$.data[?@.v < -100]",
            "$.data[?@.v == 1.5]",
            "$.data[?@.v >= 18446744073709551615]",
            "$.data[?@.s == 'xé']",
            "$.data[?@.s > 'x']",
            "$.data[?@.t]",
            "$.data[?!@.v]",
            "$..v",
            "$.data[1:5:2]",
            "$.data[::-1].id",
            "$.data[-2:]",
            "$.data[0, 2, 0].id",
            "$..[?@.v < 0]",
            "$.data[?length('é') == 1].id",
            "$.data[?length(@.s) == 2].id",
        ] {
            let json_path = crate::json::path::JsonPath::parse(path).unwrap();
            let query = parse(path).unwrap_or_else(|| panic!("{path} declined"));
            let by_query = copies(select(&query, doc.root()));
            let places = json_path.locate(&crate::json::node::to_serde_located(doc.root()));
            let by_copy = copies(crate::json::node::follow_all(doc.root(), &places));
            assert_eq!(by_query, by_copy, "{path}");
        }
        // Where `serde_json_path` strays from the RFC, the RFC holds: a
        // singular query's index counts from the end when negative, and
        // only numbers and strings are ordered.
        for (path, ids) in [
            ("$.data[?@.t[-1] == 'b'].id", "[1]"),
            ("$.data[?@.t[-2] == 'a'].id", "[1]"),
            ("$.data[?@.f > false].id", "[]"),
            ("$.data[?@.f >= false].id", "[]"),
            ("$.data[?@.f == true].id", "[4]"),
        ] {
            let got = copies(select(&parse(path).unwrap(), doc.root()));
            assert_eq!(got.to_string(), ids, "{path}");
        }
    }

    /// Random filters, slices and descendants over random records: the
    /// evaluator selects what `serde_json_path` finds on the page's copy.
    /// The filters keep off where the RFC and `serde_json_path` part (see
    /// above): ordering a value that is not a number or a string, a
    /// negative index in a filter's query, and numbers of one value
    /// spelled as an integer and as a double.
    #[test]
    fn random_paths_select_what_serde_json_path_selects() {
        let mut random = crate::json::xorshift(0x6a09_e667_f3bc_c908);
        let mut next = |below: usize| (random() % below as u64) as usize;
        let mut taken = 0;
        for round in 0..3000 {
            let records: Vec<String> = (0..next(7)).map(|_| record(&mut next, 2)).collect();
            let page = format!("{{\"data\": [{}], \"n\": 2}}", records.join(","));
            let path = match next(4) {
                0 => format!("$.data[?{}]", filter(&mut next, 2)),
                1 => format!("$..[?{}]", filter(&mut next, 1)),
                2 => format!("$.data[?{}].{}", filter(&mut next, 1), KEYS[next(4)]),
                _ => {
                    let bound = |next: &mut dyn FnMut(usize) -> usize| match next(3) {
                        0 => String::new(),
                        _ => (next(9) as i64 - 4).to_string(),
                    };
                    let step = ["", ":1", ":2", ":-1", ":-2", ":0"][next(6)];
                    format!("$.data[{}:{}{step}]..b", bound(&mut next), bound(&mut next))
                }
            };
            let json_path = crate::json::path::JsonPath::parse(&path)
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            let query = parse(&path).unwrap_or_else(|| panic!("{path} declined"));
            taken += 1;
            let mut scanner = crate::json::scan::Scanner::default();
            let doc = scanner.scan(page.as_bytes(), None).unwrap();
            let by_query = copies(select(&query, doc.root()));
            let places = json_path.locate(&crate::json::node::to_serde_located(doc.root()));
            let by_copy = copies(crate::json::node::follow_all(doc.root(), &places));
            assert_eq!(by_query, by_copy, "round {round}: {path} on {page}");
        }
        assert_eq!(taken, 3000);
    }

    const KEYS: [&str; 4] = ["a", "b", "c", "d"];

    fn record(next: &mut impl FnMut(usize) -> usize, depth: usize) -> String {
        let members: Vec<String> = (0..next(5))
            .map(|_| format!("\"{}\": {}", KEYS[next(4)], member(next, depth)))
            .collect();
        format!("{{{}}}", members.join(", "))
    }

    fn member(next: &mut impl FnMut(usize) -> usize, depth: usize) -> String {
        match next(if depth == 0 { 6 } else { 8 }) {
            0 => (next(7) as i64 - 3).to_string(),
            1 => format!("{}.5", next(7) as i64 - 3),
            2 => ["\"x\"", "\"y\"", "\"\\u00e9\"", "\"\""][next(4)].to_owned(),
            3 => ["true", "false"][next(2)].to_owned(),
            4 => "null".to_owned(),
            5 => "123456789012345678901234567890".to_owned(),
            6 => record(next, depth - 1),
            _ => {
                let items: Vec<String> = (0..next(4)).map(|_| member(next, depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
        }
    }

    fn filter(next: &mut impl FnMut(usize) -> usize, depth: usize) -> String {
        let query = |next: &mut dyn FnMut(usize) -> usize| {
            let mut q = ["@", "$.data[0]"][usize::from(next(6) == 0)].to_owned();
            for _ in 0..1 + next(2) {
                match next(4) {
                    0 => q.push_str(&format!("[{}]", next(3))),
                    1 => q.push_str(&format!("['{}']", KEYS[next(4)])),
                    _ => q.push_str(&format!(".{}", KEYS[next(4)])),
                }
            }
            q
        };
        let literal = |next: &mut dyn FnMut(usize) -> usize, ordered: bool| {
            let numbers = ["0", "-1", "2", "1.5", "-2.5", "1e30", "2E0"];
            let strings = ["'x'", "\"y\"", "'\\u00e9'", "''"];
            match (next(if ordered { 2 } else { 3 }), ordered) {
                (0, _) => numbers[next(numbers.len())].to_owned(),
                (1, _) => strings[next(strings.len())].to_owned(),
                _ => ["true", "false", "null"][next(3)].to_owned(),
            }
        };
        match next(if depth == 0 { 4 } else { 7 }) {
            0 => format!("{}{}", ["", "!"][next(2)], query(next)),
            3 => {
                let op = ["==", "!=", "<", ">="][next(4)];
                match next(5) {
                    0 => format!("length({}) {op} {}", query(next), next(4)),
                    1 => format!("count(@.*) {op} {}", next(4)),
                    2 => format!("count(@..[?@ == 'x']) {op} {}", next(3)),
                    3 => format!("value(@..c) == {}", literal(next, false)),
                    _ => format!(
                        "{}{}({}, '{}')",
                        ["", "!"][next(2)],
                        ["match", "search"][next(2)],
                        query(next),
                        ["x", "x|y", "\\\\u00e9", ".", "[^x]*", "("][next(6)]
                    ),
                }
            }
            1 => {
                let op = ["==", "!=", "<", "<=", ">", ">="][next(6)];
                let ordered = !matches!(op, "==" | "!=");
                let (q, l) = (query(next), literal(next, ordered));
                if ordered {
                    // A query that selects nothing against a literal:
                    // both readings give false.
                    format!("{q} {op} {l}")
                } else if next(2) == 0 {
                    format!("{l}{op}{q}")
                } else {
                    format!("{q} {op} {q2}", q2 = query(next))
                }
            }
            2 => format!("{} == {}", literal(next, false), literal(next, false)),
            4 => format!("{} && {}", filter(next, depth - 1), filter(next, depth - 1)),
            5 => format!("{} || {}", filter(next, depth - 1), filter(next, depth - 1)),
            _ => format!("{}({})", ["", "!"][next(2)], filter(next, depth - 1)),
        }
    }

    /// The records of a path of names that ends in filters, slices or
    /// indexes are elements of one array, which the check notes; other
    /// paths have their records walked.
    #[test]
    fn paths_that_pick_from_one_array_name_it() {
        let keys = |path: &str| array_keys(&parse(path).unwrap());
        let data = Some(vec!["data".to_owned()]);
        assert_eq!(keys("$.data[?@.ok]"), data);
        assert_eq!(keys("$['data'][1:5, 7]"), data);
        assert_eq!(keys("$.data[-1:]"), data);
        assert_eq!(
            keys("$.a.b[?@.x > 1, ::2]"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(keys("$[?@.ok]"), Some(vec![]));
        for elsewhere in [
            "$..data[?@.ok]",
            "$.data[?@.ok].items",
            "$.data..[0:2]",
            "$.data[?@.ok, 'x']",
            "$['a','b'][0:2]",
            "$.*[0:2]",
        ] {
            assert_eq!(keys(elsewhere), None, "{elsewhere}");
        }
    }

    #[test]
    fn the_five_functions_are_read_and_the_rest_whole() {
        for path in [
            "$[?length(@) > 1]",
            "$[?count(@.*) == 1]",
            "$[?value(@..a) == 'x']",
            "$[?length(value(@.a)) >= 2]",
            "$[?!search(@.a, $.pattern)]",
        ] {
            assert!(parse(path).is_some(), "{path}");
        }
        let read = parse("$[?match(@.a, 'a.c')]").unwrap();
        let Selector::Filter(Or(ands)) = &read.segments[0].selectors[0] else {
            panic!("{read:?}")
        };
        let Test::Pattern {
            not: false,
            pattern,
        } = &ands[0].0[0]
        else {
            panic!("{read:?}")
        };
        let compiled = pattern.compiled.as_ref().expect("a literal pattern");
        assert_eq!(compiled.0.as_str(), "(?R)^(a.c)$");
        assert!(compiled.0.is_match("abc") && !compiled.0.is_match("a\rc"));
        let read = parse("$.data[?@.a == 'x' && !(@.b < -1.5e2) || @.c]..d[1:-1:2, 'e']").unwrap();
        assert!(read.root);
        assert_eq!(read.segments.len(), 4);
        assert!(read.segments[2].descendant);
        assert_eq!(
            read.segments[2].selectors,
            vec![Selector::Name("d".to_owned())]
        );
        assert_eq!(
            read.segments[3].selectors,
            vec![
                Selector::Slice {
                    start: Some(1),
                    end: Some(-1),
                    step: Some(2)
                },
                Selector::Name("e".to_owned())
            ]
        );
        let Selector::Filter(Or(ands)) = &read.segments[1].selectors[0] else {
            panic!("{read:?}")
        };
        assert_eq!(ands.len(), 2);
        assert!(matches!(
            &ands[0].0[1],
            Test::Paren { not: true, expr } if matches!(
                &expr.0[0].0[0],
                Test::Compare { op: Op::Lt, right: Operand::Literal(Literal::Number(Number::Double(d))), .. } if *d == -150.0
            )
        ));
    }
}
