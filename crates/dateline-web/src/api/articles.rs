//! `/api/v1/articles`: create, read and save articles, and move them through the workflow.
//!
//! An article is the import format's JSON (`headline`, `body`, `section`, `lang`, ...), with
//! `key` for its stable key; answers add `id`, `revision`, `state` and, once public, `url`.
//! Every route asks [`authorize`] whether the caller may.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use dateline_core::account::Account;
use dateline_core::import::{parse_object, BodyFormat, FieldMap, ImportOptions};
use dateline_core::workflow::{authorize, Action, Refusal, State as WorkflowState, Subject};
use dateline_core::{ArticleId, NewArticle, Slug};
use dateline_storage::{StateChange, StorageError, Worked};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

/// The article as the API shows it, with its address once it is public.
pub(super) async fn with_url(
    state: &AppState,
    w: &Worked,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let mut out = Map::new();
    out.insert("id".into(), json!(w.id.get()));
    out.insert("revision".into(), json!(w.revision));
    out.insert("state".into(), json!(w.state.name()));
    for (field, value) in &w.record {
        let name = if field == "id" { "key" } else { field.as_str() };
        out.insert(name.to_string(), value.clone());
    }
    out.insert("author_id".into(), json!(w.author));
    out.insert(
        "scheduled_at".into(),
        json!(w.scheduled_at.map(|t| t.to_string())),
    );
    out.insert(
        "embargo_until".into(),
        json!(w.embargo_until.map(|t| t.to_string())),
    );
    if let Some(url) = public_url(state, w, now).await? {
        out.insert("url".into(), json!(url));
    }
    Ok(Value::Object(out))
}

/// The article's public address, while readers can see it.
pub(crate) async fn public_url(
    state: &AppState,
    w: &Worked,
    now: Timestamp,
) -> Result<Option<String>, StorageError> {
    if w.live_from.is_none_or(|from| from > now) {
        return Ok(None);
    }
    let site = &state.site;
    let link = state.store.links_by_keys(&[w.key.to_string()], now).await?;
    Ok(link
        .first()
        .map(|link| site.absolute(&link.address(&site.address, &site.time_zone))))
}

pub(crate) fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Disabled(_) | Refusal::Forbidden { .. } => ApiError::Forbidden(r.to_string()),
        Refusal::NotFromState { .. } => ApiError::Conflict(r.to_string()),
    }
}

/// Reads an article from a request body into the domain, with the outlet's rules and sanitizer.
pub(crate) fn parse_article(
    state: &AppState,
    mut body: Map<String, Value>,
    key: &str,
) -> Result<NewArticle, ApiError> {
    // The path names the article; its stable key is `key`.
    body.remove("id");
    for field in [
        "revision",
        "state",
        "url",
        "author_id",
        "scheduled_at",
        "embargo_until",
        "base_revision",
    ] {
        body.remove(field);
    }
    body.remove("key");
    body.insert("id".into(), json!(key));
    if !body.contains_key("section") {
        return Err(ApiError::Unprocessable(
            "\"section\" is missing: every article is on a desk".into(),
        ));
    }
    let site = &state.site;
    let options = ImportOptions {
        fields: FieldMap::default(),
        sanitizer: site.sanitizer.clone(),
        default_lang: site.primary().clone(),
        default_section: Slug::parse("news").map_err(|e| ApiError::BadRequest(e.to_string()))?,
        time_zone: site.time_zone.clone(),
        // A draft's publication time is set when it is first published.
        undated_at: Some(Timestamp::now()),
        headline_from_body: false,
        body_format: BodyFormat::Auto,
        max_line_bytes: usize::MAX,
    };
    parse_object(&body, &options).map_err(|e| ApiError::Unprocessable(e.0))
}

fn object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        )),
    }
}

/// Refuses an article that readers would get with an image not described, a link without
/// text or headings that skip a level, naming each problem.
pub(super) fn ready_for_readers(id: ArticleId, article: &NewArticle) -> Result<(), ApiError> {
    let problems = dateline_core::accessibility::problems(article.body());
    if problems.is_empty() {
        return Ok(());
    }
    Err(ApiError::NotReady {
        message: format!(
            "article {id} cannot go to readers until {} {} fixed",
            if problems.len() == 1 { "this" } else { "these" },
            if problems.len() == 1 { "is" } else { "are" },
        ),
        problems,
    })
}

