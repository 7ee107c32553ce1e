//! The agent's use of the STUN codec: Binding requests and responses for connectivity
//! checks (RFC 8445 §7.1, §7.3) and for server-reflexive gathering (RFC 8445 §5.1.1.2).

use std::net::SocketAddr;

use crate::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType, Method,
    TransactionId,
};

/// The role attribute a check carries (RFC 8445 §7.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleAttr {
    Controlling(u64),
    Controlled(u64),
}

/// What goes into a connectivity-check request (RFC 8445 §7.1).
pub(crate) struct CheckRequest<'a> {
    pub txid: TransactionId,
    /// `remote-ufrag ":" local-ufrag` (RFC 8445 §7.2.2).
    pub username: &'a str,
    pub key: &'a IntegrityKey,
    pub priority: u32,
    pub use_candidate: bool,
    pub role: RoleAttr,
}

/// Encodes a check request into `out` (cleared first).
pub(crate) fn encode_check(req: &CheckRequest<'_>, out: &mut Vec<u8>) {
    out.clear();
    let mut b = MessageBuilder::new(
        out,
        MessageType::new(Class::Request, Method::BINDING),
        req.txid,
    );
    // Every attribute here is well formed by construction (a username below 513 bytes of
    // ice-chars, fixed-size values), so the builder cannot refuse it; a refusal would only
    // leave the message without that attribute and the peer would drop it.
    let _ = b.add(&Attribute::Username(req.username));
    let _ = b.add(&Attribute::Priority(req.priority));
    match req.role {
        RoleAttr::Controlling(t) => {
            let _ = b.add(&Attribute::IceControlling(t));
        }
        RoleAttr::Controlled(t) => {
            let _ = b.add(&Attribute::IceControlled(t));
        }
    }
    if req.use_candidate {
        let _ = b.add(&Attribute::UseCandidate);
    }
    let _ = b.add_message_integrity(req.key);
    let _ = b.add_fingerprint();
    let _ = b.finish();
}

/// Encodes a plain Binding request to a STUN server (RFC 8489 §6.1, no credentials).
pub(crate) fn encode_server_request(txid: TransactionId, out: &mut Vec<u8>) {
    out.clear();
    let mut b = MessageBuilder::new(out, MessageType::new(Class::Request, Method::BINDING), txid);
    let _ = b.add_fingerprint();
    let _ = b.finish();
}

/// Encodes a Binding success response carrying XOR-MAPPED-ADDRESS (RFC 8445 §7.3.1).
pub(crate) fn encode_success(
    txid: TransactionId,
    mapped: SocketAddr,
    key: &IntegrityKey,
    out: &mut Vec<u8>,
) {
    out.clear();
    let mut b = MessageBuilder::new(
        out,
        MessageType::new(Class::SuccessResponse, Method::BINDING),
        txid,
    );
    let _ = b.add(&Attribute::XorMappedAddress(mapped));
    let _ = b.add_message_integrity(key);
    let _ = b.add_fingerprint();
    let _ = b.finish();
}

/// Encodes a Binding error response (487 Role Conflict, RFC 8445 §7.3.1.1).
pub(crate) fn encode_error(
    txid: TransactionId,
    code: u16,
    reason: &str,
    key: &IntegrityKey,
    out: &mut Vec<u8>,
) {
    out.clear();
    let mut b = MessageBuilder::new(
        out,
        MessageType::new(Class::ErrorResponse, Method::BINDING),
        txid,
    );
    let _ = b.add(&Attribute::ErrorCode(ErrorCode { code, reason }));
    let _ = b.add_message_integrity(key);
    let _ = b.add_fingerprint();
    let _ = b.finish();
}

/// A received Binding message, checked for structure and (when present) FINGERPRINT.
pub(crate) struct Incoming<'a> {
    pub msg: Message<'a>,
}

/// Why an incoming STUN message was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not a well-formed STUN message, or a FINGERPRINT that does not match.
    Malformed(crate::stun::Error),
    /// A method other than Binding.
    Unsupported(Method),
}

/// Parses and checks a STUN datagram for the agent.
pub(crate) fn parse(datagram: &[u8]) -> Result<Incoming<'_>, Reject> {
    let msg = Message::new_checked(datagram).map_err(Reject::Malformed)?;
    if msg.has_fingerprint() {
        msg.check_fingerprint().map_err(Reject::Malformed)?;
    }
    if msg.method() != Method::BINDING {
        return Err(Reject::Unsupported(msg.method()));
    }
    Ok(Incoming { msg })
}

/// Does the message carry a MESSAGE-INTEGRITY that verifies with `key`?
pub(crate) fn integrity_ok(msg: &Message<'_>, key: &IntegrityKey) -> bool {
    msg.has_integrity() && msg.check_message_integrity(key).is_ok()
}

/// RFC 7983 §7 / RFC 8489 §5: a STUN message starts with a byte in 0..=3 and carries the
/// magic cookie at offset 4.
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= crate::stun::HEADER_LEN
        && datagram[0] < 4
        && datagram[4..8] == crate::stun::MAGIC_COOKIE.to_be_bytes()
}
