//! What the simulator drives: the [`Endpoint`] trait, its datagrams, and the [`Machine`]
//! adapter that turns any sans-IO state machine into an endpoint.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

/// A datagram an endpoint wants to send.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Datagram {
    /// The local address to send from. It must be one the endpoint is bound to (any port of
    /// an IP bound with port 0), or an unspecified address (`0.0.0.0:0`, `[::]:0`, or
    /// unspecified IP with a port), which the simulator replaces by the endpoint's first bound
    /// address of the destination's family (with that port, when one is given).
    pub from: SocketAddr,
    /// The destination.
    pub to: SocketAddr,
    /// The UDP payload.
    pub data: Vec<u8>,
}

impl Datagram {
    /// A datagram from `from` to `to`.
    pub fn new(from: SocketAddr, to: SocketAddr, data: impl Into<Vec<u8>>) -> Self {
        Datagram {
            from,
            to,
            data: data.into(),
        }
    }

    /// A datagram to `to` from whichever bound address of the same family the endpoint has,
    /// for state machines that do not know their local address.
    pub fn any_source(to: SocketAddr, data: impl Into<Vec<u8>>) -> Self {
        let ip = match to.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        Datagram::new(SocketAddr::new(ip, 0), to, data)
    }
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Datagram({} -> {}, {} bytes)",
            self.from,
            self.to,
            self.data.len()
        )
    }
}

/// Something the simulator can drive: a host application, a protocol state machine, or a
/// test toy.
///
/// The simulator follows the sans-IO contract of every ferrtc state machine: after it calls
/// [`receive`](Self::receive) or [`timeout`](Self::timeout), it drains
/// [`poll_transmit`](Self::poll_transmit) until `None`, and it calls `timeout` once the
/// virtual clock reaches [`poll_timeout`](Self::poll_timeout). An endpoint lent out through
/// [`Sim::endpoint_mut`](crate::Sim::endpoint_mut) is drained the same way at the next step,
/// so datagrams queued by commands go out at the current instant.
///
/// `poll_timeout` is read after each of those calls and cached until the next one, so it must
/// change only when the endpoint is called (no interior mutability behind the simulator's
/// back).
///
/// Only `receive` is required; the others default to "no timers, nothing to send".
pub trait Endpoint: 'static {
    /// A datagram from `from` arrived on the local address `to`.
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]);

    /// The time returned by `poll_timeout` has been reached.
    fn timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        let _ = now;
        None
    }

    /// When `timeout` should be called next. A time in the past means "now".
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// The untyped identity of an endpoint in a [`Sim`](crate::Sim).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub(crate) usize);

impl EndpointId {
    /// The index of the endpoint, in the order endpoints were added.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A typed handle to an endpoint of type `T`, returned by
/// [`Sim::add_endpoint`](crate::Sim::add_endpoint) and used to reach it again.
pub struct Handle<T> {
    id: EndpointId,
    _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(crate) fn new(id: EndpointId) -> Self {
        Handle {
            id,
            _type: PhantomData,
        }
    }

    /// The untyped identity of the endpoint.
    pub fn id(self) -> EndpointId {
        self.id
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.id.0)
    }
}

impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Handle<T> {}

