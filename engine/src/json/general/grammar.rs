//! RFC 9535's grammar: a path's text read into a [`Query`].

use super::*;

/// Reads a path: a recursive descent over RFC 9535's grammar, answering
/// `None` for what the evaluator declines.
pub(super) struct Reader<'t> {
    pub(super) text: &'t [u8],
    pub(super) at: usize,
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

    pub(super) fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    pub(super) fn query(&mut self) -> Option<Query> {
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
