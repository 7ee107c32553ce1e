//! Lists that are either still on the wire (parsed, zero-copy) or in a caller's slice (built).

/// An item of an RTCP list: read from and written to the wire.
pub trait WireItem<'a>: Sized + Copy {
    /// Reads one item at the start of `buf`; returns it and the bytes it took, or `None`
    /// if `buf` does not start with a well-formed item.
    fn read(buf: &'a [u8]) -> Option<(Self, usize)>;
    /// Bytes [`write`](Self::write) writes.
    fn wire_len(&self) -> usize;
    /// Writes the item at the start of `out`, which holds at least
    /// [`wire_len`](Self::wire_len) bytes.
    fn write(&self, out: &mut [u8]);
}

/// A list of `T`: either the validated wire bytes of a parsed packet or a slice of items
/// supplied to build one. Both iterate the same way and compare by their items.
#[derive(Debug, Clone, Copy)]
pub enum List<'a, T> {
    /// Bytes from a parsed packet, already checked to hold a whole number of items.
    Wire(&'a [u8]),
    /// Items given by the caller.
    Items(&'a [T]),
}

impl<'a, T: WireItem<'a>> List<'a, T> {
    /// Checks that `buf` is exactly `count` items (or any number, if `count` is `None`);
    /// returns the list and the count.
    pub(crate) fn validate(buf: &'a [u8], count: Option<usize>) -> Option<(Self, usize)> {
        let mut at = 0;
        let mut n = 0;
        while at < buf.len() && count.is_none_or(|c| n < c) {
            let (_, used) = T::read(&buf[at..])?;
            at += used;
            n += 1;
        }
        if count.is_some_and(|c| n != c) {
            return None;
        }
        Some((List::Wire(&buf[..at]), n))
    }

    /// The items, in order.
    pub fn iter(&self) -> ListIter<'a, T> {
        match *self {
            List::Wire(b) => ListIter::Wire(b),
            List::Items(s) => ListIter::Items(s.iter()),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        match self {
            List::Wire(_) => self.iter().count(),
            List::Items(s) => s.len(),
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        match self {
            List::Wire(b) => b.is_empty(),
            List::Items(s) => s.is_empty(),
        }
    }

    /// Bytes the items take on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            List::Wire(b) => b.len(),
            List::Items(s) => s.iter().map(WireItem::wire_len).sum(),
        }
    }

    /// Writes the items at the start of `out` (at least [`wire_len`](Self::wire_len) bytes).
    pub(crate) fn write(&self, out: &mut [u8]) -> usize {
        match self {
            List::Wire(b) => {
                out[..b.len()].copy_from_slice(b);
                b.len()
            }
            List::Items(s) => {
                let mut at = 0;
                for it in s.iter() {
                    it.write(&mut out[at..]);
                    at += it.wire_len();
                }
                at
            }
        }
    }
}

impl<'a, T: WireItem<'a> + PartialEq> PartialEq for List<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl<'a, T: WireItem<'a> + Eq> Eq for List<'a, T> {}

impl<'a, T: WireItem<'a>> IntoIterator for List<'a, T> {
    type Item = T;
    type IntoIter = ListIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub enum ListIter<'a, T> {
    /// Decoding wire bytes.
    Wire(&'a [u8]),
    /// Copying out of a slice.
    Items(core::slice::Iter<'a, T>),
}

impl<'a, T: WireItem<'a>> Iterator for ListIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            ListIter::Wire(b) => {
                // Wire lists are validated on parse; a failed read just ends iteration.
                let (item, used) = T::read(b)?;
                *b = b.get(used..).unwrap_or(&[]);
                Some(item)
            }
            ListIter::Items(it) => it.next().copied(),
        }
    }
}

impl<'a> WireItem<'a> for crate::Ssrc {
    fn read(buf: &'a [u8]) -> Option<(Self, usize)> {
        let b: [u8; 4] = buf.get(..4)?.try_into().ok()?;
        Some((crate::Ssrc(u32::from_be_bytes(b)), 4))
    }
    fn wire_len(&self) -> usize {
        4
    }
    fn write(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.0.to_be_bytes());
    }
}
