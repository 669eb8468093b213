//! What a signed request is checked against ([`crate::sender`]), read in **one** statement: the
//! key registered under the signer's serial, with its point, the point's dealer and the
//! cashier the key's card named. Four look-ups were four hand-offs to SQLite's thread for
//! every request (issue 14); the rows are the same.

use std::sync::LazyLock;

use sqlx::AnyPool;

use super::{
    columns::{Columns, aliased},
    keys::{KEY_COLUMNS, Key, key_from},
    network::{
        CASHIER_COLUMNS, Cashier, DEALER_COLUMNS, Dealer, POINT_COLUMNS, Point, cashier_from,
        dealer_from, point_from,
    },
};

/// A key and the rows it speaks for, as they are now. A row that is missing is `None`: the
/// checks say what that means (a key without its point is an inconsistent database; a key
/// whose card named no cashier, or a cashier since removed, has no cashier here).
#[derive(Debug)]
pub struct KeyRows {
    pub key: Key,
    pub point: Option<Point>,
    pub dealer: Option<Dealer>,
    /// The cashier the key's card named, at the key's point.
    pub cashier: Option<Cashier>,
}

/// The key registered under `serial` and the rows it speaks for; `None` when no key is.
pub async fn key_rows(pool: &AnyPool, serial: &str) -> Result<Option<KeyRows>, sqlx::Error> {
    // Built once: every signed request runs it, and building it took as much of the gateway's
    // processor time as decoding the request (about 1.4 % under the gateway benchmark).
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, {}, {}, {} FROM keys k \
             LEFT JOIN points p ON p.code = k.point_code \
             LEFT JOIN dealers d ON d.code = p.dealer_code \
             LEFT JOIN cashiers c ON c.point_code = k.point_code AND c.code = k.cashier_code \
             WHERE k.serial = $1",
            aliased("k", KEY_COLUMNS, "k_"),
            aliased("p", POINT_COLUMNS, "p_"),
            aliased("d", DEALER_COLUMNS, "d_"),
            aliased("c", CASHIER_COLUMNS, "c_"),
        )
    });
    let Some(row) = sqlx::query(SQL.as_str())
        .bind(serial)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    // A table's part of the row, or `None` when its outer join found no row.
    let part = |prefix: &'static str| {
        let columns = Columns::prefixed(&row, prefix);
        columns
            .get::<Option<String>>("code")
            .map(|code| code.map(|_| columns))
    };
    Ok(Some(KeyRows {
        key: key_from(Columns::prefixed(&row, "k_"))?,
        point: part("p_")?.map(point_from).transpose()?,
        dealer: part("d_")?.map(dealer_from).transpose()?,
        cashier: part("c_")?.map(cashier_from).transpose()?,
    }))
}
