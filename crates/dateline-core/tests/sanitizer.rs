//! The sanitizer, judged as a browser would judge its output: every output is parsed with an
//! HTML5 parser, and the elements, attribute names and URL schemes found are checked against
//! what Dateline allows. The vectors in `xss-vectors.txt` were written for these tests.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use dateline_core::{HtmlPolicy, Sanitizer};
use proptest::prelude::*;
use scraper::{Html, Node};
use url::Url;

const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
];

fn attribute_allowed(element: &str, attribute: &str) -> bool {
    matches!(attribute, "lang" | "dir" | "title")
        || matches!(
            (element, attribute),
            ("a", "href" | "rel")
                | (
                    "img",
                    "src"
                        | "alt"
                        | "width"
                        | "height"
                        | "srcset"
                        | "sizes"
                        | "loading"
                        | "decoding"
                )
                | ("blockquote" | "q", "cite")
                | ("time", "datetime")
                | ("td" | "th", "colspan" | "rowspan")
                | ("th", "scope")
                | ("ol", "start")
        )
}

const IMAGE_HOST: &str = "media.example.org";

fn sanitizer() -> Sanitizer {
    Sanitizer::new(&HtmlPolicy {
        image_hosts: vec![IMAGE_HOST.to_string()],
    })
}

/// The addresses of a `srcset`, read as the HTML standard's parser does: an address runs to
/// the next whitespace (commas in it included), then a descriptor runs to the next comma.
fn srcset_addresses(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            return out;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(rest[..end].trim_end_matches(','));
        rest = &rest[end..];
        match rest.find(',') {
            Some(comma) => rest = &rest[comma..],
            None => return out,
        }
    }
}

/// Everything in `html` that a browser could run or load from elsewhere, as a list of problems.
fn problems(html: &str) -> Vec<String> {
    // A body is placed inside a <div> of the page: parse it in that context.
    let doc = Html::parse_fragment(html);
    let base = Url::parse("https://own.invalid/").unwrap();
    let mut found = Vec::new();
    for node in doc.tree.nodes() {
        let Node::Element(element) = node.value() else {
            continue;
        };
        let name = element.name();
        // The parser's own wrappers: markup cannot add these, only attributes to them.
        let wrapper = matches!(name, "html" | "body");
        if &*element.name.ns != "http://www.w3.org/1999/xhtml" {
            found.push(format!("<{name}> outside the HTML namespace"));
        }
        if !wrapper && !ELEMENTS.contains(&name) {
            found.push(format!("element <{name}>"));
        }
        for (attribute, value) in element.attrs() {
            if wrapper || !attribute_allowed(name, attribute) {
                found.push(format!("attribute {attribute} on <{name}>"));
            }
            let addresses: Vec<&str> = match attribute {
                "href" | "src" | "cite" => vec![value],
                // Each candidate of a srcset is an image address like src.
                // A browser reads an address up to whitespace, commas and all: so does this.
                "srcset" => srcset_addresses(value),
                _ => vec![],
            };
            let attribute = if attribute == "srcset" {
                "src"
            } else {
                attribute
            };
            for value in addresses {
                match base.join(value) {
                    Ok(url) => {
                        if !matches!(url.scheme(), "http" | "https" | "mailto" | "article") {
                            found
                                .push(format!("{attribute} with scheme {}: {value}", url.scheme()));
                        }
                        if attribute == "src"
                            && !matches!(url.host_str(), Some("own.invalid" | IMAGE_HOST))
                        {
                            found.push(format!("image from {:?}", url.host_str()));
                        }
                    }
                    Err(_) => found.push(format!("{attribute} that is no URL: {value}")),
                }
            }
            if name == "a" && attribute == "rel" && value != "noopener noreferrer" {
                found.push(format!("rel {value:?}"));
            }
        }
    }
    found
}

