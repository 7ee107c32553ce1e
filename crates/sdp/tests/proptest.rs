//! Property: for every generated typed session, `parse(serialize(x)) == x`, and serializing
//! is stable. And for models built by hand with any text in their fields, `validate` is
//! exact: it accepts a model if and only if the model round-trips.

use ferrtc_sdp::{
    AddressType, Attribute, Bandwidth, BandwidthType, BuildFault, Candidate, CandidateKind,
    CandidateTransport, CandidateType, Connection, Direction, Extmap, ExtmapId, FeedbackType,
    Fingerprint, FingerprintAttribute, Fmtp, Group, GroupSemantics, HashAlgorithm,
    MediaDescription, MediaKind, Mid, Msid, NetworkType, Origin, Parameter, PayloadType, Repeat,
    Rid, RidAttribute, RidDirection, Rtcp, RtcpAddress, RtcpFb, Rtpmap, Sctpmap,
    SessionDescription, Setup, Simulcast, SimulcastRid, Ssrc, SsrcAttribute, SsrcGroup,
    SsrcGroupSemantics, TcpType, TimeUnit, TimeZone, Timing, TypedTime,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// A non-empty run of characters with no space, `:`, `;`, `/`, `=`, `,` or `~`.
fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9._+{}-]{0,9}"
}

/// Free text: printable, possibly with inner spaces, no leading or trailing whitespace.
fn text() -> impl Strategy<Value = String> {
    "([!-~\u{e9}\u{4e2d}]([ -~]{0,14}[!-~])?)?"
}

fn nonempty_text() -> impl Strategy<Value = String> {
    "[!-~]([ -~]{0,14}[!-~])?"
}

/// Space-separated tokens, at least one.
fn words() -> impl Strategy<Value = String> {
    vec(token(), 1..4).prop_map(|w| w.join(" "))
}

fn other_token(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    token().prop_filter("must not be a known token", move |t| {
        !known.iter().any(|k| k.eq_ignore_ascii_case(t))
    })
}

fn network_type() -> impl Strategy<Value = NetworkType> {
    prop_oneof![
        4 => Just(NetworkType::In),
        1 => other_token(&["IN"]).prop_map(NetworkType::Other),
    ]
}

fn address_type() -> impl Strategy<Value = AddressType> {
    prop_oneof![
        Just(AddressType::Ip4),
        Just(AddressType::Ip6),
        other_token(&["IP4", "IP6"]).prop_map(AddressType::Other),
    ]
}

fn origin() -> impl Strategy<Value = Origin> {
    (
        token(),
        any::<u64>(),
        any::<u64>(),
        network_type(),
        address_type(),
        token(),
    )
        .prop_map(
            |(username, session_id, session_version, network_type, address_type, address)| Origin {
                username,
                session_id,
                session_version,
                network_type,
                address_type,
                address,
            },
        )
}

fn connection() -> impl Strategy<Value = Connection> {
    (
        network_type(),
        address_type(),
        token(),
        option::of(any::<u8>()),
        option::of(any::<u32>()),
    )
        .prop_map(|(network_type, address_type, address, ttl, count)| {
            let (ttl, address_count) = match address_type {
                AddressType::Ip4 => (ttl, ttl.and(count)),
                AddressType::Ip6 => (None, count),
                _ => (None, None),
            };
            Connection {
                network_type,
                address_type,
                address,
                ttl,
                address_count,
            }
        })
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (
        prop_oneof![
            Just(BandwidthType::As),
            Just(BandwidthType::Ct),
            Just(BandwidthType::Tias),
            Just(BandwidthType::Rs),
            Just(BandwidthType::Rr),
            other_token(&["AS", "CT", "TIAS", "RS", "RR"]).prop_map(BandwidthType::Other),
        ],
        any::<u64>(),
    )
        .prop_map(|(kind, value)| Bandwidth { kind, value })
}

