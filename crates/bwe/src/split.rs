//! Sharing the target among the streams of a transport.

/// Splits `total_bps` among streams in proportion to `weights` (for example each
/// encoder's configured maximum, or equal weights), writing each share into `out`
/// (`out[i]` for `weights[i]`); no stream gets more than its `max_bps` (`None`: no limit),
/// and what a capped stream cannot use goes to the others. Allocates nothing.
///
/// # Panics
///
/// Never; extra entries of the longer of `weights`, `max_bps` and `out` are ignored (a
/// missing `max_bps` entry means no limit).
pub fn split_bitrate(total_bps: u64, weights: &[u32], max_bps: &[Option<u64>], out: &mut [u64]) {
    let n = weights.len().min(out.len());
    let out = &mut out[..n];
    out.fill(0);
    let cap = |i: usize| max_bps.get(i).copied().flatten().unwrap_or(u64::MAX);
    let mut left = total_bps;
    // Each round hands out the remainder by weight among streams below their cap; a
    // round that caps nobody ends it. At most n rounds.
    for _ in 0..n {
        let open: u64 = (0..n)
            .filter(|&i| out[i] < cap(i))
            .map(|i| u64::from(weights[i]))
            .sum();
        if open == 0 || left == 0 {
            break;
        }
        let mut given = 0;
        let mut capped = false;
        for i in 0..n {
            if out[i] >= cap(i) {
                continue;
            }
            let share = (u128::from(left) * u128::from(weights[i]) / u128::from(open)) as u64;
            let room = cap(i) - out[i];
            let g = share.min(room);
            capped |= share > room;
            out[i] += g;
            given += g;
        }
        left -= given;
        if !capped {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_weight_and_passes_on_what_a_capped_stream_cannot_use() {
        let mut out = [0; 3];
        split_bitrate(3_000_000, &[1, 1, 1], &[], &mut out);
        assert_eq!(out, [1_000_000; 3]);
        split_bitrate(
            3_000_000,
            &[2, 1, 1],
            &[Some(500_000), None, None],
            &mut out,
        );
        assert_eq!(out, [500_000, 1_250_000, 1_250_000]);
        split_bitrate(1_000, &[0, 0], &[], &mut out[..2]);
        assert_eq!(&out[..2], &[0, 0]);
    }
}
