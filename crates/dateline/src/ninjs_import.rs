//! `dateline import --format ninjs`: IPTC ninjs documents (1.x, 2.x, 3.x) into the store. A
//! file holds one document, an array of them, or one a line. With `--ninjs-schemas`, each
//! document is first validated against IPTC's schema of its version (the files are IPTC's,
//! named `ninjs-schema_X.Y.json`; any other schema in those folders, such as GeoJSON's, is
//! available to their references), and an invalid one is rejected with the validator's reason.
//! Then it is read as an import record (`dateline_core::ninjs`) and checked as any import line
//! is; the sections, topics and series it names are made where they do not exist yet, with the
//! names it gives them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dateline_core::import::{parse_object, ImportOptions};
use dateline_core::{Localized, Section, Series, Slug, Topic};
use dateline_storage::Store;
use serde_json::Value;

use crate::import::{ImportReport, Rejected};

/// The most bytes of a file read as one document or array.
const MAX_FILE: u64 = 512 << 20;

/// IPTC's ninjs schemas, and the other schemas they refer to, compiled as they are needed.
pub struct Schemas {
    versions: HashMap<String, Value>,
    resources: Vec<(String, Value)>,
    built: HashMap<String, jsonschema::Validator>,
}

impl Schemas {
    /// Reads every `.json` file of these folders.
    pub fn load(dirs: &[PathBuf]) -> anyhow::Result<Schemas> {
        let mut versions = HashMap::new();
        let mut resources = Vec::new();
        for dir in dirs {
            let entries = std::fs::read_dir(dir).with_context(|| {
                format!("--ninjs-schemas {}: cannot read the folder", dir.display())
            })?;
            for entry in entries {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("failed to read {}", path.display()))?;
                let mut schema: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?;
                draft3_as_draft4(&mut schema);
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if let Some(v) = name.strip_prefix("ninjs-schema_") {
                    versions.insert(v.to_string(), schema);
                    continue;
                }
                // ninjs's own schemas (and its development drafts) are not references of one
                // another; what they refer to (GeoJSON) is.
                if name.starts_with("ninjs-schema") {
                    continue;
                }
                if let Some(id) = schema
                    .get("$id")
                    .or_else(|| schema.get("id"))
                    .and_then(Value::as_str)
                {
                    resources.push((id.trim_end_matches('#').to_string(), schema));
                }
            }
        }
        if versions.is_empty() {
            anyhow::bail!("--ninjs-schemas: no ninjs-schema_X.Y.json file in {dirs:?}");
        }
        Ok(Schemas {
            versions,
            resources,
            built: HashMap::new(),
        })
    }

    /// The version a document is validated as: the one asked for, else the one it declares
    /// (where there is a schema of it), else the latest of its major version.
    fn choose(&self, forced: Option<&str>, declared: Option<&str>, major: u8) -> Option<String> {
        if let Some(v) = forced {
            return Some(v.to_string());
        }
        if let Some(v) = declared.filter(|v| self.versions.contains_key(*v)) {
            return Some(v.to_string());
        }
        let mut same: Vec<(u32, &String)> = self
            .versions
            .keys()
            .filter_map(|v| {
                let (ma, mi) = v.split_once('.')?;
                (ma.parse::<u8>().ok()? == major).then_some((mi.parse::<u32>().ok()?, v))
            })
            .collect();
        same.sort();
        same.last().map(|(_, v)| (*v).clone())
    }

    /// Validates a document given as text (not JSON at all is invalid too).
    pub fn check_text(&mut self, text: &str, forced: Option<&str>) -> Result<String, String> {
        match serde_json::from_str::<Value>(text) {
            Ok(doc) => self.check(&doc, forced),
            Err(e) => Err(format!("not a ninjs document: not valid JSON: {e}")),
        }
    }

    /// Validates a document; answers the version it was validated as, or why it is invalid.
    pub fn check(&mut self, doc: &Value, forced: Option<&str>) -> Result<String, String> {
        let Some(obj) = doc.as_object() else {
            return Err("a ninjs document is a JSON object".into());
        };
        let (major, declared) = dateline_core::ninjs::version(obj);
        let version = self
            .choose(forced, declared.as_deref(), major)
            .ok_or_else(|| format!("no schema of ninjs {major}.x was given"))?;
        if !self.built.contains_key(&version) {
            let schema = self
                .versions
                .get(&version)
                .ok_or_else(|| format!("no schema of ninjs {version} was given"))?;
            let mut registry = jsonschema::Registry::new();
            for (id, resource) in &self.resources {
                registry = registry
                    .add(id.as_str(), resource.clone())
                    .map_err(|e| format!("the schema {id}: {e}"))?;
            }
            let registry = registry
                .prepare()
                .map_err(|e| format!("the schemas: {e}"))?;
            // Formats are annotations, as IPTC's own suite reads them ("011_profile" is a
            // valid uri there).
            let validator = jsonschema::options()
                .should_validate_formats(false)
                .with_registry(&registry)
                .build(schema)
                .map_err(|e| format!("the schema of ninjs {version}: {e}"))?;
            self.built.insert(version.clone(), validator);
        }
        let validator = &self.built[&version];
        match validator.iter_errors(doc).next() {
            None => Ok(version),
            Some(e) => {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_string() } else { at };
                Err(format!("not valid ninjs {version}: at {at}: {e}"))
            }
        }
    }
}

