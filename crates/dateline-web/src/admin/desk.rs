//! `/admin`: the desk. The stories of the desks the account works on, by state, with who has
//! each open; a contributor sees their own.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use dateline_core::account::{Role, Username};
use dateline_core::workflow::State as WorkflowState;
use dateline_core::{Lang, Slug};
use dateline_storage::DeskFilter;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{local, page, Chrome, Desk};
use crate::{AppError, AppState};

/// How long a sign of life from an editor keeps an article marked as open by them.
const OPEN_FOR: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);
/// The most stories a group shows.
const PER_GROUP: u32 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    q: Option<String>,
    desk: Option<String>,
    author: Option<String>,
    lang: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    headline: String,
    section: String,
    lang: String,
    author: String,
    /// The time that matters in this group: when it was changed, goes out, or is released.
    time: String,
    datetime: String,
    open_by: Vec<String>,
}

#[derive(Serialize)]
struct Group {
    key: &'static str,
    title: &'static str,
    empty: &'static str,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct View {
    chrome: Chrome,
    groups: Vec<Group>,
    desks: Vec<Choice>,
    langs: Vec<Choice>,
    author: String,
    q: String,
    problem: Option<String>,
}

pub async fn show(
    State(state): State<Arc<AppState>>,
    desk: Desk,
    Query(filters): Query<Filters>,
) -> Result<Response, AppError> {
    let chrome = Chrome::new(&state, &desk, "The desk", "desk");
    if !chrome.editorial {
        return super::forbidden(
            &state,
            chrome,
            format!(
                "{} has no editorial role: the desk is for contributors and editors",
                desk.account.username
            ),
        );
    }
    let account = &desk.account;
    let now = Timestamp::now();
    let mut problem = None;
    let wanted_desk = match filters.desk.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => match Slug::parse(d) {
            Ok(s) => Some(s),
            Err(e) => {
                problem = Some(format!("desk: {e}"));
                None
            }
        },
        None => None,
    };
    let lang = match filters.lang.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => match Lang::parse(l) {
            Ok(l) => Some(l),
            Err(e) => {
                problem = Some(format!("language: {e}"));
                None
            }
        },
        None => None,
    };
    let author_name = filters.author.clone().unwrap_or_default();
    let author = match author_name.trim() {
        "" => None,
        name => match Username::parse(name) {
            Ok(u) => match state.store.account(&u).await? {
                Some(a) => Some(a.id),
                None => {
                    problem = Some(format!("there is no account {name:?}"));
                    Some(-1)
                }
            },
            Err(e) => {
                problem = Some(format!("author: {e}"));
                Some(-1)
            }
        },
    };
    let grants = &account.grants;
    let visible_to = (!grants.has(Role::ChiefEditor))
        .then(|| (grants.desks().cloned().collect::<Vec<_>>(), account.id));
    let words = filters
        .q
        .as_deref()
        .map(dateline_core::text::clean_line)
        .filter(|w| !w.is_empty());
    let filter = |state: WorkflowState| DeskFilter {
        words: words.clone(),
        state: Some(state),
        desk: wanted_desk.clone(),
        author,
        lang: lang.clone(),
        visible_to: visible_to.clone(),
        limit: PER_GROUP,
        offset: 0,
    };
    let mut groups = vec![
        Group {
            key: "draft",
            title: "Drafts",
            empty: "No drafts.",
            rows: vec![],
        },
        Group {
            key: "submitted",
            title: "Submitted",
            empty: "Nothing waits for an editor.",
            rows: vec![],
        },
        Group {
            key: "scheduled",
            title: "Scheduled",
            empty: "Nothing is scheduled.",
            rows: vec![],
        },
        Group {
            key: "embargoed",
            title: "Embargoed",
            empty: "Nothing is under embargo.",
            rows: vec![],
        },
        Group {
            key: "published",
            title: "Published today",
            empty: "Nothing published today yet.",
            rows: vec![],
        },
    ];
    let today = now
        .to_zoned(state.site.time_zone.clone())
        .start_of_day()
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let mut found = Vec::new();
    for wanted in [
        WorkflowState::Draft,
        WorkflowState::Submitted,
        WorkflowState::Scheduled,
        WorkflowState::Published,
    ] {
        found.extend(state.store.desk(&filter(wanted)).await?);
    }
    let ids: Vec<_> = found.iter().map(|a| a.id).collect();
    let mut opens: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, who) in state.store.opens(&ids, now - OPEN_FOR).await? {
        opens.entry(id.get()).or_default().push(who);
    }
    for a in found {
        let embargoed = a.embargo_until.filter(|t| *t > now);
        let (group, time) = match (a.state, embargoed) {
            (WorkflowState::Published | WorkflowState::Scheduled, Some(until)) => (3, until),
            (WorkflowState::Draft, _) => (0, a.changed),
            (WorkflowState::Submitted, _) => (1, a.changed),
            (WorkflowState::Scheduled, _) => (2, a.scheduled_at.unwrap_or(a.changed)),
            (WorkflowState::Published, _) if a.changed >= today => (4, a.changed),
            _ => continue,
        };
        groups[group].rows.push(Row {
            id: a.id.get(),
            headline: a.headline,
            section: a.section.to_string(),
            lang: a.lang.to_string(),
            author: a.author.unwrap_or_else(|| "import".to_string()),
            time: local(&state, time),
            datetime: time.to_string(),
            open_by: opens.remove(&a.id.get()).unwrap_or_default(),
        });
    }
    let sections = state.store.sections().await?;
    let desks = sections
        .iter()
        .filter(|s| {
            visible_to.as_ref().is_none_or(|(d, _)| d.contains(&s.key)) || !grants.has(Role::Editor)
        })
        .map(|s| Choice {
            value: s.key.to_string(),
            label: s.name.text(state.site.primary().as_str(), "").to_string(),
            selected: wanted_desk.as_ref() == Some(&s.key),
        })
        .collect();
    let langs = state
        .site
        .languages
        .iter()
        .map(|l| Choice {
            value: l.to_string(),
            label: crate::ui::language_name(l.as_str()).to_string(),
            selected: lang.as_ref() == Some(l),
        })
        .collect();
    page(
        &state,
        "admin/desk.html",
        View {
            chrome,
            groups,
            desks,
            langs,
            author: author_name,
            q: words.clone().unwrap_or_default(),
            problem,
        },
    )
}
