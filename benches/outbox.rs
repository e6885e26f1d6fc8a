//! The outbox after a long outage: how long it takes to read the pending writes (done at every
//! flush and every acknowledgement) and to add one more, by backlog size. Half the writes of the
//! backlog have been acknowledged already, as mid-drain.
//!
//! `cargo bench --bench outbox`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use warroom::client::{Outbox, Pending, Target};
use warroom::domain::{EventBody, EventKind, NewEvent};

fn note(i: usize) -> Pending {
    Pending {
        target: Target::Incident("INC-1".into()),
        event: NewEvent::now(
            EventBody::entry(EventKind::Note, format!("entry {i} written while the server was down"))
                .unwrap(),
        ),
        if_match: None,
    }
}

fn backlog(c: &mut Criterion) {
    let mut g = c.benchmark_group("outbox");
    g.sample_size(20);
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), "http://bench").unwrap();
        let writes: Vec<Pending> = (0..n).map(note).collect();
        for w in &writes {
            o.push(w).unwrap();
        }
        let acked: Vec<_> = writes.iter().take(n / 2).map(|w| w.event.id).collect();
        for chunk in acked.chunks(100) {
            o.ack(chunk).unwrap();
        }
        g.bench_with_input(BenchmarkId::new("pending", n), &o, |b, o| {
            b.iter(|| assert_eq!(o.pending().unwrap().len(), n - n / 2))
        });
        let mut i = n;
        g.bench_with_input(BenchmarkId::new("push", n), &o, |b, o| {
            b.iter(|| {
                i += 1;
                o.push(&note(i)).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, backlog);
criterion_main!(benches);
