//! The command-line face: what an administrator of the gateway's machine does without the
//! console. Each command opens the database the gateway would use and calls the same domain
//! functions as the console pages.

use std::process::ExitCode;

use crate::{
    Config,
    audit::Actor,
    db::{
        self, begin_write,
        connections::StoredConnection,
        now_ms,
        sessions::{AccessLevel, Party},
    },
    delivery::{
        connections::{self, ConnectionError},
        registry,
    },
    users::{self, NewPassword, NewUser},
};

/// `tolem-gateway operator add --email …`: 0 created, 1 refused (the reason printed), 2 the
/// database cannot be used.
pub async fn operator_add(config: &Config, email: &str) -> ExitCode {
    let pool = match db::connect(&config.database_url).await {
        Ok(pool) => pool,
        Err(error) => return fail(2, &error),
    };
    if let Err(error) = db::migrate(&pool, &config.database_url).await {
        return fail(2, &error);
    }
    let created = async {
        let password = NewPassword::make().await?;
        let mut tx = begin_write(&pool).await?;
        let user = NewUser {
            email,
            party: &Party::Operator,
            access_level: AccessLevel::Full,
        };
        let password = users::create_in(&mut tx, &Actor::cli(), &user, password, now_ms()).await?;
        tx.commit().await?;
        Ok::<_, users::UserError>(password)
    }
    .await;
    pool.close().await;
    match created {
        Ok(password) => {
            let base = console_base(config);
            println!("Operator user created: {}", email.trim());
            println!("  One-time password: {}", password.0);
            println!("  Log in:            {base}/console/login");
            println!(
                "  The first login asks for a new password, then sets up one-time codes \
                 (RFC 6238) at {base}/console/totp: scan its QR code with an authenticator app."
            );
            ExitCode::SUCCESS
        }
        Err(users::UserError::Database(error)) => fail(2, &error),
        Err(error) => fail(1, &error),
    }
}

/// `tolem-gateway provider connect <provider> --url …`: 0 saved, 1 refused (the reason
/// printed), 2 the database cannot be used.
pub async fn provider_connect(config: &Config, settings: ConnectSettings) -> ExitCode {
    let ca_cert_pem = match &settings.ca_cert {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(error) => {
                eprintln!("tolem-gateway: cannot read {}: {error}", path.display());
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let password = settings
        .username
        .as_ref()
        .and_then(|_| std::env::var(&settings.password_env).ok());
    let pool = match db::connect(&config.database_url).await {
        Ok(pool) => pool,
        Err(error) => return fail(2, &error),
    };
    if let Err(error) = db::migrate(&pool, &config.database_url).await {
        return fail(2, &error);
    }
    let now = now_ms();
    let stored = StoredConnection {
        provider: settings.provider.clone(),
        protocol: settings.protocol,
        url: settings.url,
        username: settings.username,
        password,
        timeout_ms: settings.timeout_ms,
        ca_cert_pem,
        in_flight_max: settings.in_flight_max,
        updated_at_ms: now,
    };
    let saved = async {
        let mut tx = begin_write(&pool).await?;
        connections::connect_in(&mut tx, &Actor::cli(), &stored, now).await?;
        tx.commit().await?;
        Ok::<_, ConnectionError>(())
    }
    .await;
    pool.close().await;
    match saved {
        Ok(()) => {
            println!(
                "Provider {} connected: {} ({}{}{})",
                stored.provider,
                stored.url,
                stored.protocol,
                if stored.password.is_some() {
                    ", HTTP Basic"
                } else {
                    ""
                },
                stored
                    .in_flight_max
                    .map(|n| format!(", {n} at once"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(ConnectionError::Database(error)) => fail(2, &error),
        Err(error) => fail(1, &error),
    }
}

/// `tolem-gateway provider registry <provider> --day … [--compare FILE]`: 0 printed (or no
/// difference), 1 differences or bad input (printed), 2 the database cannot be used.
pub async fn provider_registry(
    config: &Config,
    provider: &str,
    day: &str,
    compare: Option<&std::path::Path>,
) -> ExitCode {
    let Some(day) = crate::display::parse_date(day) else {
        eprintln!("tolem-gateway: the day must be YYYY-MM-DD, not {day:?}");
        return ExitCode::from(1);
    };
    let theirs = match compare {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match registry::parse_csv(&text) {
                Ok(lines) => Some(lines),
                Err(error) => {
                    eprintln!("tolem-gateway: {}: {error}", path.display());
                    return ExitCode::from(1);
                }
            },
            Err(error) => {
                eprintln!("tolem-gateway: cannot read {}: {error}", path.display());
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let pool = match db::connect(&config.database_url).await {
        Ok(pool) => pool,
        Err(error) => return fail(2, &error),
    };
    let ours = registry::of_day(&pool, provider, day).await;
    pool.close().await;
    let ours = match ours {
        Ok(lines) => lines,
        Err(error) => return fail(2, &error),
    };
    let Some(theirs) = theirs else {
        print!("{}", registry::to_csv(&ours));
        return ExitCode::SUCCESS;
    };
    let mismatches = registry::compare(&ours, &theirs);
    if mismatches.is_empty() {
        println!(
            "{provider} {day}: {} payments, the registries match",
            ours.len()
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{provider} {day}: {} differences ({} ours, {} theirs)",
        mismatches.len(),
        ours.len(),
        theirs.len()
    );
    for mismatch in &mismatches {
        println!("  {mismatch}");
    }
    ExitCode::from(1)
}

/// What `provider connect` was given.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    pub provider: String,
    pub url: String,
    pub protocol: String,
    pub username: Option<String>,
    pub password_env: String,
    pub timeout_ms: i64,
    pub ca_cert: Option<std::path::PathBuf>,
    pub in_flight_max: Option<i64>,
}

/// Where the console is reached: the public URL when configured, else the listening address.
fn console_base(config: &Config) -> String {
    match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let scheme = if config.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{}:{}", config.host, config.port)
        }
    }
}

/// `tolem-gateway lan-certificate --dir … --ip …`: 0 made or kept (the files printed, and
/// whether phones must trust the authority again), 1 the files cannot be made.
pub fn lan_certificate(dir: &std::path::Path, ips: &[std::net::IpAddr]) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    match crate::lan::certificate::ensure(dir, ips, now) {
        Ok(made) => {
            let addresses: Vec<String> = made.addresses.iter().map(|ip| ip.to_string()).collect();
            println!(
                "Local certificate authority: {} ({}; SHA-256 {})",
                made.ca_cert.display(),
                if made.ca_made {
                    "new: phones must trust it"
                } else {
                    "kept"
                },
                made.ca_fingerprint
            );
            println!(
                "Server certificate: {} and {} ({} for localhost, {})",
                made.server_cert.display(),
                made.server_key.display(),
                if made.server_made { "made" } else { "kept" },
                addresses.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(1, &error),
    }
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("tolem-gateway: {}", error.to_string().replace('\n', " "));
    ExitCode::from(code)
}
