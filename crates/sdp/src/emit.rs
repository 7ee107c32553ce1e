//! The serializer's core: every value appends its canonical text to a `String`, numbers
//! written without the `fmt` machinery. `Display` impls are thin wrappers over it.

/// Appends the canonical SDP text of a value.
pub(crate) trait Emit {
    /// Appends this value's text to `out`.
    fn emit(&self, out: &mut String);
}

/// Appends the decimal form of `n`.
pub(crate) fn num(out: &mut String, n: impl Into<u64>) {
    let mut n: u64 = n.into();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast is lossless.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Implements `Display` through [`Emit`].
macro_rules! display_by_emit {
    ($($t:ty),* $(,)?) => {
        $(
            impl std::fmt::Display for $t {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    let mut text = String::new();
                    $crate::emit::Emit::emit(self, &mut text);
                    f.write_str(&text)
                }
            }
        )*
    };
}
pub(crate) use display_by_emit;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut s = String::new();
        for n in [0u64, 7, 10, 96, 65_535, u64::from(u32::MAX), u64::MAX] {
            s.clear();
            num(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
