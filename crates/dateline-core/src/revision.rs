//! Comparing two revisions of an article: which fields changed, and the body by paragraph and,
//! within a changed paragraph, by word.

use serde::Serialize;
use serde_json::{Map, Value};
use similar::{capture_diff_slices, Algorithm, ChangeTag, DiffOp};

/// A saved revision: its number, who saved it (`None` for an import) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionInfo {
    pub revision: i64,
    pub by: Option<String>,
    pub at: jiff::Timestamp,
}

/// A field other than the body whose value differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// A run of words, the same in both, or only in the older or the newer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Words {
    pub op: &'static str,
    pub text: String,
}

/// What became of a paragraph of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Paragraph {
    Same { text: String },
    Added { text: String },
    Removed { text: String },
    Changed { words: Vec<Words> },
}

/// How one revision differs from another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionDiff {
    pub fields: Vec<FieldChange>,
    pub body: Vec<Paragraph>,
}

/// The text of each block of a body (paragraph, heading, list item, quotation, caption).
pub fn paragraphs(html: &str) -> Vec<String> {
    const CLOSERS: &[&str] = &[
        "</p>",
        "</h2>",
        "</h3>",
        "</h4>",
        "</h5>",
        "</h6>",
        "</li>",
        "</blockquote>",
        "</figcaption>",
        "</td>",
        "</th>",
        "</pre>",
    ];
    let mut marked = html.to_string();
    for closer in CLOSERS {
        marked = marked.replace(closer, &format!("{closer}\u{1e}"));
    }
    marked
        .split('\u{1e}')
        .map(crate::html::plain_text)
        .filter(|t| !t.is_empty())
        .collect()
}

fn words(before: &str, after: &str) -> Vec<Words> {
    let old: Vec<&str> = before.split_whitespace().collect();
    let new: Vec<&str> = after.split_whitespace().collect();
    let mut out: Vec<Words> = Vec::new();
    for (tag, slice) in similar::utils::diff_slices(Algorithm::Myers, &old, &new) {
        let op = match tag {
            ChangeTag::Equal => "same",
            ChangeTag::Delete => "removed",
            ChangeTag::Insert => "added",
        };
        let text = slice.join(" ");
        match out.last_mut() {
            Some(last) if last.op == op => {
                last.text.push(' ');
                last.text.push_str(&text);
            }
            _ => out.push(Words { op, text }),
        }
    }
    out
}

/// How `after` differs from `before`, both articles as import records.
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> RevisionDiff {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let fields = names
        .into_iter()
        .filter(|f| f.as_str() != "body")
        .filter_map(|f| {
            let (b, a) = (
                before.get(f).cloned().unwrap_or(Value::Null),
                after.get(f).cloned().unwrap_or(Value::Null),
            );
            (b != a).then(|| FieldChange {
                field: f.clone(),
                before: b,
                after: a,
            })
        })
        .collect();
    let text = |m: &Map<String, Value>| {
        paragraphs(m.get("body").and_then(Value::as_str).unwrap_or_default())
    };
    let (old, new) = (text(before), text(after));
    let mut body = Vec::new();
    for op in capture_diff_slices(Algorithm::Patience, &old, &new) {
        match op {
            DiffOp::Equal { old_index, len, .. } => {
                body.extend(
                    old[old_index..old_index + len]
                        .iter()
                        .map(|t| Paragraph::Same { text: t.clone() }),
                );
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                body.extend(
                    old[old_index..old_index + old_len]
                        .iter()
                        .map(|t| Paragraph::Removed { text: t.clone() }),
                );
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                body.extend(
                    new[new_index..new_index + new_len]
                        .iter()
                        .map(|t| Paragraph::Added { text: t.clone() }),
                );
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                // Paragraphs in the same place are the same paragraph, rewritten.
                for i in 0..old_len.max(new_len) {
                    match (
                        old.get(old_index + i).filter(|_| i < old_len),
                        new.get(new_index + i).filter(|_| i < new_len),
                    ) {
                        (Some(b), Some(a)) => body.push(Paragraph::Changed { words: words(b, a) }),
                        (Some(b), None) => body.push(Paragraph::Removed { text: b.clone() }),
                        (None, Some(a)) => body.push(Paragraph::Added { text: a.clone() }),
                        (None, None) => {}
                    }
                }
            }
        }
    }
    RevisionDiff { fields, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn fields_paragraphs_and_words() {
        let before = record(json!({"headline": "Talks resume", "section": "world",
            "body": "<p>Delegations met on Monday.</p><p>No agreement yet.</p><p>Gone soon.</p>"}));
        let after = record(
            json!({"headline": "Talks resume in the capital", "section": "world", "byline": "By A",
            "body": "<p>Delegations met on Monday.</p><p>An agreement is near.</p><h2>New part</h2>"}),
        );
        let d = diff(&before, &after);
        let changed: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(changed, ["byline", "headline"]);
        assert_eq!(d.fields[0].before, Value::Null);
        assert_eq!(
            d.body[0],
            Paragraph::Same {
                text: "Delegations met on Monday.".into()
            }
        );
        assert_eq!(
            d.body[1],
            Paragraph::Changed {
                words: vec![
                    Words {
                        op: "removed",
                        text: "No".into()
                    },
                    Words {
                        op: "added",
                        text: "An".into()
                    },
                    Words {
                        op: "same",
                        text: "agreement".into()
                    },
                    Words {
                        op: "removed",
                        text: "yet.".into()
                    },
                    Words {
                        op: "added",
                        text: "is near.".into()
                    },
                ]
            }
        );
        assert_eq!(
            d.body[2],
            Paragraph::Changed {
                words: vec![
                    Words {
                        op: "removed",
                        text: "Gone soon.".into()
                    },
                    Words {
                        op: "added",
                        text: "New part".into()
                    },
                ]
            }
        );
        assert_eq!(
            diff(&after, &after),
            RevisionDiff {
                fields: vec![],
                body: d
                    .body
                    .iter()
                    .filter(|_| false)
                    .cloned()
                    .chain(
                        paragraphs(after["body"].as_str().unwrap())
                            .into_iter()
                            .map(|text| Paragraph::Same { text })
                    )
                    .collect()
            }
        );
    }
}