/// Whether a save reaches readers, now or at a time set: then it must pass the same check as
/// publishing.
pub(super) fn goes_to_readers(state: WorkflowState) -> bool {
    matches!(state, WorkflowState::Published | WorkflowState::Scheduled)
}

pub(crate) fn subject<'a>(w: &'a Worked) -> Subject<'a> {
    Subject {
        state: Some(w.state),
        desk: &w.section,
        author: w.author.unwrap_or(0),
    }
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<Worked, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("article {id:?} not found")))?;
    state
        .store
        .worked_article(ArticleId::new(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("article {id} not found")))
}

/// Whether the caller may read an article: anyone with a token one that readers can see now;
/// otherwise (a draft, or a published article still under embargo) whoever may edit it.
pub(crate) fn may_read(account: &Account, w: &Worked) -> Result<(), ApiError> {
    if w.state == WorkflowState::Published
        && w.live_from.is_some_and(|from| from <= Timestamp::now())
    {
        return Ok(());
    }
    authorize(account, Action::Edit, &subject(w))
        .map(|_| ())
        .map_err(refusal)
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    let body = object(body)?;
    let key = match body.get("key") {
        Some(Value::String(k)) => k.clone(),
        Some(_) => return Err(ApiError::Unprocessable("\"key\" must be a string".into())),
        None => {
            let random = dateline_core::change::generate_secret().map_err(ApiError::BadRequest)?;
            format!("a-{}", &random[..16])
        }
    };
    let article = parse_article(&state, body, &key)?;
    authorize(
        &account,
        Action::Create,
        &Subject {
            state: None,
            desk: article.section(),
            author: account.id,
        },
    )
    .map_err(refusal)?;
    let now = Timestamp::now();
    let worked = match state.store.create_draft(&article, account.id, now).await {
        Err(StorageError::NotFound(what)) => {
            return Err(ApiError::Unprocessable(format!(
                "there is no {what}: chief editors and admins make sections, series and topics"
            )))
        }
        other => other?,
    };
    tracing::info!(article = %worked.id, by = %account.username, "created a draft");
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "article.create",
        format!("article {}", worked.id),
        client,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(with_url(&state, &worked, now).await?),
    )
        .into_response())
}

/// How long an editor's sign of life keeps them listed as having an article open.
const OPEN_FOR: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

async fn with_open_by(
    state: &AppState,
    worked: &Worked,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let mut body = with_url(state, worked, now).await?;
    let open = state.store.open_by(worked.id, now - OPEN_FOR).await?;
    body["open_by"] = json!(open
        .iter()
        .map(|(who, at)| json!({"username": who, "at": at.to_string()}))
        .collect::<Vec<_>>());
    Ok(body)
}

pub async fn read(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let worked = load(&state, &id).await?;
    may_read(&account, &worked)?;
    Ok(Json(with_open_by(&state, &worked, Timestamp::now()).await?))
}

#[derive(serde::Deserialize)]
pub struct NinjsQuery {
    version: Option<String>,
}

/// The article as an IPTC ninjs document: 3.1, or 2.2 with `?version=2.2`. Readable as the
/// article itself is.
pub async fn ninjs(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<NinjsQuery>,
) -> Result<Json<Value>, ApiError> {
    let version = match query.version.as_deref() {
        None => crate::ninjs::Version::V3_1,
        Some(v) => crate::ninjs::Version::parse(v).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "\"version\" {v:?} is not one Dateline writes: use 3.1 or 2.2"
            ))
        })?,
    };
    let worked = load(&state, &id).await?;
    may_read(&account, &worked)?;
    Ok(Json(
        crate::ninjs::document(state.store.as_ref(), &state.site, &worked, version).await?,
    ))
}

/// The article as an IPTC NewsML-G2 NewsItem. Readable as the article itself is.
pub async fn newsml(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let worked = load(&state, &id).await?;
    may_read(&account, &worked)?;
    let xml = crate::newsml::document(state.store.as_ref(), &state.site, &state.templates, &worked)
        .await
        .map_err(|e| match e {
            crate::AppError::Storage(e) => ApiError::from(e),
            other => ApiError::Storage(dateline_storage::StorageError::Corrupt(other.to_string())),
        })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/vnd.iptc.g2.newsitem+xml; charset=utf-8",
        )],
        xml,
    )
        .into_response())
}

