//! The editor: `/admin/articles/new` and `/admin/articles/{id}`, with the article's preview
//! exactly as readers will see it, and its history with differences and restore.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use dateline_core::revision::{diff, Paragraph};
use dateline_core::workflow::{authorize, Action, Subject};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{forbidden, local, local_field, page, Chrome, Desk};
use crate::api::{load_article, parse_article_record, subject_of};
use crate::{AppError, AppState};

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Pinned {
    key: String,
    headline: String,
}

#[derive(Serialize)]
struct ActionView {
    action: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct EditorView {
    chrome: Chrome,
    id: Option<i64>,
    revision: i64,
    state: &'static str,
    editable: bool,
    /// Why the account may only read it, when it may not edit.
    read_only: Option<String>,
    headline: String,
    summary: String,
    body: minijinja::Value,
    sections: Vec<Choice>,
    langs: Vec<Choice>,
    byline: String,
    credit: String,
    web_editors: String,
    topics: String,
    series: String,
    episode: String,
    translation_of: String,
    related: Vec<Pinned>,
    actions: Vec<ActionView>,
    scheduled_at: String,
    embargo_until: String,
    url: Option<String>,
    /// The article as the API reads and saves it, for the script.
    record: minijinja::Value,
    /// The current headline of each article the body links to inline, by key.
    inline: minijinja::Value,
}

fn text(record: &Map<String, Value>, field: &str) -> String {
    match record.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

async fn choices(
    state: &AppState,
    section: &str,
    lang: &str,
) -> Result<(Vec<Choice>, Vec<Choice>), AppError> {
    let primary = state.site.primary().as_str();
    let sections = state
        .store
        .sections()
        .await?
        .iter()
        .map(|s| Choice {
            value: s.key.to_string(),
            label: s.name.text(primary, "").to_string(),
            selected: s.key.as_str() == section,
        })
        .collect();
    let langs = state
        .site
        .languages
        .iter()
        .map(|l| Choice {
            value: l.to_string(),
            label: crate::ui::language_name(l.as_str()).to_string(),
            selected: l.as_str() == lang,
        })
        .collect();
    Ok((sections, langs))
}

pub async fn new(State(state): State<Arc<AppState>>, desk: Desk) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "New article", "new");
    // The first desk the account may write on.
    let sections = state.store.sections().await?;
    let first = sections.iter().find(|s| {
        authorize(
            &desk.account,
            Action::Create,
            &Subject {
                state: None,
                desk: &s.key,
                author: desk.account.id,
            },
        )
        .is_ok()
    });
    let Some(first) = first else {
        return forbidden(
            &state,
            chrome,
            format!("{} may not write articles", desk.account.username),
        );
    };
    let lang = state.site.primary().to_string();
    let (sections, langs) = choices(&state, first.key.as_str(), &lang).await?;
    page(
        &state,
        "admin/editor.html",
        EditorView {
            chrome,
            id: None,
            revision: 0,
            state: "new",
            editable: true,
            read_only: None,
            headline: String::new(),
            summary: String::new(),
            body: crate::render::html(&dateline_core::SafeHtml::default()),
            sections,
            langs,
            byline: String::new(),
            credit: String::new(),
            web_editors: String::new(),
            topics: String::new(),
            series: String::new(),
            episode: String::new(),
            translation_of: String::new(),
            related: vec![],
            actions: vec![],
            scheduled_at: String::new(),
            embargo_until: String::new(),
            url: None,
            record: crate::render::json_ld(&Value::Object(Map::new())),
            inline: crate::render::json_ld(&Value::Object(Map::new())),
        },
    )
}

