//! Guards how the gateway serves the built cashier app: cache headers per kind of file (a wrong
//! one either strands phones on an old release or makes them re-download the wasm on a
//! 128 kbit/s line), precompressed variants chosen by `Accept-Encoding`, content types, the
//! client-side router fallback, 404s, the 503 when the app has not been built, and that nothing
//! under a hidden folder or behind a symlink out of `dist` is ever served.
//! Drives the real router in-process; files are real files in a temporary directory.

use std::path::Path;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use tolem_gateway::{AppState, app, db, gateway_key::GatewayKey};
use tower::ServiceExt;

const JS: &str = "/tolem-1a2b3c4d5e6f7a8b.js";
const WASM: &str = "/tolem-1a2b3c4d5e6f7a8b_bg.wasm";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A dist directory like Trunk's, with marker contents instead of real compressed bytes: the
/// body tells which variant was served.
fn write_dist(dir: &Path) {
    let files = [
        ("index.html", "<!doctype html><title>Tolem</title>INDEX"),
        ("sw.js", "SW"),
        ("manifest.webmanifest", "{\"name\":\"Tolem\"}"),
        ("tolem-1a2b3c4d5e6f7a8b.js", "JS-IDENTITY"),
        ("tolem-1a2b3c4d5e6f7a8b.js.br", "JS-BR"),
        ("tolem-1a2b3c4d5e6f7a8b.js.gz", "JS-GZIP"),
        ("tolem-1a2b3c4d5e6f7a8b_bg.wasm", "WASM-IDENTITY"),
        ("tolem-1a2b3c4d5e6f7a8b_bg.wasm.br", "WASM-BR"),
        ("tolem-1a2b3c4d5e6f7a8b_bg.wasm.gz", "WASM-GZIP"),
        ("style-0123456789abcdef.css", "body{}"),
        ("icons/icon-192.png", "PNG"),
    ];
    for (name, contents) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

async fn gateway(dist: &Path) -> Router {
    let pool = db::connect("sqlite::memory:").await.unwrap();
    app(AppState::new(pool, dist, GatewayKey::from_seed(&[1; 32])))
}

/// GETs `path` with an optional `Accept-Encoding`; returns status, headers and body text.
async fn get(app: &Router, path: &str, accept: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn entry_points_are_revalidated() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    let app = gateway(dist.path()).await;

    for (path, content_type) in [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let (status, headers, _) = get(&app, path, Some("gzip, br")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "no-cache",
            "{path}"
        );
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            content_type,
            "{path}"
        );
        assert_eq!(
            header(&headers, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{path}"
        );
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_other_files_kept_a_day() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    let app = gateway(dist.path()).await;

    for path in [JS, WASM, "/style-0123456789abcdef.css"] {
        let (status, headers, _) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, header::CACHE_CONTROL), IMMUTABLE, "{path}");
    }
    let (status, headers, body) = get(&app, "/icons/icon-192.png", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "PNG");
    assert_eq!(
        header(&headers, header::CACHE_CONTROL),
        "public, max-age=86400"
    );
    assert_eq!(header(&headers, header::CONTENT_TYPE), "image/png");
    assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
}

#[tokio::test]
async fn precompressed_variants_follow_accept_encoding() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    let app = gateway(dist.path()).await;

    // (Accept-Encoding, expected body, expected Content-Encoding)
    let cases = [
        (Some("gzip, deflate, br, zstd"), "JS-BR", "br"),
        (Some("br"), "JS-BR", "br"),
        (Some("gzip"), "JS-GZIP", "gzip"),
        (Some("br;q=0, gzip"), "JS-GZIP", "gzip"),
        (Some("br;q=0, gzip;q=0"), "JS-IDENTITY", ""),
        (Some("identity"), "JS-IDENTITY", ""),
        (None, "JS-IDENTITY", ""),
    ];
    for (accept, body_expected, encoding) in cases {
        let (status, headers, body) = get(&app, JS, accept).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert_eq!(body, body_expected, "{accept:?}");
        assert_eq!(
            header(&headers, header::CONTENT_ENCODING),
            encoding,
            "{accept:?}"
        );
        // The type of the original file, whichever variant was sent.
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            "text/javascript",
            "{accept:?}"
        );
        assert!(
            header(&headers, header::VARY)
                .to_ascii_lowercase()
                .contains("accept-encoding"),
            "{accept:?}"
        );
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            IMMUTABLE,
            "{accept:?}"
        );
    }

    let (_, headers, body) = get(&app, WASM, Some("gzip, br")).await;
    assert_eq!(body, "WASM-BR");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/wasm");
    assert_eq!(header(&headers, header::CONTENT_ENCODING), "br");
    let (_, headers, body) = get(&app, WASM, Some("gzip")).await;
    assert_eq!(body, "WASM-GZIP");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/wasm");
}

