//! Churn (issue 11, reliability): 1,000 peer connections opened, used and dropped leave no
//! file descriptor, task or memory behind.
//!
//! 500 pairs on 127.0.0.1, each connected with a data channel, one message each way, then
//! every handle dropped (half the pairs are closed first, half just dropped). After the last
//! one the test waits, on the runtime's own count, until every driver task has ended, then
//! counts:
//! - open file descriptors (`/proc/self/fd`): back to what they were after the warm-up;
//! - live tokio tasks (`RuntimeMetrics::num_alive_tasks`): back to the warm-up's count;
//! - resident memory (`/proc/self/statm`): RSS counts pages the allocator keeps for reuse,
//!   so it is judged by growth, not equality: between the middle of the run and its end it
//!   must grow by less than [`RSS_SLACK`] over 500 connections, where a leak of one
//!   idle connection's worth each (about 60 KiB) would add some 30 MiB.
//!
//! Certificates are made once and shared, so the test spends its time on the connections,
//! not on key generation. Linux only (`/proc`).

#![cfg(target_os = "linux")]

mod common;

use std::sync::Arc;

use common::*;
use ferrtc::layers::dtls::Certificate;
use ferrtc::{DataChannelInit, PeerConnection};

/// Peer connections opened, used and dropped (in pairs).
const CONNECTIONS: usize = 1000;
/// Pairs connected at the same time (the two cores stay busy while one pair waits).
const CONCURRENT_PAIRS: usize = 10;
/// Pairs made before the counts are taken: thread-locals, allocator arenas and the
/// runtime's own tables come into being there.
const WARM_UP_PAIRS: usize = 20;
/// How much resident memory may grow over the second half of the run.
const RSS_SLACK: u64 = 8 * 1024 * 1024;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    // The page size of every Linux target this runs on in CI (x86_64, aarch64 4 KiB
    // kernels); a larger one only makes the bound looser.
    pages * 4096
}

/// One pair: connected, a channel open, a message each way, then dropped (or closed first).
async fn use_and_drop(certs: Arc<(Arc<Certificate>, Arc<Certificate>)>, close_first: bool) {
    let a = PeerConnection::new(loopback().with_certificate(Arc::clone(&certs.0)))
        .await
        .unwrap();
    let b = PeerConnection::new(loopback().with_certificate(Arc::clone(&certs.1)))
        .await
        .unwrap();
    let da = a
        .create_data_channel("churn", DataChannelInit::default())
        .await
        .unwrap();
    negotiate(&a, &b).await;
    let db = remote_channel(&b).await;
    within("channel open", da.opened()).await.unwrap();
    // The count the test relies on is real: both drivers and this pair's task are alive.
    assert!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            >= 3
    );
    da.send("ping").await.unwrap();
    assert_eq!(
        within("ping", db.recv()).await.unwrap().as_text(),
        Some("ping")
    );
    db.send("pong").await.unwrap();
    assert_eq!(
        within("pong", da.recv()).await.unwrap().as_text(),
        Some("pong")
    );
    if close_first {
        a.close().await;
        b.close().await;
    }
    drop((a, b, da, db));
}

/// Runs `pairs` pairs, [`CONCURRENT_PAIRS`] at a time.
async fn churn(certs: &Arc<(Arc<Certificate>, Arc<Certificate>)>, pairs: usize) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..pairs {
        if set.len() == CONCURRENT_PAIRS {
            set.join_next().await.unwrap().unwrap();
        }
        set.spawn(use_and_drop(Arc::clone(certs), i % 2 == 0));
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
}

/// Waits until at most `tasks` tasks are alive on this runtime (the dropped connections'
/// drivers wind down on their own: goodbyes sent, sockets closed).
async fn tasks_settle(tasks: usize) {
    let metrics = tokio::runtime::Handle::current().metrics();
    within("every driver task to end", async {
        while metrics.num_alive_tasks() > tasks {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_leave_nothing_behind() {
    let certs = Arc::new((
        Arc::new(Certificate::generate().unwrap()),
        Arc::new(Certificate::generate().unwrap()),
    ));
    let metrics = tokio::runtime::Handle::current().metrics();
    // The test's own task is the only one alive before anything starts.
    let idle_tasks = metrics.num_alive_tasks();

    churn(&certs, WARM_UP_PAIRS).await;
    tasks_settle(idle_tasks).await;
    let fds = open_fds();
    let start = std::time::Instant::now();

    churn(&certs, CONNECTIONS / 4).await;
    tasks_settle(idle_tasks).await;
    let rss_half = rss_bytes();
    assert_eq!(open_fds(), fds, "file descriptors after the first half");

    churn(&certs, CONNECTIONS / 4).await;
    tasks_settle(idle_tasks).await;
    let rss_end = rss_bytes();
    eprintln!(
        "{CONNECTIONS} connections in {:.1} s; RSS {:.1} MiB at the middle, {:.1} MiB at the end",
        start.elapsed().as_secs_f64(),
        rss_half as f64 / 1048576.0,
        rss_end as f64 / 1048576.0,
    );

    assert_eq!(metrics.num_alive_tasks(), idle_tasks, "tasks left alive");
    assert_eq!(open_fds(), fds, "file descriptors left open");
    assert!(
        rss_end <= rss_half + RSS_SLACK,
        "resident memory grew by {} KiB over the last {} connections",
        (rss_end.saturating_sub(rss_half)) / 1024,
        CONNECTIONS / 2
    );
}
