//! What the operator — the processing centre above the dealers (Cyberplat in the manual, §3,
//! §18) — does, as domain functions the console's operator pages, the CLI, the demo seed and
//! tests call: registering and running dealers ([`dealers`]), money in and corrections
//! ([`money`]), and the provider catalogue ([`providers`]). Each change writes its audit row in
//! the caller's transaction; nothing here knows about HTTP.

pub mod dealers;
pub mod money;
pub mod providers;