/// An editor has the article open (sent when they open it, and every minute while they do):
/// answers who else has it open, so that nobody works on it unaware of another.
pub async fn open(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let worked = load(&state, &id).await?;
    authorize(&account, Action::Edit, &subject(&worked)).map_err(refusal)?;
    let now = Timestamp::now();
    state.store.mark_open(worked.id, account.id, now).await?;
    Ok(Json(with_open_by(&state, &worked, now).await?))
}

pub async fn save(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    let body = object(body)?;
    let base = body
        .get("base_revision")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            ApiError::Unprocessable(
                "\"base_revision\" is missing: name the revision this save is based on".into(),
            )
        })?;
    let current = load(&state, &id).await?;
    authorize(&account, Action::Edit, &subject(&current)).map_err(refusal)?;
    if let Some(Value::String(key)) = body.get("key") {
        if key != current.key.as_str() {
            return Err(ApiError::Unprocessable(format!(
                "\"key\" is {:?}: an article's key does not change",
                current.key.as_str()
            )));
        }
    }
    // A save that leaves out the publication time keeps the one the article has: a draft's
    // does not move at every save.
    let mut body = body;
    if !body.contains_key("published") && !body.contains_key("published_local") {
        if let Some(published) = current.record.get("published") {
            body.insert("published".into(), published.clone());
        }
    }
    let article = parse_article(&state, body, current.key.as_str())?;
    // Moving it to another desk needs the right there too.
    if article.section() != &current.section {
        let moved = Subject {
            desk: article.section(),
            ..subject(&current)
        };
        authorize(&account, Action::Edit, &moved).map_err(refusal)?;
    }
    if goes_to_readers(current.state) {
        ready_for_readers(current.id, &article)?;
    }
    let now = Timestamp::now();
    match state
        .store
        .save_article(current.id, &article, base, current.state, account.id, now)
        .await
    {
        Ok(worked) => {
            let client = address(addr.as_ref().map(|Extension(a)| a));
            let subject = format!("article {} revision {}", worked.id, worked.revision);
            record(
                &state,
                Some(&account),
                account.username.as_str(),
                "article.save",
                subject,
                client,
            )
            .await;
            Ok(Json(with_url(&state, &worked, now).await?).into_response())
        }
        Err(StorageError::Stale {
            current: revision,
            by,
            at,
        }) => {
            let latest = load(&state, &id).await?;
            // What changed since the revision this save was based on.
            let changed = match (
                state.store.revision(current.id, base).await?,
                state.store.revision(current.id, revision).await?,
            ) {
                (Some((_, before)), Some((_, after))) => {
                    let d = dateline_core::revision::diff(&before, &after);
                    json!({"from": base, "to": revision, "fields": d.fields, "body": d.body})
                }
                _ => Value::Null,
            };
            let body = json!({
                "error": "conflict",
                "message": format!("the article is at revision {revision}, saved by {by} at {at}; this save was based on revision {base}"),
                "current_revision": revision,
                "saved_by": by,
                "saved_at": at.to_string(),
                "current": with_url(&state, &latest, now).await?,
                "diff": changed,
            });
            Ok((StatusCode::CONFLICT, Json(body)).into_response())
        }
        Err(StorageError::NotFound(what)) if !what.starts_with("article") => {
            Err(ApiError::Unprocessable(format!(
                "there is no {what}: chief editors and admins make sections, series and topics"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    action: String,
    /// RFC 3339: when to publish (`schedule`), or until when (`embargo`; absent lifts it).
    at: Option<String>,
    /// The same as `at`, as a wall-clock time in the outlet's zone, such as
    /// `2026-11-29T14:30`: what an editor picks in a form.
    at_local: Option<String>,
    /// The correction readers will see (`correct`).
    note: Option<String>,
}

pub async fn act(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(id): Path<String>,
    Body(request): Body<ActionRequest>,
) -> Result<Json<Value>, ApiError> {
    let current = load(&state, &id).await?;
    let at = request
        .at
        .as_deref()
        .map(|t| {
            t.parse::<Timestamp>().map_err(|_| {
                ApiError::Unprocessable(format!(
                    "\"at\" is not an RFC 3339 time such as 2026-11-29T09:00:00Z: {t:?}"
                ))
            })
        })
        .transpose()?;
    let at = match (at, request.at_local.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "give \"at\" or \"at_local\", not both".into(),
            ))
        }
        (None, Some(local)) => Some(
            local
                .parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|t| t.to_zoned(state.site.time_zone.clone()).ok())
                .map(|z| z.timestamp())
                .ok_or_else(|| {
                    ApiError::Unprocessable(format!(
                        "\"at_local\" is not a time such as 2026-11-29T14:30: {local:?}"
                    ))
                })?,
        ),
        (at, None) => at,
    };
    if request.action == "correct" {
        let note = dateline_core::Correction::note(request.note.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
        if at.is_some() {
            return Err(ApiError::Unprocessable(
                "\"correct\" takes no \"at\"".into(),
            ));
        }
        authorize(&account, Action::Correct, &subject(&current)).map_err(refusal)?;
        let now = Timestamp::now();
        let worked = state
            .store
            .add_correction(current.id, &note, account.id, now)
            .await?;
        tracing::info!(article = %worked.id, by = %account.username, "corrected an article");
        let client = address(addr.as_ref().map(|Extension(a)| a));
        record(
            &state,
            Some(&account),
            account.username.as_str(),
            "article.correct",
            format!("article {}", worked.id),
            client,
        )
        .await;
        return Ok(Json(with_url(&state, &worked, now).await?));
    }
    if request.note.is_some() {
        return Err(ApiError::Unprocessable(format!(
            "\"{}\" takes no \"note\"",
            request.action
        )));
    }
    let (action, change) = match (request.action.as_str(), at) {
        ("submit", None) => (Action::Submit, StateChange::Submit),
        ("publish", None) => (Action::Publish, StateChange::Publish),
        ("unpublish", None) => (Action::Unpublish, StateChange::Unpublish),
        ("schedule", Some(at)) => (Action::Schedule, StateChange::Schedule(at)),
        ("schedule", None) => {
            return Err(ApiError::Unprocessable(
                "\"schedule\" needs \"at\": when to publish".into(),
            ))
        }
        ("embargo", at) => (Action::Embargo, StateChange::Embargo(at)),
        ("submit" | "publish" | "unpublish", Some(_)) => {
            return Err(ApiError::Unprocessable(format!(
                "\"{}\" takes no \"at\"",
                request.action
            )))
        }
        (other, _) => {
            return Err(ApiError::Unprocessable(format!(
                "{other:?} is not an action: use submit, schedule, publish, unpublish, embargo or correct"
            )))
        }
    };
    authorize(&account, action, &subject(&current)).map_err(refusal)?;
    if matches!(action, Action::Publish | Action::Schedule) {
        let article = parse_article(&state, current.record.clone(), current.key.as_str())?;
        ready_for_readers(current.id, &article)?;
    }
    let now = Timestamp::now();
    // Credits are data: an article published without web editors credits the editor who
    // publishes (or schedules) it, as a new revision that can be edited like any other.
    let uncredited = current
        .record
        .get("web_editors")
        .and_then(Value::as_array)
        .is_none_or(|v| v.is_empty());
    if matches!(action, Action::Publish | Action::Schedule) && uncredited {
        let mut record = current.record.clone();
        record.insert("web_editors".into(), json!([account.username.as_str()]));
        let article = parse_article(&state, record, current.key.as_str())?;
        state
            .store
            .save_article(
                current.id,
                &article,
                current.revision,
                current.state,
                account.id,
                now,
            )
            .await?;
    }
    let worked = state
        .store
        .change_state(current.id, current.state, change, now)
        .await?;
    if matches!(change, StateChange::Schedule(_)) {
        state.schedules.notify_one();
    }
    tracing::info!(article = %worked.id, action = %action, by = %account.username, state = %worked.state, "moved an article");
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        &format!("article.{action}"),
        format!("article {}", worked.id),
        client,
    )
    .await;
    Ok(Json(with_url(&state, &worked, now).await?))
}

