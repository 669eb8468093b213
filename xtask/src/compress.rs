//! The two encodings the gateway serves, at the strongest settings: files are compressed once at
//! build time and downloaded many times over slow lines.

use std::io::Write;

/// Brotli at quality 11 with a 4 MiB window.
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer
            .write_all(data)
            .expect("writing to memory cannot fail");
    }
    out
}

/// Gzip at level 9.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(data)
        .expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}
