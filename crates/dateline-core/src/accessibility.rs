//! What a body must get right before readers see it: every image described, every link with
//! text a screen reader can say, and headings that do not skip a level. The workflow asks this
//! before an article is published or scheduled, and refuses with the list of what to fix.

use scraper::{ElementRef, Html, Node};

use crate::html::{SafeHtml, ARTICLE_SCHEME};

/// What is wrong with a body for readers who cannot see it, in the order it appears; empty
/// when nothing is.
pub fn problems(body: &SafeHtml) -> Vec<String> {
    let doc = Html::parse_fragment(body.as_str());
    let mut found = Vec::new();
    let (mut images, mut links) = (0, 0);
    // The page's headline is its h1: the body's headings start at h2.
    let mut level = 1;
    let mut previous = String::from("the headline (h1)");
    for node in doc.tree.nodes() {
        let Some(element) = ElementRef::wrap(node) else {
            continue;
        };
        match element.value().name() {
            "img" => {
                images += 1;
                let alt = element.value().attr("alt").unwrap_or_default();
                if alt.trim().is_empty() {
                    let src = element.value().attr("src").unwrap_or_default();
                    found.push(format!(
                        "image {images} ({src}) has no alt text: describe it for readers who cannot see it"
                    ));
                }
            }
            "a" => {
                links += 1;
                let href = element.value().attr("href").unwrap_or_default();
                // An inline related link with no text shows its target's headline.
                if href.starts_with(ARTICLE_SCHEME) {
                    continue;
                }
                if spoken_text(element).trim().is_empty() {
                    found.push(format!(
                        "link {links} (to {href}) has no text: a screen reader would say only its address"
                    ));
                }
            }
            name @ ("h2" | "h3" | "h4" | "h5" | "h6") => {
                let this: usize = name[1..].parse().unwrap_or(2);
                let text = element.text().collect::<String>();
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if this > level + 1 {
                    found.push(format!(
                        "heading \"{text}\" is {name} after {previous}: headings skip a level (use h{})",
                        level + 1
                    ));
                }
                level = this;
                previous = format!("\"{text}\" ({name})");
            }
            _ => {}
        }
    }
    found
}

/// The text a screen reader says for an element: its text, and the alt text of its images.
fn spoken_text(element: ElementRef<'_>) -> String {
    element
        .descendants()
        .filter_map(|n| match n.value() {
            Node::Text(t) => Some(t.to_string()),
            Node::Element(e) if e.name() == "img" => e.attr("alt").map(str::to_string),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::{HtmlPolicy, Sanitizer};

    fn check(html: &str) -> Vec<String> {
        problems(&Sanitizer::new(&HtmlPolicy::default()).clean(html))
    }

    #[test]
    fn a_good_body_passes() {
        let found = check(
            r#"<h2>A</h2><p><a href="https://example.org/">text</a> <a href="article:k"></a> <a href="/x"><img src="/i.jpg" alt="Icon"></a></p><h3>B</h3><h2>C</h2><figure><img src="/media/a.jpg" alt="A harbour"></figure>"#,
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn each_problem_is_named_where_it_is() {
        let found = check(
            r#"<p><img src="/a.jpg"><img src="/b.jpg" alt=" "></p><p><a href="https://example.org/x"> </a></p><h2>Top</h2><h4>Deep</h4><h3>Fine</h3>"#,
        );
        assert_eq!(
            found,
            [
                "image 1 (/a.jpg) has no alt text: describe it for readers who cannot see it",
                "image 2 (/b.jpg) has no alt text: describe it for readers who cannot see it",
                "link 1 (to https://example.org/x) has no text: a screen reader would say only its address",
                "heading \"Deep\" is h4 after \"Top\" (h2): headings skip a level (use h3)",
            ]
        );
        assert_eq!(
            check("<h3>First</h3>"),
            ["heading \"First\" is h3 after the headline (h1): headings skip a level (use h2)"]
        );
    }
}
