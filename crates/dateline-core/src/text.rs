//! Plain texts as the newsroom stores them: no control characters, whitespace collapsed.

use std::borrow::Cow;

/// Whether a character is a control character that no stored text keeps: C0 controls but tab,
/// line feed and carriage return; DEL; C1 controls.
fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Removes control characters (NUL, escape, C1 controls and the like) that a source may carry
/// but no reader should be sent.
pub fn strip_controls(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_stray_control) {
        Cow::Owned(text.chars().filter(|c| !is_stray_control(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// A one-line text: control characters removed and runs of whitespace collapsed, for headlines,
/// names and summaries.
pub fn clean_line(text: &str) -> String {
    strip_controls(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_go_and_whitespace_collapses() {
        assert_eq!(clean_line(" a\u{0}b \t\n c\u{1b}[31m\u{85} "), "ab c[31m");
        assert_eq!(strip_controls("line\nnext"), "line\nnext");
    }
}
