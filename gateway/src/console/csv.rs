//! CSV files the console exports (payments, the audit trail): RFC 4180 (comma-separated,
//! CRLF line ends, fields with a comma, quote or line break in double quotes), UTF-8 with a
//! byte-order mark so that Excel opens Cyrillic and Kazakh text correctly instead of guessing
//! a Windows code page.
//!
//! Text that came from outside (a cashier's comment, a point's name) and starts with `=`, `+`,
//! `-`, `@`, a tab or a carriage return is prefixed with `'`: a spreadsheet would otherwise run
//! it as a formula (CSV injection). Spreadsheets skip leading spaces and read the full-width
//! `＝＋－＠` of East Asian keyboards as the ASCII ones, so those count too, after any leading
//! white space. Numbers and times the gateway writes itself are not touched.
//!
//! An export is written a page at a time as it is read ([`download_in_pages`]): a busy dealer's
//! year of payments, or the operator's whole audit trail, is millions of rows — read at once and
//! held as one string, that was gigabytes of the gateway's memory for one click, and a few
//! clicks at once ended the process for everyone.

use std::future::Future;

use axum::{
    body::Body,
    http::header,
    response::{IntoResponse, Response},
};
use futures_util::{StreamExt, stream};

/// Rows of a CSV file being written: the file's start ([`Csv::new`]) or a page of its rows
/// ([`Csv::page`]).
pub struct Csv {
    body: String,
}

impl Csv {
    /// A file that starts with the byte-order mark and `header`.
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv {
            body: String::from("\u{feff}"),
        };
        let cells: Vec<Cell> = header.iter().map(|h| Cell::Text(h)).collect();
        csv.row(&cells);
        csv
    }

    /// Rows to follow others: a page of a file being written.
    pub fn page() -> Csv {
        Csv {
            body: String::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, cells: &[Cell<'_>]) {
        let line: Vec<String> = cells.iter().map(Cell::encoded).collect();
        self.body.push_str(&line.join(","));
        self.body.push_str("\r\n");
    }

    /// The text written.
    pub fn into_text(self) -> String {
        self.body
    }
}

/// A CSV download named `filename`, `header` then the pages `next_page` reads, one after the
/// other while the file goes out: `next_page` gets where the page before ended (`start` for the
/// first) and gives back the page's rows ([`Csv::page`]) and where the next begins (`None`:
/// it was the last). A database error on the way cuts the file short (the browser reports the
/// download failed); it is logged.
pub fn download_in_pages<K, F, Fut>(
    header: &[&str],
    filename: &str,
    start: K,
    next_page: F,
) -> Response
where
    K: Send + 'static,
    F: FnMut(K) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Csv, Option<K>), sqlx::Error>> + Send + 'static,
{
    let first = Csv::new(header).into_text();
    let filename = filename.to_owned();
    let rows = stream::unfold(
        (Some(start), next_page, filename.clone()),
        |(at, mut next_page, filename)| async move {
            let at = at?;
            match next_page(at).await {
                Ok((page, next)) => Some((Ok(page.into_text()), (next, next_page, filename))),
                Err(error) => {
                    tracing::error!(%error, file = %filename, "CSV export cut short");
                    Some((Err(error), (None, next_page, filename)))
                }
            }
        },
    );
    let body = stream::iter([Ok::<_, sqlx::Error>(first)]).chain(rows);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A field of a row.
pub enum Cell<'a> {
    /// Text from outside: quoted when needed, guarded against formulas.
    Text(&'a str),
    /// A number or time the gateway wrote: as it is.
    Plain(String),
}

impl Cell<'_> {
    fn encoded(&self) -> String {
        match self {
            Cell::Plain(text) => quoted(text),
            Cell::Text(text) => {
                if looks_like_formula(text) {
                    quoted(&format!("'{text}"))
                } else {
                    quoted(text)
                }
            }
        }
    }
}

/// Whether a spreadsheet could take `text` for a formula (see the module docs).
fn looks_like_formula(text: &str) -> bool {
    const STARTS: [char; 8] = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];
    text.starts_with(['\t', '\r', '\n'])
        || text.trim_start().starts_with(|c: char| STARTS.contains(&c))
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(&[
            Cell::Text("Киоск, \"Береке\""),
            Cell::Plain("-12.50".into()),
        ]);
        csv.row(&[Cell::Text("=HYPERLINK(\"x\")"), Cell::Text("line\nbreak")]);
        assert_eq!(
            csv.body,
            "\u{feff}a,b\r\n\"Киоск, \"\"Береке\"\"\",-12.50\r\n\"'=HYPERLINK(\"\"x\"\")\",\"line\nbreak\"\r\n"
        );
    }

    #[test]
    fn formulas_behind_white_space_or_in_full_width_are_defused_too() {
        for formula in [
            " =1+1",
            "\t=1+1",
            "  \u{3000}@SUM(A1)",
            "＝HYPERLINK(\"x\")",
            "＋1",
            "－1",
            "＠A1",
            " ＝1",
            "\n=1",
        ] {
            let encoded = Cell::Text(formula).encoded();
            assert!(
                encoded.starts_with('\'') || encoded.starts_with("\"'"),
                "{formula:?} became {encoded:?}"
            );
        }
        for plain in ["Береке", "a=b", "1-2", " text", "mail@tolem.kz"] {
            assert_eq!(Cell::Text(plain).encoded(), quoted(plain), "{plain:?}");
        }
    }
}