/// A draft 3 schema (ninjs 1.0's) as draft 4 writes it, which the validator reads: a
/// property's `"required": true` becomes its name in the object's `required` list. Draft 3's
/// other differences (`extends`, `disallow`, `divisibleBy`) are not in ninjs's schemas.
fn draft3_as_draft4(schema: &mut Value) {
    let is_draft3 = schema
        .get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|s| s.contains("draft-03"));
    if !is_draft3 {
        return;
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let mut required = Vec::new();
                if let Some(Value::Object(props)) = map.get_mut("properties") {
                    for (name, prop) in props.iter_mut() {
                        if let Some(obj) = prop.as_object_mut() {
                            if let Some(Value::Bool(r)) = obj.get("required").cloned() {
                                obj.remove("required");
                                if r {
                                    required.push(Value::String(name.clone()));
                                }
                            }
                        }
                    }
                }
                if !required.is_empty() {
                    map.insert("required".into(), Value::Array(required));
                }
                for child in map.values_mut() {
                    walk(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(schema);
    schema["$schema"] = Value::String("http://json-schema.org/draft-04/schema#".into());
}

/// The documents of a file: one, an array, or one a line.
fn documents(path: &Path) -> anyhow::Result<Vec<Result<Value, String>>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("failed to open {}", path.display()))?
        .len();
    if size > MAX_FILE {
        anyhow::bail!(
            "{} is {size} bytes, over the limit of {MAX_FILE} for ninjs",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {} as UTF-8", path.display()))?;
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(docs)) => Ok(docs.into_iter().map(Ok).collect()),
        Ok(doc) => Ok(vec![Ok(doc)]),
        // Not one document: one a line, unless no line is one either.
        Err(whole) => {
            let lines: Vec<Result<Value, String>> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).map_err(|e| format!("not valid JSON: {e}")))
                .collect();
            if lines.iter().any(Result::is_ok) {
                Ok(lines)
            } else {
                Ok(vec![Err(format!(
                    "not a ninjs document: not valid JSON: {whole}"
                ))])
            }
        }
    }
}

