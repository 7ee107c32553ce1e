//! Real and RFC session descriptions: parse, check what was read, serialize, and compare.

use std::path::PathBuf;

use ferrtc_sdp::{
    Attribute, CandidateTransport, CandidateType, Direction, GroupSemantics, HashAlgorithm,
    MediaKind, ParseErrorKind, PayloadType, SessionDescription, Setup, Ssrc, SsrcGroupSemantics,
    TcpType,
};

fn pt(n: u8) -> PayloadType {
    PayloadType::new(n).unwrap()
}

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_sdp_fixtures() -> Vec<String> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures"]
        .iter()
        .collect();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sdp"))
        .collect();
    names.sort();
    names
}

/// Parses `text`, serializes it, and checks that (1) the canonical text parses back to the
/// same model and (2) every original line comes back, in order, either byte for byte or (for
/// the tokens the grammar defines as case-insensitive) differing only in ASCII case. Returns
/// the model and the lines that differed in case.
fn round_trip(name: &str, text: &str) -> (SessionDescription, Vec<String>) {
    let sdp = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let canonical = sdp.to_string();
    assert!(canonical.ends_with("\r\n"));
    assert!(!canonical.replace("\r\n", "").contains(['\r', '\n']));
    let again = SessionDescription::parse(&canonical).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(again, sdp, "{name}: parse(serialize(x)) != x");
    assert_eq!(
        again.to_string(),
        canonical,
        "{name}: serialization not stable"
    );

    let original: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let produced: Vec<&str> = canonical.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(original.len(), produced.len(), "{name}: line count");
    let mut case_only = Vec::new();
    for (o, p) in original.iter().zip(&produced) {
        if o != p {
            assert!(
                o.eq_ignore_ascii_case(p),
                "{name}: `{o}` came back as `{p}`"
            );
            case_only.push((*o).to_owned());
        }
    }
    (sdp, case_only)
}

#[test]
fn every_fixture_round_trips() {
    let names = all_sdp_fixtures();
    assert!(names.len() >= 13, "fixtures missing: {names:?}");
    for name in names {
        let (_, case_only) = round_trip(&name, &fixture(&name));
        // Only Firefox writes a token in a case other than the canonical one: `UDP`/`TCP`.
        for line in &case_only {
            assert!(
                line.starts_with("a=candidate:")
                    && (line.contains(" UDP ") || line.contains(" TCP ")),
                "{name}: unexpected normalisation of `{line}`"
            );
        }
        if !name.starts_with("firefox") {
            assert!(case_only.is_empty(), "{name}: {case_only:?}");
        }
    }
}

#[test]
fn chromium_offer() {
    let text = fixture("chromium-156-offer-video-datachannel.sdp");
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.origin.session_id, 2_239_008_542_955_772_462);
    assert_eq!(sdp.origin.session_version, 2);
    let bundle = sdp.bundle_group().unwrap();
    assert_eq!(bundle.mids, ["0", "1"]);
    assert!(sdp.extmap_allow_mixed());
    assert_eq!(sdp.media.len(), 2);

    let video = sdp.media_by_mid("0").unwrap();
    assert_eq!(video.kind, MediaKind::Video);
    assert_eq!(video.port, 33964);
    assert_eq!(video.payload_types().count(), 23);
    assert_eq!(video.ice_ufrag(), Some("RoZs"));
    assert_eq!(video.ice_pwd(), Some("OpbwMaDXlACpWOhWVObdVxhG"));
    assert_eq!(video.ice_options().collect::<Vec<_>>(), ["trickle"]);
    assert_eq!(video.setup(), Some(&Setup::Actpass));
    assert_eq!(video.direction(), Some(Direction::SendRecv));
    let fp = video.fingerprints().next().unwrap();
    assert_eq!(
        fp.fingerprint().map(|f| f.algorithm()),
        Some(HashAlgorithm::Sha256)
    );
    assert_eq!(fp.digest().len(), 32);
    assert_eq!(fp.digest()[31], 0x06);
    let cands: Vec<_> = video.candidates().collect();
    assert_eq!(cands.len(), 2);
    assert_eq!(cands[0].transport, CandidateTransport::Udp);
    assert_eq!(cands[0].extension("network-cost"), Some("50"));
    assert_eq!(cands[1].transport, CandidateTransport::Tcp);
    assert_eq!(cands[1].tcp_type, Some(TcpType::Active));
    assert_eq!(video.rtcp().map(|r| r.port), Some(9));
    assert!(video.rtcp_mux() && video.rtcp_rsize());
    assert_eq!(video.extmaps().count(), 11);
    let vp8 = video.rtpmap(pt(96)).unwrap();
    assert_eq!(
        (vp8.encoding_name.as_str(), vp8.clock_rate),
        ("VP8", 90_000)
    );
    assert_eq!(video.fmtp(pt(97)).and_then(|f| f.get("apt")), Some("96"));
    assert_eq!(
        video.fmtp(pt(102)).and_then(|f| f.get("profile-level-id")),
        Some("42001f")
    );
    assert_eq!(video.rtcp_fbs_for(pt(96)).count(), 5);
    let codecs: Vec<_> = video.codecs().collect();
    assert_eq!(codecs.len(), 23);
    let h264: Vec<_> = codecs.iter().filter(|c| c.name() == Some("H264")).collect();
    assert_eq!(h264.len(), 6);
    assert!(
        h264.iter()
            .all(|c| c.feedback().count() == 5 && c.fmtp.is_some())
    );
    let ulpfec = codecs.last().unwrap();
    assert_eq!(
        (ulpfec.payload_type, ulpfec.name()),
        (pt(120), Some("ulpfec"))
    );
    assert!(ulpfec.fmtp.is_none());
    let group = video.ssrc_groups().next().unwrap();
    assert_eq!(group.semantics, SsrcGroupSemantics::Fid);
    assert_eq!(group.ssrcs, [Ssrc(3_629_162_994), Ssrc(172_645_553)]);
    assert_eq!(video.ssrcs().count(), 4);
    let msid = video.msids().next().unwrap();
    assert_eq!(msid.stream_id, "e1794e1f-ef9a-4ceb-8a76-1ee7304baef2");
    // Unknown attributes kept verbatim, in place.
    assert!(video.attributes.contains(&Attribute::Unknown {
        name: "rtcp-xr".into(),
        value: Some("rcvr-rtt=all".into())
    }));

    let data = sdp.media_by_mid("1").unwrap();
    assert_eq!(data.kind, MediaKind::Application);
    assert_eq!(data.protocol, "UDP/DTLS/SCTP");
    assert_eq!(data.formats, ["webrtc-datachannel"]);
    assert_eq!(data.sctp_port(), Some(5000));
    assert_eq!(data.max_message_size(), Some(262_144));
}

