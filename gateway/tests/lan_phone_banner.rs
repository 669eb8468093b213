//! Guards what `scripts/run.sh --lan` shows a person who wants to try Tolem on a phone: a QR
//! code in the terminal that a camera reads as the app's HTTPS address (with and without the
//! colour codes that keep it black on white on a dark terminal), and next to it where to get
//! the local certificate authority, its fingerprint and the steps to trust it on Android and
//! iOS.

mod support;

use support::terminal_qr::{decode, strip_colours};
use tolem_gateway::lan::{phone::PhoneBanner, qr};

#[test]
fn the_terminal_qr_code_reads_as_the_url() {
    for url in [
        "https://192.168.1.5:8443/",
        "https://[fd00::1234:5678]:8443/",
        "https://10.20.30.40:443/",
    ] {
        let plain = qr::render(url, false).unwrap();
        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(decode(&lines), url);
        assert!(!plain.contains('\x1b'), "no colour codes in a file");

        let coloured = qr::render(url, true).unwrap();
        assert!(coloured.contains("\x1b[30;107m"), "black on white");
        let lines: Vec<&str> = coloured.lines().collect();
        assert_eq!(decode(&lines), url);
        let stripped: Vec<String> = lines.iter().map(|l| strip_colours(l)).collect();
        assert_eq!(stripped.join("\n") + "\n", plain);
    }
}

#[test]
fn the_phone_part_of_the_banner_has_the_code_the_authority_and_the_steps() {
    let fingerprint = "AB:CD:EF";
    let banner = PhoneBanner {
        app_url: "https://192.168.1.5:8443/",
        ca_url: "http://192.168.1.5:8080/lan-ca.crt",
        ca_fingerprint: fingerprint,
        colour: false,
    }
    .render();
    let lines: Vec<&str> = banner.lines().collect();
    assert_eq!(decode(&lines), "https://192.168.1.5:8443/");
    assert!(banner.contains("On a phone on this network: https://192.168.1.5:8443/"));
    assert!(banner.contains("Open http://192.168.1.5:8080/lan-ca.crt on the phone"));
    assert!(banner.contains(fingerprint));
    for step in [
        "Android: Settings",
        "CA certificate",
        "iOS:",
        "Certificate",
        "Trust Settings",
    ] {
        assert!(banner.contains(step), "{step} missing in\n{banner}");
    }
    // Fits an 80-column terminal except the QR code itself.
    for line in lines.iter().filter(|l| !l.contains(['█', '▀', '▄'])) {
        assert!(line.chars().count() <= 100, "too long: {line}");
    }
}
