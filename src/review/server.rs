//! The review page's HTTP side (axum on tokio): fixed routes only, every request checked for
//! the Host header and the token first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_http::services::ServeFile;

use super::store::{Exported, Store};
use super::{Review, ReviewError};
use crate::export::{JsonDocument, Template};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// A 3-hour meeting's JSON is a few MB; anything far larger is not an edit of it.
const BODY_LIMIT: usize = 64 << 20;
/// How long requests under way may take to finish after shutdown is asked for.
const GRACE: Duration = Duration::from_secs(3);

/// What happened while the page was served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub saves: usize,
    pub exports: usize,
}

struct App {
    store: Store,
    /// One save or export at a time: the revision check and the write go together.
    writing: tokio::sync::Mutex<()>,
    token: String,
    cookie: String,
    hosts: [String; 2],
    origins: [String; 2],
    templates: Vec<(String, String, Template)>,
    audio_name: String,
    last_export: Mutex<Option<Exported>>,
    served: Mutex<Served>,
}

pub(super) fn run(
    review: Review,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Served, ReviewError> {
    let addr = review.addr();
    let port = addr.port();
    let bind_err = |source| ReviewError::Bind { port, source };
    let app = Arc::new(App {
        store: Store::new(&review.json),
        writing: tokio::sync::Mutex::new(()),
        cookie: format!("gijiroku_{port}"),
        hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        origins: [
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ],
        token: review.token,
        templates: review.templates,
        audio_name: review
            .audio
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        last_export: Mutex::new(None),
        served: Mutex::new(Served::default()),
    });
    let router = Router::new()
        .route("/", get(index))
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/api/doc", get(get_doc).put(put_doc))
        .route("/api/export", axum::routing::post(post_export))
        .route("/download", get(download))
        // The one file served from disk; its path never comes from the request.
        .route_service("/audio", ServeFile::new(&review.audio))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::clone(&app));

    review.listener.set_nonblocking(true).map_err(bind_err)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(bind_err)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(review.listener).map_err(bind_err)?;
        let (asked, stopping) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = asked.send(());
        });
        tokio::select! {
            r = server => r.map_err(bind_err)?,
            _ = async {
                let _ = stopping.await;
                tokio::time::sleep(GRACE).await;
            } => {}
        }
        Ok::<(), ReviewError>(())
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    let served = *app.served.lock().unwrap_or_else(|e| e.into_inner());
    Ok(served)
}

/// Host check (DNS rebinding), origin check for writes, then the token: from the URL
/// (which sets the cookie) or the cookie.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| app.hosts.iter().any(|x| x == h)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "このアドレスでは開けません。",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if origin.is_some_and(|o| !app.origins.iter().any(|x| x == o)) {
            return refuse(
                StatusCode::FORBIDDEN,
                "別のサイトからの操作は受け付けません。",
            );
        }
    }
    let by_query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .is_some_and(|t| same(t, &app.token));
    let by_cookie = cookie(headers, &app.cookie).is_some_and(|t| same(t, &app.token));
    if !by_query && !by_cookie {
        return refuse(
            StatusCode::FORBIDDEN,
            "このページは gijiroku review が表示した URL（token 付き）で開いてください。",
        );
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if by_query {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            app.cookie, app.token
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// Constant-time comparison: the token must not leak through timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

/// An error as the page shows it: `{"error": kind, "message": Japanese text}`.
fn error_response(e: &ReviewError) -> Response {
    let (status, kind) = match e {
        ReviewError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
        ReviewError::Exists { .. } => (StatusCode::CONFLICT, "exists"),
        ReviewError::BadEdit { .. } => (StatusCode::BAD_REQUEST, "bad_edit"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "io"),
    };
    tracing::warn!(error = %e, "review request failed");
    (
        status,
        Json(json!({"error": kind, "message": e.to_string()})),
    )
        .into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ReviewError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

async fn get_doc(State(app): State<Arc<App>>) -> Response {
    let a = Arc::clone(&app);
    match blocking(move || a.store.load()).await {
        Ok((doc, revision)) => {
            let json_name = app
                .store
                .path()
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let seconds = doc.audio.as_ref().map_or(doc.audio_seconds, |a| a.seconds);
            let templates: Vec<_> = app
                .templates
                .iter()
                .map(|(id, label, _)| json!({"id": id, "label": label}))
                .collect();
            Json(json!({
                "revision": revision,
                "doc": doc,
                "json_name": json_name,
                "audio": {"name": app.audio_name, "seconds": seconds},
                "templates": templates,
            }))
            .into_response()
        }
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
struct SaveRequest {
    revision: String,
    doc: JsonDocument,
}

async fn put_doc(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req: SaveRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(&ReviewError::BadEdit {
                detail: e.to_string(),
            })
        }
    };
    let _one_at_a_time = app.writing.lock().await;
    let a = Arc::clone(&app);
    match blocking(move || a.store.save(&req.revision, req.doc)).await {
        Ok(revision) => {
            app.served.lock().unwrap_or_else(|e| e.into_inner()).saves += 1;
            Json(json!({"revision": revision})).into_response()
        }
        Err(e) => error_response(&e),
    }
}

#[derive(Deserialize)]
struct ExportRequest {
    template: String,
    #[serde(default)]
    overwrite: bool,
}

async fn post_export(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let req: ExportRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(&ReviewError::BadEdit {
                detail: e.to_string(),
            })
        }
    };
    let Some((_, _, template)) = app.templates.iter().find(|(id, _, _)| *id == req.template) else {
        return error_response(&ReviewError::BadEdit {
            detail: format!("様式 `{}` はありません", req.template),
        });
    };
    let template = template.clone();
    let _one_at_a_time = app.writing.lock().await;
    let a = Arc::clone(&app);
    match blocking(move || a.store.export(&template, req.overwrite)).await {
        Ok(exported) => {
            let file = exported
                .path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let path = exported.path.display().to_string();
            *app.last_export.lock().unwrap_or_else(|e| e.into_inner()) = Some(exported);
            app.served.lock().unwrap_or_else(|e| e.into_inner()).exports += 1;
            Json(json!({"file": file, "path": path, "download": "/download"})).into_response()
        }
        Err(e) => error_response(&e),
    }
}

/// The last export, as a download (from memory: no request names a file).
async fn download(State(app): State<Arc<App>>) -> Response {
    let last = app
        .last_export
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(exported) = last else {
        return refuse(StatusCode::NOT_FOUND, "まだ書き出していません。");
    };
    let name = exported
        .path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let disposition = format!(
        "attachment; filename=\"minutes.docx\"; filename*=UTF-8''{}",
        percent_encode(&name)
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        exported.bytes,
    )
        .into_response()
}

/// RFC 5987 percent-encoding for the download's file name.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gijiroku_8080=tok; b=2"),
        );
        assert_eq!(cookie(&h, "gijiroku_8080"), Some("tok"));
        assert_eq!(cookie(&h, "gijiroku_8081"), None);
    }

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(percent_encode("会議.docx"), "%E4%BC%9A%E8%AD%B0.docx");
    }
}
