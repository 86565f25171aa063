//! Errors of the web layer, and the pages that explain them to a reader.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use dateline_storage::StorageError;

use crate::AppState;

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("template error: {0:#}")]
    Render(#[from] minijinja::Error),
}

/// Marks a response whose page the error middleware renders.
#[derive(Debug, Clone, Copy)]
struct ErrorPage;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            other => {
                // The whole cause chain goes to the log, never to the reader.
                tracing::error!(error = %other, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(ErrorPage);
        response
    }
}

/// Renders the reader's page for 404s and 5xxs, in the edition of the address asked for.
pub async fn error_pages(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    if response.extensions().get::<ErrorPage>().is_none() {
        return response;
    }
    let status = response.status();
    let lang = state.site.edition_of(&path).clone();
    match crate::pages::error_page(&state, &lang, status).await {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not render the error page");
            (
                status,
                Html(format!(
                    "<!doctype html><title>{status}</title><h1>{status}</h1>"
                )),
            )
                .into_response()
        }
    }
}
