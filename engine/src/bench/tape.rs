//! simd-json's tape, walked by the same extractor as the structural
//! index: the form the hot path walked before the index, which the parser
//! bench still measures against it. Nothing else in the engine uses it.

use simd_json::prelude::{TypedValue, ValueAsScalar, ValueIntoString};
use simd_json::{ValueType, tape};

use crate::json::node::{Node, View, containers};
use crate::json::{Parser, Scratch, describe, mark_big_numbers, padded_copy};

/// Parses `body` into `tape` (cleared first): no allocation per object or
/// array, strings borrowed from `scratch`.
pub(crate) fn parse<'a>(
    parser: &mut Parser,
    body: &[u8],
    scratch: &'a mut Scratch,
    tape: &mut simd_json::Tape<'a>,
) -> Result<(), String> {
    let Scratch { main, rewritten } = scratch;
    padded_copy(main, body);
    match simd_json::fill_tape_padded(main, body.len(), &mut parser.buffers, tape) {
        Ok(()) => Ok(()),
        Err(e) if *e.error() == simd_json::ErrorType::InvalidNumber => {
            *rewritten = mark_big_numbers(body);
            let len = rewritten.len();
            rewritten.resize(len + simd_json::INPUT_PADDING, b' ');
            simd_json::fill_tape_padded(rewritten, len, &mut parser.buffers, tape)
                .map_err(|e| describe(&e, body))
        }
        Err(e) => Err(describe(&e, body)),
    }
}

impl<'t, 'i: 't> Node<'t> for tape::Value<'t, 'i> {
    const KEYS_PER_GET: usize = 8;

    fn view(self) -> View<'t> {
        match self.value_type() {
            ValueType::Null => View::Null,
            ValueType::Bool => self.as_bool().map_or(View::Null, View::Bool),
            ValueType::I64 => self.as_i64().map_or(View::Null, View::I64),
            ValueType::U64 => self.as_u64().map_or(View::Null, View::U64),
            ValueType::F64 => self.as_f64().map_or(View::Null, View::F64),
            ValueType::String => self.into_string().map_or(View::Null, View::of_str),
            _ => View::Compound,
        }
    }

    containers!();

    fn is_object(self) -> bool {
        self.value_type() == ValueType::Object
    }

    fn members(self, each: &mut dyn FnMut(&str, Self)) {
        if let Some(object) = self.as_object() {
            for (key, value) in object.iter() {
                each(key, value);
            }
        }
    }
}