#[test]
fn firefox_offer() {
    let text = fixture("firefox-153-offer-video-datachannel.sdp");
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.origin.username, "mozilla...THIS_IS_SDPARTA-99.0");
    assert_eq!(sdp.direction(), Some(Direction::SendRecv));
    assert_eq!(sdp.fingerprints().count(), 1);
    assert_eq!(sdp.ice_options().collect::<Vec<_>>(), ["trickle"]);
    let video = &sdp.media[0];
    let cands: Vec<_> = video.candidates().collect();
    assert_eq!(cands.len(), 8);
    assert!(
        cands[..2]
            .iter()
            .all(|c| c.transport == CandidateTransport::Udp)
    );
    assert_eq!(cands[1].address, "::1");
    assert_eq!(cands[4].component, 2);
    assert_eq!(cands[2].tcp_type, Some(TcpType::Active));
    assert!(cands.iter().all(|c| c.kind == CandidateType::HOST));
    assert!(video.end_of_candidates());
    let delay = video.extmaps().find(|e| e.id == 6).unwrap();
    assert_eq!(delay.direction, Some(Direction::RecvOnly));
    let msid = video.msids().next().unwrap();
    assert_eq!(
        msid.track_id.as_deref(),
        Some("{a4a5c616-6362-4702-b58d-b592e1babbc0}")
    );
    let rtcp = video.rtcp().unwrap();
    assert_eq!(rtcp.port, 45953);
    assert_eq!(rtcp.address.as_ref().unwrap().address, "127.0.0.1");
    assert_eq!(
        video.fmtp(pt(120)).and_then(|f| f.get("max-fs")),
        Some("12288")
    );
    assert_eq!(sdp.media[1].max_message_size(), Some(1_073_741_823));
}

#[test]
fn rfc8866_example() {
    let sdp = SessionDescription::parse(&fixture("rfc8866-example.sdp")).unwrap();
    assert_eq!(sdp.origin.username, "jdoe");
    assert_eq!(sdp.session_name, "Call to John Smith");
    assert_eq!(sdp.information.as_deref(), Some("SDP Offer #1"));
    assert_eq!(
        sdp.uri.as_deref(),
        Some("http://www.jdoe.example.com/home.html")
    );
    assert_eq!(sdp.emails, ["Jane Doe <jane@jdoe.example.com>"]);
    assert_eq!(sdp.phones, ["+1 617 555-6011"]);
    assert_eq!(sdp.connection.as_ref().unwrap().address, "198.51.100.1");
    assert_eq!(sdp.media.len(), 3);
    assert_eq!(sdp.media[1].port, 49180);
    let video = &sdp.media[2];
    assert_eq!(video.connections[0].address, "2001:db8::2");
    assert_eq!(video.rtpmap(pt(99)).unwrap().encoding_name, "h263-1998");
}

