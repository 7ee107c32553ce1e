//! Many visitors at once, each with a peer connection of its own, and every call freed when
//! its visitor leaves: scripted ferrtc peers stand in for browser tabs (the server only sees
//! offers and peers), on 127.0.0.1 only.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use common::*;
use ferrtc::{DataChannelInit, Message, PeerConnection};

/// How many visitors call at once.
const VISITORS: usize = 6;

/// One visitor: a call with a data channel; `ping N` gets `pong N`. Returns the connection,
/// still open.
async fn visit(demo: &Demo, n: usize) -> PeerConnection {
    let pc = PeerConnection::new(loopback()).await.unwrap();
    let dc = pc
        .create_data_channel("chat", DataChannelInit::default())
        .await
        .unwrap();
    signal(demo, None, &pc, "none").await;
    within("channel open", dc.opened()).await.unwrap();
    dc.send(format!("ping {n}")).await.unwrap();
    let m = within("pong", dc.recv()).await.unwrap();
    assert_eq!(m, Message::text(format!("pong {n}")));
    pc
}

/// How long the server may take to notice a visitor left. A closed peer sends DTLS
/// close_notify and the server ends the call on it (its DTLS transport closes), at once; ICE
/// consent expiry (RFC 7675 §5.1: 30 s without a response), the old way a call ended, would
/// take three times this bound.
const LEAVE_NOTICED: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the demo's stdout until `count` lines say `call ended`.
async fn calls_ended(demo: &mut Demo, count: usize) {
    let mut ended = 0;
    let read = async {
        while ended < count {
            let line = demo
                .stdout
                .next_line()
                .await
                .unwrap()
                .expect("demo running");
            if line == "call ended" {
                ended += 1;
            }
        }
    };
    if tokio::time::timeout(LEAVE_NOTICED, read).await.is_err() {
        panic!("not every one of {count} calls ended");
    }
}

#[tokio::test]
async fn visitors_at_once_each_get_a_call_and_leaving_frees_it() {
    let mut demo = Demo::start(&["--test-results"]).await;
    // Every visitor at once: each is answered and served by a call of its own.
    let calls = join_all((0..VISITORS).map(|n| visit(&demo, n)).collect()).await;
    // Leaving (a tab closed: the connection closes) ends the server's call and frees it,
    // on the visitor's DTLS close_notify, not 30 s later when ICE consent would expire.
    let left = std::time::Instant::now();
    for pc in &calls {
        pc.close().await;
    }
    calls_ended(&mut demo, VISITORS).await;
    eprintln!(
        "{VISITORS} calls ended {:?} after their visitors began to close",
        left.elapsed()
    );
    // The server goes on serving.
    let late = visit(&demo, 99).await;
    late.close().await;
    demo.stop().await;
}

/// Polls `futures` together on this task (they borrow the demo, so they are not spawned)
/// and returns their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, d) in futures.iter_mut().zip(done.iter_mut()) {
            if d.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *d = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(|d| d.expect("finished")).collect()
}
