//! Mutations: how a new input is made from corpus entries.
//!
//! AFL-style "havoc": a stack of 1 to 8 random edits — bit flips, bytes and
//! words set to boundary values, small arithmetic, ranges deleted, inserted,
//! duplicated or overwritten, dictionary tokens and boundary numbers (as
//! text) inserted or written over, whole lines deleted, duplicated or
//! swapped, and splices with another corpus entry.

use crate::rng::Rng;

/// Byte values at the edges of signed and unsigned ranges.
const INTERESTING_8: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, 0x20, b'\n', b'"', b'\\', 0x0d];

/// 16- and 32-bit values at the edges of signed and unsigned ranges.
const INTERESTING_32: &[u32] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

/// Numbers, as text, at the edges of the ranges parsers convert to.
const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "8",
    "16",
    "17",
    "33",
    "65",
    "127",
    "128",
    "129",
    "130",
    "255",
    "256",
    "999",
    "1000",
    "32767",
    "32768",
    "65535",
    "65536",
    "65537",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e10",
    "1e38",
    "3.5e38",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "-0",
    "0.0",
    "-0.5",
    "0.5",
    "1.5",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "00",
    "99:99:99,999",
];

/// Makes new inputs from old ones.
#[derive(Debug, Clone)]
pub struct Mutator {
    dictionary: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// A mutator inserting `tokens` (a format's dictionary), making inputs
    /// of at most `max_len` bytes.
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a [u8]>, max_len: usize) -> Mutator {
        Mutator {
            dictionary: tokens.into_iter().map(<[u8]>::to_vec).collect(),
            max_len: max_len.max(1),
        }
    }

    /// The longest input this mutator makes.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Applies a stack of 1 to 8 random edits to `input`; `other` is another
    /// corpus entry to splice with.
    pub fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
        let edits = 1usize << rng.below(4);
        for _ in 0..edits {
            self.edit(rng, input, other);
        }
        input.truncate(self.max_len);
    }

    fn edit(&self, rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
        if data.is_empty() {
            data.push(rng.byte());
            return;
        }
        let len = data.len();
        match rng.below(18) {
            0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(len);
                data[at] = *rng.pick(INTERESTING_8);
            }
            2 => {
                let value = *rng.pick(INTERESTING_32);
                let width = if rng.one_in(2) { 2 } else { 4 };
                let bytes = if rng.one_in(2) {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                let bytes = if width == 2 {
                    if rng.one_in(2) {
                        &bytes[..2]
                    } else {
                        &bytes[2..]
                    }
                } else {
                    &bytes[..]
                };
                let at = rng.below(len);
                let end = (at + bytes.len()).min(len);
                data[at..end].copy_from_slice(&bytes[..end - at]);
            }
            3 => {
                let at = rng.below(len);
                data[at] = rng.byte();
            }
            4 => {
                let at = rng.below(len);
                let delta = rng.between(1, 35) as u8;
                data[at] = if rng.one_in(2) {
                    data[at].wrapping_add(delta)
                } else {
                    data[at].wrapping_sub(delta)
                };
            }
            5 => {
                let (at, n) = self.range(rng, len);
                data.drain(at..at + n);
            }
            6 => {
                let at = rng.below(len + 1);
                let n = self.small(rng);
                let fill: Vec<u8> = if rng.one_in(2) {
                    let b = if rng.one_in(2) {
                        rng.byte()
                    } else {
                        data[rng.below(len)]
                    };
                    vec![b; n]
                } else {
                    (0..n).map(|_| rng.byte()).collect()
                };
                data.splice(at..at, fill);
            }
            7 => {
                let (from, n) = self.range(rng, len);
                let copy = data[from..from + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            8 => {
                let (from, n) = self.range(rng, len);
                let to = rng.below(len - n + 1);
                data.copy_within(from..from + n, to);
            }
            9..=11 if !self.dictionary.is_empty() => {
                let token = rng.pick(&self.dictionary).clone();
                self.put(rng, data, &token);
            }
            12 | 13 => {
                let number = rng.pick(INTERESTING_NUMBERS).as_bytes();
                self.put(rng, data, number);
            }
            14 if !other.is_empty() => {
                // Splice: a head of this input and a tail of the other.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            15 | 16 => lines(rng, data),
            _ => {
                let keep = rng.below(len);
                data.truncate(keep);
            }
        }
        if data.len() > self.max_len {
            data.truncate(self.max_len);
        }
    }

    /// Inserts `token` at a random place, or writes it over what is there.
    fn put(&self, rng: &mut Rng, data: &mut Vec<u8>, token: &[u8]) {
        let len = data.len();
        let at = rng.below(len + 1);
        if rng.one_in(2) {
            data.splice(at..at, token.iter().copied());
        } else {
            let end = (at + token.len()).min(len);
            data.splice(at..end, token.iter().copied());
        }
    }

    /// A length, mostly short.
    fn small(&self, rng: &mut Rng) -> usize {
        if rng.one_in(8) {
            rng.between(1, 1024)
        } else {
            rng.between(1, 16)
        }
    }

    /// A range `at..at + n` of a `len`-byte input (`len` > 0), mostly short.
    fn range(&self, rng: &mut Rng, len: usize) -> (usize, usize) {
        let n = self.small(rng).min(len);
        (rng.below(len - n + 1), n)
    }
}

/// Deletes, duplicates or swaps whole lines: the unit of most text formats.
fn lines(rng: &mut Rng, data: &mut Vec<u8>) {
    let mut parts: Vec<Vec<u8>> = data
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if parts.is_empty() {
        return;
    }
    let i = rng.below(parts.len());
    match rng.below(3) {
        0 if parts.len() > 1 => {
            parts.remove(i);
        }
        1 => {
            let mut copy = parts[i].clone();
            if copy.last() != Some(&b'\n') {
                copy.push(b'\n');
            }
            let times = if rng.one_in(8) { rng.between(2, 64) } else { 1 };
            for _ in 0..times {
                parts.insert(i, copy.clone());
            }
        }
        _ => {
            let j = rng.below(parts.len());
            parts.swap(i, j);
        }
    }
    *data = parts.concat();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_stay_within_the_size_cap_and_vary() {
        let tokens: [&[u8]; 2] = [b"-->", b"LUT_3D_SIZE"];
        let mutator = Mutator::new(tokens, 64);
        let mut rng = Rng::new(3);
        let seed = b"1\n00:00:01,000 --> 00:00:02,000\nhello\n".to_vec();
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..2000 {
            let mut input = seed.clone();
            mutator.mutate(&mut rng, &mut input, b"WEBVTT\n\n");
            assert!(input.len() <= 64);
            distinct.insert(input);
        }
        assert!(distinct.len() > 1500, "{} distinct", distinct.len());
    }

    #[test]
    fn an_empty_input_grows() {
        let mutator = Mutator::new([], 16);
        let mut rng = Rng::new(1);
        let mut input = Vec::new();
        mutator.edit(&mut rng, &mut input, &[]);
        assert_eq!(input.len(), 1);
    }
}
