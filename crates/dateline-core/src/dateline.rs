//! The dateline: `(People's Daily Online) 17:37, October 22, 2021`.
//!
//! The source (the outlet, or the wire credit of syndicated copy) in parentheses, then the
//! first-publication time in the outlet's own time zone, in the outlet's format.

use std::collections::BTreeMap;

use jiff::{tz::TimeZone, Timestamp};

use crate::Lang;

/// The outlet's strftime formats for dateline times: one default, and one per language
/// where a language writes dates its own way (`%Y年%-m月%-d日 %H:%M` for Chinese, say).
#[derive(Debug, Clone)]
pub struct DatelineFormat {
    default: String,
    per_lang: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("dateline format {format:?} is not a valid strftime format: {reason}")]
pub struct DatelineFormatError {
    pub format: String,
    pub reason: String,
}

impl DatelineFormat {
    /// Checks every format by rendering a sample time with it.
    pub fn new(
        default: &str,
        per_lang: BTreeMap<String, String>,
    ) -> Result<DatelineFormat, DatelineFormatError> {
        let sample = Timestamp::UNIX_EPOCH.to_zoned(TimeZone::UTC);
        for format in std::iter::once(default).chain(per_lang.values().map(String::as_str)) {
            if format.trim().is_empty() {
                return Err(DatelineFormatError {
                    format: format.to_string(),
                    reason: "it is empty".to_string(),
                });
            }
            jiff::fmt::strtime::format(format, &sample).map_err(|e| DatelineFormatError {
                format: format.to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(DatelineFormat {
            default: default.to_string(),
            per_lang,
        })
    }

    fn format_for(&self, lang: &Lang) -> &str {
        self.per_lang
            .get(lang.as_str())
            .or_else(|| self.per_lang.get(lang.primary()))
            .unwrap_or(&self.default)
    }

    /// The time as the outlet writes it in a dateline, in the outlet's time zone.
    pub fn time(&self, at: Timestamp, tz: &TimeZone, lang: &Lang) -> String {
        let zoned = at.to_zoned(tz.clone());
        // Formats were checked in `new`, and a checked format renders any time.
        jiff::fmt::strtime::format(self.format_for(lang), &zoned)
            .unwrap_or_else(|_| zoned.strftime("%Y-%m-%d %H:%M").to_string())
    }

    /// The whole dateline: `(source) time`.
    pub fn dateline(&self, source: &str, at: Timestamp, tz: &TimeZone, lang: &Lang) -> String {
        format!("({source}) {}", self.time(at, tz, lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format() -> DatelineFormat {
        let per_lang = BTreeMap::from([("zh".to_string(), "%Y年%-m月%-d日 %H:%M".to_string())]);
        DatelineFormat::new("%H:%M, %B %-d, %Y", per_lang).unwrap()
    }

    #[test]
    fn reference_dateline() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let at: Timestamp = "2021-10-22T09:37:00Z".parse().unwrap();
        let en = Lang::parse("en").unwrap();
        assert_eq!(
            format().dateline("People's Daily Online", at, &tz, &en),
            "(People's Daily Online) 17:37, October 22, 2021"
        );
        let zh = Lang::parse("zh-Hans").unwrap();
        assert_eq!(format().time(at, &tz, &zh), "2021年10月22日 17:37");
    }

    #[test]
    fn crosses_the_date_line_in_the_outlets_zone() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let at: Timestamp = "2024-10-31T17:30:00Z".parse().unwrap();
        let en = Lang::parse("en").unwrap();
        assert_eq!(format().time(at, &tz, &en), "01:30, November 1, 2024");
    }

    #[test]
    fn rejects_bad_formats() {
        assert!(DatelineFormat::new("%H:%M %", BTreeMap::new()).is_err());
        assert!(DatelineFormat::new(" ", BTreeMap::new()).is_err());
    }
}