pub async fn edit(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let worked = load_article(&state, &id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let account = &desk.account;
    let headline = text(&worked.record, "headline");
    let chrome = Chrome::new(&state, &desk, format!("Edit: {headline}"), "edit");
    let subject = subject_of(&worked);
    let editable = authorize(account, Action::Edit, &subject);
    let read_only = match &editable {
        Ok(_) => None,
        Err(refusal) => {
            // Its author may always read it, as it goes through the desk.
            let own = worked.author == Some(account.id);
            if !own && crate::api::may_read_article(account, &worked).is_err() {
                return forbidden(&state, chrome, refusal.to_string());
            }
            Some(refusal.to_string())
        }
    };
    let article = parse_article_record(&state, worked.record.clone(), worked.key.as_str())
        .map_err(|e| {
            tracing::error!(article = %worked.id, error = %e, "a stored article does not read back");
            AppError::NotFound
        })?;
    let now = Timestamp::now();
    let keys: Vec<String> = article.related().iter().map(|k| k.to_string()).collect();
    let inline_keys = article.body().linked_article_keys();
    let wanted: Vec<String> = keys.iter().chain(&inline_keys).cloned().collect();
    let live = state.store.links_by_keys(&wanted, now).await?;
    let inline: Map<String, Value> = live
        .iter()
        .filter(|l| inline_keys.iter().any(|k| k == l.key.as_str()))
        .map(|l| (l.key.to_string(), Value::from(l.headline.clone())))
        .collect();
    let related = keys
        .iter()
        .map(|k| Pinned {
            key: k.clone(),
            headline: live
                .iter()
                .find(|l| l.key.as_str() == k)
                .map_or_else(|| format!("{k} (not published)"), |l| l.headline.clone()),
        })
        .collect();
    const ACTIONS: [(Action, &str, &str); 6] = [
        (Action::Submit, "submit", "Submit to the desk"),
        (Action::Publish, "publish", "Publish now"),
        (Action::Schedule, "schedule", "Schedule"),
        (Action::Embargo, "embargo", "Embargo"),
        (Action::Unpublish, "unpublish", "Unpublish"),
        (Action::Correct, "correct", "Add the correction"),
    ];
    let actions = ACTIONS
        .iter()
        .filter(|(a, _, _)| authorize(account, *a, &subject).is_ok())
        .map(|(_, action, label)| ActionView { action, label })
        .collect();
    let url = crate::api::public_url(&state, &worked, now).await?;
    let (sections, langs) = choices(
        &state,
        worked.section.as_str(),
        &text(&worked.record, "lang"),
    )
    .await?;
    page(
        &state,
        "admin/editor.html",
        EditorView {
            chrome,
            id: Some(worked.id.get()),
            revision: worked.revision,
            state: worked.state.name(),
            editable: read_only.is_none(),
            read_only,
            headline,
            summary: text(&worked.record, "summary"),
            body: crate::render::html(article.body()),
            sections,
            langs,
            byline: text(&worked.record, "byline"),
            credit: text(&worked.record, "credit"),
            web_editors: text(&worked.record, "web_editors"),
            topics: text(&worked.record, "topics"),
            series: text(&worked.record, "series"),
            episode: text(&worked.record, "episode"),
            translation_of: text(&worked.record, "translation_of"),
            related,
            actions,
            scheduled_at: worked
                .scheduled_at
                .map(|t| local_field(&state, t))
                .unwrap_or_default(),
            embargo_until: worked
                .embargo_until
                .map(|t| local_field(&state, t))
                .unwrap_or_default(),
            url,
            record: crate::render::json_ld(&Value::Object(worked.record.clone())),
            inline: crate::render::json_ld(&Value::Object(inline)),
        },
    )
}

/// The article exactly as readers will see it, in whatever state it is.
pub async fn preview(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let worked = load_article(&state, &id)
        .await
        .map_err(|_| AppError::NotFound)?;
    if let Err(refusal) = crate::api::may_read_article(&desk.account, &worked) {
        let chrome = Chrome::new(&state, &desk, "Preview", "edit");
        return forbidden(&state, chrome, refusal.to_string());
    }
    let now = Timestamp::now();
    let page = state
        .store
        .article_preview(worked.id, now)
        .await?
        .ok_or(AppError::NotFound)?;
    let site = &state.site;
    let sections = state.store.sections().await?;
    let path = page.article.link.address(&site.address, &site.time_zone);
    let html = crate::pages::article::render(&state, page, &sections, path)?;
    Ok(Html(html).into_response())
}

#[derive(Deserialize)]
pub struct Between {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Serialize)]
struct RevisionRow {
    revision: i64,
    by: String,
    time: String,
    datetime: String,
    current: bool,
    shown: bool,
}

#[derive(Serialize)]
struct FieldRow {
    field: String,
    before: String,
    after: String,
}

#[derive(Serialize)]
struct HistoryView {
    chrome: Chrome,
    id: i64,
    headline: String,
    revision: i64,
    editable: bool,
    revisions: Vec<RevisionRow>,
    from: i64,
    to: i64,
    fields: Vec<FieldRow>,
    body: Vec<Paragraph>,
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every revision, who saved it and when, and how two of them differ.
pub async fn history(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Path(id): Path<String>,
    Query(between): Query<Between>,
) -> Result<Response, AppError> {
    let worked = load_article(&state, &id)
        .await
        .map_err(|_| AppError::NotFound)?;
    let headline = text(&worked.record, "headline");
    let chrome = Chrome::new(&state, &desk, format!("History: {headline}"), "edit");
    // Earlier revisions may hold what was never published: they are for its editors.
    if let Err(refusal) = authorize(&desk.account, Action::Edit, &subject_of(&worked)) {
        return forbidden(&state, chrome, refusal.to_string());
    }
    let to = between
        .to
        .unwrap_or(worked.revision)
        .clamp(1, worked.revision);
    let from = between.from.unwrap_or(to - 1).clamp(1, worked.revision);
    let before = state.store.revision(worked.id, from).await?;
    let after = state.store.revision(worked.id, to).await?;
    let (fields, body) = match (before, after) {
        (Some((_, before)), Some((_, after))) if from != to => {
            let d = diff(&before, &after);
            let fields = d
                .fields
                .iter()
                .map(|f| FieldRow {
                    field: f.field.clone(),
                    before: shown(&f.before),
                    after: shown(&f.after),
                })
                .collect();
            (fields, d.body)
        }
        (_, Some((_, after))) => {
            // The first revision, shown whole.
            let html = after
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = dateline_core::revision::paragraphs(html)
                .into_iter()
                .map(|text| Paragraph::Added { text })
                .collect();
            (vec![], body)
        }
        _ => (vec![], vec![]),
    };
    let revisions = state
        .store
        .revisions(worked.id)
        .await?
        .iter()
        .rev()
        .map(|r| RevisionRow {
            revision: r.revision,
            by: r.by.clone().unwrap_or_else(|| "import".to_string()),
            time: local(&state, r.at),
            datetime: r.at.to_string(),
            current: r.revision == worked.revision,
            shown: r.revision == from || r.revision == to,
        })
        .collect();
    page(
        &state,
        "admin/history.html",
        HistoryView {
            chrome,
            id: worked.id.get(),
            headline,
            revision: worked.revision,
            editable: true,
            revisions,
            from,
            to,
            fields,
            body,
        },
    )
}