fn typed_time() -> impl Strategy<Value = TypedTime> {
    (
        any::<u64>(),
        option::of(prop_oneof![
            Just(TimeUnit::Days),
            Just(TimeUnit::Hours),
            Just(TimeUnit::Minutes),
            Just(TimeUnit::Seconds),
        ]),
    )
        .prop_map(|(value, unit)| TypedTime { value, unit })
}

fn timing() -> impl Strategy<Value = Timing> {
    (
        any::<u64>(),
        any::<u64>(),
        vec(
            (typed_time(), typed_time(), vec(typed_time(), 1..3)).prop_map(
                |(interval, duration, offsets)| Repeat {
                    interval,
                    duration,
                    offsets,
                },
            ),
            0..2,
        ),
    )
        .prop_map(|(start, stop, repeats)| Timing {
            start,
            stop,
            repeats,
        })
}

fn time_zone() -> impl Strategy<Value = TimeZone> {
    (any::<u64>(), any::<bool>(), typed_time()).prop_map(|(time, negative, offset)| TimeZone {
        time,
        negative,
        offset,
    })
}

fn pt() -> impl Strategy<Value = PayloadType> {
    (0u8..=127).prop_map(|n| PayloadType::new(n).unwrap())
}

/// Any identification tag: printable ASCII but the space, and some non-ASCII.
fn mid() -> impl Strategy<Value = Mid> {
    "[!-~\u{e9}\u{4e2d}]{1,8}".prop_map(|m| Mid::new(m).unwrap())
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ]
}

fn parameter() -> impl Strategy<Value = Parameter> {
    (
        "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,8}",
        option::of("[a-zA-Z0-9=,./+-]{0,10}"),
    )
        .prop_filter("`pt` is the rid payload list", |(n, _)| n != "pt")
        .prop_map(|(name, value)| Parameter { name, value })
}

fn rid_id() -> impl Strategy<Value = Rid> {
    "[a-zA-Z0-9_-]{1,6}".prop_map(|r| Rid::new(r).unwrap())
}

