//! What the operator's monitoring reads at `/metrics` (Prometheus text format, issue 15): the
//! protocol's answers by step and result code, request latency by face, and — read from the
//! database when scraped, so every gateway of a cluster reports the same shared queues — how
//! many provider deliveries and letters wait and how long the oldest has waited; and how the
//! payment writer's groups go ([`GroupMetrics`]): their size and the time of each of their
//! steps, where a SQLite gateway's payments wait for one another, and how many payments wait
//! aside for a dealer's row another transaction holds (PostgreSQL).
//!
//! Counters and histograms are this process's (Prometheus sums them over the instances); the
//! queue gauges are the database's. Nothing here names a point, an account or an amount.

use std::time::Duration;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use sqlx::AnyPool;

/// The labels of one kind of protocol answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    /// The step (`pay`, `status`, `key-card`…), from the request's path.
    step: String,
    /// The result code's number.
    code: u16,
}

/// Which face of the gateway answered a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaceLabels {
    face: &'static str,
}

/// The step of a payment group a time is of.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupStepLabels {
    step: &'static str,
}

/// The process's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    answers: Family<AnswerLabels, Counter>,
    latency: Family<FaceLabels, Histogram, fn() -> Histogram>,
    /// Shared with the payment writer, which observes every group it commits.
    pub groups: GroupMetrics,
}

/// How the payment writer's committed groups went ([`crate::payments::group`]): how many
/// payments each decided, and how long each step took. Cheap to clone: the clones observe into
/// the same histograms.
#[derive(Clone, Debug)]
pub struct GroupMetrics {
    payments: Histogram,
    steps: Family<GroupStepLabels, Histogram, fn() -> Histogram>,
    /// Payments waiting aside, their dealers' rows held (see [`crate::payments::group`]).
    aside: Gauge,
}

/// The time of each step of one committed payment group.
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupSteps {
    /// Waiting for the write lock's turn and a connection, and beginning the transaction (on
    /// SQLite's kept connection the transaction begins in the first batch that follows).
    pub turn: Duration,
    /// Reading the group's figures, deciding each payment and writing what was decided (on
    /// SQLite's kept connection with the commit, and the begin when no riders came first).
    pub decide: Duration,
    /// Writing the delivery worker's claims and outcomes that ride along (SQLite; there they
    /// come first, and begin the transaction).
    pub riders: Duration,
    /// The commit in a trip of its own: on PostgreSQL (and a group of one); zero where it
    /// rode with the last writes ([`crate::db::InlineTx`]).
    pub commit: Duration,
}

impl Default for GroupMetrics {
    fn default() -> Self {
        GroupMetrics {
            // 1 … 256 payments ([`crate::payments::group::GROUP_LIMIT`]).
            payments: doubling(1.0, 9),
            // 0.1 ms … about 1.6 s: a group of a few payments takes a few milliseconds.
            steps: Family::new_with_constructor(|| doubling(0.0001, 15)),
            aside: Gauge::default(),
        }
    }
}

impl GroupMetrics {
    /// Records a committed group of `payments` payments whose steps took `steps`.
    pub fn observe(&self, payments: usize, steps: &GroupSteps) {
        self.payments.observe(payments as f64);
        for (step, took) in [
            ("turn", steps.turn),
            ("decide", steps.decide),
            ("riders", steps.riders),
            ("commit", steps.commit),
        ] {
            self.steps
                .get_or_create(&GroupStepLabels { step })
                .observe(took.as_secs_f64());
        }
    }

    /// Records that `payments` payments now wait aside for their dealers' rows.
    pub fn set_aside(&self, payments: usize) {
        self.aside.set(i64::try_from(payments).unwrap_or(i64::MAX));
    }

    /// How many payments wait aside for their dealers' rows.
    pub fn aside(&self) -> usize {
        usize::try_from(self.aside.get()).unwrap_or(0)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            answers: Family::default(),
            // 1 ms … about 16 s: a signed pay takes a few milliseconds, a 128 kbit/s client
            // holds a request for seconds.
            latency: Family::new_with_constructor(|| doubling(0.001, 15)),
            groups: GroupMetrics::default(),
        }
    }
}

/// A histogram whose `count` buckets double from `start` (and one for the rest).
fn doubling(start: f64, count: u16) -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        start, 2.0, count,
    ))
}