/// An endpoint the simulator can also hand back as its concrete type.
pub(crate) trait DynEndpoint: Endpoint {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Endpoint> DynEndpoint for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

type ReceiveFn<S, Er> =
    Box<dyn FnMut(&mut S, Instant, SocketAddr, SocketAddr, &[u8]) -> Result<(), Er>>;
type TimeoutFn<S> = Box<dyn FnMut(&mut S, Instant)>;
type TransmitFn<S> = Box<dyn FnMut(&mut S, Instant) -> Option<Datagram>>;
type PollTimeoutFn<S> = Box<dyn Fn(&S) -> Option<Instant>>;
type EventFn<S, Ev> = Box<dyn FnMut(&mut S) -> Option<Ev>>;

/// Wraps a sans-IO state machine `S` as an [`Endpoint`], with one closure per verb.
///
/// Events the machine reports are drained after every input (and before every transmit
/// poll) into [`events`](Self::events), stamped with the virtual time; errors returned by the
/// receive closure go to [`errors`](Self::errors). A test reads both through
/// [`Sim::endpoint`](crate::Sim::endpoint).
///
/// For a machine with ferrtc's verb set (`handle_receive`, `handle_timeout`, `poll_transmit`,
/// `poll_event`, `poll_timeout`), the [`sans_io!`](crate::sans_io) macro writes the closures.
/// By hand it looks like this:
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Instant;
/// use ferrtc_netsim::{Datagram, Machine};
///
/// /// A toy machine that answers every datagram with "pong" and counts them as events.
/// #[derive(Default)]
/// struct Ponger { out: Vec<(SocketAddr, Vec<u8>)>, seen: Vec<usize> }
///
/// let node = Machine::new(Ponger::default())
///     .on_receive(|m, _now, from, _to, data| {
///         if data.is_empty() {
///             return Err("empty datagram");
///         }
///         m.seen.push(data.len());
///         m.out.push((from, b"pong".to_vec()));
///         Ok(())
///     })
///     .on_transmit(|m, _now| m.out.pop().map(|(to, d)| Datagram::any_source(to, d)))
///     .on_event(|m| m.seen.pop());
/// assert!(node.events.is_empty());
/// ```
pub struct Machine<S, Ev = (), Er = Infallible> {
    /// The wrapped state machine.
    pub inner: S,
    /// Events drained from the machine, with the virtual time they were drained at.
    pub events: Vec<(Instant, Ev)>,
    /// Errors returned when handing the machine a datagram, with the virtual time.
    pub errors: Vec<(Instant, Er)>,
    receive: ReceiveFn<S, Er>,
    timeout: TimeoutFn<S>,
    transmit: TransmitFn<S>,
    poll_timeout: PollTimeoutFn<S>,
    event: EventFn<S, Ev>,
}

impl<S: 'static> Machine<S> {
    /// Wraps `inner` with closures that do nothing; set the ones the machine needs.
    pub fn new(inner: S) -> Self {
        Machine {
            inner,
            events: Vec::new(),
            errors: Vec::new(),
            receive: Box::new(|_, _, _, _, _| Ok(())),
            timeout: Box::new(|_, _| {}),
            transmit: Box::new(|_, _| None),
            poll_timeout: Box::new(|_| None),
            event: Box::new(|_| None),
        }
    }
}

impl<S: 'static, Ev: 'static, Er: 'static> Machine<S, Ev, Er> {
    /// Sets how a datagram is handed to the machine: `(machine, now, from, to, data)`.
    pub fn on_receive<Er2, F>(self, f: F) -> Machine<S, Ev, Er2>
    where
        F: FnMut(&mut S, Instant, SocketAddr, SocketAddr, &[u8]) -> Result<(), Er2> + 'static,
    {
        Machine {
            inner: self.inner,
            events: self.events,
            errors: Vec::new(),
            receive: Box::new(f),
            timeout: self.timeout,
            transmit: self.transmit,
            poll_timeout: self.poll_timeout,
            event: self.event,
        }
    }

    /// Sets how the machine's timer fires: `(machine, now)`.
    pub fn on_timeout<F>(mut self, f: F) -> Self
    where
        F: FnMut(&mut S, Instant) + 'static,
    {
        self.timeout = Box::new(f);
        self
    }

    /// Sets how the next datagram is taken from the machine: `(machine, now)`.
    pub fn on_transmit<F>(mut self, f: F) -> Self
    where
        F: FnMut(&mut S, Instant) -> Option<Datagram> + 'static,
    {
        self.transmit = Box::new(f);
        self
    }

    /// Sets how the machine's next deadline is read.
    pub fn on_poll_timeout<F>(mut self, f: F) -> Self
    where
        F: Fn(&S) -> Option<Instant> + 'static,
    {
        self.poll_timeout = Box::new(f);
        self
    }

    /// Sets how the next event is taken from the machine.
    pub fn on_event<Ev2, F>(self, f: F) -> Machine<S, Ev2, Er>
    where
        F: FnMut(&mut S) -> Option<Ev2> + 'static,
    {
        Machine {
            inner: self.inner,
            events: Vec::new(),
            errors: self.errors,
            receive: self.receive,
            timeout: self.timeout,
            transmit: self.transmit,
            poll_timeout: self.poll_timeout,
            event: Box::new(f),
        }
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(ev) = (self.event)(&mut self.inner) {
            self.events.push((now, ev));
        }
    }
}

