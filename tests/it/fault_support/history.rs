//! The history checker: given what every client wrote, what the server acknowledged, what each
//! client's stream delivered and the server's own log, says whether the promises held:
//! no acknowledged entry lost, none duplicated, every client's log a gap-free run of the
//! server's log (a prefix of it from where the client joined), and, once healed, everyone
//! converged on the same log with every written entry in it.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

/// One entry a client submitted (its text is unique in a run).
#[derive(Debug, Clone)]
pub struct Written {
    pub id: Uuid,
    pub text: String,
}

/// What one client's stream delivered, in delivery order, after the snapshot it started from.
#[derive(Debug, Clone, Default)]
pub struct ClientLog {
    pub name: String,
    /// The seq its snapshot reflected (its log starts right after).
    pub start: u64,
    pub events: Vec<(u64, Uuid)>,
}

/// One event of the server's log.
#[derive(Debug, Clone)]
pub struct Logged {
    pub seq: u64,
    pub id: Uuid,
    /// The entry's text (empty for events without one).
    pub text: String,
}

#[derive(Debug, Default)]
pub struct History {
    pub written: Vec<Written>,
    /// (event id, seq) of every acknowledgement a client received.
    pub acked: Vec<(Uuid, u64)>,
    pub clients: Vec<ClientLog>,
    /// The server's whole log, read at the end without faults.
    pub server: Vec<Logged>,
}

/// The figures of a run that passed.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub written: usize,
    pub acked: usize,
    pub recorded: usize,
    pub lost: usize,
    pub duplicated: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} entries written, {} acknowledged, {} recorded, lost {}, duplicated {}",
            self.written, self.acked, self.recorded, self.lost, self.duplicated
        )
    }
}

impl History {
    /// Checks the history. `healed`: faults are over and every client drained its outbox and
    /// caught up, so the logs must be complete, not just consistent. Every violation is listed.
    pub fn check(&self, healed: bool) -> Result<Summary, Vec<String>> {
        let mut bad = Vec::new();
        // The server's log: seq 1, 2, 3, ... with no gap and no repeat.
        for (i, e) in self.server.iter().enumerate() {
            if e.seq != i as u64 + 1 {
                bad.push(format!("server log: position {i} holds seq {} (gap or repeat)", e.seq));
                break;
            }
        }
        let by_seq: HashMap<u64, &Logged> = self.server.iter().map(|e| (e.seq, e)).collect();
        let mut by_id: HashMap<Uuid, &Logged> = HashMap::new();
        let mut duplicated = 0;
        for e in &self.server {
            if by_id.insert(e.id, e).is_some() {
                duplicated += 1;
                bad.push(format!("event {} recorded twice", e.id));
            }
        }
        // A client that re-sent an entry under a new id would show as the same text twice.
        let written_texts: HashSet<&str> = self.written.iter().map(|w| w.text.as_str()).collect();
        let mut seen_text: HashSet<&str> = HashSet::new();
        for e in &self.server {
            if written_texts.contains(e.text.as_str()) && !seen_text.insert(e.text.as_str()) {
                duplicated += 1;
                bad.push(format!("entry {:?} recorded twice (seq {})", e.text, e.seq));
            }
        }
        let mut lost = 0;
        for (id, seq) in &self.acked {
            match by_id.get(id) {
                None => {
                    lost += 1;
                    bad.push(format!("acknowledged event {id} (seq {seq}) is not in the server's log"));
                }
                Some(e) if e.seq != *seq => {
                    bad.push(format!("event {id} acknowledged as seq {seq} but recorded as seq {}", e.seq))
                }
                Some(_) => {}
            }
        }
        if healed {
            for w in &self.written {
                if !by_id.contains_key(&w.id) {
                    lost += 1;
                    bad.push(format!("written entry {:?} never reached the server", w.text));
                }
            }
        }
        let last = self.server.last().map_or(0, |e| e.seq);
        for c in &self.clients {
            let mut expect = c.start + 1;
            for (seq, id) in &c.events {
                if *seq != expect {
                    bad.push(format!(
                        "{}: got seq {seq} where seq {expect} was next (gap, repeat or reorder)",
                        c.name
                    ));
                    break;
                }
                match by_seq.get(seq) {
                    Some(e) if e.id == *id => {}
                    Some(e) => {
                        bad.push(format!("{}: seq {seq} is {id} here but {} on the server", c.name, e.id))
                    }
                    None => bad.push(format!("{}: seq {seq} is not in the server's log", c.name)),
                }
                expect += 1;
            }
            if healed && expect != last + 1 {
                bad.push(format!("{}: stopped at seq {} of {last} after healing", c.name, expect - 1));
            }
        }
        if bad.is_empty() {
            Ok(Summary {
                written: self.written.len(),
                acked: self.acked.len(),
                recorded: self.server.len(),
                lost,
                duplicated,
            })
        } else {
            Err(bad)
        }
    }
}

#[cfg(test)]
mod checker_tests {
    use super::*;

    /// Two entries written and acknowledged, one client that saw both.
    fn clean() -> History {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let decl = Uuid::now_v7();
        History {
            written: vec![Written { id: a, text: "a".into() }, Written { id: b, text: "b".into() }],
            acked: vec![(a, 2), (b, 3)],
            clients: vec![ClientLog { name: "c".into(), start: 1, events: vec![(2, a), (3, b)] }],
            server: vec![
                Logged { seq: 1, id: decl, text: String::new() },
                Logged { seq: 2, id: a, text: "a".into() },
                Logged { seq: 3, id: b, text: "b".into() },
            ],
        }
    }

    #[test]
    fn a_clean_history_passes_with_its_figures() {
        let s = clean().check(true).unwrap();
        assert_eq!(s, Summary { written: 2, acked: 2, recorded: 3, lost: 0, duplicated: 0 });
    }

    #[test]
    fn a_lost_acknowledged_entry_fails() {
        let mut h = clean();
        h.server.pop();
        let bad = h.check(false).unwrap_err();
        assert!(bad.iter().any(|m| m.contains("not in the server's log")), "{bad:?}");
    }

    #[test]
    fn an_entry_resent_under_a_new_id_fails() {
        let mut h = clean();
        h.server.push(Logged { seq: 4, id: Uuid::now_v7(), text: "a".into() });
        let bad = h.check(false).unwrap_err();
        assert!(bad.iter().any(|m| m.contains("recorded twice")), "{bad:?}");
    }

    #[test]
    fn a_gap_or_repeat_in_a_client_log_fails() {
        let mut h = clean();
        h.clients[0].events.remove(0);
        assert!(h.check(false).is_err());
        let mut h = clean();
        let first = h.clients[0].events[0];
        h.clients[0].events.insert(1, first);
        assert!(h.check(false).is_err());
    }

    #[test]
    fn a_client_log_that_differs_from_the_server_fails() {
        let mut h = clean();
        h.clients[0].events[1].1 = Uuid::now_v7();
        assert!(h.check(false).is_err());
    }

    #[test]
    fn unconverged_fails_only_once_healed() {
        let mut h = clean();
        h.clients[0].events.pop();
        h.acked.pop();
        h.server.pop();
        // Entry b was written, never acknowledged, never recorded: fine mid-fault, lost once healed.
        h.check(false).unwrap();
        let bad = h.check(true).unwrap_err();
        assert!(bad.iter().any(|m| m.contains("never reached the server")), "{bad:?}");
        let mut h = clean();
        h.clients[0].events.pop();
        assert!(h.check(false).is_ok());
        assert!(h.check(true).unwrap_err().iter().any(|m| m.contains("after healing")));
    }
}
