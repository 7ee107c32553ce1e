//! Candidate pairs and the check list (RFC 8445 §6.1.2; RFC 8838 §10-12).

use super::candidate::{Candidate, Foundation};

/// The pair priority of RFC 8445 §6.1.2.3, with `g` the priority of the controlling
/// agent's candidate and `d` the controlled agent's:
/// `2^32 * MIN(G,D) + 2 * MAX(G,D) + (G > D ? 1 : 0)`.
///
/// Candidate priorities are at most `2^31 - 1` (RFC 8445 §5.1.2), for which the formula
/// fits in 64 bits; out-of-range inputs wrap instead of panicking.
pub const fn pair_priority(g: u32, d: u32) -> u64 {
    let (min, max) = if g < d { (g, d) } else { (d, g) };
    ((min as u64) << 32)
        .wrapping_add(2 * (max as u64))
        .wrapping_add(if g > d { 1 } else { 0 })
}

/// The pair priority seen from one agent: `local`/`remote` candidate priorities and
/// whether this agent is the controlling one.
pub const fn pair_priority_for(local: u32, remote: u32, controlling: bool) -> u64 {
    if controlling {
        pair_priority(local, remote)
    } else {
        pair_priority(remote, local)
    }
}

/// The state of a candidate pair (RFC 8445 §6.1.2.6, Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairState {
    /// Not checked and not yet allowed to be.
    Frozen,
    /// May be checked when its turn comes.
    Waiting,
    /// A check is in flight.
    InProgress,
    /// A check produced a success response.
    Succeeded,
    /// A check timed out or got a failure response.
    Failed,
}

/// Identifies a pair in a [`CheckList`]; stable across re-sorting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairId(pub u32);

/// A candidate pair: indexes into the agent's local and remote candidate lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidatePair {
    /// Stable identity.
    pub id: PairId,
    /// Index of the local candidate (always one whose base is itself: host or relayed).
    pub local: usize,
    /// Index of the remote candidate.
    pub remote: usize,
    /// Pair priority (RFC 8445 §6.1.2.3), from this agent's current role.
    pub priority: u64,
    /// Check state.
    pub state: PairState,
    /// Pair foundation: the local and remote candidate foundations.
    pub foundation: (Foundation, Foundation),
    /// Component ID of both candidates.
    pub component: u16,
    /// The local candidate is TCP passive: it cannot open a connection, so the pair is
    /// only ever checked by a triggered check once the peer has connected (RFC 6544 §6.2).
    pub triggered_only: bool,
}

/// The outcome of [`CheckList::add_pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new pair was inserted.
    Added(PairId),
    /// An equal or better pair already exists (RFC 8445 §6.1.2.4).
    Redundant(PairId),
    /// The list is full of better pairs (RFC 8445 §6.1.2.5).
    Full,
    /// The candidates cannot be paired (family, component, transport).
    Incompatible,
}

/// Default limit on the number of pairs (RFC 8445 §6.1.2.5).
pub const DEFAULT_MAX_PAIRS: usize = 100;

/// The check list of one data stream, kept sorted by decreasing pair priority.
#[derive(Debug, Clone)]
pub struct CheckList {
    pairs: Vec<CandidatePair>,
    next_id: u32,
    max_pairs: usize,
}

impl CheckList {
    /// An empty list holding at most `max_pairs` pairs (at least one).
    pub fn new(max_pairs: usize) -> CheckList {
        CheckList {
            pairs: Vec::new(),
            next_id: 0,
            max_pairs: max_pairs.max(1),
        }
    }

