//! The fuzz targets: each feeds bytes to a parser the host runs on outside
//! input, exactly as the host calls it, and checks what the host relies on
//! of the result (a round trip, a documented limit) with assertions, so a
//! broken promise is a finding like a panic.

use std::fmt::Display;

mod api;
mod media;
mod pipeline;
mod registry;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Its name: the corpus folder (`corpus/NAME/`) and the crash file prefix.
    pub name: &'static str,
    /// What it feeds, in a few words.
    pub about: &'static str,
    /// Runs one input; panics on a finding.
    pub run: fn(&[u8]) -> Outcome,
    /// Tokens the mutator inserts: the format's keywords and punctuation
    /// (lists of them, so a format can share the syntax's tokens).
    pub dictionary: &'static [&'static [&'static [u8]]],
    /// The largest input it is given.
    pub max_len: usize,
    /// Seeds made at start-up, beside the corpus folder's files (archives and
    /// WAV files written by the crates' own writers).
    pub generated_seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target, in the order `kino-fuzz` runs them.
pub static ALL: &[Target] = &[
    registry::MANIFEST,
    registry::PACKAGE,
    media::LUT,
    media::SUBTITLES,
    pipeline::BRIEF,
    pipeline::SPEC,
    pipeline::EDITS,
    api::API,
    media::WAV,
];

/// The target named `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

/// What one input did, reduced to a coarse signature: `ok` or `err`, the
/// error message without its numbers, quoted values and source snippets, or
/// the output's shape with counts rounded to powers of two. A new signature
/// is the engine's stand-in for new coverage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Outcome(String);

impl Outcome {
    /// Success, with a shape (`cues=~4 vtt`); numbers are kept as written,
    /// so round them with [`bucket`].
    pub fn ok(shape: impl Display) -> Outcome {
        Outcome(format!("ok {shape}"))
    }

    /// Failure, with the error (its whole chain, as `{:#}` prints it).
    pub fn err(error: impl Display) -> Outcome {
        Outcome(format!("err {}", normalise(&format!("{error:#}"))))
    }

    /// Several outcomes as one (a target that runs more than one parser).
    pub fn all(parts: impl IntoIterator<Item = Outcome>) -> Outcome {
        Outcome(
            parts
                .into_iter()
                .map(|o| o.0)
                .collect::<Vec<_>>()
                .join(" | "),
        )
    }

    /// The signature as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<T, E: Display> From<Result<T, E>> for Outcome
where
    T: Shape,
{
    fn from(result: Result<T, E>) -> Outcome {
        match result {
            Ok(value) => Outcome::ok(value.shape()),
            Err(e) => Outcome::err(e),
        }
    }
}

/// A parsed value's shape, for its [`Outcome`].
pub trait Shape {
    /// A few words saying what it holds.
    fn shape(&self) -> String;
}

impl Shape for () {
    fn shape(&self) -> String {
        String::new()
    }
}

/// `n` rounded down to a power of two (0 stays 0), written `~n`: more of a
/// thing is a new outcome only when it doubles.
pub fn bucket(n: usize) -> String {
    if n == 0 {
        "0".to_owned()
    } else {
        format!("~{}", 1usize << n.ilog2())
    }
}

/// An error message reduced to its kind, so that the input's own text
/// does not make every error a new one: source-snippet lines (`12 | ...`,
/// `   ^`) are dropped; everything from the first quote (`"`, `` ` ``) to
/// the last of the same kind becomes `_` (quoted values are the input's,
/// and may hold quotes and line breaks of their own); runs of digits become
/// `#`; then only plain words are kept (letters, `-`, `'`, with `(`
/// before or `,.:;)` after; `#`, `_`), at most 16.
pub fn normalise(message: &str) -> String {
    let kept: Vec<&str> = message
        .lines()
        .filter(|line| {
            let t = line.trim_start();
            let snippet = t.starts_with('|')
                || t.starts_with('^')
                || t.split_once('|').is_some_and(|(n, _)| {
                    !n.trim().is_empty() && n.trim().bytes().all(|b| b.is_ascii_digit())
                });
            !snippet
        })
        .collect();
    let joined = kept.join(" ");
    let mut masked = String::with_capacity(joined.len());
    let mut rest = joined.as_str();
    while let Some(open) = rest.find(['"', '`']) {
        let quote = &rest[open..=open];
        push_masked(&mut masked, &rest[..open]);
        masked.push_str(" _ ");
        let after = &rest[open + 1..];
        rest = match after.rfind(quote) {
            Some(close) => &after[close + 1..],
            None => "",
        };
    }
    push_masked(&mut masked, rest);
    masked
        .split_whitespace()
        .filter(|w| plain(w))
        .take(16)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `word` reads as a word of an error message rather than a piece
/// of the input.
fn plain(word: &str) -> bool {
    let core = word.strip_prefix('(').unwrap_or(word);
    let core = core.trim_end_matches([',', '.', ':', ';', ')']);
    core == "#"
        || core == "_"
        || (!core.is_empty()
            && core.len() <= 24
            && core
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'\'')
            && core.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()))
}

/// Appends `text` with each run of digits as one `#`.
fn push_masked(out: &mut String, text: &str) {
    let mut digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('#');
            }
            digits = true;
        } else {
            out.push(c);
            digits = false;
        }
    }
}

