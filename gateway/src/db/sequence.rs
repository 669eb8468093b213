//! Payment sequence numbers per key (migration 0010): which numbers arrived, and which of
//! those below the highest never did — payments a phone signed and the gateway never saw.
//! Also the phone's report that its outbox vanished with its stored payments.

use std::collections::BTreeMap;

use sqlx::{AnyPool, Row};

use super::{batch::Batch, lists::ROWS_PER_STATEMENT};

/// The most missing numbers listed per key; past that the console shows the count only.
pub const GAPS_LISTED: usize = 50;

/// Records that `serial`'s payment number `seq` (session `session`) arrived. A number seen
/// before keeps its first arrival: replays of the same signed bytes are normal.
pub async fn record(
    pool: &AnyPool,
    serial: &str,
    seq: i64,
    session: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut batch = Batch::new(&conn);
    record_all_into(&mut batch, &[(serial, seq, session, now)]);
    batch.run(&mut conn).await.map(drop)
}

/// Records that numbered payments arrived, `(key serial, number, session, received at)`, in
/// `batch` (the transaction that decides them): one statement for a whole group. A number
/// seen before keeps its first arrival.
pub fn record_all_into<'q>(batch: &mut Batch<'q>, arrived: &[(&'q str, i64, &'q str, i64)]) {
    for chunk in arrived.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO payment_sequence (key_serial, seq, session, received_at_ms) VALUES {} \
             ON CONFLICT (key_serial, seq) DO NOTHING",
            batch.placeholders().values(chunk.len(), 4)
        );
        let (_, mut binder) = batch.push(sql);
        for (serial, seq, session, at) in chunk {
            binder.bind(*serial).bind(*seq).bind(*session).bind(*at);
        }
    }
}

/// The gaps of one key: its highest number received and the numbers below it that never came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGaps {
    pub serial: String,
    pub highest: i64,
    /// The first [`GAPS_LISTED`] missing numbers, ascending.
    pub missing: Vec<i64>,
    /// How many are missing in all.
    pub missing_count: i64,
}

/// Every key of `point_code` that sent numbered payments and has gaps, by serial.
pub async fn gaps_of_point(pool: &AnyPool, point_code: &str) -> Result<Vec<KeyGaps>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.key_serial, s.seq FROM payment_sequence s \
         JOIN keys k ON k.serial = s.key_serial \
         WHERE k.point_code = $1 ORDER BY s.key_serial, s.seq",
    )
    .bind(point_code)
    .fetch_all(pool)
    .await?;
    let mut received: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &rows {
        received
            .entry(row.try_get("key_serial")?)
            .or_default()
            .push(row.try_get("seq")?);
    }
    Ok(received
        .into_iter()
        .filter_map(|(serial, seqs)| gaps(serial, &seqs))
        .collect())
}

/// The gaps in `seqs` (ascending, distinct): numbering starts at 1.
fn gaps(serial: String, seqs: &[i64]) -> Option<KeyGaps> {
    let highest = *seqs.last()?;
    let missing_count = highest - seqs.len() as i64;
    if missing_count <= 0 {
        return None;
    }
    let mut missing = Vec::new();
    let mut expected = 1;
    'walk: for &seq in seqs {
        while expected < seq {
            if missing.len() == GAPS_LISTED {
                break 'walk;
            }
            missing.push(expected);
            expected += 1;
        }
        expected = seq + 1;
    }
    Some(KeyGaps {
        serial,
        highest,
        missing,
        missing_count,
    })
}

/// Records that the outbox of `serial`'s phone vanished, first report only, as the key
/// `reporter` says. `point_code` limits it to a key of that point: a phone may only speak about
/// its own point's keys. A reporter revoked by now says nothing — checked here, in the same
/// statement, because a `pay` is let through on its key's rows as remembered for a few seconds
/// (`sender::recent`), which may be from before a revocation.
pub async fn report_outbox_lost(
    pool: &AnyPool,
    serial: &str,
    point_code: &str,
    reporter: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE keys SET outbox_lost_at_ms = $3 \
         WHERE serial = $1 AND point_code = $2 AND outbox_lost_at_ms IS NULL \
         AND EXISTS (SELECT 1 FROM keys reporter WHERE reporter.serial = $4 \
         AND reporter.state <> 'revoked')",
    )
    .bind(serial)
    .bind(point_code)
    .bind(now)
    .bind(reporter)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A key of the point whose phone reported its outbox lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostOutbox {
    pub serial: String,
    pub reported_at_ms: i64,
}

/// The keys of `point_code` whose outbox was reported lost, newest report first.
pub async fn lost_outboxes(
    pool: &AnyPool,
    point_code: &str,
) -> Result<Vec<LostOutbox>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT serial, outbox_lost_at_ms FROM keys \
         WHERE point_code = $1 AND outbox_lost_at_ms IS NOT NULL \
         ORDER BY outbox_lost_at_ms DESC, serial",
    )
    .bind(point_code)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LostOutbox {
                serial: row.try_get("serial")?,
                reported_at_ms: row.try_get("outbox_lost_at_ms")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_the_numbers_below_the_highest_that_never_came() {
        assert_eq!(gaps("P-1".into(), &[1, 2, 3]), None);
        let found = gaps("P-1".into(), &[1, 2, 4, 7]).unwrap();
        assert_eq!(found.missing, vec![3, 5, 6]);
        assert_eq!((found.highest, found.missing_count), (7, 3));
        assert_eq!(gaps("P-1".into(), &[3]).unwrap().missing, vec![1, 2]);
        let many = gaps("P-1".into(), &[1_000]).unwrap();
        assert_eq!(many.missing.len(), GAPS_LISTED);
        assert_eq!(many.missing_count, 999);
    }
}