#[tokio::test]
async fn router_paths_get_index_and_missing_files_404() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    let app = gateway(dist.path()).await;

    let (status, headers, body) = get(&app, "/history", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("INDEX"), "{body}");
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "text/html");

    let (status, _, body) = get(&app, "/payments/new", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("INDEX"));

    for path in ["/missing.js", "/icons/missing.png", "/.env"] {
        let (status, headers, _) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }

    // An unknown API path is a JSON 404, never the app's index.html.
    let (status, headers, body) = get(&app, "/api/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/json");
    assert_eq!(body, r#"{"error":"not_found"}"#);
}

#[tokio::test]
async fn unbuilt_app_answers_503_but_the_api_works() {
    let dist = tempfile::tempdir().unwrap();
    let app = gateway(dist.path()).await;

    for path in ["/", "/history"] {
        let (status, _, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(body.contains("scripts/run.sh"), "{body}");
    }
    let (status, _, _) = get(&app, "/api/health", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn hidden_folders_and_symlinks_out_of_dist_are_never_served() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    for (name, contents) in [(".git/config", "GIT"), ("icons/.secret/key.png", "KEY")] {
        let path = dist.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    // Someone's deploy linked files from outside into the app's folder.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "SECRET").unwrap();
    std::fs::write(outside.path().join("app.js"), "OUTSIDE").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("passwd"),
        dist.path().join("passwd.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dist.path().join("linked")).unwrap();
    // A symlink that stays inside is fine.
    std::os::unix::fs::symlink(dist.path().join("sw.js"), dist.path().join("alias.js")).unwrap();
    let app = gateway(dist.path()).await;

    for path in [
        "/.git/config",
        "/%2egit/config",
        "/icons/.secret/key.png",
        "/passwd.txt",
        "/linked/app.js",
    ] {
        let (status, _, body) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(
            !["GIT", "KEY", "SECRET", "OUTSIDE"].contains(&body.as_str()),
            "{path}"
        );
    }
    let (status, _, body) = get(&app, "/alias.js", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "SW"));
    let (status, _, body) = get(&app, "/icons/icon-192.png", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "PNG"));
}

/// Issue 13 item 16: the app's page holds the signing key, so it runs nothing but the app's own
/// files and the loader Trunk writes inline into `index.html` (allowed by the SHA-256 of the
/// loader being served), cannot be framed, and talks to nobody but the gateway — however the
/// page is asked for. The app's other files need no policy of their own.
#[tokio::test]
async fn the_apps_page_runs_only_its_own_scripts() {
    let dist = tempfile::tempdir().unwrap();
    write_dist(dist.path());
    let loader = "import init from '/tolem-1a2b3c4d5e6f7a8b.js'; await init();";
    std::fs::write(
        dist.path().join("index.html"),
        format!("<!doctype html><title>Tolem</title><script type=\"module\">{loader}</script>"),
    )
    .unwrap();
    let app = gateway(dist.path()).await;
    use base64::Engine as _;
    use sha2::Digest as _;
    let allowed = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(loader))
    );
    for page in ["/", "/pay/kcell", "/index.html"] {
        let (status, headers, _) = get(&app, page, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let policy = header(&headers, header::CONTENT_SECURITY_POLICY);
        assert!(policy.contains(&allowed), "{page}: {policy}");
        for directive in [
            "default-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{page}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{page}: {policy}");
        assert_eq!(header(&headers, header::X_FRAME_OPTIONS), "DENY");
    }
    let (_, headers, _) = get(&app, JS, None).await;
    assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_none());
}
