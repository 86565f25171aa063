//! `POST /api/v1/media`: an image upload, the file's bytes as the request body. The answer
//! gives what an editor's `<img>` needs: `src`, `srcset`, `sizes`, `width` and `height`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dateline_core::account::Role;
use dateline_core::media::ARTICLE_SIZES;
use jiff::Timestamp;
use serde_json::json;

use super::{address, record, ApiError, Caller, ClientAddr};
use crate::media::{process, MediaError};
use crate::AppState;

/// How many uploads are decoded at once: each may take a few hundred megabytes and a core.
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

pub async fn upload(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let grants = &account.grants;
    if !(grants.has(Role::Contributor) || grants.has(Role::Editor) || grants.has(Role::ChiefEditor))
    {
        return Err(ApiError::Forbidden(format!(
            "{} has no editorial role, and so no images to upload",
            account.username
        )));
    }
    let permit = DECODING
        .acquire()
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // The permit goes with the work: a client that hangs up does not free a decode's place
    // while the decode still runs.
    let done = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        process(&bytes)
    })
    .await
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let written = match done {
        Ok(processed) => state
            .site
            .media
            .write(&processed)
            .await
            .map(|()| processed.media),
        Err(e) => Err(e),
    };
    let media = match written {
        Ok(media) => media,
        Err(e @ (MediaError::Io(_) | MediaError::Store(_))) => {
            tracing::error!(error = %e, "could not write an image's renditions");
            return Err(ApiError::Storage(dateline_storage::StorageError::Corrupt(
                e.to_string(),
            )));
        }
        Err(e) => return Err(ApiError::Unprocessable(e.to_string())),
    };
    state
        .store
        .add_media(&media, account.id, Timestamp::now())
        .await?;
    tracing::info!(media = %media.id, by = %account.username, width = media.width, height = media.height, "stored an image");
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "media.upload",
        format!("media {}", media.id),
        client,
    )
    .await;
    let width = media.default_width();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": media.id.as_str(),
            "src": media.path(width),
            "srcset": media.srcset(),
            "sizes": ARTICLE_SIZES,
            "width": width,
            "height": media.height_at(width),
        })),
    )
        .into_response())
}
