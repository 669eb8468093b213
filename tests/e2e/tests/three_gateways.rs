//! Several gateways, one database (issue 15; docs/operations.md): three gateway processes on one
//! throw-away PostgreSQL, sharing the signing key file and the flags, behind a real HAProxy
//! (round-robin, health-checked), behave as one gateway:
//!
//! * a console login made through the balancer holds on every instance, and certifying a
//!   phone's key works while every page lands on another instance;
//! * many signed payments at once are each accepted once, and the dealer's balance and ledger
//!   are exact;
//! * the same session sent to two instances at the same moment is stored once, and both get
//!   the same answer;
//! * the provider is paid each payment once although three delivery workers run;
//! * one instance killed with SIGKILL in the middle of a burst: every answer the client got is
//!   in the database once, a payment whose answer was lost is settled by sending it again
//!   (same session, same answer), nothing is doubled, and the ledger is exact;
//! * the daily commission, run by all three at start, is credited once;
//! * wrong console passwords are counted across instances;
//! * letters sent through the balancer are each e-mailed once although three mail workers run.
//!
//! The phone here is native (the protocol crate's signing, many requests at once); the console
//! is a real browser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tolem_e2e::{
    Answer, Balancer, Console, Gateway, NativePhone, POINT, Postgres, ProviderEmulator, Shared,
    Signed, free_port, http_client, kcell_number, path_from_env, start_provider,
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Letter, Outcome, Payment},
};

const DEALER: &str = "D001";
const POINT_PASSWORD: &str = "tolem-demo-1001";
/// Payments in each burst.
const BURST: usize = 60;
/// Letters sent at once.
const LETTERS: usize = 12;