/// The input as text, the way a host that reads a file as UTF-8 would see
/// it: invalid sequences become U+FFFD, so a mutation that breaks the
/// encoding still reaches the parser.
pub fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Nothing generated: the corpus folder's files are the seeds.
pub fn no_seeds() -> Vec<Vec<u8>> {
    Vec::new()
}

/// Tokens shared by the TOML formats (manifests, briefs, pipeline specs).
pub const TOML_TOKENS: &[&[u8]] = &[
    b"=",
    b" = ",
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"{",
    b"}",
    b"{ }",
    b"\"",
    b"'",
    b"\"\"\"",
    b"'''",
    b",",
    b".",
    b"\n",
    b"\r\n",
    b"#",
    b"\\",
    b"\\u0000",
    b"\\U0010FFFF",
    b"\\ud800",
    b"true",
    b"false",
    b"inf",
    b"nan",
    b"-0",
    b"+1",
    b"0x7fffffffffffffff",
    b"9223372036854775808",
    b"1e309",
    b"1979-05-27T07:32:00Z",
    b"1979-05-27",
    b"07:32:00",
    b"[]",
    b"[[]]",
    b"\"\"",
    b"\xef\xbb\xbf",
    b"\x00",
];

/// Tokens of JSON (edits, API bodies).
pub const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"\"\"",
    b"{}",
    b"[]",
    b"null",
    b"true",
    b"false",
    b"-0",
    b"-1",
    b"1e999",
    b"4294967296",
    b"18446744073709551616",
    b"0.5",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\\\\",
    b"  ",
    b"\n",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_reduced_to_their_kind() {
        assert_eq!(
            normalise("line 12: bad timestamp \"00:0x\": hours must be digits"),
            "line #: bad timestamp _ hours must be digits"
        );
        assert_eq!(
            normalise(
                "TOML parse error at line 1, column 5\n  |\n1 | a = \n  |     ^\ninvalid string\n"
            ),
            "TOML parse error at line #, column # invalid string"
        );
        assert_eq!(
            normalise("unknown field `mood`, expected `brand`"),
            "unknown field _"
        );
        assert_eq!(
            normalise("a.toml:3:1: invalid value \"a `b\nc\" c\", expected x"),
            "invalid value _ expected x"
        );
        assert_eq!(
            normalise("numeric field was not a number: 1.2\u{fffd}x when getting cksum for a/b"),
            "numeric field was not a number: when getting cksum for"
        );
    }

    #[test]
    fn buckets_double() {
        assert_eq!(bucket(0), "0");
        assert_eq!(bucket(1), "~1");
        assert_eq!(bucket(3), "~2");
        assert_eq!(bucket(4), "~4");
        assert_eq!(bucket(1000), "~512");
    }

    #[test]
    fn names_are_unique_and_found() {
        for t in ALL {
            assert!(std::ptr::eq(by_name(t.name).expect("found"), t));
        }
    }
}