/// The face a path belongs to, for the latency histogram (a handful of values, never the path).
pub fn face_of(path: &str) -> &'static str {
    if path.starts_with("/api/") {
        "api"
    } else if path.starts_with("/console") {
        "console"
    } else if path.starts_with("/bill/")
        || path.starts_with("/card/")
        || path.starts_with("/receipt/")
        || path.starts_with("/verify")
    {
        "public"
    } else if path == "/metrics" {
        "metrics"
    } else {
        "app"
    }
}

impl Metrics {
    /// Counts one protocol answer of `step` with result code `code`.
    pub fn answered(&self, step: &str, code: u16) {
        // Steps come from the router's own paths; anything else is one bucket, so a client
        // inventing paths cannot grow the label set.
        let step = match step {
            "pay" | "check" | "status" | "bill" | "cancel" | "balance" | "revoke" | "message"
            | "key-card" | "keys" | "providers" => step,
            _ => "other",
        };
        self.answers
            .get_or_create(&AnswerLabels {
                step: step.to_owned(),
                code,
            })
            .inc();
    }

    /// Records how long a request to `face` took.
    pub fn took(&self, face: &'static str, elapsed: Duration) {
        self.latency
            .get_or_create(&FaceLabels { face })
            .observe(elapsed.as_secs_f64());
    }

    /// The text the `/metrics` endpoint answers: this process's metrics and the shared queues.
    pub async fn render(&self, pool: &AnyPool) -> Result<String, sqlx::Error> {
        let now = crate::db::now_ms();
        let deliveries = queue(
            pool,
            "deliveries",
            "queued_at_ms",
            "state IN ('queued', 'sent', 'retrying')",
            now,
        )
        .await?;
        let letters = queue(pool, "mail_outbox", "created_at_ms", "state <> 'sent'", now).await?;

        let mut registry = Registry::default();
        registry.register(
            "tolem_protocol_answers",
            "Protocol answers of this gateway process, by step and result code",
            self.answers.clone(),
        );
        registry.register(
            "tolem_request_duration_seconds",
            "Time to answer an HTTP request, by face (api, console, public, app)",
            self.latency.clone(),
        );
        registry.register(
            "tolem_payment_group_payments",
            "Payments decided in one committed group of the payment writer",
            self.groups.payments.clone(),
        );
        registry.register(
            "tolem_payment_group_step_seconds",
            "Time of each step of a committed payment group (turn, decide, riders, commit)",
            self.groups.steps.clone(),
        );
        registry.register(
            "tolem_payments_aside",
            "Payments waiting for a dealer's row another database transaction holds (PostgreSQL)",
            self.groups.aside.clone(),
        );
        for (name, help, value) in [
            (
                "tolem_delivery_queue_depth",
                "Payments not yet delivered to their provider",
                deliveries.depth,
            ),
            (
                "tolem_delivery_queue_oldest_age_seconds",
                "How long the oldest undelivered payment has waited",
                deliveries.oldest_age_s,
            ),
            (
                "tolem_mail_queue_depth",
                "Signed letters not yet handed to the mail server",
                letters.depth,
            ),
            (
                "tolem_mail_queue_oldest_age_seconds",
                "How long the oldest unsent letter has waited",
                letters.oldest_age_s,
            ),
        ] {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            registry.register(name, help, gauge);
        }
        let mut text = String::new();
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        Ok(text)
    }
}

/// A queue's depth and the age of its oldest entry (0 when empty).
struct Queue {
    depth: i64,
    oldest_age_s: i64,
}

/// Reads a queue from `table`: the rows matching `waiting`, aged by `since_column`. The names
/// are this module's constants, never input.
async fn queue(
    pool: &AnyPool,
    table: &str,
    since_column: &str,
    waiting: &str,
    now_ms: i64,
) -> Result<Queue, sqlx::Error> {
    let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), MIN({since_column}) FROM {table} WHERE {waiting}"
    ))
    .fetch_one(pool)
    .await?;
    Ok(Queue {
        depth,
        oldest_age_s: oldest.map_or(0, |oldest| (now_ms - oldest).max(0) / 1000),
    })
}

#[cfg(test)]
mod tests {
    use super::face_of;

    /// The public pages' latency is read apart from the app's files: each of their routes
    /// (`public::router`) counts as public.
    #[test]
    fn every_public_page_counts_as_public() {
        for path in [
            "/bill/token",
            "/card/bill/1/check",
            "/receipt/T-1/session",
            "/verify",
        ] {
            assert_eq!(face_of(path), "public", "{path}");
        }
        assert_eq!(face_of("/api/v1/pay"), "api");
        assert_eq!(face_of("/console/points"), "console");
        assert_eq!(face_of("/index.html"), "app");
    }
}
