//! Serving the built cashier app (Trunk's output in `--dist`).
//!
//! On a 128 kbit/s line every byte counts, so:
//! * files whose name carries a content hash never change and are cached for a year;
//! * the entry points (`index.html`, `sw.js`, the manifest) are revalidated on every load, so a
//!   new release reaches the phone as soon as it is online;
//! * the build writes `X.br` and `X.gz` next to `X`, served when the browser accepts them
//!   (tower-http picks the variant by `Accept-Encoding`, honouring q-values and `q=0`, brotli
//!   first at equal q; we add `Vary` so caches keep the variants apart);
//! * a path without an extension is a page of the client-side router and gets `index.html`.

use std::path::PathBuf;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use tolem_protocol::assets::is_content_hashed;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

/// The built app on disk and the services that read it.
#[derive(Debug)]
pub struct StaticFiles {
    dist: PathBuf,
    index: PathBuf,
    dir: ServeDir,
    index_file: ServeFile,
}

impl StaticFiles {
    /// Serves the app built into `dist`. Warns (but carries on, so the API stays usable) when
    /// the app has not been built.
    pub fn new(dist: PathBuf) -> Self {
        let index = dist.join("index.html");
        if !index.is_file() {
            tracing::warn!(
                dist = %dist.display(),
                "no index.html in the app directory: the API works, the app does not; \
                 build it with scripts/run.sh or point --dist at the built app"
            );
        }
        Self {
            dir: ServeDir::new(&dist).precompressed_br().precompressed_gzip(),
            index_file: ServeFile::new(&index)
                .precompressed_br()
                .precompressed_gzip(),
            dist,
            index,
        }
    }
}

/// How long a browser (and any cache on the way) may keep a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CachePolicy {
    /// Entry points: keep, but ask the server every time whether it changed.
    Revalidate,
    /// Content-hashed names: a changed file gets a new name, so the old one never changes.
    Immutable,
    /// Everything else (icons...): a day is a fair trade between freshness and traffic.
    OneDay,
}

impl CachePolicy {
    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            CachePolicy::Revalidate => "no-cache",
            CachePolicy::Immutable => "public, max-age=31536000, immutable",
            CachePolicy::OneDay => "public, max-age=86400",
        })
    }
}

/// What a request path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asset {
    /// A page of the client-side router: answered with `index.html`.
    Page,
    /// A file of the build.
    File(CachePolicy),
    /// A hidden file (`.env`, `.git`...): never served, even if someone left one in `dist`.
    Hidden,
}

impl Asset {
    fn of(path: &str) -> Self {
        let name = path.rsplit('/').next().unwrap_or_default();
        if name.starts_with('.') {
            Asset::Hidden
        } else if !name.contains('.') {
            Asset::Page
        } else if matches!(name, "index.html" | "sw.js" | "manifest.webmanifest") {
            Asset::File(CachePolicy::Revalidate)
        } else if is_content_hashed(name) {
            Asset::File(CachePolicy::Immutable)
        } else {
            Asset::File(CachePolicy::OneDay)
        }
    }
}

/// The router's fallback: everything that is not `/api/...`.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let files = &state.static_files;
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let (policy, response) = match Asset::of(request.uri().path()) {
        Asset::Hidden => return not_found(),
        Asset::Page if is_read => {
            let built = tokio::fs::metadata(&files.index)
                .await
                .is_ok_and(|m| m.is_file());
            if !built {
                return not_built(files);
            }
            (
                CachePolicy::Revalidate,
                files.index_file.clone().oneshot(request).await,
            )
        }
        Asset::Page => (
            CachePolicy::Revalidate,
            files.dir.clone().oneshot(request).await,
        ),
        Asset::File(policy) => (policy, files.dir.clone().oneshot(request).await),
    };
    // Both services are infallible (`Result<_, Infallible>`): I/O problems come back as 500s.
    let Ok(response) = response;
    let mut response = response.map(Body::new);

    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return not_found();
    }
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, policy.header_value());
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// A plain 404 (ServeDir's own has an empty body).
fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// 503 when `dist` holds no built app, telling the person at the browser how to fix it.
fn not_built(files: &StaticFiles) -> Response {
    let message = format!(
        "The Tolem cashier app has not been built: there is no index.html in {}.\n\
         Build and start everything with scripts/run.sh, or point --dist (TOLEM_DIST) at the \
         built app.\n",
        files.dist.display()
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, "no-store")],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified() {
        assert_eq!(Asset::of("/"), Asset::Page);
        assert_eq!(Asset::of("/history"), Asset::Page);
        assert_eq!(
            Asset::of("/index.html"),
            Asset::File(CachePolicy::Revalidate)
        );
        assert_eq!(Asset::of("/sw.js"), Asset::File(CachePolicy::Revalidate));
        assert_eq!(
            Asset::of("/icons/icon-192.png"),
            Asset::File(CachePolicy::OneDay)
        );
        assert_eq!(Asset::of("/.env"), Asset::Hidden);
    }
}
