//! Serving the built cashier app (Trunk's output in `--dist`).
//!
//! On a 128 kbit/s line every byte counts, so:
//! * files whose name carries a content hash never change and are cached for a year;
//! * the entry points (`index.html`, `sw.js`, the manifest) are revalidated on every load, so a
//!   new release reaches the phone as soon as it is online;
//! * the build writes `X.br` and `X.gz` next to `X`, served when the browser accepts them
//!   (tower-http picks the variant by `Accept-Encoding`, honouring q-values and `q=0`, brotli
//!   first at equal q; we add `Vary` so caches keep the variants apart);
//! * a path without an extension is a page of the client-side router and gets `index.html`;
//! * nothing hidden is served (a `.git/` or `.env` anywhere in the path, even percent-encoded),
//!   and nothing a symlink in `dist` points to outside it: a careless deploy must not publish
//!   the server's files.

use std::path::{Path, PathBuf};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use tolem_protocol::assets::is_content_hashed;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use super::app_policy;
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
    /// A hidden file or one in a hidden folder (`.env`, `.git/config`...): never served, even
    /// if someone left one in `dist`.
    Hidden,
}

impl Asset {
    fn of(path: &str) -> Self {
        // Decoded as the file service will decode it: `%2e` is a dot there too.
        let path = decoded(path);
        if path.split('/').any(|segment| segment.starts_with('.')) {
            return Asset::Hidden;
        }
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

/// A request path percent-decoded (invalid UTF-8 replaced, so it can only fail to match).
fn decoded(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether every file the services might send for `file` (itself, its precompressed variants,
/// a folder's `index.html`) that exists really lies inside `dist`, symlinks resolved. One that
/// cannot be resolved counts as outside: refusing is the safe side.
async fn stays_inside(dist: &Path, file: &Path) -> bool {
    let mut candidates = Vec::new();
    for base in [file.to_path_buf(), file.join("index.html")] {
        for suffix in ["", ".br", ".gz"] {
            let mut name = base.clone().into_os_string();
            name.push(suffix);
            candidates.push(PathBuf::from(name));
        }
    }
    for candidate in candidates {
        if tokio::fs::symlink_metadata(&candidate).await.is_err() {
            continue; // Not there: the service will not send it either.
        }
        let (Ok(dist), Ok(real)) = (
            tokio::fs::canonicalize(dist).await,
            tokio::fs::canonicalize(&candidate).await,
        ) else {
            return false;
        };
        if !real.starts_with(&dist) {
            return false;
        }
    }
    true
}

/// The router's fallback: everything that is not `/api/...`.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let files = &state.static_files;
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let asset = Asset::of(request.uri().path());
    // The app's page, however it is asked for (the service worker precaches `/index.html` and
    // serves that copy, headers included, to navigations offline).
    let is_index = is_read && (asset == Asset::Page || request.uri().path() == "/index.html");
    let file = match asset {
        Asset::Page if is_read => files.index.clone(),
        _ => files
            .dist
            .join(decoded(request.uri().path()).trim_start_matches('/')),
    };
    if asset != Asset::Hidden && !stays_inside(&files.dist, &file).await {
        tracing::warn!(path = %request.uri().path(), "static file outside dist refused");
        return not_found();
    }
    let (policy, response) = match asset {
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
    if is_index {
        // Read per request (a couple of kilobytes): the policy names the inline loader of the
        // index being served, even right after a rebuild.
        let index = tokio::fs::read_to_string(&files.index)
            .await
            .unwrap_or_default();
        if let Ok(value) = HeaderValue::from_str(&app_policy::policy(&index)) {
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
        }
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
        assert_eq!(Asset::of("/.git/config"), Asset::Hidden);
        assert_eq!(Asset::of("/icons/.hidden/icon.png"), Asset::Hidden);
        assert_eq!(Asset::of("/%2egit/HEAD"), Asset::Hidden);
        assert_eq!(Asset::of("/a/%2Essh/id_ed25519"), Asset::Hidden);
    }
}
