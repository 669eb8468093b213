//! The banner's part for a phone on the same network: the app's address and its QR code,
//! and how to trust the local certificate authority once on Android and on iOS.

/// What the phone part shows.
pub struct PhoneBanner<'a> {
    /// The app's HTTPS address on this network (`https://192.168.1.5:8443/`).
    pub app_url: &'a str,
    /// Where the phone downloads the authority (`http://192.168.1.5:8080/lan-ca.crt`).
    pub ca_url: &'a str,
    /// The authority's SHA-256 fingerprint, to compare on the phone.
    pub ca_fingerprint: &'a str,
    /// Draw the QR code in colour codes (standard output is a terminal).
    pub colour: bool,
}

impl PhoneBanner<'_> {
    /// The banner lines, each ending in `\n`.
    pub fn render(&self) -> String {
        let qr = super::qr::render(self.app_url, self.colour).unwrap_or_default();
        let qr: String = qr.lines().map(|line| format!("  {line}\n")).collect();
        format!(
            "  On a phone on this network: {app}\n\
             {qr}\
             \x20 First trust this machine's certificate authority, once per phone (without it the\n\
             \x20 browser warns, and the app cannot work offline):\n\
             \x20   1. Open {ca} on the phone; it downloads the authority\n\
             \x20      (SHA-256 {fp}).\n\
             \x20   2. Android: Settings → Security → More security settings → Encryption & credentials\n\
             \x20      → Install a certificate → CA certificate → Install anyway → choose the file.\n\
             \x20      iOS: Allow the profile, then Settings → General → VPN & Device Management →\n\
             \x20      the Tolem profile → Install; then Settings → General → About → Certificate\n\
             \x20      Trust Settings → switch on full trust for it.\n\
             \x20   3. Scan the code above or open {app}.\n",
            app = self.app_url,
            ca = self.ca_url,
            fp = self.ca_fingerprint,
        )
    }
}
