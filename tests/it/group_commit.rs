//! Group commit through the real `warroom serve` (issue #17): eight writers appending at once
//! share transactions; `kill -9` of the server in the middle of it. Every append the server
//! acknowledged is in the log after the restart with the seq it was acknowledged with, the log
//! is gap-free, and retrying every append sent (acknowledged or not) records each event exactly
//! once and answers an acknowledged one with its first seq.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::bin_support::{Env, PATIENCE};
use crate::server_support::client;

const WRITERS: usize = 8;
/// Acknowledged appends before the kill.
const BEFORE_KILL: usize = 120;

fn note(id: Uuid, text: &str) -> Value {
    json!({"id": id, "occurred_at": chrono::Utc::now(), "kind": "note", "text": text})
}

/// POSTs one note; its seq when the server acknowledged it.
async fn append(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> Option<u64> {
    let res = http.post(url).bearer_auth(token).json(body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    let v: Value = res.json().await.ok()?;
    v["events"][0]["seq"].as_u64()
}

/// The whole log, in pages: (seq, id) in seq order.
async fn log(http: &reqwest::Client, base: &str, token: &str) -> Vec<(u64, Uuid)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!("{base}/api/v1/events?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return out;
        }
        for e in events {
            out.push((e["seq"].as_u64().unwrap(), e["id"].as_str().unwrap().parse().unwrap()));
        }
        after = out.last().unwrap().0;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_appends_of_concurrent_writers_survive_kill_9_gap_free_and_retries_keep_their_seq() {
    let env = Env::new();
    std::fs::write(
        env.config.join("config.toml"),
        "[serve.limits]\nwrites_per_sec = 100000\nwrite_burst = 100000\n",
    )
    .unwrap();
    let (out, _) = env.ok(&["token", "create", "--name", "writer", "--role", "scribe"]);
    let token = out.lines().last().unwrap().trim().to_string();
    let (mut child, base) = env.serve("127.0.0.1:0");
    let http = client();
    let declared = json!({"id": Uuid::now_v7(), "occurred_at": chrono::Utc::now(),
        "kind": "declared", "title": "Group commit", "severity": "SEV-3"});
    let res = http.post(format!("{base}/api/v1/incidents")).bearer_auth(&token).json(&declared).send().await;
    let inc: Value = res.unwrap().json().await.unwrap();
    let incident = inc["incident"].as_str().unwrap().to_string();
    let url = format!("{base}/api/v1/incidents/{incident}/events");

    // Eight writers, each appending until its connection fails (the kill).
    let acked = Arc::new(AtomicUsize::new(0));
    let (enough_tx, enough_rx) = tokio::sync::oneshot::channel::<()>();
    let enough_tx = Arc::new(std::sync::Mutex::new(Some(enough_tx)));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (http, url, token, acked, enough) =
            (http.clone(), url.clone(), token.clone(), acked.clone(), enough_tx.clone());
        writers.push(tokio::spawn(async move {
            // (event id, body, seq if acknowledged)
            let mut sent: Vec<(Uuid, Value, Option<u64>)> = Vec::new();
            for i in 0.. {
                let id = Uuid::now_v7();
                let body = note(id, &format!("writer {w} note {i}"));
                let seq = append(&http, &url, &token, &body).await;
                sent.push((id, body, seq));
                if seq.is_none() {
                    return sent;
                }
                if acked.fetch_add(1, Ordering::SeqCst) + 1 == BEFORE_KILL
                    && let Some(tx) = enough.lock().unwrap().take()
                {
                    let _ = tx.send(());
                }
            }
            sent
        }));
    }
    tokio::time::timeout(PATIENCE, enough_rx).await.expect("writers got acknowledgements").unwrap();
    child.kill().unwrap(); // SIGKILL, with appends in flight
    child.wait().unwrap();
    let mut sent = Vec::new();
    for w in writers {
        sent.extend(tokio::time::timeout(PATIENCE, w).await.unwrap().unwrap());
    }
    let acked_seqs: BTreeMap<u64, Uuid> =
        sent.iter().filter_map(|(id, _, seq)| seq.map(|s| (s, *id))).collect();
    assert!(acked_seqs.len() >= BEFORE_KILL);
    assert_eq!(acked_seqs.len(), sent.iter().filter(|s| s.2.is_some()).count(), "no seq acknowledged twice");

    // Restarted on the same database: every acknowledged append is there, with its seq.
    let (mut child, base) = env.serve("127.0.0.1:0");
    let url = format!("{base}/api/v1/incidents/{incident}/events");
    let before = log(&http, &base, &token).await;
    let seqs: Vec<u64> = before.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "the log is gap-free");
    let by_seq: HashMap<u64, Uuid> = before.iter().copied().collect();
    for (seq, id) in &acked_seqs {
        assert_eq!(by_seq.get(seq), Some(id), "acknowledged seq {seq} is durable");
    }

    // Retries of everything sent, eight at a time again.
    let mut retries = Vec::new();
    for chunk in sent.chunks(sent.len().div_ceil(WRITERS)) {
        let (http, url, token, chunk) = (http.clone(), url.clone(), token.clone(), chunk.to_vec());
        retries.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (id, body, seq) in chunk {
                out.push((id, seq, append(&http, &url, &token, &body).await.expect("a retry is answered")));
            }
            out
        }));
    }
    for r in retries {
        for (id, first, again) in r.await.unwrap() {
            if let Some(first) = first {
                assert_eq!(again, first, "the retry of {id} answers with its first seq");
            }
        }
    }
    let after = log(&http, &base, &token).await;
    let seqs: Vec<u64> = after.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "still gap-free");
    let mut count: HashMap<Uuid, usize> = HashMap::new();
    for (_, id) in &after {
        *count.entry(*id).or_default() += 1;
    }
    for (id, _, _) in &sent {
        assert_eq!(count.get(id), Some(&1), "{id} is recorded exactly once");
    }
    assert_eq!(after.len(), sent.len() + 1, "the declaration and every note, nothing else");
    child.kill().unwrap();
    child.wait().unwrap();
}