fn simulcast_list() -> impl Strategy<Value = Vec<Vec<SimulcastRid>>> {
    vec(
        vec(
            (rid_id(), any::<bool>()).prop_map(|(rid, paused)| SimulcastRid { rid, paused }),
            1..3,
        ),
        0..3,
    )
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        (
            token(),
            any::<u16>(),
            prop_oneof![
                Just(CandidateTransport::Udp),
                Just(CandidateTransport::Tcp),
                other_token(&["udp", "tcp"]).prop_map(CandidateTransport::Other),
            ],
            any::<u32>(),
            token(),
            any::<u16>(),
        ),
        prop_oneof![
            Just(CandidateType::Known(CandidateKind::Host)),
            Just(CandidateType::Known(CandidateKind::ServerReflexive)),
            Just(CandidateType::Known(CandidateKind::PeerReflexive)),
            Just(CandidateType::Known(CandidateKind::Relayed)),
            other_token(&["host", "srflx", "prflx", "relay"]).prop_map(CandidateType::Other),
        ],
        option::of(token()),
        option::of(any::<u16>()),
        option::of(prop_oneof![
            Just(TcpType::Active),
            Just(TcpType::Passive),
            Just(TcpType::So),
        ]),
        vec((other_token(&["raddr", "rport", "tcptype"]), token()), 0..3),
    )
        .prop_map(
            |(
                (foundation, component, transport, priority, address, port),
                kind,
                related_address,
                related_port,
                tcp_type,
                extensions,
            )| Candidate {
                foundation,
                component,
                transport,
                priority,
                address,
                port,
                kind,
                related_address,
                related_port,
                tcp_type,
                extensions,
            },
        )
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (
            pt(),
            "[a-zA-Z0-9][a-zA-Z0-9._-]{0,8}",
            any::<u32>(),
            option::of(any::<u16>())
        )
            .prop_map(|(payload_type, encoding_name, clock_rate, channels)| {
                Attribute::Rtpmap(Rtpmap {
                    payload_type,
                    encoding_name,
                    clock_rate,
                    channels,
                })
            }),
        (pt(), vec(parameter(), 0..4)).prop_map(|(payload_type, parameters)| Attribute::Fmtp(
            Fmtp {
                payload_type,
                parameters
            }
        )),
        (
            option::of(pt()),
            prop_oneof![
                Just(FeedbackType::Ack),
                Just(FeedbackType::Nack),
                Just(FeedbackType::TrrInt),
                Just(FeedbackType::Ccm),
                Just(FeedbackType::GoogRemb),
                Just(FeedbackType::TransportCc),
                other_token(&["ack", "nack", "trr-int", "ccm", "goog-remb", "transport-cc"])
                    .prop_map(FeedbackType::Other),
            ],
            option::of(words()),
        )
            .prop_map(
                |(payload_type, feedback, parameter)| Attribute::RtcpFb(RtcpFb {
                    payload_type,
                    feedback,
                    parameter
                })
            ),
        (
            any::<u16>(),
            option::of(direction()),
            token(),
            option::of(words())
        )
            .prop_map(
                |(id, direction, uri, attributes)| Attribute::Extmap(Extmap {
                    id: ExtmapId::new(id),
                    direction,
                    uri,
                    attributes
                })
            ),
        Just(Attribute::ExtmapAllowMixed),
        (any::<u32>(), token(), option::of(text())).prop_map(|(ssrc, name, value)| {
            Attribute::Ssrc(SsrcAttribute {
                ssrc: Ssrc(ssrc),
                name,
                value,
            })
        }),
        (
            prop_oneof![
                Just(SsrcGroupSemantics::Fid),
                Just(SsrcGroupSemantics::Fec),
                Just(SsrcGroupSemantics::FecFr),
                Just(SsrcGroupSemantics::Sim),
                other_token(&["FID", "FEC", "FEC-FR", "SIM"])
                    .prop_filter("case-sensitive", |t| !["FID", "FEC", "FEC-FR", "SIM"]
                        .contains(&t.as_str()))
                    .prop_map(SsrcGroupSemantics::Other),
            ],
            vec(any::<u32>().prop_map(Ssrc), 0..4),
        )
            .prop_map(|(semantics, ssrcs)| Attribute::SsrcGroup(SsrcGroup { semantics, ssrcs })),
        (token(), option::of(token())).prop_map(|(stream_id, track_id)| Attribute::Msid(Msid {
            stream_id,
            track_id
        })),
        mid().prop_map(Attribute::Mid),
        (
            prop_oneof![
                Just(GroupSemantics::Bundle),
                Just(GroupSemantics::Ls),
                Just(GroupSemantics::Fid),
                other_token(&["BUNDLE", "LS", "FID"]).prop_map(GroupSemantics::Other),
            ],
            vec(mid(), 0..4),
        )
            .prop_map(|(semantics, mids)| Attribute::Group(Group { semantics, mids })),
        token().prop_map(Attribute::IceUfrag),
        token().prop_map(Attribute::IcePwd),
        vec(token(), 0..3).prop_map(Attribute::IceOptions),
        Just(Attribute::IceLite),
        candidate().prop_map(Attribute::Candidate),
        Just(Attribute::EndOfCandidates),
        prop_oneof![
            (
                prop_oneof![
                    Just(HashAlgorithm::Sha1),
                    Just(HashAlgorithm::Sha256),
                    Just(HashAlgorithm::Sha384),
                    Just(HashAlgorithm::Sha512),
                ],
                vec(any::<u8>(), 64),
            )
                .prop_map(|(algorithm, digest)| FingerprintAttribute::Known(
                    Fingerprint::new(algorithm, &digest[..algorithm.output_len()]).unwrap()
                )),
            (
                prop_oneof![
                    Just("sha-224".to_owned()),
                    Just("md5".to_owned()),
                    Just("md2".to_owned()),
                    other_token(&[
                        "sha-1", "sha-224", "sha-256", "sha-384", "sha-512", "md5", "md2"
                    ]),
                ],
                vec(any::<u8>(), 1..64),
            )
                .prop_map(|(hash_function, digest)| FingerprintAttribute::Other {
                    hash_function,
                    digest
                }),
        ]
        .prop_map(Attribute::Fingerprint),
        prop_oneof![
            Just(Setup::Active),
            Just(Setup::Passive),
            Just(Setup::Actpass),
            Just(Setup::Holdconn),
            other_token(&["active", "passive", "actpass", "holdconn"]).prop_map(Setup::Other),
        ]
        .prop_map(Attribute::Setup),
        any::<u16>().prop_map(Attribute::SctpPort),
        any::<u64>().prop_map(Attribute::MaxMessageSize),
        (any::<u16>(), token(), option::of(any::<u32>())).prop_map(|(port, protocol, streams)| {
            Attribute::Sctpmap(Sctpmap {
                port,
                protocol,
                streams,
            })
        }),
        (
            rid_id(),
            prop_oneof![Just(RidDirection::Send), Just(RidDirection::Recv)],
            vec(pt(), 0..3),
            vec(parameter(), 0..3),
        )
            .prop_map(
                |(id, direction, payload_types, restrictions)| Attribute::Rid(RidAttribute {
                    id,
                    direction,
                    payload_types,
                    restrictions
                })
            ),
        (simulcast_list(), simulcast_list())
            .prop_filter("one direction at least", |(s, r)| !s.is_empty()
                || !r.is_empty())
            .prop_map(|(send, recv)| Attribute::Simulcast(Simulcast { send, recv })),
        (
            any::<u16>(),
            option::of((network_type(), address_type(), token()).prop_map(
                |(network_type, address_type, address)| RtcpAddress {
                    network_type,
                    address_type,
                    address
                }
            )),
        )
            .prop_map(|(port, address)| Attribute::Rtcp(Rtcp { port, address })),
        Just(Attribute::RtcpMux),
        Just(Attribute::RtcpMuxOnly),
        Just(Attribute::RtcpRsize),
        direction().prop_map(Attribute::Direction),
        (
            token().prop_filter(
                "typed names are not unknown",
                |n| !Attribute::is_typed_name(n)
            ),
            option::of(text()),
        )
            .prop_map(|(name, value)| Attribute::Unknown { name, value }),
    ]
}

