//! Statements sent together: on SQLite in **one** hand-off to the connection's thread; on
//! PostgreSQL one after another, except a batch of writes ([`Batch::writes`]), which goes as
//! one statement.
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
//! On PostgreSQL each statement is a round trip to the server, and the payment writer's group
//! holds its dealers' row locks through every one: about eighteen trips a group, which set
//! PostgreSQL's pace under the gateway benchmark (the writer in a group 99 % of the run, issue
//! 14). A batch that only writes — the group's last, seven statements — is sent as **one**
//! statement there, each write a data-modifying `WITH` of it
//! (<https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING>): one
//! trip, and still all or nothing, since a statement fails whole. Such writes run on one
//! snapshot and cannot see one another's rows, so no two may touch the same row; a foreign key
//! to a row written beside it holds, because its check runs at the statement's end.
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
    /// Writes only, sent as one statement on PostgreSQL ([`Self::writes`]).
    writes_only: bool,
    statements: Vec<String>,
    /// Each statement's values; one list for them all, in order, where the statements go as
    /// one query (on SQLite, and a batch of writes).
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
            writes_only: false,
            statements: Vec::new(),
            arguments: Vec::new(),
            unencodable: None,
        }
    }

    /// An empty batch of writes for the database `conn` is connected to: `INSERT`, `UPDATE`
    /// or `DELETE` statements without `RETURNING`, whose outcome is only how many rows each
    /// touched, no two of them touching the same row. On PostgreSQL they go as one statement
    /// (the module docs say why); [`Self::run`] refuses any other statement there.
    pub fn writes(conn: &AnyConnection) -> Self {
        Batch {
            writes_only: true,
            ..Batch::new(conn)
        }
    }

    /// Whether the statements go to the database as one query, bound from one list of values.
    fn as_one_query(&self) -> bool {
        self.placeholders == Placeholders::Anonymous || self.writes_only
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
        let sql = match self.placeholders {
            // Its values follow those of the statements before it in the one list.
            Placeholders::Numbered if self.writes_only => {
                renumbered(&sql, self.arguments.first().map_or(0, Arguments::len))
            }
            _ => sql,
        };
        self.statements.push(sql);
        if !self.as_one_query() || self.arguments.is_empty() {
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
            Placeholders::Numbered if self.writes_only && count > 1 => {
                let sql = one_statement(&self.statements)?;
                let arguments = self.arguments.into_iter().next().unwrap_or_default();
                let row = sqlx::query_with(&sql, arguments).fetch_one(conn).await?;
                for index in 0..count {
                    let touched: i64 = row.try_get(index)?;
                    done.push(Done {
                        rows: Vec::new(),
                        rows_affected: u64::try_from(touched).unwrap_or(0),
                    });
                }
            }
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

/// PostgreSQL's writes `statements` (numbered across them all) as one statement, each a
/// data-modifying `WITH` whose rows are counted: one row, one count per write, in order.
fn one_statement(statements: &[String]) -> Result<String, sqlx::Error> {
    let mut withs = Vec::with_capacity(statements.len());
    let mut counts = Vec::with_capacity(statements.len());
    for (index, sql) in statements.iter().enumerate() {
        let verb = sql.split_whitespace().next().unwrap_or_default();
        let is_write = ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|write| verb.eq_ignore_ascii_case(write));
        if !is_write || sql.to_ascii_uppercase().contains("RETURNING") {
            return Err(sqlx::Error::Protocol(format!(
                "a batch of writes holds a statement that is not a plain write: {verb}"
            )));
        }
        withs.push(format!("w{index} AS ({sql} RETURNING 1)"));
        counts.push(format!("(SELECT COUNT(*) FROM w{index})"));
    }
    Ok(format!(
        "WITH {} SELECT {}",
        withs.join(", "),
        counts.join(", ")
    ))
}

/// `sql` with every numbered placeholder `$n` written `?`.
fn anonymous(sql: &str) -> String {
    with_placeholders(sql, |_| "?".to_owned())
}

/// `sql` with every numbered placeholder `$n` written `$(n + offset)`.
fn renumbered(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    with_placeholders(sql, |n| format!("${}", n + offset))
}

/// `sql` with every numbered placeholder `$n` written as `write(n)` says.
fn with_placeholders(sql: &str, write: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0_usize;
            while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(digit as usize);
                chars.next();
            }
            out.push_str(&write(n));
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

    #[test]
    fn a_write_numbers_its_values_after_those_of_the_writes_before_it() {
        assert_eq!(
            renumbered("UPDATE d SET a = a + $1 WHERE code = $2 OR code = $10", 7),
            "UPDATE d SET a = a + $8 WHERE code = $9 OR code = $17"
        );
        assert_eq!(
            renumbered("DELETE FROM d WHERE code = $1", 0),
            "DELETE FROM d WHERE code = $1"
        );
    }

    #[test]
    fn postgresql_writes_go_as_one_statement_and_nothing_else_does() {
        let writes = [
            "INSERT INTO a (x) VALUES ($1)".to_owned(),
            "UPDATE b SET y = y + $2 WHERE code = $3".to_owned(),
        ];
        assert_eq!(
            one_statement(&writes).unwrap(),
            "WITH w0 AS (INSERT INTO a (x) VALUES ($1) RETURNING 1), \
             w1 AS (UPDATE b SET y = y + $2 WHERE code = $3 RETURNING 1) \
             SELECT (SELECT COUNT(*) FROM w0), (SELECT COUNT(*) FROM w1)"
        );
        for not_a_write in ["SELECT 1", "UPDATE b SET y = 1 RETURNING y", "COMMIT"] {
            assert!(
                one_statement(&[not_a_write.to_owned()]).is_err(),
                "{not_a_write}"
            );
        }
    }
}
