//! TURN relayed data path: wrapping 1200-byte payloads for the server (ChannelData, Send
//! indication) and unwrapping what the server relays (ChannelData, Data indication),
//! ferrtc-stun-ice's TURN client beside webrtc-rs's `turn` 0.17 message code, used the way
//! its own client uses it per packet (`turn::client`: `ChannelData { data: p.to_vec(), .. }`
//! and `encode()`, `Message::build` with `Data(p.to_vec())`, `raw: data.to_vec()` then
//! `decode()`).

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ferrtc_stun_ice::framing::ChannelData;
use ferrtc_stun_ice::stun::{
    Attribute, Class, ErrorCode, IntegrityKey, Message, MessageBuilder, MessageType, Method,
    TransactionId,
};
use ferrtc_stun_ice::turn::{Client, ClientConfig, TurnTransport};
use rand::SeedableRng;
use stun::agent::TransactionId as WTransactionId;
use stun::fingerprint::FINGERPRINT;
use stun::message::{
    CLASS_INDICATION, Getter, METHOD_DATA, METHOD_SEND, Message as WMessage,
    MessageType as WMessageType,
};
use turn::proto::chandata::ChannelData as WChannelData;
use turn::proto::channum::ChannelNumber;
use turn::proto::data::Data as WData;
use turn::proto::peeraddr::PeerAddress;

use crate::{Case, Config, Row, Unit, compare};

/// The payload size of every workload: a typical media packet.
pub const PAYLOAD: usize = 1200;

/// The TURN server of the fixtures.
pub fn server() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 3478))
}

/// The peer of the fixtures.
pub fn peer() -> SocketAddr {
    SocketAddr::from(([198, 51, 100, 7], 9000))
}