#[test]
fn rfc8829_offers_and_answers() {
    let offer = SessionDescription::parse(&fixture("rfc8829-offer-B2.sdp")).unwrap();
    let groups: Vec<_> = offer.groups().collect();
    assert_eq!(groups[0].semantics, GroupSemantics::Bundle);
    assert_eq!(groups[0].mids, ["a1", "d1", "v1", "v2"]);
    assert_eq!(groups[1].semantics, GroupSemantics::Ls);
    assert_eq!(offer.ice_options().collect::<Vec<_>>(), ["trickle", "ice2"]);
    let audio = offer.media_by_mid("a1").unwrap();
    assert!(audio.rtcp_mux_only());
    let relay = audio
        .candidates()
        .find(|c| c.kind == CandidateType::RELAY)
        .unwrap();
    assert_eq!(relay.related_address.as_deref(), Some("198.51.100.200"));
    assert_eq!(relay.related_port, Some(11200));
    let v1 = offer.media_by_mid("v1").unwrap();
    assert_eq!(v1.rids().count(), 3);
    assert_eq!(v1.simulcast().unwrap().send.len(), 3);

    let answer = SessionDescription::parse(&fixture("rfc8829-answer-B2.sdp")).unwrap();
    assert_eq!(
        answer.media_by_mid("a1").unwrap().setup(),
        Some(&Setup::Passive)
    );
    for mid in ["v1", "v2"] {
        let video = answer.media_by_mid(mid).unwrap();
        assert_eq!(video.direction(), Some(Direction::RecvOnly));
        assert!(video.simulcast().is_none());
    }
}

#[test]
fn trickled_candidates_from_rfc8829() {
    let text = fixture("rfc8829-candidates.txt");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let c = ferrtc_sdp::Candidate::parse(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.to_string(), line);
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn lf_only_and_trailing_whitespace_parse_the_same() {
    let text = fixture("chromium-156-offer-video-datachannel.sdp");
    let crlf = SessionDescription::parse(&text).unwrap();
    let lf = text.replace("\r\n", "\n");
    assert_eq!(SessionDescription::parse(&lf).unwrap(), crlf);
    let padded: String = text.lines().map(|l| format!("{l} \t\r\n")).collect();
    assert_eq!(SessionDescription::parse(&padded).unwrap(), crlf);
}

#[test]
fn a_broken_line_in_a_real_offer_is_named() {
    let text = fixture("chromium-156-offer-video-datachannel.sdp");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("a=rtpmap:102"))
        .unwrap();
    let mut broken = lines.clone();
    broken[at] = "a=rtpmap:102 H264";
    let err = SessionDescription::parse(&broken.join("\r\n")).unwrap_err();
    assert_eq!(err.line, at + 1);
    assert_eq!(err.text, "a=rtpmap:102 H264");
    assert_eq!(err.kind, ParseErrorKind::Missing("clock rate"));
    assert_eq!(
        err.to_string(),
        format!("line {}: missing clock rate (`a=rtpmap:102 H264`)", at + 1)
    );

    let at = lines
        .iter()
        .position(|l| l.starts_with("a=candidate:"))
        .unwrap();
    let mut broken = lines.clone();
    broken[at] = "a=candidate:1 1 udp 1 127.0.0.1 70000 typ host";
    let err = SessionDescription::parse(&broken.join("\n")).unwrap_err();
    assert_eq!(
        (err.line, err.kind),
        (at + 1, ParseErrorKind::OutOfRange("port"))
    );
}

/// What `cargo run --example sdp_check -- <every fixture>` does, run in-process: status 0 and
/// the canonical forms on stdout, in order; a broken copy makes it name the file and line.
#[test]
fn sdp_check_over_the_fixtures() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures"]
        .iter()
        .collect();
    let paths: Vec<String> = all_sdp_fixtures()
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = ferrtc_sdp::check::run(&paths, |p| std::fs::read(p), &mut out, &mut err).unwrap();
    assert_eq!(
        status,
        ferrtc_sdp::check::EXIT_OK,
        "{}",
        String::from_utf8_lossy(&err)
    );
    assert!(err.is_empty());
    let expected: String = all_sdp_fixtures()
        .iter()
        .map(|n| SessionDescription::parse(&fixture(n)).unwrap().to_string())
        .collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);

    // The Chromium offer with its fifth line broken.
    let text = fixture("chromium-156-offer-video-datachannel.sdp");
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 4 {
                "t=never".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    let broken = broken.join("\n");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = ferrtc_sdp::check::run(
        &["offer.sdp"],
        |_| Ok(broken.clone().into_bytes()),
        &mut out,
        &mut err,
    )
    .unwrap();
    assert_eq!(status, ferrtc_sdp::check::EXIT_INVALID);
    assert!(out.is_empty());
    let err = String::from_utf8(err).unwrap();
    assert!(err.starts_with("offer.sdp:5: "), "{err}");
    assert!(err.ends_with('\n') && err.lines().count() == 1, "{err}");
}
