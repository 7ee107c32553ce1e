//! Trickled remote candidates (RFC 8838, W3C `addIceCandidate`).

use super::*;

impl Negotiator {
    /// Adds a trickled remote candidate, or end-of-candidates (W3C `addIceCandidate`,
    /// RFC 8829 §4.1.19, RFC 8838 §4.4). It is written into the remote description and
    /// into the current [`Negotiation`]'s transport. Returns the transport it is for.
    ///
    /// # Errors
    /// [`AddCandidateError::Usage`] with no remote description or no mid/index;
    /// [`AddCandidateError::Remote`] when it names no m-line in use or an old ufrag.
    pub fn add_ice_candidate(
        &mut self,
        candidate: &RemoteCandidate,
    ) -> Result<TrickledCandidate, AddCandidateError> {
        self.check_open()?;
        let pending = self.state.pending_remote.is_some();
        let Some(remote) = self
            .state
            .pending_remote
            .as_ref()
            .or(self.state.current_remote.as_ref())
        else {
            return Err(UsageError::NoRemoteDescription.into());
        };
        let index = match (&candidate.mid, candidate.m_line_index) {
            (Some(mid), _) => remote
                .analysis
                .mids
                .iter()
                .position(|m| m.as_ref() == Some(mid))
                .ok_or_else(|| CandidateError::UnknownMid(mid.clone()))?,
            (None, Some(i)) if i < remote.sdp.media.len() => i,
            (None, Some(i)) => return Err(CandidateError::MLineIndexOutOfRange(i).into()),
            (None, None) => return Err(UsageError::CandidateWithoutMid.into()),
        };
        let Some((_, transport)) = remote.analysis.transport_of(index) else {
            let mid = remote.analysis.mids[index].clone().unwrap_or_else(|| {
                Mid::new(index.to_string())
                    .unwrap_or_else(|_| unreachable!("digits are a valid mid"))
            });
            return Err(CandidateError::RejectedMedia(mid).into());
        };
        let ufrag = candidate.ufrag.as_deref().or_else(|| {
            candidate
                .candidate
                .as_ref()
                .and_then(|c| c.extension("ufrag"))
        });
        if ufrag.is_some_and(|u| u != transport.ufrag) {
            return Err(CandidateError::UfragMismatch.into());
        }
        let transport_mid = transport.mid.clone();
        let tag = transport.indices[0];
        let target = if pending {
            self.state.pending_remote.as_mut()
        } else {
            self.state.current_remote.as_mut()
        };
        if let Some(target) = target {
            remote::push_candidate(
                Arc::make_mut(&mut target.sdp),
                index,
                candidate.candidate.as_ref(),
            );
            if let Some(t) = target
                .analysis
                .transports
                .iter_mut()
                .find(|t| t.indices[0] == tag)
            {
                match &candidate.candidate {
                    Some(c) => t.candidates.push(c.clone()),
                    None => t.end_of_candidates = true,
                }
            }
        }
        if let Some(n) = self.state.negotiation.as_mut()
            && let Some(t) = n
                .transports
                .iter_mut()
                .find(|t| t.mids.first() == Some(&transport_mid))
        {
            match &candidate.candidate {
                Some(c) => t.remote_candidates.push(c.clone()),
                None => t.remote_end_of_candidates = true,
            }
        }
        Ok(TrickledCandidate {
            transport_mid,
            candidate: candidate.candidate.clone(),
        })
    }
}
