//! The newsroom's workflow: the states of an article, the actions that move it, and the one
//! function that decides whether an account may do an action to an article. Every route that
//! changes an article asks [`authorize`].

use std::fmt;

use crate::account::{Account, Role};
use crate::Slug;

/// Where an article is in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Draft,
    Submitted,
    Scheduled,
    Published,
    Unpublished,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Draft,
        State::Submitted,
        State::Scheduled,
        State::Published,
        State::Unpublished,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::Scheduled => "scheduled",
            State::Published => "published",
            State::Unpublished => "unpublished",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an account can do to an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Write a new article, as a draft.
    Create,
    /// Save a change (a new revision); restoring an old revision is one too.
    Edit,
    /// Hand a draft to the editors.
    Submit,
    /// Set (or move) the time it is published.
    Schedule,
    Publish,
    /// Take it off the site, or off the schedule.
    Unpublish,
    /// Set or lift the time before which no public route shows it, whatever its state.
    Embargo,
    /// Attach a correction note to a published article.
    Correct,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Create,
        Action::Edit,
        Action::Submit,
        Action::Schedule,
        Action::Publish,
        Action::Unpublish,
        Action::Embargo,
        Action::Correct,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Edit => "edit",
            Action::Submit => "submit",
            Action::Schedule => "schedule",
            Action::Publish => "publish",
            Action::Unpublish => "unpublish",
            Action::Embargo => "embargo",
            Action::Correct => "correct",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The workflow as one table: the state an action leads to from a state (`None`: the article
/// does not exist yet), or `None` where the action does not apply.
pub fn transition(from: Option<State>, action: Action) -> Option<State> {
    use Action as A;
    use State as S;
    match (from, action) {
        (None, A::Create) => Some(S::Draft),
        (None, _) | (Some(_), A::Create) => None,
        (Some(s), A::Edit | A::Embargo) => Some(s),
        (Some(S::Draft), A::Submit) => Some(S::Submitted),
        (Some(_), A::Submit) => None,
        (Some(S::Draft | S::Submitted | S::Scheduled | S::Unpublished), A::Schedule) => {
            Some(S::Scheduled)
        }
        (Some(S::Published), A::Schedule) => None,
        (Some(S::Draft | S::Submitted | S::Scheduled | S::Unpublished), A::Publish) => {
            Some(S::Published)
        }
        (Some(S::Published), A::Publish) => None,
        (Some(S::Scheduled | S::Published), A::Unpublish) => Some(S::Unpublished),
        (Some(_), A::Unpublish) => None,
        (Some(S::Published), A::Correct) => Some(S::Published),
        (Some(_), A::Correct) => None,
    }
}

/// The article an action is about, as far as the decision needs it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `None` for an article not yet created.
    pub state: Option<State>,
    /// Its section: an editor's desk.
    pub desk: &'a Slug,
    /// The account that created it.
    pub author: i64,
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the account {0} is disabled")]
    Disabled(String),
    #[error("{who} may not {action} {what}")]
    Forbidden {
        who: String,
        action: Action,
        what: String,
    },
    #[error("an article that is {state} cannot be given the action {action}")]
    NotFromState { state: String, action: Action },
}