/// The flags every instance gets, the same for all (docs/operations.md): deliveries to the
/// emulator, retried quickly, with a lease far above the emulator's answer time.
fn flags(provider_url: &str) -> Vec<String> {
    [
        "--demo-provider-url",
        provider_url,
        "--delivery-first-retry-ms",
        "200",
        "--delivery-lease-ms",
        "10000",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Starts instances on `ports` at the same moment (each waits for its own banner).
fn start_together(dist: &Path, shared: &Shared, flags: &[String], ports: &[u16]) -> Vec<Gateway> {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    std::thread::scope(|scope| {
        let started: Vec<_> = ports
            .iter()
            .map(|&port| {
                let flags = &flags;
                scope.spawn(move || Gateway::start_shared(port, dist, shared, true, flags))
            })
            .collect();
        started.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

fn instance(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// A Kcell payment of the `n`-th test payment: its own number, an amount of its own.
fn payment(n: usize) -> Payment {
    let amount_tiyn = 100_000 + i64::try_from(n).unwrap() * 100;
    Payment {
        provider: "kcell".into(),
        account: kcell_number(n),
        amount_tiyn,
        customer_amount_tiyn: amount_tiyn,
        comment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_gateways_on_one_database_behave_as_one() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let pg = Postgres::start();
    let provider = start_provider(&["--open"]).await;
    let data = tempfile::tempdir().unwrap();
    let shared = Shared {
        database_url: pg.url.clone(),
        gateway_key_file: data.path().join("gateway.key"),
        mail_dir: data.path().join("mail"),
    };
    let flags = flags(&provider.url);
    let ports = [free_port(), free_port(), free_port()];
    // The first instance makes the schema, the demo network and the key file; the other two
    // start together on them (migrations and demo data already there: they change nothing).
    let mut gateways: Vec<Option<Gateway>> = start_together(&dist, &shared, &flags, &ports[..1])
        .into_iter()
        .chain(start_together(&dist, &shared, &flags, &ports[1..]))
        .map(Some)
        .collect();
    let balancer = Balancer::start(&ports);
    let lb = balancer.url();
    let client = http_client();

    // The dealer admin logs in and certifies the phone's key through the balancer: every page
    // and form lands on the next instance, so the session must hold on all of them.
    let mut console = Console::log_in(&lb, true).await;
    let phone = Arc::new(NativePhone::enrol(&lb, POINT, POINT_PASSWORD, 7).await);
    console.certify_and_activate(&phone.card.key_serial).await;
    session_holds_on_every_instance(&console, &client, &ports).await;

    let initial = balance(&pg);
    eprintln!("cluster ready in {:?}", started.elapsed());

    // Many payments at once through the balancer: each accepted once, the money exact.
    let first: Vec<Signed> = (0..BURST)
        .map(|n| phone.pay(payment(n), n as u64))
        .collect();
    let answers = send_all(&phone, &lb, "pay", &first, None).await;
    for (signed, answer) in first.iter().zip(&answers) {
        let answer = answer.as_ref().expect("every answer arrives");
        assert_eq!(
            answer.code(),
            ResultCode::Ok,
            "{}: {answer:?}",
            signed.session
        );
    }
    let mut paid = first.clone();

    // The same session at two instances at the same moment: stored once, the same answer.
    let twin = phone.pay(payment(BURST), 10_000);
    let (one, two) = (instance(ports[0]), instance(ports[1]));
    let (a, b) = tokio::join!(
        phone.send(&client, &one, "pay", &twin),
        phone.send(&client, &two, "pay", &twin),
    );
    let (a, b) = (a.expect("gateway 1 answers"), b.expect("gateway 2 answers"));
    assert_eq!(a.code(), ResultCode::Ok, "{a:?}");
    assert_eq!(
        a.decision(),
        b.decision(),
        "both instances give the one stored decision"
    );
    assert_eq!(
        pg.number(&format!(
            "SELECT COUNT(*) FROM payments WHERE session = '{}'",
            twin.session
        )),
        1
    );
    paid.push(twin);
    money_is_exact(&pg, initial, &paid);

    // Three delivery workers, one payment each at the provider.
    let delivered = wait_until_delivered(&pg, &provider, paid.len()).await;
    assert!(
        delivered.values().all(|p| p.pays_received == 1),
        "each payment sent to the provider once: {:?}",
        delivered
            .values()
            .filter(|p| p.pays_received != 1)
            .collect::<Vec<_>>()
    );

    // Three mail workers, one e-mail per letter: each instance writes its own files, so a
    // letter sent twice would be two files.
    let letters: Vec<Signed> = (0..LETTERS)
        .map(|n| {
            let letter = Letter {
                to: "dealer@tolem.demo".into(),
                text: format!("Letter {n} from the point"),
            };
            phone.letter(letter, 30_000 + n as u64)
        })
        .collect();
    let mut queued = BTreeSet::new();
    for answer in send_all(&phone, &lb, "message", &letters, None).await {
        let answer = answer.expect("every letter is answered");
        match &answer.response.outcome {
            Some(Outcome::MessageQueued { message_id }) => queued.insert(message_id.clone()),
            other => panic!("a letter not queued: {other:?} ({answer:?})"),
        };
    }
    assert_eq!(queued.len(), LETTERS, "one message id per letter");
    let written = wait_for_letters(&pg, &shared.mail_dir, LETTERS).await;
    let names: BTreeSet<String> = written.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(
        written.len(),
        LETTERS,
        "each letter e-mailed once, by one instance: {written:?}"
    );
    assert_eq!(
        names,
        queued.iter().map(|id| format!("{id}.eml")).collect(),
        "the very letters queued"
    );

    // SIGKILL one instance in the middle of a burst.
    let second: Vec<Signed> = (0..BURST)
        .map(|i| phone.pay(payment(BURST + 1 + i), 20_000 + i as u64))
        .collect();
    let answered = Arc::new(AtomicUsize::new(0));
    let burst = {
        let (phone, lb, second, answered) =
            (phone.clone(), lb.clone(), second.clone(), answered.clone());
        tokio::spawn(async move { send_all(&phone, &lb, "pay", &second, Some(answered)).await })
    };
    wait_for(
        "a third of the burst answered",
        Duration::from_secs(30),
        || answered.load(Ordering::SeqCst) >= BURST / 3,
    )
    .await;
    let victim = gateways[1].take().unwrap();
    tokio::task::spawn_blocking(move || victim.kill())
        .await
        .unwrap();
    let answers = burst.await.unwrap();
    let lost: Vec<&Signed> = second
        .iter()
        .zip(&answers)
        .filter(|(_, answer)| answer.is_err())
        .map(|(signed, _)| signed)
        .collect();
    eprintln!(
        "gateway 2 killed after {} answers; {} answers lost",
        BURST / 3,
        lost.len()
    );
    // Every answer the client got is in the database, once.
    for (signed, answer) in second.iter().zip(&answers) {
        if let Ok(answer) = answer {
            assert_eq!(answer.code(), ResultCode::Ok, "{answer:?}");
            assert_eq!(stored(&pg, &signed.session), 1, "{}", signed.session);
        }
    }
    // The lost ones are sent again until answered (the phone's outbox does that), and every
    // one of the burst sent again gets the answer it got first: one decision per session.
    let again = send_until_answered(&phone, &lb, &second).await;
    for ((signed, first), again) in second.iter().zip(&answers).zip(&again) {
        assert_eq!(
            again.code(),
            ResultCode::Ok,
            "{}: {again:?}",
            signed.session
        );
        if let Ok(first) = first {
            assert_eq!(
                first.decision(),
                again.decision(),
                "{}: same decision",
                signed.session
            );
        }
    }
    paid.extend(second.iter().cloned());
    money_is_exact(&pg, initial, &paid);

    // The killed instance comes back (its service manager restarts it); every payment is
    // delivered, none twice: a payment re-sent after the dead instance's lease ran out was
    // committed once at the provider, which the OSMP txn_id makes idempotent.
    gateways[1] = Some(Gateway::start_shared(
        ports[1],
        &dist,
        &shared,
        true,
        &flags.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let delivered = wait_until_delivered(&pg, &provider, paid.len()).await;
    let attempts = delivery_attempts(&pg);
    for (txn_id, at_provider) in &delivered {
        let claims = attempts[txn_id];
        assert!(
            at_provider.pays_received <= u32::try_from(claims).unwrap(),
            "txn {txn_id}: the provider got {} pays but the gateways claimed it {claims} times",
            at_provider.pays_received
        );
    }

    // The daily commission: days that ended are credited once although every instance runs
    // the job at start. The accruals of the first burst are moved to a finished day, and all
    // three instances restart together.
    drop(gateways);
    let first_burst = format!(
        "SELECT transaction_id FROM payments WHERE session IN ({})",
        quoted(first.iter().map(|s| s.session.as_str()))
    );
    pg.sql(&format!(
        "UPDATE commission_accruals SET day_start_ms = day_start_ms - 2 * 86400000 \
         WHERE transaction_id IN ({first_burst})"
    ));
    let accrued = pg.number(&format!(
        "SELECT SUM(commission_tiyn) FROM commission_accruals WHERE transaction_id IN ({first_burst})"
    ));
    assert!(accrued > 0, "the demo providers' commission is not zero");
    let gateways = start_together(&dist, &shared, &flags, &ports);
    wait_for("the finished day credited", Duration::from_secs(30), || {
        pg.number("SELECT COUNT(*) FROM commission_credits") > 0
    })
    .await;

    // Wrong console passwords counted across instances: five, spread over the three, then the
    // account is blocked on whichever instance the sixth reaches.
    for attempt in 0..5 {
        let status = wrong_login(&client, ports[attempt % 3]).await;
        assert_eq!(status, 401, "attempt {} is only refused", attempt + 1);
    }
    assert_eq!(
        wrong_login(&client, ports[2]).await,
        429,
        "the sixth wrong password is throttled, counted over all instances"
    );

    // By now (six password hashes later) every instance's start-up run of the job is long
    // over: the day was credited once, and the ledger is still exact.
    assert_eq!(pg.number("SELECT COUNT(*) FROM commission_credits"), 1);
    assert_eq!(
        pg.number(&format!(
            "SELECT COUNT(*) FROM ledger_entries WHERE dealer_code = '{DEALER}' \
             AND kind = 'commission'"
        )),
        1
    );
    let paid_total: i64 = paid.iter().map(|s| amount_of(&pg, &s.session)).sum();
    assert_eq!(balance(&pg), initial - paid_total + accrued);
    assert_eq!(balance(&pg), ledger_sum(&pg));

    console.close().await;
    drop(gateways);
    eprintln!("three gateways: {:?} in all", started.elapsed());
}

/// The console cookie the browser got through the balancer opens the console on each
/// instance directly; without it each sends the visitor to the login.
async fn session_holds_on_every_instance(
    console: &Console,
    client: &reqwest::Client,
    ports: &[u16],
) {
    let cookies = console.browser.client.get_all_cookies().await.unwrap();
    let cookie = cookies
        .iter()
        .find(|c| c.name() == "tolem_console")
        .unwrap_or_else(|| panic!("no console cookie: {cookies:?}"));
    let header = format!("{}={}", cookie.name(), cookie.value());
    for &port in ports {
        let page = |with_cookie: bool| {
            let mut request = client.get(format!("{}console/money", instance(port)));
            if with_cookie {
                request = request.header("cookie", &header);
            }
            request.send()
        };
        let signed_in = page(true).await.unwrap();
        assert_eq!(
            signed_in.status(),
            200,
            "gateway on {port} knows the session"
        );
        let anonymous = page(false).await.unwrap();
        assert!(
            anonymous.status().is_redirection(),
            "without the cookie gateway on {port} asks for a login: {}",
            anonymous.status()
        );
    }
}

/// A wrong password for one console user, at the instance on `port`; the HTTP status.
async fn wrong_login(client: &reqwest::Client, port: u16) -> u16 {
    client
        .post(format!("{}console/login", instance(port)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=clerk%40tolem.demo&password=not-the-password&otp=")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Sends every request at once through `base` to the step `path`; each answer or why it was
/// lost. `answered` counts the answers as they come.
async fn send_all(
    phone: &Arc<NativePhone>,
    base: &str,
    path: &'static str,
    requests: &[Signed],
    answered: Option<Arc<AtomicUsize>>,
) -> Vec<Result<Answer, String>> {
    let tasks: Vec<_> = requests
        .iter()
        .cloned()
        .map(|signed| {
            let (phone, base, answered) = (phone.clone(), base.to_owned(), answered.clone());
            tokio::spawn(async move {
                let answer = phone.send(&http_client(), &base, path, &signed).await;
                if let (Ok(_), Some(answered)) = (&answer, answered) {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                answer
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Waits until the database has every one of the `count` letters sent, then lists every `.eml`
/// file under `mail_dir` (one folder per instance) and its folder. Each instance wakes its own
/// mail worker for the letters it queued, and a woken worker takes every letter that is due, so
/// three workers race for the same letters here: the claims must give each letter to one.
async fn wait_for_letters(pg: &Postgres, mail_dir: &Path, count: usize) -> Vec<(String, PathBuf)> {
    wait_for("every letter e-mailed", Duration::from_secs(60), || {
        pg.number("SELECT COUNT(*) FROM mail_outbox WHERE state = 'sent'") >= count as i64
    })
    .await;
    let mut files = Vec::new();
    for folder in std::fs::read_dir(mail_dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(folder.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                files.push((name, folder.path()));
            }
        }
    }
    files
}

/// Sends each request again, one after another, until it is answered (the balancer may still
/// be noticing the dead instance).
async fn send_until_answered(phone: &NativePhone, base: &str, requests: &[Signed]) -> Vec<Answer> {
    let client = http_client();
    let mut answers = Vec::new();
    for signed in requests {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match phone.send(&client, base, "pay", signed).await {
                Ok(answer) => break answers.push(answer),
                Err(why) => assert!(
                    Instant::now() < deadline,
                    "{} never answered: {why}",
                    signed.session
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    answers
}

/// The dealer's balance, the sum of its ledger, and the payments: each session stored once,
/// accepted, its one debit in the ledger, and the balance the opening one less all of them.
fn money_is_exact(pg: &Postgres, initial: i64, paid: &[Signed]) {
    let sessions = quoted(paid.iter().map(|s| s.session.as_str()));
    assert_eq!(
        pg.number(&format!(
            "SELECT COUNT(*) FROM payments WHERE session IN ({sessions}) AND state = 'accepted'"
        )),
        i64::try_from(paid.len()).unwrap(),
        "every payment accepted"
    );
    assert_eq!(
        pg.number("SELECT COUNT(*) FROM payments"),
        i64::try_from(paid.len()).unwrap(),
        "no payment stored twice, none the client did not send"
    );
    assert_eq!(
        pg.number(&format!(
            "SELECT COUNT(*) FROM ledger_entries WHERE dealer_code = '{DEALER}' AND kind = 'payment'"
        )),
        i64::try_from(paid.len()).unwrap(),
        "one debit per payment"
    );
    let total: i64 = paid.iter().map(|s| amount_of(pg, &s.session)).sum();
    assert_eq!(
        balance(pg),
        initial - total,
        "the balance moved by the payments"
    );
    assert_eq!(
        balance(pg),
        ledger_sum(pg),
        "the balance is the sum of the ledger"
    );
}

fn stored(pg: &Postgres, session: &str) -> i64 {
    pg.number(&format!(
        "SELECT COUNT(*) FROM payments WHERE session = '{session}'"
    ))
}

fn amount_of(pg: &Postgres, session: &str) -> i64 {
    pg.number(&format!(
        "SELECT amount_tiyn FROM payments WHERE session = '{session}'"
    ))
}

fn balance(pg: &Postgres) -> i64 {
    pg.number(&format!(
        "SELECT balance_tiyn FROM dealers WHERE code = '{DEALER}'"
    ))
}

fn ledger_sum(pg: &Postgres) -> i64 {
    pg.number(&format!(
        "SELECT COALESCE(SUM(amount_tiyn), 0) FROM ledger_entries WHERE dealer_code = '{DEALER}'"
    ))
}

fn quoted<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The claims of each delivery (`attempts`), by the provider's `txn_id`.
fn delivery_attempts(pg: &Postgres) -> BTreeMap<u64, i64> {
    pg.sql("SELECT txn_id, attempts FROM deliveries")
        .lines()
        .map(|line| {
            let (txn, attempts) = line.split_once('|').unwrap();
            (txn.parse().unwrap(), attempts.parse().unwrap())
        })
        .collect()
}

/// Waits until `count` payments are delivered in the database and committed at the provider,
/// then checks the two agree: the same transactions, each committed once with its amount.
async fn wait_until_delivered(
    pg: &Postgres,
    provider: &ProviderEmulator,
    count: usize,
) -> BTreeMap<u64, tolem_providers::emulator::ledger::Payment> {
    let count = i64::try_from(count).unwrap();
    wait_for("every payment delivered", Duration::from_secs(90), || {
        pg.number("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'") == count
    })
    .await;
    let held: BTreeMap<u64, _> = provider
        .provider
        .payments()
        .into_iter()
        .map(|p| (p.txn_id, p))
        .collect();
    let ours: BTreeMap<u64, i64> = pg
        .sql(
            "SELECT d.txn_id, p.amount_tiyn FROM deliveries d \
             JOIN payments p ON p.transaction_id = d.transaction_id",
        )
        .lines()
        .map(|line| {
            let (txn, amount) = line.split_once('|').unwrap();
            (txn.parse().unwrap(), amount.parse().unwrap())
        })
        .collect();
    assert_eq!(
        held.keys().collect::<BTreeSet<_>>(),
        ours.keys().collect::<BTreeSet<_>>(),
        "the provider holds exactly the gateway's payments"
    );
    for (txn, amount) in &ours {
        let at_provider = &held[txn];
        assert_eq!(at_provider.result, Some(0), "{at_provider:?}");
        assert_eq!(at_provider.sum_tiyn, *amount, "{at_provider:?}");
    }
    held
}

/// Polls `done` until it holds, for at most `patience`.
async fn wait_for(what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {patience:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