/// The attributes of one section, minus any that repeat a single-instance kind or a payload
/// type's `rtpmap`/`fmtp` (the parser refuses those as ambiguous).
fn section_attributes(max: usize) -> impl Strategy<Value = Vec<Attribute>> {
    vec(attribute(), 0..max).prop_map(|attrs| {
        let mut keys = std::collections::HashSet::new();
        attrs
            .into_iter()
            .filter(|a| {
                let key = match a {
                    Attribute::Rtpmap(r) => (a.name().to_owned(), r.payload_type),
                    Attribute::Fmtp(f) => (a.name().to_owned(), f.payload_type),
                    Attribute::Direction(_) => {
                        ("direction".to_owned(), PayloadType::new(0).unwrap())
                    }
                    Attribute::Mid(_)
                    | Attribute::IceUfrag(_)
                    | Attribute::IcePwd(_)
                    | Attribute::Setup(_)
                    | Attribute::SctpPort(_)
                    | Attribute::MaxMessageSize(_)
                    | Attribute::Rtcp(_)
                    | Attribute::Simulcast(_) => {
                        (a.name().to_owned(), PayloadType::new(0).unwrap())
                    }
                    _ => return true,
                };
                keys.insert(key)
            })
            .collect()
    })
}

fn media() -> impl Strategy<Value = MediaDescription> {
    (
        (
            prop_oneof![
                Just(MediaKind::Audio),
                Just(MediaKind::Video),
                Just(MediaKind::Application),
                Just(MediaKind::Text),
                Just(MediaKind::Message),
                Just(MediaKind::Image),
                other_token(&["audio", "video", "application", "text", "message", "image"])
                    .prop_map(MediaKind::Other),
            ],
            any::<u16>(),
            option::of(any::<u16>()),
            prop_oneof![
                Just("UDP/TLS/RTP/SAVPF".to_owned()),
                Just("UDP/DTLS/SCTP".to_owned()),
                token(),
            ],
            vec(token(), 0..5),
        ),
        option::of(text()),
        vec(connection(), 0..2),
        vec(bandwidth(), 0..2),
        option::of(text()),
        section_attributes(12),
    )
        .prop_map(
            |(
                (kind, port, port_count, protocol, formats),
                title,
                connections,
                bandwidths,
                key,
                attributes,
            )| MediaDescription {
                kind,
                port,
                port_count,
                protocol,
                formats,
                title,
                connections,
                bandwidths,
                key,
                attributes,
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (
            origin(),
            prop_oneof![Just("-".to_owned()), Just(String::new()), nonempty_text()],
            option::of(text()),
            option::of(text()),
            vec(text(), 0..2),
            vec(text(), 0..2),
        ),
        option::of(connection()),
        vec(bandwidth(), 0..2),
        vec(timing(), 1..3),
        vec(time_zone(), 0..3),
        option::of(text()),
        section_attributes(8),
        vec(media(), 0..4),
    )
        .prop_map(
            |(
                (origin, session_name, information, uri, emails, phones),
                connection,
                bandwidths,
                timings,
                time_zones,
                key,
                attributes,
                media,
            )| SessionDescription {
                origin,
                session_name,
                information,
                uri,
                emails,
                phones,
                connection,
                bandwidths,
                timings,
                time_zones,
                key,
                attributes,
                media,
            },
        )
}

/// Any short text, hostile characters included: spaces, tabs, CR, LF, NUL, `:`, `/`.
fn any_text() -> impl Strategy<Value = String> {
    "[ -~\t\r\n\u{0}]{0,10}"
}

/// One hand edit of a built model, with any text: what a caller of the builders or of the
/// public fields might set.
#[derive(Debug, Clone)]
enum Edit {
    SessionName(String),
    Information(String),
    Email(String),
    OriginUsername(String),
    OriginAddress(String),
    ConnectionAddress(String),
    BandwidthType(String),
    MediaKind(String),
    Protocol(String),
    Format(String),
    Title(String),
    IceUfrag(String),
    UnknownAttribute(String, Option<String>),
    ExtraMid(String),
    NoTimings,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any_text().prop_map(Edit::SessionName),
        any_text().prop_map(Edit::Information),
        any_text().prop_map(Edit::Email),
        any_text().prop_map(Edit::OriginUsername),
        any_text().prop_map(Edit::OriginAddress),
        any_text().prop_map(Edit::ConnectionAddress),
        any_text().prop_map(Edit::BandwidthType),
        any_text().prop_map(Edit::MediaKind),
        any_text().prop_map(Edit::Protocol),
        any_text().prop_map(Edit::Format),
        any_text().prop_map(Edit::Title),
        any_text().prop_map(Edit::IceUfrag),
        (
            prop_oneof![
                any_text(),
                Just("mid".to_owned()),
                Just("rtcp-mux".to_owned())
            ],
            option::of(any_text())
        )
            .prop_map(|(n, v)| Edit::UnknownAttribute(n, v)),
        token().prop_map(Edit::ExtraMid),
        Just(Edit::NoTimings),
    ]
}