#[derive(Deserialize)]
pub struct DeskQuery {
    q: Option<String>,
    state: Option<String>,
    desk: Option<String>,
    author: Option<String>,
    lang: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// The articles the caller works on, most recently changed first: a chief editor's all, an
/// editor's desks and own, a contributor's own; filtered by state, desk, author and language.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    axum::extract::Query(query): axum::extract::Query<DeskQuery>,
) -> Result<Json<Value>, ApiError> {
    use dateline_core::account::Role;
    let grants = &account.grants;
    if !(grants.has(Role::Contributor) || grants.has(Role::Editor) || grants.has(Role::ChiefEditor))
    {
        return Err(ApiError::Forbidden(format!(
            "{} has no editorial role, and so no articles to list",
            account.username
        )));
    }
    let invalid = |what: String| ApiError::Unprocessable(what);
    let wanted_state = match query.state.as_deref() {
        None => None,
        Some(name) => Some(
            WorkflowState::ALL
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| invalid(format!("state {name:?} is not one of draft, submitted, scheduled, published, unpublished")))?,
        ),
    };
    let desk = query
        .desk
        .as_deref()
        .map(|d| Slug::parse(d).map_err(|e| invalid(e.to_string())))
        .transpose()?;
    let lang = query
        .lang
        .as_deref()
        .map(|l| dateline_core::Lang::parse(l).map_err(|e| invalid(e.to_string())))
        .transpose()?;
    let author = match query.author.as_deref() {
        None => None,
        Some(name) => {
            let username = dateline_core::account::Username::parse(name)
                .map_err(|e| invalid(e.to_string()))?;
            Some(
                state
                    .store
                    .account(&username)
                    .await?
                    .ok_or_else(|| invalid(format!("there is no account {name:?}")))?
                    .id,
            )
        }
    };
    let per_page = query.per_page.unwrap_or(50);
    if !(1..=200).contains(&per_page) {
        return Err(invalid(format!("per_page is {per_page}: use 1 to 200")));
    }
    let page = query.page.unwrap_or(1).max(1);
    let visible_to = (!grants.has(Role::ChiefEditor))
        .then(|| (grants.desks().cloned().collect::<Vec<_>>(), account.id));
    let words = query
        .q
        .as_deref()
        .map(dateline_core::text::clean_line)
        .filter(|w| !w.is_empty());
    let filter = dateline_storage::DeskFilter {
        words,
        state: wanted_state,
        desk,
        author,
        lang,
        visible_to,
        limit: per_page,
        offset: (page - 1).saturating_mul(per_page),
    };
    let rows = state.store.desk(&filter).await?;
    Ok(Json(json!({
        "page": page,
        "articles": rows.iter().map(|a| json!({
            "id": a.id.get(),
            "key": a.key.as_str(),
            "headline": a.headline,
            "state": a.state.name(),
            "revision": a.revision,
            "section": a.section.as_str(),
            "lang": a.lang.as_str(),
            "author": a.author,
            "scheduled_at": a.scheduled_at.map(|t| t.to_string()),
            "embargo_until": a.embargo_until.map(|t| t.to_string()),
            "changed_at": a.changed.to_string(),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct FindQuery {
    q: String,
}

/// Published articles whose headline holds every word of `q`, newest first: what an editor
/// links to inline or pins as related. Each comes with its key, headline and address.
pub async fn find(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    axum::extract::Query(query): axum::extract::Query<FindQuery>,
) -> Result<Json<Value>, ApiError> {
    use dateline_core::account::Role;
    let grants = &account.grants;
    if !(grants.has(Role::Contributor) || grants.has(Role::Editor) || grants.has(Role::ChiefEditor))
    {
        return Err(ApiError::Forbidden(format!(
            "{} has no editorial role, and so nothing to link",
            account.username
        )));
    }
    let words = dateline_core::text::clean_line(&query.q);
    if words.chars().count() < 2 || words.len() > 200 {
        return Err(ApiError::Unprocessable(
            "\"q\" must hold 2 to 200 characters of a headline".into(),
        ));
    }
    let now = Timestamp::now();
    let site = &state.site;
    let found = state.store.find_links(&words, now, 12).await?;
    Ok(Json(json!({
        "articles": found.iter().map(|l| json!({
            "key": l.key.as_str(),
            "headline": l.headline,
            "url": l.address(&site.address, &site.time_zone),
            "published": l.published.to_string(),
            "lang": l.lang.as_str(),
        })).collect::<Vec<_>>(),
    })))
}
