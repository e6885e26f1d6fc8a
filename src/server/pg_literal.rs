//! `EXECUTE` calls with their arguments written as SQL literals, for the PostgreSQL writer's
//! simple-query round trips (see `postgres::PgTx`).
//!
//! sqlx sends a parameterized statement alone (Parse/Bind/Execute/Sync, one round trip each) and
//! cannot pipeline. The simple query protocol runs several statements in one message, but takes
//! no parameters: there, a statement prepared once per connection (`PREPARE`, generic plan) is
//! called with `EXECUTE name(literal, ...)`. Text is quoted the way libpq's
//! `PQescapeLiteral` quotes it, which reads the same whatever `standard_conforming_strings` is:
//! quotes doubled, and a text holding a backslash written as `E'...'` with backslashes doubled.
//! The connection's encoding is UTF-8 (sqlx sets it), where no byte of a multi-byte character
//! can be a quote or a backslash. A NUL character cannot be sent at all (the query is a C
//! string; PostgreSQL's text cannot hold one either): it is refused, never truncated.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

/// A text holding a NUL character, which has no SQL literal.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NulInText;

impl std::fmt::Display for NulInText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a text holds a NUL character, which PostgreSQL cannot store")
    }
}

/// Appends `s` as a string literal.
pub(super) fn push_text(out: &mut String, s: &str) -> Result<(), NulInText> {
    if s.contains('\0') {
        return Err(NulInText);
    }
    if s.contains('\\') {
        out.push_str(" E'");
    } else {
        out.push('\'');
    }
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

/// Whether a JSON text (as serde_json writes it) holds the escape of a NUL character.
pub(super) fn json_holds_nul(json: &str) -> bool {
    let mut bytes = json.as_bytes().iter().enumerate();
    while let Some((i, b)) = bytes.next() {
        if *b == b'\\' {
            if json.as_bytes().get(i + 1..i + 6) == Some(b"u0000") {
                return true;
            }
            // The escaped character (a backslash escapes only the one after it).
            bytes.next();
        }
    }
    false
}

/// `EXECUTE name(arg, ...)`, built one argument at a time; each argument carries its type.
pub(super) struct Execute {
    sql: String,
    args: usize,
}

impl Execute {
    /// `statement` is a name the caller prepared (a constant, never input).
    pub(super) fn new(statement: &'static str) -> Self {
        let mut sql = String::with_capacity(256);
        sql.push_str("EXECUTE ");
        sql.push_str(statement);
        sql.push('(');
        Execute { sql, args: 0 }
    }

    fn next(&mut self) -> &mut String {
        if self.args > 0 {
            self.sql.push_str(", ");
        }
        self.args += 1;
        &mut self.sql
    }

    /// One array argument of `ty` (a constant type name), each element written by `item`.
    fn array<T, E>(
        &mut self,
        ty: &'static str,
        items: impl IntoIterator<Item = T>,
        mut item: impl FnMut(&mut String, T) -> Result<(), E>,
    ) -> Result<&mut Self, E> {
        let out = self.next();
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            let _ = write!(out, "'{{}}'::{ty}[]");
            return Ok(self);
        }
        out.push_str("ARRAY[");
        let mut first = true;
        for x in items {
            if !first {
                out.push(',');
            }
            first = false;
            item(out, x)?;
        }
        let _ = write!(out, "]::{ty}[]");
        Ok(self)
    }

    pub(super) fn texts<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<&mut Self, NulInText> {
        self.array("text", items, push_text)
    }

    pub(super) fn ints(&mut self, items: impl IntoIterator<Item = i64>) -> &mut Self {
        self.plain("int8", items.into_iter().map(|n| n.to_string()))
    }

    pub(super) fn bools(&mut self, items: impl IntoIterator<Item = bool>) -> &mut Self {
        self.plain("bool", items.into_iter().map(|b| if b { "true" } else { "false" }))
    }

    pub(super) fn uuids(&mut self, items: impl IntoIterator<Item = Uuid>) -> &mut Self {
        self.plain("uuid", items.into_iter().map(|u| format!("'{}'", u.hyphenated())))
    }

    /// Microseconds, what `timestamptz` keeps (the store truncates times to them first).
    pub(super) fn times(&mut self, items: impl IntoIterator<Item = DateTime<Utc>>) -> &mut Self {
        // RFC 3339 reads the same to PostgreSQL for the years 1-9999 (it has no year 0); the
        // store takes only 1970-9999 (`store::prepare`), and `recorded_at` is now.
        let time = |t: DateTime<Utc>| format!("'{}'", t.to_rfc3339_opts(SecondsFormat::Micros, true));
        self.plain("timestamptz", items.into_iter().map(time))
    }

    /// Elements already written as literals, from values that cannot hold a quote.
    fn plain<S: AsRef<str>>(&mut self, ty: &'static str, items: impl IntoIterator<Item = S>) -> &mut Self {
        let done = self.array(ty, items, |out, s| {
            out.push_str(s.as_ref());
            Ok::<(), std::convert::Infallible>(())
        });
        match done {
            Ok(s) => s,
            Err(never) => match never {},
        }
    }

    pub(super) fn int(&mut self, n: i64) -> &mut Self {
        let _ = write!(self.next(), "{n}::int8");
        self
    }

    pub(super) fn text(&mut self, s: &str) -> Result<&mut Self, NulInText> {
        let out = self.next();
        push_text(out, s)?;
        out.push_str("::text");
        Ok(self)
    }

    /// The statement, `;`-terminated.
    pub(super) fn finish(mut self) -> String {
        self.sql.push_str(");");
        self.sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> String {
        let mut out = String::new();
        push_text(&mut out, s).unwrap();
        out
    }

    #[test]
    fn quotes_are_doubled_and_a_backslash_makes_an_escape_string() {
        assert_eq!(lit("plain"), "'plain'");
        assert_eq!(lit("it's"), "'it''s'");
        assert_eq!(lit(r"a\b'"), r" E'a\\b'''");
        assert_eq!(lit("é ünï 🔥"), "'é ünï 🔥'");
        assert_eq!(push_text(&mut String::new(), "a\0b"), Err(NulInText));
    }

    #[test]
    fn a_nul_escape_is_told_from_an_escaped_backslash() {
        let json = |s: &str| serde_json::to_string(s).unwrap();
        assert!(json_holds_nul(&json("a\0b")));
        assert!(!json_holds_nul(&json(r"typed \u0000 as text")));
        assert!(json_holds_nul(&json("\\\0")));
        assert!(!json_holds_nul(&json("plain")));
    }

    #[test]
    fn an_execute_lists_typed_arguments() {
        let mut x = Execute::new("st");
        x.ints([1, -2]).texts(["a", "b'"]).unwrap().uuids([]).bools([true]).int(7);
        x.text("n").unwrap();
        assert_eq!(
            x.finish(),
            "EXECUTE st(ARRAY[1,-2]::int8[], ARRAY['a','b''']::text[], '{}'::uuid[], \
             ARRAY[true]::bool[], 7::int8, 'n'::text);"
        );
    }
}