fn apply(sdp: &mut SessionDescription, edit: Edit) {
    let media = sdp.media.first_mut();
    match edit {
        Edit::SessionName(t) => sdp.session_name = t,
        Edit::Information(t) => sdp.information = Some(t),
        Edit::Email(t) => sdp.emails.push(t),
        Edit::OriginUsername(t) => sdp.origin.username = t,
        Edit::OriginAddress(t) => sdp.origin.address = t,
        Edit::ConnectionAddress(t) => {
            let mut c = Connection::new("192.0.2.1".parse().unwrap());
            c.address = t;
            sdp.connection = Some(c);
        }
        Edit::BandwidthType(t) => sdp.bandwidths.push(Bandwidth {
            kind: BandwidthType::Other(t),
            value: 64,
        }),
        Edit::MediaKind(t) => {
            if let Some(m) = media {
                m.kind = MediaKind::Other(t);
            }
        }
        Edit::Protocol(t) => {
            if let Some(m) = media {
                m.protocol = t;
            }
        }
        Edit::Format(t) => {
            if let Some(m) = media {
                m.formats.push(t);
            }
        }
        Edit::Title(t) => {
            if let Some(m) = media {
                m.title = Some(t);
            }
        }
        Edit::IceUfrag(t) => sdp.attributes.push(Attribute::IceUfrag(t)),
        Edit::UnknownAttribute(name, value) => {
            sdp.attributes.push(Attribute::Unknown { name, value })
        }
        Edit::ExtraMid(t) => {
            if let Some(m) = media {
                m.attributes.push(Attribute::Mid(Mid::new(&t).unwrap()));
                m.attributes.push(Attribute::Mid(Mid::new(&t).unwrap()));
            }
        }
        Edit::NoTimings => sdp.timings.clear(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every well-formed model is accepted by `validate` (and `try_build`).
    #[test]
    fn well_formed_models_validate(sdp in session()) {
        prop_assert_eq!(sdp.validate(), Ok(()));
    }

    /// A model edited by hand with any text either round-trips and is accepted, or does
    /// not and is refused, with a precise line-level reason (never the whole-text guard).
    #[test]
    fn built_models_round_trip_or_are_refused(
        mut sdp in session(),
        edits in vec(edit(), 1..3),
    ) {
        for e in edits {
            apply(&mut sdp, e);
        }
        let text = sdp.to_string();
        let round_trips = SessionDescription::parse(&text).as_ref() == Ok(&sdp);
        match sdp.validate() {
            Ok(()) => prop_assert!(round_trips, "accepted but does not round-trip:\n{}", text),
            Err(e) => {
                prop_assert!(e.fault != BuildFault::NotCanonical, "only the guard caught: {}\n{}", e, text);
                prop_assert!(!round_trips, "refused ({}) but round-trips:\n{}", e, text);
            }
        }
    }

    #[test]
    fn session_round_trips(sdp in session()) {
        let text = sdp.to_string();
        let parsed = SessionDescription::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed, &sdp);
        let mut again = String::new();
        parsed.serialize_into(&mut again);
        prop_assert_eq!(again, text);
    }

    #[test]
    fn attribute_round_trips(attr in attribute()) {
        let text = attr.to_string();
        prop_assert_eq!(Attribute::parse(&text), Ok(attr));
    }

    #[test]
    fn candidate_round_trips(c in candidate()) {
        let text = c.to_string();
        prop_assert_eq!(Candidate::parse(&text).map_err(|e| e.to_string()), Ok(c));
    }

    /// Whatever the text, parsing returns (never panics) and what it accepts round-trips.
    #[test]
    fn arbitrary_text_never_panics(text in "(v=0\n)?(o=- 1 1 IN IP4 x\n)?(s=.*\n)?(t=0 0\n)?([a-z]=[ -~]{0,40}\r?\n){0,12}") {
        if let Ok(sdp) = SessionDescription::parse(&text) {
            let canonical = sdp.to_string();
            prop_assert_eq!(SessionDescription::parse(&canonical), Ok(sdp));
        }
    }
}
