//! Reading one table's columns out of a row that joins several: each table's columns are
//! selected under a prefix of their own (`k_serial`, `p_code`, `d_code`), so the same decoder
//! reads a row of its table alone (no prefix) or its part of a joined row.
//!
//! Why join at all: on SQLite every statement is a hand-off to the driver's thread and back,
//! and the signed-request pipeline read the key, its point, the dealer and the cashier in four
//! of them for every request (issue 14); [`crate::db::senders`] reads them in one.

use sqlx::{Decode, Row, Type, any::AnyRow};

/// The columns of one table in a row, under `prefix` (empty: the row is that table's alone).
#[derive(Clone, Copy)]
pub(crate) struct Columns<'r> {
    row: &'r AnyRow,
    prefix: &'static str,
}

impl<'r> Columns<'r> {
    /// The columns of a row of one table.
    pub(crate) fn of(row: &'r AnyRow) -> Self {
        Self { row, prefix: "" }
    }

    /// The columns selected under `prefix` (see [`aliased`]).
    pub(crate) fn prefixed(row: &'r AnyRow, prefix: &'static str) -> Self {
        Self { row, prefix }
    }

    /// The value of the column `name` (without its prefix).
    pub(crate) fn get<T>(&self, name: &str) -> Result<T, sqlx::Error>
    where
        T: Decode<'r, sqlx::Any> + Type<sqlx::Any>,
    {
        if self.prefix.is_empty() {
            self.row.try_get(name)
        } else {
            self.row.try_get(format!("{}{name}", self.prefix).as_str())
        }
    }
}

/// `t.a AS p_a, t.b AS p_b`: the comma-separated `columns` of the table aliased `table`,
/// each selected under `prefix`.
pub(crate) fn aliased(table: &str, columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(str::trim)
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_column_is_selected_under_the_prefix() {
        assert_eq!(
            aliased("p", "code, dealer_code", "p_"),
            "p.code AS p_code, p.dealer_code AS p_dealer_code"
        );
    }
}
