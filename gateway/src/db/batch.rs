//! Statements sent together: on SQLite in **one** hand-off to the connection's thread, on
//! PostgreSQL one after another as before.
//!
//! ## Why
//! sqlx runs an SQLite connection on a thread of its own, and every statement is a trip there
//! and back: the writer's task parks, the connection's thread wakes, runs the statement, wakes
//! the task. On the gateway benchmark's busy 2 cores each trip cost about 0.15 ms beyond
//! SQLite's own work (sqlx's statement log against the payment groups' step times, issue 14),
//! all of it inside the one write lock. A payment group made about twenty trips; in batches it
//! makes three.
//!
//! sqlx's SQLite driver runs a query string of several statements in one trip, binding
//! anonymous `?` placeholders across them in order. So on SQLite a batch is one query: the
//! statements joined, their values bound in one list. Every statement of a batch therefore
//! writes its placeholders through [`Batch::placeholders`] or [`Batch::push_fixed`] (anonymous
//! on SQLite): a numbered one would be bound by its number in the whole list, not in its
//! statement. PostgreSQL's protocol takes one statement with values per query, so there each
//! runs on its own, exactly as without a batch.
//!
//! Several statements in one prepared query are something sqlx 0.8 does for SQLite only, and
//! its maintainers discuss dropping it (launchbadge/sqlx#3108). Should a later sqlx refuse it,
//! `gateway/tests/batch_statements.rs` fails, and the way back is in [`Batch::run`]: running
//! each statement on its own, as on PostgreSQL.

use futures_util::TryStreamExt;
use sqlx::{
    AnyConnection, Arguments, Decode, Either, Encode, Executor, Row, Type,
    any::{Any, AnyArguments, AnyRow},
};

use super::lists::Placeholders;

/// Statements to run in order on one connection ([`Self::run`]), usually inside the caller's
/// transaction.
pub struct Batch<'q> {
    placeholders: Placeholders,
    statements: Vec<String>,
    /// Each statement's values; on SQLite one list for them all, in order.
    arguments: Vec<AnyArguments<'q>>,
    /// The first value that could not be encoded: [`Self::run`] fails with it.
    unencodable: Option<sqlx::Error>,
}

/// What one statement of a batch did.
#[derive(Default)]
pub struct Done {
    /// The rows it returned (a `SELECT`, or a write with `RETURNING`).
    pub rows: Vec<AnyRow>,
    pub rows_affected: u64,
}

impl Done {
    /// The first column of the first row it returned (`None`: it returned no row).
    pub fn scalar<T>(&self) -> Result<Option<T>, sqlx::Error>
    where
        T: for<'r> Decode<'r, Any> + Type<Any>,
    {
        self.rows.first().map(|row| row.try_get(0)).transpose()
    }
}

/// Where a pushed statement's outcome is in [`Batch::run`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// This statement's outcome, taken out of `done` (empty when taken already).
    pub fn take(self, done: &mut [Done]) -> Done {
        std::mem::take(&mut done[self.0])
    }
}

/// Adds the values of the statement just pushed, in the order of its placeholders.
pub struct Binder<'b, 'q> {
    arguments: &'b mut AnyArguments<'q>,
    unencodable: &'b mut Option<sqlx::Error>,
}

impl<'q> Binder<'_, 'q> {
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        if let Err(error) = self.arguments.add(value) {
            self.unencodable.get_or_insert(sqlx::Error::Encode(error));
        }
        self
    }
}

impl<'q> Batch<'q> {
    /// An empty batch for the database `conn` is connected to.
    pub fn new(conn: &AnyConnection) -> Self {
        Batch {
            placeholders: Placeholders::of(conn),
            statements: Vec::new(),
            arguments: Vec::new(),
            unencodable: None,
        }
    }

    /// How the statements of this batch write their generated lists.
    pub fn placeholders(&self) -> Placeholders {
        self.placeholders
    }

    /// How many statements were pushed.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Adds a statement whose placeholders came from [`Self::placeholders`]; bind its values
    /// on the returned binder, in order.
    pub fn push(&mut self, sql: String) -> (Slot, Binder<'_, 'q>) {
        let slot = Slot(self.statements.len());
        self.statements.push(sql);
        if self.placeholders == Placeholders::Numbered || self.arguments.is_empty() {
            self.arguments.push(AnyArguments::default());
        }
        let binder = Binder {
            arguments: self.arguments.last_mut().expect("just pushed"),
            unencodable: &mut self.unencodable,
        };
        (slot, binder)
    }

    /// Adds a statement written with numbered placeholders `$1, $2, …`, **each used once, in
    /// order** (a value needed twice is bound twice): on SQLite they become anonymous.
    pub fn push_fixed(&mut self, sql: &str) -> (Slot, Binder<'_, 'q>) {
        let sql = match self.placeholders {
            Placeholders::Numbered => sql.to_owned(),
            Placeholders::Anonymous => anonymous(sql),
        };
        self.push(sql)
    }

    /// Runs the statements in order on `conn`: one [`Done`] per statement, in order, read with
    /// the [`Slot`]s [`Self::push`] gave. The first statement that fails stops the batch and
    /// is the error (inside a transaction, roll it back: the statements before it ran).
    pub async fn run(self, conn: &mut AnyConnection) -> Result<Vec<Done>, sqlx::Error> {
        if let Some(error) = self.unencodable {
            return Err(error);
        }
        let count = self.statements.len();
        let mut done = Vec::with_capacity(count);
        match self.placeholders {
            Placeholders::Anonymous => {
                if let Some(arguments) = self.arguments.into_iter().next() {
                    let sql = self.statements.join(";\n");
                    collect(conn, &sql, arguments, &mut done).await?;
                }
            }
            Placeholders::Numbered => {
                for (sql, arguments) in self.statements.iter().zip(self.arguments) {
                    collect(conn, sql, arguments, &mut done).await?;
                }
            }
        }
        if done.len() != count {
            return Err(sqlx::Error::Protocol(format!(
                "a batch of {count} statements answered for {}",
                done.len()
            )));
        }
        Ok(done)
    }
}

/// Runs `sql` (one statement or several) and appends each statement's outcome to `done`: the
/// driver streams each statement's rows, then its result.
async fn collect<'q>(
    conn: &mut AnyConnection,
    sql: &'q str,
    arguments: AnyArguments<'q>,
    done: &mut Vec<Done>,
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::new();
    let mut stream = conn.fetch_many(sqlx::query_with(sql, arguments));
    while let Some(step) = stream.try_next().await? {
        match step {
            Either::Right(row) => rows.push(row),
            Either::Left(result) => done.push(Done {
                rows: std::mem::take(&mut rows),
                rows_affected: result.rows_affected(),
            }),
        }
    }
    Ok(())
}

/// `sql` with every numbered placeholder `$n` written `?`.
fn anonymous(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_statements_lose_their_numbers_on_sqlite() {
        assert_eq!(
            anonymous("UPDATE d SET a = a + $1, b = b + $2 WHERE code = $3 AND b + $14 >= 0"),
            "UPDATE d SET a = a + ?, b = b + ? WHERE code = ? AND b + ? >= 0"
        );
        assert_eq!(anonymous("SELECT '$' || x"), "SELECT '$' || x");
    }
}
