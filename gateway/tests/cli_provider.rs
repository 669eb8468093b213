//! Guards the provider commands of the command line: `provider connect` refuses a bad URL or
//! places in flight with one clear line and saves a good one (its password from the
//! environment, never printed; its contract's places in flight);
//! `provider registry --day` prints the day's delivered payments as the registry CSV, and with
//! `--compare` the provider's own registry: none when they match, and every missing, unknown
//! or different payment when they do not (exit 1).

mod support;

use std::{path::Path, time::Duration};

use support::{
    delivery::{emulator, quick_retry},
    now_ms,
    payments::kcell,
};
use tolem_gateway::payments::business_date;
use tolem_protocol::codes::ResultCode;

/// Runs the binary with `args` on `database_url` and `env`: (exit code, stdout, stderr).
async fn run(
    dir: &Path,
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let mut command = support::binary_in(dir);
    command
        .args(args)
        .args(["--database-url", database_url])
        .envs(env.iter().copied());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn connect_and_reconcile_from_the_command_line() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let provider = emulator(&["--open", "--username", "tolem", "--password", "basic-pw-42"]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = gateway.database_url.clone();

    let (code, _, stderr) = run(
        dir.path(),
        &db,
        &["provider", "connect", "kcell", "--url", "ftp://provider.kz"],
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("http:// or https://"), "{stderr}");
    // A password over plain http leaves this machine readable (and the provider's answers
    // forgeable): refused, while the emulator on this machine (below) takes it.
    let (code, _, stderr) = run(
        dir.path(),
        &db,
        &[
            "provider",
            "connect",
            "kcell",
            "--url",
            "http://provider.example.kz/osmp",
            "--username",
            "tolem",
        ],
        &[("TOLEM_PROVIDER_PASSWORD", "basic-pw-42")],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("https:// only"), "{stderr}");
    let (code, _, stderr) = run(
        dir.path(),
        &db,
        &[
            "provider",
            "connect",
            "kcell",
            "--url",
            &provider.url,
            "--in-flight-max",
            "0",
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("from 1 to 4 096"), "{stderr}");
    let (code, stdout, stderr) = run(
        dir.path(),
        &db,
        &[
            "provider",
            "connect",
            "kcell",
            "--url",
            &provider.url,
            "--username",
            "tolem",
            "--in-flight-max",
            "8",
        ],
        &[("TOLEM_PROVIDER_PASSWORD", "basic-pw-42")],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("Provider kcell connected"), "{stdout}");
    assert!(stdout.contains("8 at once"), "{stdout}");
    let places: Option<i64> = sqlx::query_scalar(
        "SELECT in_flight_max FROM provider_connections WHERE provider = 'kcell'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(places, Some(8), "the contract's places are saved");
    assert!(!stdout.contains("basic-pw-42") && !stderr.contains("basic-pw-42"));

    // Three payments delivered with the credentials the command saved.
    gateway.start_delivery(quick_retry());
    for i in 0..3 {
        let (request, reply) = gateway
            .pay(&phone, kcell(&format!("70130000{i:02}"), 100_000 + i))
            .await;
        assert_eq!(reply.code(), ResultCode::Ok);
        gateway
            .delivery_when(&phone, &request, Duration::from_secs(30), |d| {
                d.state.is_final()
            })
            .await;
    }

    let day = business_date(now_ms()).to_string();
    let (code, registry, stderr) = run(
        dir.path(),
        &db,
        &["provider", "registry", "kcell", "--day", &day],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = registry.lines().collect();
    assert_eq!(lines[0], "txn_id,prv_txn,account,sum,txn_date");
    assert_eq!(lines.len(), 4, "{registry}");
    assert!(
        lines.iter().any(|l| l.contains(",7013000001,1000.01,")),
        "{registry}"
    );

    // The provider's registry, as it would send it: the same three.
    let theirs: String = std::iter::once("txn_id,prv_txn,account,sum,txn_date".to_owned())
        .chain(provider.provider.payments().iter().map(|p| {
            format!(
                "{},{},{},{}.{:02},{}",
                p.txn_id,
                p.prv_txn.unwrap(),
                p.account,
                p.sum_tiyn / 100,
                p.sum_tiyn % 100,
                "20261201000000"
            )
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let file = dir.path().join("theirs.csv");
    std::fs::write(&file, &theirs).unwrap();
    let file_arg = file.to_str().unwrap();
    let (code, stdout, stderr) = run(
        dir.path(),
        &db,
        &[
            "provider",
            "registry",
            "kcell",
            "--day",
            &day,
            "--compare",
            file_arg,
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("3 payments, the registries match"),
        "{stdout}"
    );

    // One sum changed, one line dropped, one payment the gateway never sent.
    let mut changed: Vec<String> = theirs.lines().map(str::to_owned).collect();
    changed[1] = changed[1].replacen(",1000.0", ",1001.0", 1);
    changed.remove(2);
    changed.push("999999,X1,7010000000,5.00,20261201000000".into());
    std::fs::write(&file, changed.join("\n")).unwrap();
    let (code, stdout, _) = run(
        dir.path(),
        &db,
        &[
            "provider",
            "registry",
            "kcell",
            "--day",
            &day,
            "--compare",
            file_arg,
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("3 differences"), "{stdout}");
    assert!(stdout.contains("missing at the provider"), "{stdout}");
    assert!(stdout.contains("not delivered by us"), "{stdout}");
    assert!(
        stdout.contains("ours ") && stdout.contains("theirs "),
        "{stdout}"
    );
}
