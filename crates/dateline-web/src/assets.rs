//! The site's own stylesheet and icon, and the admin's script and stylesheet.

use axum::http::header;
use axum::response::IntoResponse;

const CSS: &str = include_str!("../assets/site.css");
const ICON: &str = include_str!("../assets/icon.svg");
/// The admin's one script and stylesheet, written for the project; no build step makes them.
pub const ADMIN_JS: &str = include_str!("../assets/admin.js");
const ADMIN_CSS: &str = include_str!("../assets/admin.css");

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

pub async fn icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
}

pub async fn admin_stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        ADMIN_CSS,
    )
}

pub async fn admin_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        ADMIN_JS,
    )
}
