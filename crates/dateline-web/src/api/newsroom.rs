//! `/api/v1/sections`, `/series/{key}`, `/topics/{key}` and `/corrections`: how the newsroom
//! groups its articles, changed by chief editors and admins, and its corrections.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use dateline_core::account::{Account, Role};
use dateline_core::{Lang, Localized, Section, Series, Slug, Topic};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{address, record, ApiError, Body, Caller, ClientAddr};
use crate::AppState;

/// Sections, series and topics shape the whole site: chief editors and admins change them.
fn shaper(account: &Account) -> Result<(), ApiError> {
    if account.grants.has(Role::ChiefEditor) || account.grants.has(Role::Admin) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not change sections, series or topics: that is for chief editors and admins",
            account.username
        )))
    }
}

fn key(text: &str) -> Result<Slug, ApiError> {
    Slug::parse(text).map_err(|e| ApiError::NotFound(e.to_string()))
}

pub(super) fn localized(
    field: &str,
    texts: BTreeMap<String, String>,
) -> Result<Localized, ApiError> {
    let mut out = Localized::default();
    for (lang, text) in texts {
        Lang::parse(&lang).map_err(|e| ApiError::Unprocessable(format!("{field}: {e}")))?;
        out.insert(&lang, text);
    }
    if out.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "{field} needs a text in at least one language"
        )));
    }
    Ok(out)
}

fn texts(l: &Localized) -> Value {
    json!(l.iter().collect::<BTreeMap<_, _>>())
}

pub async fn sections(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
) -> Result<Json<Value>, ApiError> {
    let sections = state.store.sections().await?;
    Ok(Json(json!({"sections": sections.iter().map(|s| json!({
        "key": s.key.as_str(), "code": s.code, "name": texts(&s.name)
    })).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionBody {
    code: u32,
    name: BTreeMap<String, String>,
}

pub async fn put_section(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(k): Path<String>,
    Body(body): Body<SectionBody>,
) -> Result<Json<Value>, ApiError> {
    shaper(&account)?;
    let section = Section {
        key: key(&k)?,
        code: body.code,
        name: localized("name", body.name)?,
    };
    state.store.put_section(&section).await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "section.put",
        format!("section {}", section.key),
        client,
    )
    .await;
    Ok(Json(
        json!({"key": section.key.as_str(), "code": section.code, "name": texts(&section.name)}),
    ))
}

fn series_view(s: &Series) -> Value {
    json!({
        "key": s.key.as_str(),
        "title": texts(&s.title),
        "description": s.description.iter().map(|(l, h)| (l.to_string(), h.as_str().to_string())).collect::<BTreeMap<_, _>>(),
        "partners": s.partners,
    })
}

fn topic_view(t: &Topic) -> Value {
    json!({
        "key": t.key.as_str(),
        "title": texts(&t.title),
        "intro": t.intro.iter().map(|(l, h)| (l.to_string(), h.as_str().to_string())).collect::<BTreeMap<_, _>>(),
    })
}

pub async fn series(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
    Path(k): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let series = state
        .store
        .series(&key(&k)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("series {k:?} not found")))?;
    Ok(Json(series_view(&series)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesBody {
    title: BTreeMap<String, String>,
    /// HTML per language, sanitized as bodies are.
    #[serde(default)]
    description: BTreeMap<String, String>,
    #[serde(default)]
    partners: Vec<String>,
}

pub async fn put_series(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(k): Path<String>,
    Body(body): Body<SeriesBody>,
) -> Result<Json<Value>, ApiError> {
    shaper(&account)?;
    let mut description = Localized::default();
    for (lang, html) in body.description {
        description.insert(&lang, html);
    }
    let series = Series {
        key: key(&k)?,
        title: localized("title", body.title)?,
        description: state.site.sanitizer.clean_localized(&description),
        partners: body
            .partners
            .iter()
            .map(|p| dateline_core::text::clean_line(p))
            .filter(|p| !p.is_empty())
            .collect(),
    };
    state.store.put_series(&series).await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "series.put",
        format!("series {}", series.key),
        client,
    )
    .await;
    Ok(Json(series_view(&series)))
}

pub async fn topic(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
    Path(k): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let topic = state
        .store
        .topic(&key(&k)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("topic {k:?} not found")))?;
    Ok(Json(topic_view(&topic)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicBody {
    title: BTreeMap<String, String>,
    /// HTML per language, sanitized as bodies are.
    #[serde(default)]
    intro: BTreeMap<String, String>,
}

pub async fn put_topic(
    State(state): State<Arc<AppState>>,
    Caller(account): Caller,
    addr: Option<Extension<ClientAddr>>,
    Path(k): Path<String>,
    Body(body): Body<TopicBody>,
) -> Result<Json<Value>, ApiError> {
    shaper(&account)?;
    let mut intro = Localized::default();
    for (lang, html) in body.intro {
        intro.insert(&lang, html);
    }
    let topic = Topic {
        key: key(&k)?,
        title: localized("title", body.title)?,
        intro: state.site.sanitizer.clean_localized(&intro),
    };
    state.store.put_topic(&topic).await?;
    let client = address(addr.as_ref().map(|Extension(a)| a));
    record(
        &state,
        Some(&account),
        account.username.as_str(),
        "topic.put",
        format!("topic {}", topic.key),
        client,
    )
    .await;
    Ok(Json(topic_view(&topic)))
}

#[derive(Deserialize)]
pub struct CorrectionsQuery {
    lang: Option<String>,
    page: Option<u32>,
}

pub async fn corrections(
    State(state): State<Arc<AppState>>,
    Caller(_): Caller,
    Query(query): Query<CorrectionsQuery>,
) -> Result<Json<Value>, ApiError> {
    let lang = match query.lang.as_deref() {
        Some(l) => Lang::parse(l).map_err(|e| ApiError::Unprocessable(e.to_string()))?,
        None => state.site.primary().clone(),
    };
    let page = query.page.unwrap_or(1).max(1);
    let now = Timestamp::now();
    let found = state
        .store
        .corrections(&lang, 50, (page - 1).saturating_mul(50), now)
        .await?;
    let site = &state.site;
    Ok(Json(
        json!({"page": page, "corrections": found.iter().map(|(c, link)| json!({
        "note": c.note,
        "at": c.at.to_string(),
        "article_id": link.id.get(),
        "headline": link.headline,
        "url": site.absolute(&link.address(&site.address, &site.time_zone)),
    })).collect::<Vec<_>>()}),
    ))
}
