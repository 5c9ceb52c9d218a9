//! Decimals of up to 19 digits without an exponent, read as the nearest
//! double in one step: the digits times a 128-bit reciprocal of a power
//! of five, after Eisel and Lemire ("Number Parsing at a Gigabyte per
//! Second", 2021, sections 5 and 6).
//!
//! The standard library runs the same algorithm, but only from a string:
//! it reads the digits again, which the scan has just read. A score
//! printed with all 17 digits (`0.93178046301937484`) is over 2^53, so
//! the exact quotient of two doubles that [`super::scalar_view`] uses for
//! shorter decimals does not hold for it.

/// The most places a decimal read here may have.
const MOST_PLACES: usize = 18;

/// For `p` places, the 128 leading bits of 1/5^p, the last one rounded
/// up (as the paper's table holds them), as `(high, low)` words.
const RECIPROCALS: [(u64, u64); MOST_PLACES + 1] = reciprocals();

const fn reciprocals() -> [(u64, u64); MOST_PLACES + 1] {
    let mut table = [(1 << 63, 0); MOST_PLACES + 1];
    let mut places = 1;
    while places <= MOST_PLACES {
        let power = 5u64.pow(places as u32);
        // 2^(bits + 127) / 5^p lies in [2^127, 2^128): its bits are
        // found by long division, the dividend being one bit.
        let bits = 64 - power.leading_zeros();
        let mut quotient = 0u128;
        let mut remainder = 0u64;
        let mut bit = bits + 127;
        loop {
            remainder = remainder * 2 + if bit == bits + 127 { 1 } else { 0 };
            quotient *= 2;
            if remainder >= power {
                remainder -= power;
                quotient += 1;
            }
            if bit == 0 {
                break;
            }
            bit -= 1;
        }
        let rounded = quotient + 1;
        table[places] = ((rounded >> 64) as u64, rounded as u64);
        places += 1;
    }
    table
}

/// The double nearest to `digits` / 10^`places`, rounded half to even;
/// `None` when `places` is over 18.
#[inline]
pub(crate) fn decimal(digits: u64, places: usize) -> Option<f64> {
    const FRACTION_BITS: i32 = 52;
    let &(high, low) = RECIPROCALS.get(places)?;
    if digits == 0 {
        return Some(0.0);
    }
    let exponent = -(places as i32);
    // Normalized, the digits' top bit is set, and so is the reciprocal's:
    // the product's top 64 bits hold at least 63 significant ones.
    let zeros = digits.leading_zeros();
    let digits = digits << zeros;
    let product = u128::from(digits) * u128::from(high);
    let (mut upper, mut lower) = ((product >> 64) as u64, product as u64);
    // The bits below the 55 kept (fraction, hidden bit, rounding bit and
    // a possible leading zero) decide nothing unless all are ones: only
    // then can the low word's share carry into them.
    let unknown = u64::MAX >> (FRACTION_BITS + 3);
    if upper & unknown == unknown {
        let share = ((u128::from(digits) * u128::from(low)) >> 64) as u64;
        lower = lower.wrapping_add(share);
        upper += u64::from(share > lower);
    }
    let top = (upper >> 63) as i32;
    let shift = top + 64 - FRACTION_BITS - 3;
    let mut mantissa = upper >> shift;
    // 2^(exponent · log2 10), by a fixed-point log2 10 that holds for
    // every double's exponent; biased as a double stores it.
    let binary = ((exponent.wrapping_mul(217_706) >> 16) + 63) + top - zeros as i32 + 1023;
    if binary <= 0 {
        // Subnormal: not reachable from 18 places, left to the caller.
        return None;
    }
    // Exactly halfway: only when the product is exact, which needs the
    // power of five to fit 64 bits, and then round to even.
    if lower <= 1
        && (-4..=23).contains(&exponent)
        && mantissa & 0b11 == 0b01
        && mantissa << shift == upper
    {
        mantissa &= !1;
    }
    mantissa += mantissa & 1;
    mantissa >>= 1;
    let mut binary = binary as u64;
    if mantissa >= 2 << FRACTION_BITS {
        mantissa = 1 << FRACTION_BITS;
        binary += 1;
    }
    mantissa &= !(1 << FRACTION_BITS);
    Some(f64::from_bits(binary << FRACTION_BITS | mantissa))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reciprocals_are_the_papers() {
        // The first entries of the published table of powers of five.
        assert_eq!(RECIPROCALS[0], (0x8000_0000_0000_0000, 0));
        assert_eq!(
            RECIPROCALS[1],
            (0xcccc_cccc_cccc_cccc, 0xcccc_cccc_cccc_cccd)
        );
        assert_eq!(
            RECIPROCALS[2],
            (0xa3d7_0a3d_70a3_d70a, 0x3d70_a3d7_0a3d_70a4)
        );
        assert_eq!(
            RECIPROCALS[3],
            (0x8312_6e97_8d4f_df3b, 0x645a_1cac_0831_26ea)
        );
    }

    #[test]
    fn every_width_reads_as_the_standard_library_reads_it() {
        let mut next = crate::json::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200_000 {
            let width = 1 + next() % 19;
            let digits = next() % 10u64.pow(width as u32);
            let places = (next() % (MOST_PLACES as u64 + 1)) as usize;
            let text = format!("{digits}e-{places}");
            let ours = decimal(digits, places).unwrap();
            let theirs: f64 = text.parse().unwrap();
            assert_eq!(ours.to_bits(), theirs.to_bits(), "{text}");
        }
    }

    #[test]
    fn halfway_cases_round_to_even() {
        // 2^53 + 1 and 2^53 + 3 lie halfway between two doubles: one
        // rounds down to the even mantissa, the other up to it. Each
        // again over 10 and 100, where the product is no longer exact.
        for digits in [9_007_199_254_740_993u64, 9_007_199_254_740_995] {
            for (scaled, places) in [(digits, 0), (digits * 10, 1), (digits * 100, 2)] {
                let text = format!("{scaled}e-{places}");
                let theirs: f64 = text.parse().unwrap();
                assert_eq!(decimal(scaled, places).unwrap().to_bits(), theirs.to_bits());
            }
        }
        assert_eq!(
            decimal(9_007_199_254_740_993, 0),
            Some(9_007_199_254_740_992.0)
        );
        assert_eq!(
            decimal(9_007_199_254_740_995, 0),
            Some(9_007_199_254_740_996.0)
        );
    }

    #[test]
    fn more_places_than_the_table_holds_are_refused() {
        assert_eq!(decimal(1, MOST_PLACES + 1), None);
        assert_eq!(decimal(0, 3), Some(0.0));
    }
}