/// Whether `account` may do `action` to `subject`, and the state that leads to.
///
/// A contributor creates drafts and edits and submits their own while they are drafts; an
/// editor does that anywhere and everything on the desks given to them; a chief editor
/// everything everywhere; an admin nothing editorial without an editorial role too; a disabled
/// account nothing.
pub fn authorize(
    account: &Account,
    action: Action,
    subject: &Subject<'_>,
) -> Result<State, Refusal> {
    if account.disabled {
        return Err(Refusal::Disabled(account.username.to_string()));
    }
    let grants = &account.grants;
    let editorial =
        grants.has(Role::Contributor) || grants.has(Role::Editor) || grants.has(Role::ChiefEditor);
    let edits_desk = grants.has(Role::ChiefEditor)
        || (grants.has(Role::Editor) && grants.has_desk(subject.desk));
    let own_draft = subject.author == account.id && subject.state == Some(State::Draft);
    let allowed = editorial
        && (edits_desk
            || match action {
                Action::Create => true,
                Action::Edit | Action::Submit => own_draft,
                _ => false,
            });
    if !allowed {
        let what = match subject.state {
            None => format!("an article in {}", subject.desk),
            Some(state) if subject.author == account.id => {
                format!("their own {state} article in {}", subject.desk)
            }
            Some(state) => format!("a {state} article in {}", subject.desk),
        };
        return Err(Refusal::Forbidden {
            who: account.username.to_string(),
            action,
            what,
        });
    }
    transition(subject.state, action).ok_or_else(|| Refusal::NotFromState {
        state: subject
            .state
            .map_or("not yet created", State::name)
            .to_string(),
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Grants, Username};

    /// The workflow table, written out: rows are the states an action starts from (- for an
    /// article not yet created), columns the actions in [`Action::ALL`]'s order; each cell is
    /// the state it leads to, or `.` where the action does not apply.
    const TABLE: &str = "
        from         create  edit         submit     schedule   publish    unpublish    embargo      correct
        -            draft   .            .          .          .          .            .            .
        draft        .       draft        submitted  scheduled  published  .            draft        .
        submitted    .       submitted    .          scheduled  published  .            submitted    .
        scheduled    .       scheduled    .          scheduled  published  unpublished  scheduled    .
        published    .       published    .          .          .          unpublished  published    published
        unpublished  .       unpublished  .          scheduled  published  .            unpublished  .
    ";

    fn state(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    #[test]
    fn the_table_is_the_workflow() {
        let rows: Vec<Vec<&str>> = TABLE
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|cells| !cells.is_empty())
            .collect();
        let header = &rows[0][1..];
        assert_eq!(header, Action::ALL.map(Action::name));
        assert_eq!(rows.len(), 1 + 1 + State::ALL.len());
        for row in &rows[1..] {
            let from = state(row[0]);
            assert!(from.is_some() || row[0] == "-", "{}", row[0]);
            for (action, cell) in Action::ALL.into_iter().zip(&row[1..]) {
                assert_eq!(transition(from, action), state(cell), "{} {action}", row[0]);
            }
        }
    }

    fn account(id: i64, roles: &[Role], desks: &[&str], disabled: bool) -> Account {
        Account {
            id,
            username: Username::parse(&format!("user{id}")).unwrap(),
            grants: Grants::new(
                roles.iter().copied(),
                desks.iter().map(|d| Slug::parse(d).unwrap()),
            )
            .unwrap(),
            disabled,
        }
    }

    /// Every persona, action, state, desk and authorship, against what each persona may do.
    #[test]
    fn every_role_desk_and_state_exhaustively() {
        let world = Slug::parse("world").unwrap();
        let sport = Slug::parse("sport").unwrap();
        let personas = [
            ("contributor", account(1, &[Role::Contributor], &[], false)),
            (
                "world editor",
                account(1, &[Role::Editor], &["world"], false),
            ),
            ("chief editor", account(1, &[Role::ChiefEditor], &[], false)),
            ("admin", account(1, &[Role::Admin], &[], false)),
            (
                "admin and world editor",
                account(1, &[Role::Admin, Role::Editor], &["world"], false),
            ),
            (
                "disabled chief editor",
                account(1, &[Role::ChiefEditor], &[], true),
            ),
        ];
        let mut checked = 0;
        for (persona, acct) in &personas {
            for action in Action::ALL {
                for from in std::iter::once(None).chain(State::ALL.map(Some)) {
                    for desk in [&world, &sport] {
                        for author in [1, 2] {
                            let subject = Subject {
                                state: from,
                                desk,
                                author,
                            };
                            let got = authorize(acct, action, &subject);
                            let own_draft = author == 1 && from == Some(State::Draft);
                            let may = match *persona {
                                "contributor" => {
                                    action == Action::Create
                                        || (matches!(action, Action::Edit | Action::Submit)
                                            && own_draft)
                                }
                                "world editor" | "admin and world editor" => {
                                    desk == &world
                                        || action == Action::Create
                                        || (matches!(action, Action::Edit | Action::Submit)
                                            && own_draft)
                                }
                                "chief editor" => true,
                                _ => false,
                            };
                            let expected = if *persona == "disabled chief editor" {
                                Err("disabled")
                            } else if !may {
                                Err("forbidden")
                            } else if transition(from, action).is_none() {
                                Err("not from state")
                            } else {
                                Ok(transition(from, action))
                            };
                            let got = match got {
                                Ok(s) => Ok(Some(s)),
                                Err(Refusal::Disabled(_)) => Err("disabled"),
                                Err(Refusal::Forbidden { .. }) => Err("forbidden"),
                                Err(Refusal::NotFromState { .. }) => Err("not from state"),
                            };
                            assert_eq!(
                                got, expected,
                                "{persona} {action} {from:?} in {desk} by {author}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 6 * 8 * 6 * 2 * 2);
    }

    #[test]
    fn refusals_say_who_what_and_why() {
        let contributor = account(7, &[Role::Contributor], &[], false);
        let world = Slug::parse("world").unwrap();
        let subject = Subject {
            state: Some(State::Submitted),
            desk: &world,
            author: 7,
        };
        assert_eq!(
            authorize(&contributor, Action::Publish, &subject)
                .unwrap_err()
                .to_string(),
            "user7 may not publish their own submitted article in world"
        );
        let chief = account(8, &[Role::ChiefEditor], &[], false);
        let published = Subject {
            state: Some(State::Published),
            desk: &world,
            author: 7,
        };
        assert_eq!(
            authorize(&chief, Action::Submit, &published)
                .unwrap_err()
                .to_string(),
            "an article that is published cannot be given the action submit"
        );
    }
}