    /// The pairs, highest priority first.
    pub fn pairs(&self) -> &[CandidatePair] {
        &self.pairs
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when no pair has been formed.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pair with identity `id`.
    pub fn get(&self, id: PairId) -> Option<&CandidatePair> {
        self.pairs.iter().find(|p| p.id == id)
    }

    /// The pair with identity `id`, mutably.
    pub fn get_mut(&mut self, id: PairId) -> Option<&mut CandidatePair> {
        self.pairs.iter_mut().find(|p| p.id == id)
    }

    /// The pair whose local base and remote address are those of `local`/`remote`.
    pub fn find(
        &self,
        locals: &[Candidate],
        remotes: &[Candidate],
        local: usize,
        remote: usize,
    ) -> Option<PairId> {
        let (l, r) = (locals.get(local)?, remotes.get(remote)?);
        self.pairs
            .iter()
            .find(|p| {
                locals
                    .get(p.local)
                    .is_some_and(|pl| pl.base == l.base && pl.protocol == l.protocol)
                    && remotes
                        .get(p.remote)
                        .is_some_and(|pr| pr.address == r.address && pr.protocol == r.protocol)
            })
            .map(|p| p.id)
    }

    /// Forms the pair (`local`, `remote`) and inserts it in priority order, applying
    /// pruning (RFC 8445 §6.1.2.4, with the local candidate replaced by its base, which
    /// the caller does by passing the base candidate's index), the RFC 8838 §11 rule for
    /// peer-reflexive remotes, the size limit (§6.1.2.5, RFC 8838 §11 step 5) and the
    /// initial state of RFC 8838 §12 (Rules 1 to 3).
    ///
    /// When `checks_started` is false the new pair is left Frozen and the caller runs
    /// [`CheckList::initial_unfreeze`] when checks begin.
    pub fn add_pair(
        &mut self,
        locals: &[Candidate],
        remotes: &[Candidate],
        local: usize,
        remote: usize,
        controlling: bool,
        checks_started: bool,
    ) -> AddOutcome {
        let (Some(l), Some(r)) = (locals.get(local), remotes.get(remote)) else {
            return AddOutcome::Incompatible;
        };
        if !l.can_pair_with(r) {
            return AddOutcome::Incompatible;
        }
        let priority = pair_priority_for(l.priority, r.priority, controlling);
        // Redundancy: same local base, identical remote (address and transport).
        if let Some(existing) = self.find(locals, remotes, local, remote) {
            // Checks on the existing pair stand unless it is only Waiting or Frozen
            // (RFC 8838 §11 step 4); a better new pair takes over its place.
            let pos = self.position(existing);
            let p = &mut self.pairs[pos];
            let settled = !matches!(p.state, PairState::Waiting | PairState::Frozen);
            if r.kind == super::candidate::CandidateKind::PeerReflexive
                || settled
                || p.priority >= priority
            {
                // RFC 8838 §11 step 4.A: a newly learned peer-reflexive remote yields to
                // the existing pair, which takes the discarded pair's priority.
                if r.kind == super::candidate::CandidateKind::PeerReflexive && !settled {
                    p.priority = priority;
                    self.sort();
                }
                return AddOutcome::Redundant(existing);
            }
            p.local = local;
            p.remote = remote;
            p.priority = priority;
            p.foundation = (l.foundation.clone(), r.foundation.clone());
            self.sort();
            return AddOutcome::Redundant(existing);
        }
        if self.pairs.len() >= self.max_pairs {
            // Make room: first a Failed pair, then the lowest-priority pair below ours.
            if let Some(pos) = self
                .pairs
                .iter()
                .rposition(|p| p.state == PairState::Failed)
            {
                self.pairs.remove(pos);
            } else if let Some(pos) = self.pairs.iter().rposition(|p| {
                p.priority < priority && matches!(p.state, PairState::Frozen | PairState::Waiting)
            }) {
                self.pairs.remove(pos);
            } else {
                return AddOutcome::Full;
            }
        }
        let foundation = (l.foundation.clone(), r.foundation.clone());
        let state = if !checks_started {
            PairState::Frozen
        } else {
            let same: Vec<&CandidatePair> = self
                .pairs
                .iter()
                .filter(|p| p.foundation == foundation)
                .collect();
            let topmost = same.iter().all(|p| {
                (l.component, std::cmp::Reverse(priority))
                    < (p.component, std::cmp::Reverse(p.priority))
            });
            let any_succeeded = same.iter().any(|p| p.state == PairState::Succeeded);
            if topmost || any_succeeded {
                PairState::Waiting
            } else {
                PairState::Frozen
            }
        };
        let id = PairId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.pairs.push(CandidatePair {
            id,
            local,
            remote,
            priority,
            state,
            foundation,
            component: l.component,
            triggered_only: l.protocol
                == super::candidate::TransportProtocol::Tcp(super::candidate::TcpType::Passive),
        });
        self.sort();
        AddOutcome::Added(id)
    }

    fn position(&self, id: PairId) -> usize {
        self.pairs.iter().position(|p| p.id == id).unwrap_or(0)
    }

    /// Sorts by decreasing priority (ties by age, so the order is deterministic).
    pub fn sort(&mut self) {
        self.pairs
            .sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    }

    /// Recomputes every pair priority for a new role (after a role conflict) and re-sorts.
    pub fn recompute_priorities(
        &mut self,
        locals: &[Candidate],
        remotes: &[Candidate],
        controlling: bool,
    ) {
        for p in &mut self.pairs {
            if let (Some(l), Some(r)) = (locals.get(p.local), remotes.get(p.remote)) {
                p.priority = pair_priority_for(l.priority, r.priority, controlling);
            }
        }
        self.sort();
    }

    /// The initial states of RFC 8445 §6.1.2.6: everything Frozen, then for each
    /// foundation the pair with the lowest component ID and highest priority Waiting.
    pub fn initial_unfreeze(&mut self) {
        let mut firsts: Vec<(Foundation, Foundation, u16, u64, PairId)> = Vec::new();
        for p in &self.pairs {
            if p.state != PairState::Frozen {
                continue;
            }
            match firsts
                .iter_mut()
                .find(|f| f.0 == p.foundation.0 && f.1 == p.foundation.1)
            {
                Some(f) => {
                    if (p.component, std::cmp::Reverse(p.priority)) < (f.2, std::cmp::Reverse(f.3))
                    {
                        f.2 = p.component;
                        f.3 = p.priority;
                        f.4 = p.id;
                    }
                }
                None => firsts.push((
                    p.foundation.0.clone(),
                    p.foundation.1.clone(),
                    p.component,
                    p.priority,
                    p.id,
                )),
            }
        }
        for f in firsts {
            if let Some(p) = self.get_mut(f.4) {
                p.state = PairState::Waiting;
            }
        }
    }

    /// RFC 8445 §7.2.5.3.3: when a pair succeeds, every Frozen pair with its foundation
    /// becomes Waiting.
    pub fn unfreeze_foundation(&mut self, foundation: &(Foundation, Foundation)) {
        for p in &mut self.pairs {
            if p.state == PairState::Frozen && &p.foundation == foundation {
                p.state = PairState::Waiting;
            }
        }
    }

    /// The pair for the next ordinary check (RFC 8445 §6.1.4.2 steps 2 and 3): the
    /// highest-priority Waiting pair; if none, the highest-priority Frozen pair whose
    /// foundation has no pair Waiting or In-Progress is unfrozen and chosen.
    pub fn next_ordinary(&mut self) -> Option<PairId> {
        if let Some(p) = self
            .pairs
            .iter()
            .find(|p| p.state == PairState::Waiting && !p.triggered_only)
        {
            return Some(p.id);
        }
        let busy = |f: &(Foundation, Foundation), pairs: &[CandidatePair]| {
            pairs.iter().any(|p| {
                &p.foundation == f && matches!(p.state, PairState::Waiting | PairState::InProgress)
            })
        };
        let candidate = self
            .pairs
            .iter()
            .find(|p| {
                p.state == PairState::Frozen
                    && !p.triggered_only
                    && !busy(&p.foundation, &self.pairs)
            })
            .map(|p| p.id)?;
        if let Some(p) = self.get_mut(candidate) {
            p.state = PairState::Waiting;
        }
        Some(candidate)
    }

    /// True when every pair is Succeeded or Failed (nothing more to check). Pairs that only
    /// a triggered check can test and that were never triggered count as done when
    /// `give_up_waiting` is set (the peer had its time to connect).
    pub fn all_done(&self, give_up_waiting: bool) -> bool {
        self.pairs.iter().all(|p| {
            matches!(p.state, PairState::Succeeded | PairState::Failed)
                || (give_up_waiting
                    && p.triggered_only
                    && matches!(p.state, PairState::Frozen | PairState::Waiting))
        })
    }

    /// Removes every pair.
    pub fn clear(&mut self) {
        self.pairs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::candidate::{
        CandidateKind, Foundation, TcpType, TransportProtocol, priority,
    };
    use super::*;
    use std::net::SocketAddr;

    fn cand(addr: &str, kind: CandidateKind, local_pref: u16, f: u32) -> Candidate {
        let a: SocketAddr = addr.parse().unwrap();
        Candidate {
            address: a,
            base: a,
            kind,
            protocol: TransportProtocol::Udp,
            component: 1,
            priority: priority(kind.type_preference(), local_pref, 1),
            foundation: Foundation::from_index(f),
            related: None,
        }
    }

    #[test]
    fn pair_priority_matches_rfc_8445_6_1_2_3() {
        let g = 2_130_706_431u32;
        let d = 1_694_498_815u32;
        assert_eq!(pair_priority(g, d), ((d as u64) << 32) + 2 * g as u64 + 1);
        assert_eq!(pair_priority(d, g), ((d as u64) << 32) + 2 * g as u64);
        assert_eq!(pair_priority(5, 5), (5u64 << 32) + 10);
        // Both agents compute the same value for the same pair.
        assert_eq!(
            pair_priority_for(g, d, true),
            pair_priority_for(d, g, false)
        );
        let top = (1u32 << 31) - 1;
        assert_eq!(
            pair_priority(top, top),
            ((top as u64) << 32) + 2 * top as u64
        );
        let _ = pair_priority(u32::MAX, u32::MAX - 1);
    }

    #[test]
    fn pairs_sorted_pruned_and_unfrozen_per_foundation() {
        let locals = vec![
            cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1),
            cand("192.0.2.2:1000", CandidateKind::Host, 65533, 2),
            cand("[2001:db8::1]:1000", CandidateKind::Host, 65534, 3),
        ];
        let remotes = vec![
            cand("198.51.100.1:2000", CandidateKind::Host, 65535, 1),
            cand(
                "198.51.100.9:2000",
                CandidateKind::ServerReflexive,
                65535,
                2,
            ),
        ];
        let mut cl = CheckList::new(DEFAULT_MAX_PAIRS);
        for l in 0..locals.len() {
            for r in 0..remotes.len() {
                cl.add_pair(&locals, &remotes, l, r, true, false);
            }
        }
        // IPv6 local has no IPv6 remote: 4 pairs.
        assert_eq!(cl.len(), 4);
        assert!(
            cl.pairs()
                .windows(2)
                .all(|w| w[0].priority >= w[1].priority)
        );
        assert_eq!(cl.pairs()[0].local, 0);
        assert_eq!(cl.pairs()[0].remote, 0);
        assert!(cl.pairs().iter().all(|p| p.state == PairState::Frozen));
        cl.initial_unfreeze();
        // Four distinct foundations: all Waiting.
        assert!(cl.pairs().iter().all(|p| p.state == PairState::Waiting));
        // Adding the same pair again is redundant.
        assert!(matches!(
            cl.add_pair(&locals, &remotes, 0, 0, true, true),
            AddOutcome::Redundant(_)
        ));
    }

    #[test]
    fn unfreeze_one_per_foundation_then_on_success() {
        // Two locals with the same foundation against one remote: one Waiting, one Frozen.
        let locals = vec![
            cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1),
            cand("192.0.2.1:1001", CandidateKind::Host, 65533, 1),
        ];
        let remotes = vec![cand("198.51.100.1:2000", CandidateKind::Host, 65535, 7)];
        let mut cl = CheckList::new(10);
        cl.add_pair(&locals, &remotes, 0, 0, false, false);
        cl.add_pair(&locals, &remotes, 1, 0, false, false);
        cl.initial_unfreeze();
        assert_eq!(cl.pairs()[0].state, PairState::Waiting);
        assert_eq!(cl.pairs()[1].state, PairState::Frozen);
        // Ordinary check takes the Waiting one.
        let first = cl.next_ordinary().unwrap();
        assert_eq!(first, cl.pairs()[0].id);
        cl.get_mut(first).unwrap().state = PairState::InProgress;
        // The other pair's foundation is busy: nothing to unfreeze.
        assert_eq!(cl.next_ordinary(), None);
        cl.get_mut(first).unwrap().state = PairState::Succeeded;
        let f = cl.get(first).unwrap().foundation.clone();
        cl.unfreeze_foundation(&f);
        assert_eq!(cl.pairs()[1].state, PairState::Waiting);
    }

