//! The timeline files' binary layout (format 2). A file is a header, then one record per event
//! in seq order; every integer little-endian, every string a `u32` length and UTF-8 bytes:
//! - header: `WRTL`, the format (`u32`), the incident's id (a string);
//! - record: its length (`u32`, the bytes after it), seq (`u64`), id (16 bytes), occurred_at and
//!   recorded_at (each `i64` seconds and `u32` nanoseconds since the epoch), author (a string),
//!   then the body: a tag byte, `1..=4` for a note, finding, action or decision (its text and
//!   its tags, a `u32` count and strings), `0` for any other kind (its JSON, as on the wire).
//!
//! Reading 10,000 events this way takes a few allocations each and no JSON for the timeline's
//! entries; the JSON lines of format 1 took most of the console's start (#17). Anything that
//! does not decode (torn, garbled, another incident's or format's file) is an error, never a
//! panic: the caller then drops the file.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Entry, Event, EventBody};

const MAGIC: &[u8; 4] = b"WRTL";
/// The layout's version: a file of another is not read.
pub const VERSION: u32 = 2;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    out.extend_from_slice(&t.timestamp().to_le_bytes());
    out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
}

/// A file's header for `incident`.
pub fn header(incident: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + incident.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    put_str(&mut out, incident);
    out
}

/// One event's record (its length first).
pub fn encode(e: &Event) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = vec![0u8; 4];
    out.extend_from_slice(&e.seq.to_le_bytes());
    out.extend_from_slice(e.id.as_bytes());
    put_time(&mut out, &e.occurred_at);
    put_time(&mut out, &e.recorded_at);
    put_str(&mut out, &e.author);
    let entry = match &e.body {
        EventBody::Note(en) => Some((1u8, en)),
        EventBody::Finding(en) => Some((2, en)),
        EventBody::Action(en) => Some((3, en)),
        EventBody::Decision(en) => Some((4, en)),
        _ => None,
    };
    match entry {
        Some((tag, en)) => {
            out.push(tag);
            put_str(&mut out, &en.text);
            out.extend_from_slice(&(en.tags.len() as u32).to_le_bytes());
            for t in &en.tags {
                put_str(&mut out, t);
            }
        }
        None => {
            out.push(0);
            put_str(&mut out, &serde_json::to_string(&e.body)?);
        }
    }
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// A cursor over a file's bytes; every read says what is wrong instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else { return Err(format!("cut short at byte {}", self.at)) };
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.u32()? as usize;
        let at = self.at;
        std::str::from_utf8(self.take(n)?).map_err(|_| format!("not UTF-8 at byte {at}"))
    }
    fn time(&mut self) -> Result<DateTime<Utc>, String> {
        let secs = self.u64()? as i64;
        let nanos = self.u32()?;
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| format!("a bad time before byte {}", self.at))
    }
}

/// Every event of a file of `incident`'s timeline, in seq order; or what is wrong with it.
pub fn decode(buf: &[u8], incident: &str) -> Result<Vec<Event>, String> {
    let mut r = Reader { buf, at: 0 };
    if r.take(4).ok() != Some(MAGIC.as_slice()) {
        return Err("not a timeline file".into());
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("format {version} (this version reads {VERSION})"));
    }
    if r.str()? != incident {
        return Err("another incident's timeline".into());
    }
    let mut out: Vec<Event> = Vec::with_capacity(buf.len() / 128);
    while r.at < buf.len() {
        let len = r.u32()? as usize;
        let start = r.at;
        let mut rec = Reader { buf: r.take(len)?, at: 0 };
        let e = record(&mut rec, incident).map_err(|e| format!("the record at byte {start}: {e}"))?;
        if rec.at != len {
            return Err(format!("the record at byte {start}: {} bytes left over", len - rec.at));
        }
        if out.last().is_some_and(|l| l.seq >= e.seq) {
            return Err(format!("the record at byte {start}: out of order"));
        }
        out.push(e);
    }
    Ok(out)
}

fn record(r: &mut Reader<'_>, incident: &str) -> Result<Event, String> {
    let seq = r.u64()?;
    let id = Uuid::from_bytes(r.take(16)?.try_into().expect("16 bytes"));
    let occurred_at = r.time()?;
    let recorded_at = r.time()?;
    let author = r.str()?.to_string();
    let tag = r.u8()?;
    let body = match tag {
        0 => serde_json::from_str(r.str()?).map_err(|e| format!("its body: {e}"))?,
        1..=4 => {
            let text = r.str()?.to_string();
            let n = r.u32()? as usize;
            let mut tags = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                tags.push(r.str()?.to_string());
            }
            let en = Entry { text, tags };
            match tag {
                1 => EventBody::Note(en),
                2 => EventBody::Finding(en),
                3 => EventBody::Action(en),
                _ => EventBody::Decision(en),
            }
        }
        other => return Err(format!("an unknown body tag {other}")),
    };
    Ok(Event { seq, id, incident: incident.to_string(), author, occurred_at, recorded_at, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, body: EventBody) -> Event {
        Event {
            seq,
            id: Uuid::now_v7(),
            incident: "INC-7".into(),
            author: "ålice".into(),
            occurred_at: DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            recorded_at: Utc::now(),
            body,
        }
    }

    fn file(events: &[Event]) -> Vec<u8> {
        let mut buf = header("INC-7");
        for e in events {
            buf.extend(encode(e).unwrap());
        }
        buf
    }

    #[test]
    fn every_kind_of_body_comes_back_as_it_was() {
        let declared: EventBody = serde_json::from_value(serde_json::json!({
            "kind": "declared", "title": "Checkout down", "severity": "SEV-1"
        }))
        .unwrap();
        let events = vec![
            ev(1, declared),
            ev(2, EventBody::Note(Entry { text: "a note\nwith a newline".into(), tags: vec![] })),
            ev(3, EventBody::Finding(Entry { text: "f".into(), tags: vec!["db".into(), "☃".into()] })),
            ev(4, EventBody::Action(Entry { text: String::new(), tags: vec![] })),
            ev(5, EventBody::Decision(Entry { text: "d".into(), tags: vec!["x".into()] })),
        ];
        assert_eq!(decode(&file(&events), "INC-7").unwrap(), events);
        assert_eq!(decode(&header("INC-7"), "INC-7").unwrap(), vec![]);
    }

    #[test]
    fn anything_else_is_an_error_not_a_panic() {
        let events: Vec<Event> =
            (1..=3).map(|s| ev(s, EventBody::Note(Entry { text: format!("n{s}"), tags: vec![] }))).collect();
        let good = file(&events);
        // Every truncation gives an error or the records before it (the board's byte count
        // catches those); a single-byte change decodes or errs; none panics.
        for n in 0..good.len() {
            if let Ok(got) = decode(&good[..n], "INC-7") {
                assert!(got.len() < events.len() && got[..] == events[..got.len()], "{n}");
            }
            let mut bad = good.clone();
            bad[n] ^= 0xff;
            let _ = decode(&bad, "INC-7");
        }
        assert!(decode(&good, "INC-8").unwrap_err().contains("another incident"));
        let mut old = good.clone();
        old[4] = 1;
        assert!(decode(&old, "INC-7").unwrap_err().contains("format 1"));
        assert!(decode(b"{\"seq\":1}\n", "INC-7").is_err());
        let swapped = file(&[events[1].clone(), events[0].clone()]);
        assert!(decode(&swapped, "INC-7").unwrap_err().contains("out of order"));
    }
}