fn vectors() -> Vec<String> {
    include_str!("xss-vectors.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.replace("\\x01", "\u{1}"))
        .collect()
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    // Fed unsanitized vectors, the checker must object, or the tests below prove nothing.
    for raw in [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<svg><a xlink:href=\"javascript:alert(1)\">x</a></svg>",
        "<img src=\"//evil.example/t.gif\">",
        "<p style=\"color:red\">x</p>",
    ] {
        assert!(!problems(raw).is_empty(), "the checker missed {raw}");
    }
    assert!(vectors().len() >= 80, "the corpus was not read");
}

#[test]
fn no_known_vector_survives() {
    let sanitizer = sanitizer();
    for vector in vectors() {
        let clean = sanitizer.clean(&vector);
        let found = problems(clean.as_str());
        assert!(
            found.is_empty(),
            "{vector}\n  became {}\n  with {found:?}",
            clean.as_str()
        );
        assert_eq!(
            sanitizer.clean(clean.as_str()),
            clean,
            "sanitizing is not idempotent for {vector}"
        );
    }
}

#[test]
fn what_an_editor_writes_survives() {
    let html = sanitizer().clean(
        r#"<h2>Sub</h2><p>A <strong>bold</strong> <a href="https://example.org/x">link</a>, <a href="article:pk-1"></a> and <a href="mailto:desk@example.org">mail</a>.</p><figure><img src="/media/p.jpg" alt="A photo"><img src="https://media.example.org/q.jpg" alt="Another"><figcaption>Caption</figcaption></figure><blockquote cite="https://example.org/">Q</blockquote>"#,
    );
    let doc = Html::parse_fragment(html.as_str());
    let names: Vec<&str> = doc
        .tree
        .nodes()
        .filter_map(|n| n.value().as_element().map(|e| e.name()))
        .collect();
    assert_eq!(
        names,
        [
            "body",
            "html",
            "h2",
            "p",
            "strong",
            "a",
            "a",
            "a",
            "figure",
            "img",
            "img",
            "figcaption",
            "blockquote"
        ]
    );
    assert!(problems(html.as_str()).is_empty());
}

fn fragment() -> impl Strategy<Value = String> {
    let vectors = vectors();
    prop_oneof![
        proptest::sample::select(vectors),
        "[a-z <>=\"'/:&#;]{0,24}",
        Just("<a href=\"".to_string()),
        Just("<img src=".to_string()),
        Just("<svg>".to_string()),
        Just("<math>".to_string()),
        Just("</p>".to_string()),
        Just("<!--".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn nothing_executable_survives_any_mix(parts in proptest::collection::vec(fragment(), 1..8)) {
        let sanitizer = sanitizer();
        let clean = sanitizer.clean(&parts.concat());
        let found = problems(clean.as_str());
        prop_assert!(found.is_empty(), "{} gave {:?}", clean.as_str(), found);
        prop_assert_eq!(sanitizer.clean(clean.as_str()), clean);
    }
}

#[test]
fn a_responsive_image_keeps_its_renditions_and_loads_lazily() {
    let html = sanitizer().clean(
        r#"<figure><img src="/media/ab12/1280.jpg" srcset="/media/ab12/320.jpg 320w, /media/ab12/1280.jpg 1280w" sizes="(min-width: 48rem) 46rem, 100vw" width="1280" height="853" alt="A harbour"><figcaption>The harbour <small>Photo: Desk</small></figcaption></figure>"#,
    );
    let doc = Html::parse_fragment(html.as_str());
    let img = doc
        .select(&scraper::Selector::parse("img").unwrap())
        .next()
        .expect("the image stays");
    let attr = |name: &str| img.value().attr(name).unwrap_or_default().to_string();
    assert_eq!(
        attr("srcset"),
        "/media/ab12/320.jpg 320w, /media/ab12/1280.jpg 1280w"
    );
    assert_eq!(attr("sizes"), "(min-width: 48rem) 46rem, 100vw");
    assert_eq!(
        (attr("width"), attr("height")),
        ("1280".into(), "853".into())
    );
    assert_eq!(attr("loading"), "lazy");
    // A srcset with one address from elsewhere goes whole; the image keeps its src.
    let html = sanitizer()
        .clean(r#"<img src="/a.jpg" srcset="/a.jpg 1x, https://evil.example/b.jpg 2x" alt="x">"#);
    assert!(
        html.as_str().contains("src=\"/a.jpg\""),
        "{}",
        html.as_str()
    );
    assert!(!html.as_str().contains("srcset"), "{}", html.as_str());
}
