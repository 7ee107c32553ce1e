//! The `stun_decode` example, run in process on the RFC 5769 vectors and on bad input.

#[path = "../examples/stun_decode.rs"]
#[allow(dead_code)] // the example's `main` is not called here
mod example;

const REQUEST: &str = "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74\
002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5\
b2d3f249c1b571a280280004e57a3bcf";
const LONG_TERM: &str = "00010060 2112a442 78ad3433 c6ad72c0 29da412e 00060012 e3839ee3 8388e383 aae38383 \
e382afe3 82b90000 0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341 0014000b \
6578616d 706c652e 6f726700 00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666";

fn run(args: &[&str]) -> (u8, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = example::run(&args, &mut out, &mut err).unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn prints_every_attribute_and_integrity_ok() {
    let (code, out, _) = run(&[REQUEST, "--password", "VOkJxbRl1RmTxUk/WvJxBt"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "class: request\n\
         method: Binding (0x001)\n\
         transaction id: b7e7a701bc34d686fa87dfae\n\
         length: 108 bytes\n\
         attributes:\n  \
         SOFTWARE: \"STUN test client\"\n  \
         PRIORITY: 1845494271\n  \
         ICE-CONTROLLED: tie-breaker 0x932ff9b151263b36\n  \
         USERNAME: \"evtj:h6vY\"\n  \
         MESSAGE-INTEGRITY: 9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2\n  \
         FINGERPRINT: 0xe57a3bcf\n\
         fingerprint: ok\n\
         integrity: ok\n"
    );
}

#[test]
fn wrong_password_is_bad() {
    let (code, out, _) = run(&[REQUEST, "--password", "nope"]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with("integrity: bad (MESSAGE-INTEGRITY does not match)\n"),
        "{out}"
    );
    // No password, no integrity line.
    let (_, out, _) = run(&[REQUEST]);
    assert!(!out.contains("integrity:"), "{out}");
}

#[test]
fn long_term_credentials_from_the_message() {
    let (code, out, _) = run(&[LONG_TERM, "--password", "TheMatrIX"]);
    assert_eq!(code, 0);
    assert!(out.contains("REALM: \"example.org\""), "{out}");
    assert!(out.ends_with("integrity: ok\n"), "{out}");
}

#[test]
fn malformed_input_exits_1_with_a_reason() {
    let (code, _, err) = run(&["000100582112a442"]);
    assert_eq!(code, 1);
    assert!(err.contains("truncated"), "{err}");
    let (code, _, err) = run(&["0zz1"]);
    assert_eq!(code, 1);
    assert!(err.contains("malformed hex"), "{err}");
    let mut bad_cookie = REQUEST.to_string();
    bad_cookie.replace_range(8..16, "2112a443");
    let (code, _, err) = run(&[&bad_cookie]);
    assert_eq!(code, 1);
    assert!(err.contains("bad magic cookie 0x2112a443"), "{err}");
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2);
    assert!(err.starts_with("usage"), "{err}");
}