fn respond(
    request: &[u8],
    class: Class,
    attrs: &[Attribute<'_>],
    key: Option<&IntegrityKey>,
) -> Vec<u8> {
    let req = Message::new_checked(request).expect("the client's own request");
    let mut out = Vec::new();
    let mut b = MessageBuilder::new(
        &mut out,
        MessageType::new(class, req.method()),
        req.transaction_id(),
    );
    for a in attrs {
        b.add(a).expect("fixture attributes fit");
    }
    if let Some(k) = key {
        b.add_message_integrity(k).expect("fits");
    }
    out
}

/// A ferrtc TURN client over UDP with an allocation and a permission for [`peer`], and a
/// channel bound to it when `channel` is set; driven through the handshake with responses
/// built here.
pub fn allocated_client(channel: bool) -> Client {
    let now = Instant::now();
    let key = IntegrityKey::long_term("user", "bench", "pass");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut c = Client::new(
        ClientConfig::new(server(), TurnTransport::Udp, "user", "pass"),
        &mut rng,
    );
    let answer = |c: &mut Client, attrs: &[Attribute<'_>], signed: bool, class: Class| {
        let req = c.poll_transmit().expect("a request").contents;
        let resp = respond(&req, class, attrs, signed.then_some(&key));
        c.handle_receive(now, server(), &resp).expect("accepted");
    };
    c.allocate(now).expect("idle");
    answer(
        &mut c,
        &[
            Attribute::ErrorCode(ErrorCode {
                code: 401,
                reason: "",
            }),
            Attribute::Realm("bench"),
            Attribute::Nonce("n"),
        ],
        false,
        Class::ErrorResponse,
    );
    let relayed = SocketAddr::from(([192, 0, 2, 1], 50_000));
    answer(
        &mut c,
        &[
            Attribute::XorRelayedAddress(relayed),
            Attribute::Lifetime(600),
        ],
        true,
        Class::SuccessResponse,
    );
    c.create_permission(now, peer().ip()).expect("allocated");
    answer(&mut c, &[], true, Class::SuccessResponse);
    if channel {
        c.bind_channel(now, peer()).expect("allocated");
        answer(&mut c, &[], true, Class::SuccessResponse);
    }
    while c.poll_event().is_some() {}
    assert!(c.is_allocated());
    c
}

/// A ChannelData message on channel 0x4000 carrying `payload`, as the server relays it.
pub fn channel_data(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ChannelData {
        channel: 0x4000,
        data: payload,
    }
    .encode(false, &mut out)
    .expect("fits");
    out
}

/// A Data indication from [`peer`] carrying `payload`, as the server relays it.
pub fn data_indication(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MessageBuilder::new(
        &mut out,
        MessageType::new(Class::Indication, Method::DATA),
        TransactionId([9; 12]),
    )
    .add(&Attribute::XorPeerAddress(peer()))
    .and_then(|b| b.add(&Attribute::Data(payload)))
    .expect("fits");
    out
}

/// webrtc-rs: wraps `payload` in ChannelData as its client's `send_to` does.
pub fn wrap_channel_webrtc_rs(payload: &[u8]) -> Vec<u8> {
    let mut cd = WChannelData {
        data: payload.to_vec(),
        number: ChannelNumber(0x4000),
        ..Default::default()
    };
    cd.encode();
    cd.raw
}

/// webrtc-rs: unwraps ChannelData as its client's `handle_channel_data` does.
pub fn unwrap_channel_webrtc_rs(datagram: &[u8]) -> usize {
    let mut cd = WChannelData {
        raw: datagram.to_vec(),
        ..Default::default()
    };
    cd.decode().expect("valid ChannelData");
    cd.data.len()
}

/// webrtc-rs: a Send indication (data, peer address, fingerprint) as its relay connection's
/// `send_to` builds it.
pub fn wrap_send_webrtc_rs(payload: &[u8]) -> Vec<u8> {
    let p = peer();
    let mut msg = WMessage::new();
    msg.build(&[
        Box::new(WTransactionId::new()),
        Box::new(WMessageType::new(METHOD_SEND, CLASS_INDICATION)),
        Box::new(WData(payload.to_vec())),
        Box::new(PeerAddress {
            ip: p.ip(),
            port: p.port(),
        }),
        Box::new(FINGERPRINT),
    ])
    .expect("fits");
    msg.raw
}

/// webrtc-rs: decodes a Data indication and reads its peer address and data, as its client's
/// `handle_stun_message` does.
pub fn unwrap_data_webrtc_rs(datagram: &[u8]) -> (IpAddr, usize) {
    let mut msg = WMessage::new();
    msg.raw = datagram.to_vec();
    msg.decode().expect("valid STUN");
    assert!(msg.typ.method == METHOD_DATA);
    let mut peer = PeerAddress::default();
    peer.get_from(&msg).expect("peer address");
    let mut data = WData::default();
    data.get_from(&msg).expect("data");
    (peer.ip, data.0.len())
}

/// The TURN rows of the report.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let payload = vec![0x5Au8; PAYLOAD];
    let now = Instant::now();
    let mut rows = Vec::new();

    let mut with_channel = allocated_client(true);
    let mut out = Vec::with_capacity(2048);
    rows.extend(compare(
        cfg,
        "TURN ChannelData wrap 1200 B",
        Unit::Bytes(PAYLOAD as u64),
        Case::new("ferrtc", || {
            out.clear();
            with_channel
                .encode_to(peer(), &payload, &mut out)
                .expect("bound");
            black_box(out.len());
        }),
        vec![Case::new("webrtc-rs turn", || {
            black_box(wrap_channel_webrtc_rs(&payload).len());
        })],
    ));

    let cd = channel_data(&payload);
    let mut with_channel = allocated_client(true);
    rows.extend(compare(
        cfg,
        "TURN ChannelData unwrap 1200 B",
        Unit::Bytes(PAYLOAD as u64),
        Case::new("ferrtc", || {
            let got = with_channel
                .handle_receive(now, server(), &cd)
                .expect("valid");
            black_box(got.map(|(_, d)| d.len()));
        }),
        vec![Case::new("webrtc-rs turn", || {
            black_box(unwrap_channel_webrtc_rs(&cd));
        })],
    ));

    let mut permission_only = allocated_client(false);
    let mut out = Vec::with_capacity(2048);
    rows.extend(compare(
        cfg,
        "TURN Send indication wrap 1200 B",
        Unit::Bytes(PAYLOAD as u64),
        Case::new("ferrtc", || {
            out.clear();
            permission_only
                .encode_to(peer(), &payload, &mut out)
                .expect("permitted");
            black_box(out.len());
        }),
        vec![Case::new("webrtc-rs turn", || {
            black_box(wrap_send_webrtc_rs(&payload).len());
        })],
    ));

    let di = data_indication(&payload);
    let mut permission_only = allocated_client(false);
    rows.extend(compare(
        cfg,
        "TURN Data indication unwrap 1200 B",
        Unit::Bytes(PAYLOAD as u64),
        Case::new("ferrtc", || {
            let got = permission_only
                .handle_receive(now, server(), &di)
                .expect("valid");
            black_box(got.map(|(_, d)| d.len()));
        }),
        vec![Case::new("webrtc-rs turn", || {
            black_box(unwrap_data_webrtc_rs(&di));
        })],
    ));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both sides of each workload produce and accept the same bytes.
    #[test]
    fn workloads_agree() {
        let payload = vec![7u8; PAYLOAD];
        let mut c = allocated_client(true);
        let mut out = Vec::new();
        c.encode_to(peer(), &payload, &mut out).unwrap();
        assert_eq!(out, wrap_channel_webrtc_rs(&payload));
        assert_eq!(unwrap_channel_webrtc_rs(&out), PAYLOAD);
        let now = Instant::now();
        assert_eq!(
            c.handle_receive(now, server(), &out).unwrap(),
            Some((peer(), &payload[..]))
        );

        let mut p = allocated_client(false);
        let mut ours = Vec::new();
        p.encode_to(peer(), &payload, &mut ours).unwrap();
        let theirs = wrap_send_webrtc_rs(&payload);
        for m in [&ours, &theirs] {
            let msg = Message::new_checked(m).unwrap();
            assert_eq!(
                (msg.class(), msg.method()),
                (Class::Indication, Method::SEND)
            );
            assert_eq!(msg.xor_peer_address(), Some(peer()));
            assert_eq!(msg.data(), Some(&payload[..]));
            msg.check_fingerprint().unwrap();
        }
        let di = data_indication(&payload);
        assert_eq!(unwrap_data_webrtc_rs(&di), (peer().ip(), PAYLOAD));
        assert_eq!(
            p.handle_receive(now, server(), &di).unwrap(),
            Some((peer(), &payload[..]))
        );
    }
}
