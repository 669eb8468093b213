//! Numbered placeholders for statements that carry a whole group of rows or keys at once: the
//! payment writer reads and writes a group in a handful of statements instead of a dozen per
//! payment, because on SQLite every statement is a hand-off to the driver's thread and back
//! (issue 14: that hand-off, not SQLite, was most of a payment's time).

use sqlx::{AnyConnection, any::AnyRow};

/// How many rows one multi-row INSERT carries at most: 500 rows of the widest table written
/// this way (payments, 21 columns) bind 10 500 values, well under SQLite's limit of 32 766
/// bound parameters and PostgreSQL's 65 535.
pub const ROWS_PER_STATEMENT: usize = 500;

/// `$from, $from+1, …`: `count` placeholders, comma-separated.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4)`: the VALUES list of `rows` rows of `columns` placeholders each.
pub fn values(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(1 + row * columns, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(a = $1 AND b = $2) OR (a = $3 AND b = $4)`: one term per key, each comparing `columns`
/// in order (a comparison may be written as a template where `{}` is the placeholder, for
/// `created_at_ms >= {}`). Every term can use an index on its own columns, so a look-up of
/// many keys is as cheap per key as one look-up of one.
pub fn any_of(keys: usize, columns: &[&str]) -> String {
    (0..keys)
        .map(|key| {
            let terms = columns.iter().enumerate().map(|(i, column)| {
                let placeholder = format!("${}", 1 + key * columns.len() + i);
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

/// The rows of `select` (ending in the column compared, `… WHERE code`) whose column is one of
/// `keys` (at least one): one statement, `IN ($1, …)`.
pub async fn rows_in(
    conn: &mut AnyConnection,
    select: &str,
    keys: &[&str],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let sql = format!("{select} IN ({})", placeholders(1, keys.len()));
    let mut query = sqlx::query(&sql);
    for key in keys {
        query = query.bind(*key);
    }
    query.fetch_all(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_number_their_placeholders_in_order() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            any_of(2, &["point_code", "created_at_ms >= {}"]),
            "(point_code = $1 AND created_at_ms >= $2) OR (point_code = $3 AND created_at_ms >= $4)"
        );
    }
}