impl<S: 'static, Ev: 'static, Er: 'static> Endpoint for Machine<S, Ev, Er> {
    fn receive(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        if let Err(e) = (self.receive)(&mut self.inner, now, from, to, data) {
            self.errors.push((now, e));
        }
        self.drain_events(now);
    }

    fn timeout(&mut self, now: Instant) {
        (self.timeout)(&mut self.inner, now);
        self.drain_events(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        // Commands issued between steps may have produced events too.
        self.drain_events(now);
        (self.transmit)(&mut self.inner, now)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.poll_timeout)(&self.inner)
    }
}

impl<S: fmt::Debug, Ev: fmt::Debug, Er: fmt::Debug> fmt::Debug for Machine<S, Ev, Er> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("inner", &self.inner)
            .field("events", &self.events)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// Wraps a state machine with ferrtc's sans-IO verb set as a [`Machine`].
///
/// The machine must have `handle_receive(now, from, data) -> Result<(), E>`,
/// `handle_timeout(now)`, `poll_transmit() -> Option<T>`, `poll_event() -> Option<Ev>` and
/// `poll_timeout(&self) -> Option<Instant>`. The closure-like second argument turns one `T`
/// into a [`Datagram`]; it is a `move` closure, so it may use local addresses (for machines
/// such as an SCTP association whose packets carry no address:
/// `sans_io!(assoc, |p| Datagram::new(local, remote, p))`).
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Instant;
/// use ferrtc_netsim::{sans_io, Datagram};
///
/// /// A state machine with the ferrtc verb set: it echoes every datagram.
/// #[derive(Default)]
/// struct Echo { out: Option<(SocketAddr, Vec<u8>)>, received: u32 }
/// struct Transmit { destination: SocketAddr, contents: Vec<u8> }
///
/// impl Echo {
///     fn handle_receive(&mut self, _now: Instant, from: SocketAddr, d: &[u8]) -> Result<(), String> {
///         self.out = Some((from, d.to_vec()));
///         self.received += 1;
///         Ok(())
///     }
///     fn handle_timeout(&mut self, _now: Instant) {}
///     fn poll_transmit(&mut self) -> Option<Transmit> {
///         self.out.take().map(|(destination, contents)| Transmit { destination, contents })
///     }
///     fn poll_event(&mut self) -> Option<u32> { None }
///     fn poll_timeout(&self) -> Option<Instant> { None }
/// }
///
/// let node = sans_io!(Echo::default(), |t| Datagram::any_source(t.destination, t.contents));
/// assert_eq!(node.inner.received, 0);
/// ```
#[macro_export]
macro_rules! sans_io {
    ($machine:expr, |$t:ident| $to_datagram:expr $(,)?) => {
        $crate::Machine::new($machine)
            .on_receive(|m, now, from, _to, data| m.handle_receive(now, from, data))
            .on_timeout(|m, now| {
                let _ = m.handle_timeout(now);
            })
            .on_poll_timeout(|m| m.poll_timeout())
            .on_event(|m| m.poll_event())
            .on_transmit(move |m, _now| m.poll_transmit().map(|$t| $to_datagram))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_source_is_unspecified_of_the_right_family() {
        let d = Datagram::any_source("[2001:db8::1]:5".parse().unwrap(), b"x".to_vec());
        assert_eq!(d.from, "[::]:0".parse::<SocketAddr>().unwrap());
        let d = Datagram::any_source("192.0.2.1:5".parse().unwrap(), b"x".to_vec());
        assert_eq!(d.from, "0.0.0.0:0".parse::<SocketAddr>().unwrap());
        assert_eq!(
            format!("{d:?}"),
            "Datagram(0.0.0.0:0 -> 192.0.2.1:5, 1 bytes)"
        );
    }

    #[test]
    fn machine_collects_events_and_errors() {
        let mut m = Machine::new(Vec::<u8>::new())
            .on_receive(|v, _, _, _, d| {
                if d.is_empty() {
                    Err("empty")
                } else {
                    v.extend_from_slice(d);
                    Ok(())
                }
            })
            .on_event(|v| v.pop());
        let now = Instant::now();
        let a: SocketAddr = "192.0.2.1:1".parse().unwrap();
        m.receive(now, a, a, b"ab");
        m.receive(now, a, a, b"");
        assert_eq!(m.events, vec![(now, b'b'), (now, b'a')]);
        assert_eq!(m.errors, vec![(now, "empty")]);
        assert_eq!(m.poll_transmit(now), None);
        assert_eq!(m.poll_timeout(), None);
    }
}