/// Makes the sections, topics and series a document names, or adds the names it gives in its
/// language to those that exist.
async fn collections(
    store: &dyn Store,
    read: &dateline_core::ninjs::Read,
    lang: &str,
) -> anyhow::Result<()> {
    if let Some((key, name)) = &read.section {
        if let Ok(key) = Slug::parse(key) {
            let sections = store.sections().await?;
            match sections.iter().find(|s| s.key == key) {
                Some(s) if s.name.iter().any(|(l, _)| l == lang) => {}
                Some(s) => {
                    let mut s = s.clone();
                    s.name.insert(lang, name.as_str());
                    store.put_section(&s).await?;
                }
                None => {
                    let code = sections.iter().map(|s| s.code).max().unwrap_or(90_000) + 1;
                    store
                        .put_section(&Section {
                            key,
                            code,
                            name: Localized::new(lang, name.as_str()),
                        })
                        .await?;
                }
            }
        }
    }
    for (key, name) in &read.topics {
        if let Ok(key) = Slug::parse(key) {
            let topic = match store.topic(&key).await? {
                Some(t) if t.title.iter().any(|(l, _)| l == lang) => continue,
                Some(mut t) => {
                    t.title.insert(lang, name.as_str());
                    t
                }
                None => Topic {
                    key,
                    title: Localized::new(lang, name.as_str()),
                    intro: Default::default(),
                },
            };
            store.put_topic(&topic).await?;
        }
    }
    if let Some((key, name)) = &read.series {
        if let Ok(key) = Slug::parse(key) {
            let series = match store.series(&key).await? {
                Some(s) if s.title.iter().any(|(l, _)| l == lang) => None,
                Some(mut s) => {
                    s.title.insert(lang, name.as_str());
                    Some(s)
                }
                None => Some(Series {
                    key,
                    title: Localized::new(lang, name.as_str()),
                    description: Default::default(),
                    partners: vec![],
                }),
            };
            if let Some(s) = series {
                store.put_series(&s).await?;
            }
        }
    }
    Ok(())
}

/// Imports the ninjs documents of one file. Each rejected document is reported with its
/// number (its line, for one a line) and the reason.
pub async fn import_file(
    store: &dyn Store,
    path: &Path,
    options: &ImportOptions,
    mut schemas: Option<&mut Schemas>,
    forced: Option<&str>,
) -> anyhow::Result<ImportReport> {
    let name = path.display().to_string();
    let mut report = ImportReport::default();
    for (n, doc) in documents(path)?.into_iter().enumerate() {
        let number = n as u64 + 1;
        let reject = |reason: String| Rejected {
            file: name.clone(),
            line: number,
            reason,
        };
        let doc = match doc {
            Ok(d) => d,
            Err(reason) => {
                report.rejected.push(reject(reason));
                continue;
            }
        };
        if let Some(s) = schemas.as_deref_mut() {
            if let Err(reason) = s.check(&doc, forced) {
                report.rejected.push(reject(reason));
                continue;
            }
        }
        let Some(obj) = doc.as_object() else {
            report
                .rejected
                .push(reject("a ninjs document is a JSON object".into()));
            continue;
        };
        let read = match dateline_core::ninjs::read(obj) {
            Ok(r) => r,
            Err(reason) => {
                report.rejected.push(reject(reason));
                continue;
            }
        };
        let article = match parse_object(&read.record, options) {
            Ok(a) => a,
            Err(e) => {
                report.rejected.push(reject(e.0));
                continue;
            }
        };
        collections(store, &read, article.lang().as_str()).await?;
        let outcome = store
            .import_articles(&[article], jiff::Timestamp::now())
            .await
            .with_context(|| format!("failed to store document {number} of {name}"))?;
        match outcome.into_iter().next() {
            Some(Ok(dateline_storage::Upserted::Inserted(_))) => report.inserted += 1,
            Some(Ok(dateline_storage::Upserted::Updated(_))) => report.updated += 1,
            Some(Ok(dateline_storage::Upserted::Unchanged(_))) => report.unchanged += 1,
            Some(Err(e)) => report.rejected.push(reject(e.to_string())),
            None => {}
        }
    }
    tracing::info!(file = %name, %report, "imported ninjs");
    Ok(report)
}
