//! Placeholders for statements that carry a whole group of rows or keys at once: the
//! payment writer reads and writes a group in a handful of statements instead of a dozen per
//! payment, because on SQLite every statement is a hand-off to the driver's thread and back
//! (issue 14: that hand-off, not SQLite, was most of a payment's time).

use std::borrow::Cow;

use sqlx::{AnyConnection, any::AnyRow};

use super::batch::{Batch, Slot};

/// How many rows one multi-row INSERT carries at most: 500 rows of the widest table written
/// this way (payments, 21 columns) bind 10 500 values, well under SQLite's limit of 32 766
/// bound parameters and PostgreSQL's 65 535.
pub const ROWS_PER_STATEMENT: usize = 500;

/// How a statement's generated lists write their placeholders, for the database the statement
/// goes to ([`Self::of`]).
///
/// SQLite gets anonymous `?`, bound by position. sqlx's SQLite driver looks every numbered
/// parameter up by its name, and SQLite finds a name by walking the statement's list from the
/// start: n numbered parameters cost n²/2 steps to bind. A group of 16 payments binds about 320
/// values into its payments row alone; under the gateway benchmark those look-ups took as much
/// processor time as running every statement of the group, inside the one write lock (issue
/// 14: 1.08–1.24× payments/s in alternating runs without them). PostgreSQL has only numbered
/// ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1, $2, …` (PostgreSQL).
    Numbered,
    /// `?, ?, …` (SQLite).
    Anonymous,
}

impl Placeholders {
    /// The placeholders of the database `conn` is connected to.
    pub fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Placeholders::Anonymous
        } else {
            Placeholders::Numbered
        }
    }

    /// The `n`th placeholder of a statement (from 1). On SQLite every one is `?`, bound in the
    /// order written: write them in the order of `n`.
    pub fn nth(self, n: usize) -> Cow<'static, str> {
        match self {
            Placeholders::Numbered => Cow::Owned(format!("${n}")),
            Placeholders::Anonymous => Cow::Borrowed("?"),
        }
    }

    /// `($1, $2), ($3, $4)`: the VALUES list of `rows` rows of `columns` placeholders each.
    pub fn values(self, rows: usize, columns: usize) -> String {
        self.values_from(1, rows, columns)
    }

    /// [`Self::values`] with placeholders numbered from `from`: `($5, $6), ($7, $8)`.
    pub fn values_from(self, from: usize, rows: usize, columns: usize) -> String {
        (0..rows)
            .map(|row| {
                let row: Vec<Cow<'static, str>> = (0..columns)
                    .map(|column| self.nth(from + row * columns + column))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `(a = $1 AND b = $2) OR (a = $3 AND b = $4)`: one term per key, each comparing
    /// `columns` in order (a comparison may be written as a template where `{}` is the
    /// placeholder, for `created_at_ms >= {}`). Every term can use an index on its own columns,
    /// so a look-up of many keys is as cheap per key as one look-up of one.
    pub fn any_of(self, keys: usize, columns: &[&str]) -> String {
        (0..keys)
            .map(|key| {
                let terms = columns.iter().enumerate().map(|(i, column)| {
                    let placeholder = self.nth(1 + key * columns.len() + i);
                    if column.contains("{}") {
                        column.replace("{}", &placeholder)
                    } else {
                        format!("{column} = {placeholder}")
                    }
                });
                format!("({})", terms.collect::<Vec<_>>().join(" AND "))
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// `$1, $2, …`: `count` placeholders, comma-separated.
    fn list(self, count: usize) -> String {
        self.list_from(1, count)
    }

    /// `$from, $from+1, …`: `count` placeholders, comma-separated, after the statement's own.
    pub fn list_from(self, from: usize, count: usize) -> String {
        (from..from + count)
            .map(|n| self.nth(n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The rows of `select` (ending in the column compared, `… WHERE code`) whose column is one of
/// `keys` (at least one): one statement, `IN ($1, …)`.
pub async fn rows_in(
    conn: &mut AnyConnection,
    select: &str,
    keys: &[&str],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut batch = Batch::new(conn);
    let slot = rows_in_into(&mut batch, select, keys);
    let mut done = batch.run(conn).await?;
    Ok(slot.take(&mut done).rows)
}

/// [`rows_in`] as a statement of `batch`.
pub fn rows_in_into<'q>(batch: &mut Batch<'q>, select: &str, keys: &[&'q str]) -> Slot {
    let sql = format!("{select} IN ({})", batch.placeholders().list(keys.len()));
    let (slot, mut binder) = batch.push(sql);
    for key in keys {
        binder.bind(*key);
    }
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_number_their_placeholders_in_order() {
        let numbered = Placeholders::Numbered;
        assert_eq!(numbered.list_from(3, 2), "$3, $4");
        assert_eq!(numbered.values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            numbered.any_of(2, &["point_code", "created_at_ms >= {}"]),
            "(point_code = $1 AND created_at_ms >= $2) OR (point_code = $3 AND created_at_ms >= $4)"
        );
        assert_eq!(numbered.list(3), "$1, $2, $3");
    }

    #[test]
    fn sqlite_lists_bind_by_position() {
        let anonymous = Placeholders::Anonymous;
        assert_eq!(anonymous.values(2, 2), "(?, ?), (?, ?)");
        assert_eq!(
            anonymous.any_of(2, &["point_code", "created_at_ms >= {}"]),
            "(point_code = ? AND created_at_ms >= ?) OR (point_code = ? AND created_at_ms >= ?)"
        );
        assert_eq!(anonymous.list(2), "?, ?");
        assert_eq!(anonymous.list_from(3, 2), "?, ?");
    }
}
