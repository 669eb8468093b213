//! Guards the daily statement of a busy dealer: its entries come a page at a time (every payment
//! is an entry, and a day of a busy dealer is too many for one page), newest first, with links
//! to the older and the newer ones keeping the day; walking them shows each entry of the day
//! once, and every page shows the same figures of the whole day.

mod support;

use std::collections::HashSet;

use support::{browser::ADMIN, now_ms, payments::DEALER};
use tolem_gateway::payments::{BUSINESS_DAY_MS, business_date, business_day_start};

/// How many entries a page of the statement lists.
const PAGE: usize = 200;

/// The `tr.entry` rows of a page: (id, time).
fn entries_of(html: &str) -> Vec<String> {
    html.split("<tr class=\"entry\"")
        .skip(1)
        .map(|row| {
            row.split("data-id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The `href` of the link with `id`, as a path.
fn link(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let tag = &html[start..start + html[start..].find('>')?];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&"))
}

/// The statement's figures as shown (`id="statement-…" data-tiyn="…"`).
fn figures_of(html: &str) -> Vec<String> {
    html.split("id=\"statement-")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_busy_day_is_listed_a_page_at_a_time() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let now = now_ms();
    let start = business_day_start(now);
    let day = business_date(now).to_string();
    // 450 payments of the day, three in each millisecond (the page's order must tell apart
    // entries written at the same moment).
    gateway
        .sql(&format!(
            "INSERT INTO ledger_entries (id, dealer_code, kind, amount_tiyn, \
             balance_after_tiyn, reference, point_code, created_at_ms) \
             WITH RECURSIVE numbers (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < 450) \
             SELECT 'payment:busy-' || n, '{DEALER}', 'payment', -100, 0, 'busy-' || n, \
             'P1001', {start} + 1000 + n / 3 FROM numbers"
        ))
        .await;
    let mut expected: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM ledger_entries WHERE dealer_code = $1 AND created_at_ms >= $2 \
         AND created_at_ms < $3",
    )
    .bind(DEALER)
    .bind(start)
    .bind(start + BUSINESS_DAY_MS)
    .fetch_all(&gateway.pool)
    .await
    .unwrap();
    expected.sort();
    assert!(expected.len() > 2 * PAGE, "{}", expected.len());

    let first_path = format!("/console/money/statement?day={day}");
    let (first, _) = gateway.console_page(&first_path, &admin).await;
    assert!(first.contains("data-reconciles=\"true\""), "{first}");
    assert!(
        first.contains("id=\"statement-payments\" data-tiyn=\"-45000\""),
        "the figures are the whole day's: {first}"
    );
    let figures = figures_of(&first);
    assert!(link(&first, "entries-newer").is_none(), "the newest first");

    let mut seen: Vec<String> = Vec::new();
    let mut pages = vec![first_path];
    let mut html = first.clone();
    loop {
        let rows = entries_of(&html);
        assert!(!rows.is_empty() && rows.len() <= PAGE, "{}", rows.len());
        seen.extend(rows.iter().cloned());
        assert_eq!(figures_of(&html), figures, "every page, the day's figures");
        match link(&html, "entries-older") {
            Some(next) => {
                assert_eq!(rows.len(), PAGE, "only a full page has a next one");
                assert!(next.contains(&format!("day={day}")), "{next}");
                html = gateway.console_page(&next, &admin).await.0;
                pages.push(next);
            }
            None => break,
        }
    }
    assert_eq!(pages.len(), expected.len().div_ceil(PAGE), "{pages:?}");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "none missing");
    // Newest first across the pages: the busy payments were written oldest first.
    let busy: Vec<u32> = seen
        .iter()
        .filter_map(|id| id.strip_prefix("payment:busy-"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        busy.windows(2).all(|w| w[0] / 3 >= w[1] / 3),
        "newest first: {busy:?}"
    );

    // Back from the second page: the first one again.
    let (second, _) = gateway.console_page(&pages[1], &admin).await;
    let back = link(&second, "entries-newer").expect("a link back");
    assert!(back.contains(&format!("day={day}")), "{back}");
    let (again, _) = gateway.console_page(&back, &admin).await;
    assert_eq!(entries_of(&again), entries_of(&first));
}
