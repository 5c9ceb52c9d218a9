//! Stage 1: one SIMD pass over the page that writes the offset and byte
//! of every structural outside strings, and marks where literal text
//! comes between two of them.

use super::*;

/// What the structural pass found.
pub(super) struct Found {
    pub(super) count: usize,
}

/// A block of the page that holds a backslash: where it starts, how many
/// entries come before it, and its backslashes. Unescaping goes from
/// these to the strings that hold escapes, without a search of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Escaped {
    pub(super) base: u32,
    pub(super) entry: u32,
    pub(super) backslashes: u64,
}

/// The bits of a 64-byte block that are `"`, `\`, one of `{}[]:,`, and a
/// control character.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Masks {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    pub(super) operator: u64,
    pub(super) control: u64,
    /// Bytes up to 0x20: space, or control characters.
    pub(super) space: u64,
}

#[cfg(any(test, not(target_arch = "x86_64")))]
pub(super) fn classify_bytes(block: &[u8; 64]) -> Masks {
    let mut masks = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => masks.quote |= bit,
            b'\\' => masks.backslash |= bit,
            b'{' | b'}' | b'[' | b']' | b':' | b',' => masks.operator |= bit,
            0..=0x1f => masks.control |= bit,
            _ => {}
        }
        if b <= 0x20 {
            masks.space |= bit;
        }
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn structurals(
    text: &[u8],
    positions: &mut Vec<u32>,
    kinds: &mut Vec<u8>,
    escaped: &mut Vec<Escaped>,
) -> Result<Found, Malformed> {
    scan_blocks(
        text,
        positions,
        kinds,
        escaped,
        classify_bytes,
        flatten_scalar,
    )
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::structurals;
#[cfg(all(test, target_arch = "x86_64"))]
pub(super) use x86::structurals_by_every_loop;

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The engine's only `unsafe`: entering functions compiled for
    //! CPU features that have been checked to be present.

    use std::arch::x86_64::{
        __m128i, __m256i, __m512i, _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set_epi64x, _mm_set1_epi8, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm512_add_epi32,
        _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_mask_blend_epi8,
        _mm512_maskz_compress_epi8, _mm512_maskz_compress_epi32, _mm512_or_si512, _mm512_set1_epi8,
        _mm512_set1_epi32, _mm512_setr_epi32, _mm512_storeu_si512,
    };

    use super::{
        AFTER_LITERAL, Entries, Escaped, Found, Malformed, Masks, flatten_scalar, scan_blocks,
    };

    #[allow(unsafe_code)]
    pub(in crate::json::scan) fn structurals(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
        escaped: &mut Vec<Escaped>,
    ) -> Result<Found, Malformed> {
        if has_avx512() {
            // SAFETY: the CPU was just seen to have every feature
            // `scan_avx512` is compiled for.
            unsafe { scan_avx512(text, positions, kinds, escaped) }
        } else if has_avx2() {
            // SAFETY: the CPU was just seen to have every feature
            // `scan_avx2` is compiled for.
            unsafe { scan_avx2(text, positions, kinds, escaped) }
        } else {
            // SAFETY: SSE2 is part of the x86_64 baseline.
            unsafe { scan_sse2(text, positions, kinds, escaped) }
        }
    }

    /// A block's masks, `$width` bytes a vector: SSE2 and AVX2 make the same
    /// compares, with intrinsics that differ only in name and width.
    macro_rules! classify_by_vectors {
        ($block:ident, $width:literal, $bits:ty, $load:ident, $eq:ident, $or:ident,
         $max:ident, $set1:ident, $movemask:ident) => {{
            let mut masks = Masks::default();
            let (vectors, _) = $block.as_chunks::<$width>();
            for (part, bytes) in vectors.iter().enumerate() {
                let v = $load(bytes);
                let is = |b: u8| $eq(v, $set1(b as i8));
                // `[` and `]` are `{` and `}` without bit 5.
                let folded = $or(v, $set1(0x20));
                let operator = $or(
                    $or(
                        $eq(folded, $set1(b'{' as i8)),
                        $eq(folded, $set1(b'}' as i8)),
                    ),
                    $or(is(b':'), is(b',')),
                );
                let at_most = |b: i8| $eq($max(v, $set1(b)), $set1(b));
                let bits = |m| u64::from($movemask(m) as $bits) << (part * $width);
                masks.quote |= bits(is(b'"'));
                masks.backslash |= bits(is(b'\\'));
                masks.operator |= bits(operator);
                masks.control |= bits(at_most(0x1f));
                masks.space |= bits(at_most(0x20));
            }
            masks
        }};
    }

    /// Whether the CPU has every feature `scan_avx512` is compiled for.
    fn has_avx512() -> bool {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
    }

    /// Whether the CPU has every feature `scan_avx2` is compiled for.
    fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
    }

    /// The offsets and kinds of a text's structurals, and its blocks
    /// with backslashes.
    #[cfg(test)]
    type Index = (Vec<u32>, Vec<u8>, Vec<Escaped>);

    /// What every loop this CPU can run finds, for the tests.
    #[cfg(test)]
    #[allow(unsafe_code)]
    pub(in crate::json::scan) fn structurals_by_every_loop(
        text: &[u8],
    ) -> Vec<Result<Index, Malformed>> {
        type Loop = unsafe fn(
            &[u8],
            &mut Vec<u32>,
            &mut Vec<u8>,
            &mut Vec<Escaped>,
        ) -> Result<Found, Malformed>;
        let mut loops: Vec<Loop> = vec![scan_sse2];
        if has_avx2() {
            loops.push(scan_avx2);
        }
        if has_avx512() {
            loops.push(scan_avx512);
        }
        loops
            .into_iter()
            .map(|scan| {
                let (mut positions, mut kinds, mut escaped) = (Vec::new(), Vec::new(), Vec::new());
                // SAFETY: SSE2 is part of the x86_64 baseline, and the
                // other loops were pushed after their features were seen.
                let found = unsafe { scan(text, &mut positions, &mut kinds, &mut escaped) }?;
                positions.truncate(found.count);
                kinds.truncate(found.count);
                Ok((positions, kinds, escaped))
            })
            .collect()
    }

    // With AVX-512, classifying a block takes one compare a class, and
    // writing its entries out a few compresses however many there are,
    // where the other loops take a few instructions an entry.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,bmi1,popcnt")]
    fn scan_avx512(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
        escaped: &mut Vec<Escaped>,
    ) -> Result<Found, Malformed> {
        scan_blocks(
            text,
            positions,
            kinds,
            escaped,
            |b| classify_avx512(b),
            |b, e, p, k| flatten_avx512(b, e, p, k),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    fn load_avx512(block: &[u8; 64]) -> __m512i {
        // SAFETY: the load reads the 64 bytes of `block`, and takes no
        // alignment.
        unsafe { _mm512_loadu_si512(block.as_ptr().cast()) }
    }

    /// What a whole-vector store may write into: plain integers, of which
    /// every bit pattern is a value.
    trait Lane: Copy {}
    impl Lane for u8 {}
    impl Lane for u32 {}

    #[inline]
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    fn store_avx512<T: Lane>(to: &mut [T], v: __m512i) {
        let room = std::mem::size_of_val(to);
        assert!(room >= 64, "a 64-byte store into {room} bytes");
        // SAFETY: `to` was just seen to hold the 64 bytes written, every
        // bit pattern is a `Lane`, and the store takes no alignment.
        unsafe { _mm512_storeu_si512(to.as_mut_ptr().cast(), v) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn classify_avx512(block: &[u8; 64]) -> Masks {
        let v = load_avx512(block);
        let is = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
        // `[` and `]` are `{` and `}` without bit 5.
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let brackets = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8))
            | _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8));
        Masks {
            quote: is(b'"'),
            backslash: is(b'\\'),
            operator: brackets | is(b':') | is(b','),
            control: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
            space: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x20)),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    fn flatten_avx512(block: &[u8; 64], entries: Entries, positions: &mut [u32], kinds: &mut [u8]) {
        let v = load_avx512(block);
        let marked = _mm512_or_si512(v, _mm512_set1_epi8(AFTER_LITERAL as i8));
        let kind = _mm512_mask_blend_epi8(entries.after_literal, v, marked);
        store_avx512(kinds, _mm512_maskz_compress_epi8(entries.structural, kind));
        let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let mut written = 0;
        for quarter in 0..4u32 {
            let offsets = _mm512_add_epi32(
                lanes,
                _mm512_set1_epi32(entries.base.wrapping_add(quarter * 16) as i32),
            );
            let bits = (entries.structural >> (quarter * 16)) as u16;
            // Compressed in a register and stored whole: a compress
            // straight to memory is microcoded, and slow, on Zen 4.
            store_avx512(
                &mut positions[written..],
                _mm512_maskz_compress_epi32(bits, offsets),
            );
            written += bits.count_ones() as usize;
        }
    }

    // The same loop compiled twice: with AVX2 it classifies 32 bytes an
    // instruction, and the compiler uses BMI's bit tricks and `popcnt`
    // for the offsets.
    #[target_feature(enable = "avx2,bmi1,popcnt")]
    // The closure is not redundant: see below.
    #[allow(clippy::redundant_closure)]
    fn scan_avx2(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
        escaped: &mut Vec<Escaped>,
    ) -> Result<Found, Malformed> {
        // The flatten is called through a closure made here, so that it is
        // inlined and compiled with this function's features (BMI's bit
        // tricks): passed as a function it was a call per block, built
        // without them.
        scan_blocks(
            text,
            positions,
            kinds,
            escaped,
            |b| classify_avx2(b),
            |b, e, p, k| flatten_scalar(b, e, p, k),
        )
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    fn load_avx2(half: &[u8; 32]) -> __m256i {
        // SAFETY: the load reads the 32 bytes of `half`, and takes no
        // alignment.
        unsafe { _mm256_loadu_si256(half.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn classify_avx2(block: &[u8; 64]) -> Masks {
        classify_by_vectors!(
            block,
            32,
            u32,
            load_avx2,
            _mm256_cmpeq_epi8,
            _mm256_or_si256,
            _mm256_max_epu8,
            _mm256_set1_epi8,
            _mm256_movemask_epi8
        )
    }

    #[target_feature(enable = "sse2")]
    #[allow(clippy::redundant_closure)]
    fn scan_sse2(
        text: &[u8],
        positions: &mut Vec<u32>,
        kinds: &mut Vec<u8>,
        escaped: &mut Vec<Escaped>,
    ) -> Result<Found, Malformed> {
        scan_blocks(
            text,
            positions,
            kinds,
            escaped,
            |b| classify(b),
            |b, e, p, k| flatten_scalar(b, e, p, k),
        )
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(bytes: &[u8]) -> __m128i {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i..i + 8]);
            i64::from_le_bytes(w)
        };
        _mm_set_epi64x(word(8), word(0))
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn classify(block: &[u8; 64]) -> Masks {
        classify_by_vectors!(
            block,
            16,
            u16,
            load,
            _mm_cmpeq_epi8,
            _mm_or_si128,
            _mm_max_epu8,
            _mm_set1_epi8,
            _mm_movemask_epi8
        )
    }
}

pub(super) const EVEN: u64 = 0x5555_5555_5555_5555;
pub(super) const ODD: u64 = !EVEN;

/// Each bit set where an odd-length run of backslashes ends just before:
/// the escaped bytes (simdjson's algorithm). `carry` says whether the last
/// block ended in such a run.
#[inline(always)]
pub(super) fn quotes_escaped(backslash: u64, carry: &mut u64) -> u64 {
    let starts = backslash & !(backslash << 1);
    let even_start_mask = EVEN ^ *carry;
    let even_starts = starts & even_start_mask;
    let odd_starts = starts & !even_start_mask;
    let even_carries = backslash.wrapping_add(even_starts);
    let (odd_carries, overflow) = backslash.overflowing_add(odd_starts);
    let odd_carries = odd_carries | *carry;
    *carry = u64::from(overflow);
    let even_start_odd_end = even_carries & !backslash & ODD;
    let odd_start_even_end = odd_carries & !backslash & EVEN;
    even_start_odd_end | odd_start_even_end
}

/// Each bit up to and including bit i set if an odd number of `bits` are
/// at or below i.
#[inline(always)]
pub(super) fn prefix_xor(mut bits: u64) -> u64 {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    bits
}

/// Writes the offset of every structural of `text` into `positions`: both
/// quotes of every string, and `{}[]:,` outside strings. Every block with
/// a backslash goes into `escaped`, which is cleared first.
#[inline(always)]
pub(super) fn scan_blocks(
    text: &[u8],
    positions: &mut Vec<u32>,
    kinds: &mut Vec<u8>,
    escaped: &mut Vec<Escaped>,
    classify: impl Fn(&[u8; 64]) -> Masks,
    flatten: impl Fn(&[u8; 64], Entries, &mut [u32], &mut [u8]),
) -> Result<Found, Malformed> {
    let mut count = 0usize;
    let mut inside_carry = 0u64;
    let mut escape_carry = 0u64;
    escaped.clear();
    let mut literal_carry = 0u64;
    let mut gap_carry = 0u64;
    let mut tail = [b' '; 64];
    for (index, chunk) in text.chunks(64).enumerate() {
        let block: &[u8; 64] = match chunk.try_into() {
            Ok(block) => block,
            Err(_) => {
                tail[..chunk.len()].copy_from_slice(chunk);
                &tail
            }
        };
        let masks = classify(block);
        let base = index * 64;
        let quotes = if masks.backslash == 0 && escape_carry == 0 {
            masks.quote
        } else {
            if masks.backslash != 0 {
                escaped.push(Escaped {
                    base: base as u32,
                    entry: count as u32,
                    backslashes: masks.backslash,
                });
            }
            masks.quote & !quotes_escaped(masks.backslash, &mut escape_carry)
        };
        // Bits from an opening quote up to its closing one, excluded.
        let inside = prefix_xor(quotes) ^ inside_carry;
        inside_carry = ((inside as i64) >> 63) as u64;
        let control = masks.control & inside;
        if control != 0 {
            return Err(Malformed::at(
                "unescaped control character in a string",
                base + control.trailing_zeros() as usize,
            ));
        }
        let bits = (masks.operator & !inside) | quotes;
        let literal = literal_bytes(block, &masks, inside, bits);
        // The structurals that follow literal text: a run of gap bytes
        // (space, or a string's content) that starts just after a literal
        // ends at such a structural, and adding the run's first bit to
        // the gaps carries into the byte that ends it.
        let gap = !(bits | literal);
        let starts = ((literal << 1) | literal_carry) & !literal;
        literal_carry = literal >> 63;
        let (sum, first) = gap.overflowing_add(starts);
        let (sum, second) = sum.overflowing_add(gap_carry);
        gap_carry = u64::from(first || second);
        let after_literal = (sum ^ gap) & bits;
        if bits == 0 {
            continue;
        }
        if positions.len() < count + 64 {
            let grown = (positions.len() * 2).max(count + 64 + 4096);
            positions.resize(grown, 0);
            kinds.resize(grown, 0);
        }
        let added = bits.count_ones() as usize;
        let entries = Entries {
            structural: bits,
            after_literal,
            base: base as u32,
        };
        flatten(
            block,
            entries,
            &mut positions[count..count + 64],
            &mut kinds[count..count + 64],
        );
        count += added;
    }
    if inside_carry != 0 {
        return Err(Malformed::at("unterminated string", text.len()));
    }
    Ok(Found { count })
}

/// The structurals of one block, for a flatten to write out.
#[derive(Clone, Copy)]
pub(super) struct Entries {
    pub(super) structural: u64,
    /// Those of `structural` that follow literal text.
    pub(super) after_literal: u64,
    /// The offset of the block's first byte.
    pub(super) base: u32,
}

/// Writes the offset of every structural of a block to `positions`, and
/// its kind to `kinds`, both at least 64 long: what is written past the
/// block's last entry is overwritten by the next block's.
#[inline(always)]
pub(super) fn flatten_scalar(
    block: &[u8; 64],
    entries: Entries,
    positions: &mut [u32],
    kinds: &mut [u8],
) {
    let (slot, kind_slot) = (&mut positions[..64], &mut kinds[..64]);
    let mut bits = entries.structural;
    let mut j = 0;
    // Eight at a time, unconditionally: fewer branches than one at a
    // time.
    while bits != 0 {
        for k in 0..8 {
            let bit = bits.trailing_zeros();
            slot[(j + k) & 63] = entries.base.wrapping_add(bit);
            kind_slot[(j + k) & 63] = block[(bit & 63) as usize];
            bits &= bits.wrapping_sub(1);
        }
        j += 8;
    }
    // Literals are few beside strings and brackets: their entries are
    // marked one by one.
    let mut after_literal = entries.after_literal;
    while after_literal != 0 {
        let below = after_literal & after_literal.wrapping_neg();
        let entry = (entries.structural & (below - 1)).count_ones() as usize;
        kind_slot[entry & 63] |= AFTER_LITERAL;
        after_literal &= after_literal - 1;
    }
}

/// Set in an entry's kind when literal text (a number, `true`, `false`,
/// `null`, or anything else that is neither space nor structural) comes
/// between the entry before it and it: the check then reads only kinds
/// where the text between two structurals must be blank.
pub(super) const AFTER_LITERAL: u8 = 0x80;

/// The bytes of a block outside strings that are neither space nor
/// structural. A control character other than tab, newline and carriage
/// return counts as literal text, which the check refuses.
#[inline(always)]
pub(super) fn literal_bytes(block: &[u8; 64], masks: &Masks, inside: u64, structural: u64) -> u64 {
    let mut space = masks.space;
    let mut controls = masks.control & !inside;
    while controls != 0 {
        let bit = controls.trailing_zeros();
        if !is_space(block[bit as usize]) {
            space &= !(1 << bit);
        }
        controls &= controls - 1;
    }
    !(space | inside | structural)
}

/// `text` without JSON's space (not form feed) at either end.
pub(super) fn trim_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |e| e + 1);
    &text[start..end]
}

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}
