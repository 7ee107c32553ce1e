//! The queue that carries a connection's events from its task to its handle: unbounded, one
//! sender, one receiver.
//!
//! tokio's `mpsc` allocates its slots 32 at a time, each as large as the item, as soon as the
//! channel exists; an [`Event`](crate::Event) is 160 bytes (a candidate is inline), so that
//! is 5 KiB per connection before its first event, a large part of an idle connection's
//! memory. This queue holds room for what has been queued at once and no more (a
//! `VecDeque` grown on demand) and gives a burst's room back once it has drained.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Room kept by an empty queue after a burst; a queue that grew past
/// [`SHRINK_ABOVE`] items of room shrinks back to this once it is empty, so a steady flow
/// (media events read as they come) never reallocates.
const KEEP: usize = 16;
/// See [`KEEP`].
const SHRINK_ABOVE: usize = 64;

struct Inner<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    receiver_gone: bool,
}

type Shared<T> = Arc<Mutex<Inner<T>>>;

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, Inner<T>> {
    // Nothing panics while holding the lock; if something did, the queue is still whole.
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A new queue.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(Inner {
        items: VecDeque::new(),
        waker: None,
        sender_gone: false,
        receiver_gone: false,
    }));
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

/// The sending half (the connection's task).
pub(crate) struct Sender<T>(Shared<T>);

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut inner = lock(&self.0);
        if inner.receiver_gone {
            return Err(item);
        }
        inner.items.push_back(item);
        let waker = inner.waker.take();
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut inner = lock(&self.0);
        inner.sender_gone = true;
        let waker = inner.waker.take();
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving half (the connection's handle).
pub(crate) struct Receiver<T>(Shared<T>);

impl<T> Receiver<T> {
    /// The next item; `None` once the queue is empty and the sender gone.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut inner = lock(&self.0);
        if let Some(item) = inner.items.pop_front() {
            if inner.items.is_empty() && inner.items.capacity() > SHRINK_ABOVE {
                inner.items.shrink_to(KEEP);
            }
            return Poll::Ready(Some(item));
        }
        if inner.sender_gone {
            return Poll::Ready(None);
        }
        match &mut inner.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Waits for the next item; `None` once the queue is empty and the sender gone.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut inner = lock(&self.0);
        inner.receiver_gone = true;
        let items = std::mem::take(&mut inner.items);
        drop(inner);
        drop(items);
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_come_in_order_then_none_once_the_sender_is_gone() {
        let (tx, mut rx) = queue();
        for i in 0..100 {
            tx.send(i).unwrap();
        }
        for i in 0..100 {
            assert_eq!(rx.recv().await, Some(i));
        }
        let task = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.send(7).unwrap();
        assert_eq!(task.await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_when_the_sender_goes() {
        let (tx, mut rx) = queue::<u32>();
        let task = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        drop(tx);
        assert_eq!(task.await.unwrap(), None);
    }

    #[test]
    fn send_fails_once_the_receiver_is_gone_and_room_is_given_back() {
        let (tx, rx) = queue();
        drop(rx);
        assert_eq!(tx.send(1), Err(1));
        let (tx, mut rx) = queue();
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        while let Poll::Ready(Some(_)) = rx.poll_recv(&mut cx) {}
        assert!(lock(&rx.0).items.capacity() <= KEEP);
    }
}
