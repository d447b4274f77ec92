//! A stage's params: the JSON object a kernel gets in [`Kernel::create`].
//!
//! A small, strict JSON reader (RFC 8259; nesting at most 64 deep) so that a
//! kernel library needs no other crate. Kernels with richer params can parse
//! the same text with any JSON crate instead.
//!
//! ```
//! use kino_kernel_sdk::Params;
//!
//! let params = Params::parse(r#"{"amount": 1.5, "fail": false}"#)?;
//! params.deny_unknown(&["amount", "radius", "fail"])?;
//! assert_eq!(params.number("amount", 1.0)?, 1.5);
//! assert_eq!(params.number("radius", 1.0)?, 1.0);
//! assert!(!params.bool("fail", false)?);
//! # Ok::<(), String>(())
//! ```
//!
//! [`Kernel::create`]: crate::Kernel::create

use std::fmt;

/// The most nested arrays and objects the reader accepts.
const MAX_DEPTH: usize = 64;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// What kind of value it is, for messages: `a number`, `a string`, ...
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{key:?}:{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A stage's params: the members of one JSON object, keys unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params {
    members: Vec<(String, Value)>,
}

impl Params {
    /// Parses `json`, which must be one object (blank text is `{}`).
    /// Errors say where: `params: expected ':' at byte 9`.
    pub fn parse(json: &str) -> Result<Params, String> {
        if json.trim().is_empty() {
            return Ok(Params::default());
        }
        let mut reader = Reader {
            text: json.as_bytes(),
            at: 0,
        };
        reader.skip_space();
        if reader.peek() != Some(b'{') {
            return Err(reader.error("expected a JSON object"));
        }
        let Value::Object(members) = reader.value(0)? else {
            return Err(reader.error("expected a JSON object"));
        };
        reader.skip_space();
        if reader.at != reader.text.len() {
            return Err(reader.error("unexpected text after the object"));
        }
        Ok(Params { members })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_str())
    }

    /// Refuses a key not in `known`: `unknown param `x` (expected a, b)`.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), String> {
        match self.keys().find(|k| !known.contains(k)) {
            Some(key) => Err(format!(
                "unknown param `{key}` (expected {})",
                known.join(", ")
            )),
            None => Ok(()),
        }
    }

    /// The number `key`, or `default` when absent (or `null`).
    pub fn number(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => Ok(*n),
            Some(other) => Err(format!(
                "param `{key}` must be a number, not {} ({other})",
                other.describe()
            )),
        }
    }

    /// The boolean `key`, or `default` when absent (or `null`).
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!(
                "param `{key}` must be true or false, not {} ({other})",
                other.describe()
            )),
        }
    }

    /// The string `key`, if present (and not `null`).
    pub fn string(&self, key: &str) -> Result<Option<&str>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!(
                "param `{key}` must be a string, not {} ({other})",
                other.describe()
            )),
        }
    }
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> String {
        format!("params: {what} at byte {}", self.at)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", byte as char)))
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_space();
        match self.peek() {
            Some(b'{') | Some(b'[') if depth >= MAX_DEPTH => {
                Err(self.error(&format!("nested more than {MAX_DEPTH} deep")))
            }
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.expect(b'{')?;
        let mut members: Vec<(String, Value)> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key_at = self.at;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                return Err(format!("params: key `{key}` repeated at byte {key_at}"));
            }
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("expected 4 hex digits after \\u"))?;
        self.at += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(escape) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high) {
                                if !self.text[self.at..].starts_with(b"\\u") {
                                    return Err(self.error("unpaired surrogate"));
                                }
                                self.at += 2;
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error("unpaired surrogate"));
                                }
                                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                high
                            };
                            char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate"))?
                        }
                        _ => return Err(self.error("unknown escape")),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(self.error("control character in a string")),
                _ => out.push(byte),
            }
        }
        // The input is a &str and escapes encode whole characters.
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in a string"))
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        let digits = |r: &mut Self| {
            let from = r.at;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.at += 1;
            }
            r.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        let int_digits = digits(self);
        if int_digits == 0 || (int_digits > 1 && self.text[int_start] == b'0') {
            return Err(self.error("malformed number"));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("malformed number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("malformed number"));
            }
        }
        let lexeme = std::str::from_utf8(&self.text[start..self.at])
            .map_err(|_| self.error("malformed number"))?;
        let n: f64 = lexeme.parse().map_err(|_| self.error("malformed number"))?;
        if !n.is_finite() {
            return Err(self.error("number out of range"));
        }
        Ok(Value::Number(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_and_nested_objects() {
        let params = Params::parse(
            r#" { "threshold-db": -40.5, "attack-ms": 5, "on": true, "name": "a\"b\u00e9\ud83d\ude00",
                 "bands": [1, 2e3, {"x": null}], "none": null } "#,
        )
        .expect("valid");
        assert_eq!(params.number("threshold-db", 0.0), Ok(-40.5));
        assert_eq!(params.number("attack-ms", 0.0), Ok(5.0));
        assert_eq!(params.number("missing", 7.0), Ok(7.0));
        assert_eq!(params.number("none", 7.0), Ok(7.0));
        assert_eq!(params.bool("on", false), Ok(true));
        assert_eq!(params.string("name"), Ok(Some("a\"bé😀")));
        assert_eq!(
            params.get("bands").map(ToString::to_string).as_deref(),
            Some(r#"[1,2000,{"x":null}]"#)
        );
        assert_eq!(Params::parse("").expect("blank").keys().count(), 0);
        assert_eq!(Params::parse("{}").expect("empty").keys().count(), 0);
    }

    #[test]
    fn wrong_types_name_the_param() {
        let params = Params::parse(r#"{"amount": "lots", "fail": 1}"#).expect("valid");
        assert_eq!(
            params.number("amount", 1.0),
            Err("param `amount` must be a number, not a string (\"lots\")".to_owned())
        );
        assert_eq!(
            params.bool("fail", false),
            Err("param `fail` must be true or false, not a number (1)".to_owned())
        );
        assert_eq!(
            params.deny_unknown(&["amount"]),
            Err("unknown param `fail` (expected amount)".to_owned())
        );
    }

    #[test]
    fn malformed_json_is_refused_with_its_place() {
        for (text, error) in [
            ("[1]", "params: expected a JSON object at byte 0"),
            (r#"{"a" 1}"#, "params: expected ':' at byte 5"),
            (r#"{"a": 01}"#, "params: malformed number at byte 8"),
            (r#"{"a": 1,}"#, "params: expected a key at byte 8"),
            (
                r#"{"a": 1} x"#,
                "params: unexpected text after the object at byte 9",
            ),
            (r#"{"a": 1, "a": 2}"#, "params: key `a` repeated at byte 9"),
            (r#"{"a": tru}"#, "params: expected a JSON value at byte 6"),
            (r#"{"a": "x"#, "params: unterminated string at byte 8"),
            (r#"{"a": 1e999}"#, "params: number out of range at byte 11"),
            (
                r#"{"a": "\ud800"}"#,
                "params: unpaired surrogate at byte 13",
            ),
            (r#"{"a": -}"#, "params: malformed number at byte 7"),
        ] {
            assert_eq!(Params::parse(text), Err(error.to_owned()), "{text}");
        }
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(
            Params::parse(&deep)
                .expect_err("too deep")
                .contains("nested more than 64 deep")
        );
    }
}