    #[test]
    fn frozen_pair_unfrozen_when_foundation_idle() {
        let locals = vec![
            cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1),
            cand("192.0.2.1:1001", CandidateKind::Host, 65533, 1),
        ];
        let remotes = vec![cand("198.51.100.1:2000", CandidateKind::Host, 65535, 7)];
        let mut cl = CheckList::new(10);
        cl.add_pair(&locals, &remotes, 0, 0, true, false);
        cl.add_pair(&locals, &remotes, 1, 0, true, false);
        cl.initial_unfreeze();
        let first = cl.next_ordinary().unwrap();
        cl.get_mut(first).unwrap().state = PairState::Failed;
        let second = cl.next_ordinary().unwrap();
        assert_ne!(first, second);
        assert_eq!(cl.get(second).unwrap().state, PairState::Waiting);
    }

    #[test]
    fn trickled_pairs_follow_rfc_8838_rules() {
        let locals = vec![
            cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1),
            cand("192.0.2.1:1001", CandidateKind::Host, 60000, 1),
        ];
        let remotes = vec![
            cand("198.51.100.1:2000", CandidateKind::Host, 65535, 7),
            cand("198.51.100.1:2001", CandidateKind::Host, 60000, 8),
        ];
        let mut cl = CheckList::new(10);
        // Rule 1: the only pair of its foundation is topmost: Waiting.
        let AddOutcome::Added(a) = cl.add_pair(&locals, &remotes, 1, 0, true, true) else {
            panic!()
        };
        assert_eq!(cl.get(a).unwrap().state, PairState::Waiting);
        // Rule 1 again: higher priority, same foundation: Waiting.
        let AddOutcome::Added(b) = cl.add_pair(&locals, &remotes, 0, 0, true, true) else {
            panic!()
        };
        assert_eq!(cl.get(b).unwrap().state, PairState::Waiting);
        // Rule 3: new foundation (1,8) with no success: topmost, Waiting; then a lower one
        // with the same foundation is Frozen.
        let AddOutcome::Added(c) = cl.add_pair(&locals, &remotes, 0, 1, true, true) else {
            panic!()
        };
        assert_eq!(cl.get(c).unwrap().state, PairState::Waiting);
        let AddOutcome::Added(d) = cl.add_pair(&locals, &remotes, 1, 1, true, true) else {
            panic!()
        };
        assert_eq!(cl.get(d).unwrap().state, PairState::Frozen);
    }

    #[test]
    fn trickled_pair_waiting_when_foundation_succeeded() {
        let locals = vec![
            cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1),
            cand("192.0.2.1:1001", CandidateKind::Host, 60000, 1),
        ];
        let remotes = vec![cand("198.51.100.1:2000", CandidateKind::Host, 65535, 7)];
        let mut cl = CheckList::new(10);
        let AddOutcome::Added(a) = cl.add_pair(&locals, &remotes, 0, 0, true, true) else {
            panic!()
        };
        cl.get_mut(a).unwrap().state = PairState::Succeeded;
        let AddOutcome::Added(b) = cl.add_pair(&locals, &remotes, 1, 0, true, true) else {
            panic!()
        };
        assert_eq!(cl.get(b).unwrap().state, PairState::Waiting);
    }

    #[test]
    fn limit_discards_failed_then_lower_priority() {
        let locals = vec![cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1)];
        let remotes: Vec<Candidate> = (0..5)
            .map(|i| {
                cand(
                    &format!("198.51.100.1:{}", 2000 + i),
                    CandidateKind::Host,
                    1000 + i as u16,
                    10 + i,
                )
            })
            .collect();
        let mut cl = CheckList::new(3);
        for r in 0..3 {
            cl.add_pair(&locals, &remotes, 0, r, true, false);
        }
        assert_eq!(cl.len(), 3);
        // Full: a higher-priority pair evicts the lowest one.
        assert!(matches!(
            cl.add_pair(&locals, &remotes, 0, 4, true, false),
            AddOutcome::Added(_)
        ));
        assert_eq!(cl.len(), 3);
        assert!(cl.pairs().iter().all(|p| p.remote != 0));
        // A lower-priority one is refused.
        let lower = cand("198.51.100.1:1999", CandidateKind::Relayed, 1, 99);
        let mut remotes2 = remotes.clone();
        remotes2.push(lower);
        assert_eq!(
            cl.add_pair(&locals, &remotes2, 0, 5, true, false),
            AddOutcome::Full
        );
        // A Failed pair makes room for anything.
        let last = cl.pairs()[2].id;
        cl.get_mut(last).unwrap().state = PairState::Failed;
        assert!(matches!(
            cl.add_pair(&locals, &remotes2, 0, 5, true, false),
            AddOutcome::Added(_)
        ));
        assert_eq!(cl.len(), 3);
    }

    #[test]
    fn role_change_recomputes_priorities() {
        let locals = vec![cand("192.0.2.1:1000", CandidateKind::Host, 65535, 1)];
        let remotes = vec![cand("198.51.100.1:2000", CandidateKind::Relayed, 5, 2)];
        let mut cl = CheckList::new(10);
        cl.add_pair(&locals, &remotes, 0, 0, true, false);
        let before = cl.pairs()[0].priority;
        cl.recompute_priorities(&locals, &remotes, false);
        assert_eq!(before, cl.pairs()[0].priority + 1);
    }

    #[test]
    fn tcp_active_pairs_only_with_passive() {
        let mut l = cand("192.0.2.1:9", CandidateKind::Host, 65535, 1);
        l.protocol = TransportProtocol::Tcp(TcpType::Active);
        let mut r1 = cand("198.51.100.1:2000", CandidateKind::Host, 65535, 2);
        r1.protocol = TransportProtocol::Tcp(TcpType::Active);
        let mut r2 = r1.clone();
        r2.protocol = TransportProtocol::Tcp(TcpType::Passive);
        let locals = vec![l];
        let remotes = vec![r1, r2];
        let mut cl = CheckList::new(10);
        assert_eq!(
            cl.add_pair(&locals, &remotes, 0, 0, true, false),
            AddOutcome::Incompatible
        );
        assert!(matches!(
            cl.add_pair(&locals, &remotes, 0, 1, true, false),
            AddOutcome::Added(_)
        ));
    }

    #[test]
    fn tcp_passive_local_pairs_wait_for_triggered_checks() {
        let mut l = cand("192.0.2.1:5000", CandidateKind::Host, 65535, 1);
        l.protocol = TransportProtocol::Tcp(TcpType::Passive);
        let mut r = cand("198.51.100.1:9", CandidateKind::Host, 65535, 2);
        r.protocol = TransportProtocol::Tcp(TcpType::Active);
        let (locals, remotes) = (vec![l], vec![r]);
        let mut cl = CheckList::new(10);
        let AddOutcome::Added(id) = cl.add_pair(&locals, &remotes, 0, 0, true, false) else {
            panic!("pair formed")
        };
        cl.initial_unfreeze();
        assert!(cl.get(id).unwrap().triggered_only);
        assert_eq!(
            cl.next_ordinary(),
            None,
            "a passive candidate opens no connection"
        );
        assert!(!cl.all_done(false));
        assert!(cl.all_done(true));
    }

    proptest::proptest! {
        #[test]
        fn pair_priority_agrees_between_agents_and_orders_by_min(
            g in 1u32..0x8000_0000,
            d in 1u32..0x8000_0000,
            e in 1u32..0x8000_0000,
        ) {
            // Both agents compute the same value for the same pair (RFC 8445 §6.1.2.3).
            proptest::prop_assert_eq!(pair_priority_for(g, d, true), pair_priority_for(d, g, false));
            // The smaller candidate priority dominates the order.
            let (p1, p2) = (pair_priority(g, d), pair_priority(g, e));
            if d.min(g) < e.min(g) {
                proptest::prop_assert!(p1 < p2);
            }
            // Distinct (G, D) give distinct priorities.
            if d != e {
                proptest::prop_assert_ne!(p1, p2);
            }
        }
    }
}
