//! SDP: parse and serialize real browser offers, ferrtc-sdp beside Mozilla's `webrtc-sdp`
//! (Firefox's parser) and webrtc-rs's `sdp`.

use std::hint::black_box;
use std::io::Cursor;

use crate::{Case, Config, Row, Unit, compare};

/// Chromium 156 offer: one video section with 23 payload types, one data channel section.
pub const CHROMIUM_OFFER: &str = include_str!("../data/chromium-156-offer-video-datachannel.sdp");
/// Firefox 153 offer: video and data channel, 8 candidates per section.
pub const FIREFOX_OFFER: &str = include_str!("../data/firefox-153-offer-video-datachannel.sdp");

/// The offers measured, by name.
pub const OFFERS: &[(&str, &str)] = &[("Chromium", CHROMIUM_OFFER), ("Firefox", FIREFOX_OFFER)];

/// Parses with ferrtc-sdp.
pub fn parse_ferrtc(text: &str) -> ferrtc_sdp::SessionDescription {
    ferrtc_sdp::SessionDescription::parse(text).expect("ferrtc-sdp rejects a browser offer")
}

/// Parses with Mozilla's webrtc-sdp (warnings not fatal, as Firefox runs it).
pub fn parse_mozilla(text: &str) -> webrtc_sdp::SdpSession {
    webrtc_sdp::parse_sdp(text, false).expect("webrtc-sdp rejects a browser offer")
}

/// Parses with webrtc-rs's sdp.
pub fn parse_webrtc_rs(text: &str) -> ::sdp::SessionDescription {
    ::sdp::SessionDescription::unmarshal(&mut Cursor::new(text.as_bytes()))
        .expect("webrtc-rs sdp rejects a browser offer")
}

/// The SDP group: parse and serialize each offer.
pub fn rows(cfg: &Config) -> Vec<Row> {
    let mut rows = Vec::new();
    for (browser, text) in OFFERS {
        rows.extend(compare(
            cfg,
            &format!("parse {browser} offer ({} B)", text.len()),
            Unit::Bytes(text.len() as u64),
            Case::new("ferrtc", || {
                black_box(parse_ferrtc(black_box(text)));
            }),
            vec![
                Case::new("webrtc-sdp 0.3 (Mozilla)", || {
                    black_box(parse_mozilla(black_box(text)));
                }),
                Case::new("sdp 0.17 (webrtc-rs)", || {
                    black_box(parse_webrtc_rs(black_box(text)));
                }),
            ],
        ));
        let ours = parse_ferrtc(text);
        let mozilla = parse_mozilla(text);
        let webrtc_rs = parse_webrtc_rs(text);
        rows.extend(compare(
            cfg,
            &format!("serialize {browser} offer"),
            Unit::Bytes(text.len() as u64),
            Case::new("ferrtc", || {
                black_box(black_box(&ours).to_string());
            }),
            vec![
                Case::new("webrtc-sdp 0.3 (Mozilla)", || {
                    black_box(black_box(&mozilla).to_string());
                }),
                Case::new("sdp 0.17 (webrtc-rs)", || {
                    black_box(black_box(&webrtc_rs).marshal());
                }),
            ],
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implementation_reads_the_offers_alike() {
        for (browser, text) in OFFERS {
            let ours = parse_ferrtc(text);
            let mozilla = parse_mozilla(text);
            let webrtc_rs = parse_webrtc_rs(text);
            assert_eq!(ours.media.len(), mozilla.media.len(), "{browser}");
            assert_eq!(
                ours.media.len(),
                webrtc_rs.media_descriptions.len(),
                "{browser}"
            );
            // What we serialize, both references parse.
            let canonical = ours.to_string();
            assert_eq!(parse_mozilla(&canonical).media.len(), ours.media.len());
            assert_eq!(
                parse_webrtc_rs(&canonical).media_descriptions.len(),
                ours.media.len()
            );
        }
    }
}
