//! The text analysis of each language: English and Russian are stemmed, Chinese is cut into
//! overlapping pairs of characters (no dictionary to ship, and it finds words of any length),
//! and every other language is folded to plain lowercase words.

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// The analyzers by name, as the schema's fields use them.
pub fn analyzers() -> Vec<(&'static str, TextAnalyzer)> {
    // Words such as "the" and "и" say nothing about what a story is about: they are dropped
    // before stemming, so that neither search nor related stories match on them.
    let stemmed = |language: Language| {
        let builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser);
        match StopWordFilter::new(language) {
            Some(stop) => builder.filter(stop).filter(Stemmer::new(language)).build(),
            None => builder.filter(Stemmer::new(language)).build(),
        }
    };
    vec![
        ("dl_en", stemmed(Language::English)),
        ("dl_ru", stemmed(Language::Russian)),
        (
            "dl_zh",
            TextAnalyzer::builder(CjkBigrams).filter(LowerCaser).build(),
        ),
        (
            "dl_plain",
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .build(),
        ),
    ]
}

/// Which analyzer group a language tag belongs to: `en`, `ru`, `zh` or `plain`.
pub fn group(lang: &str) -> &'static str {
    match lang.split('-').next().unwrap_or_default() {
        "en" => "en",
        "ru" => "ru",
        "zh" | "ja" => "zh",
        _ => "plain",
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F
        | 0x3040..=0x30FF)
}

/// Splits text into words, and runs of CJK characters into overlapping pairs (a run of one
/// character is itself a token).
#[derive(Clone, Default)]
pub struct CjkBigrams;

/// The tokens of one text, made up front.
pub struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

impl Tokenizer for CjkBigrams {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let mut tokens = Vec::new();
        let push = |from: usize, to: usize, tokens: &mut Vec<Token>| {
            let position = tokens.len();
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text: text[from..to].to_string(),
                position_length: 1,
            });
        };
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let end_of = |i: usize| chars.get(i + 1).map_or(text.len(), |(o, _)| *o);
        let mut i = 0;
        while i < chars.len() {
            let (start, c) = chars[i];
            if is_cjk(c) {
                let mut j = i;
                while j + 1 < chars.len() && is_cjk(chars[j + 1].1) {
                    j += 1;
                }
                if i == j {
                    push(start, end_of(i), &mut tokens);
                } else {
                    for (k, (from, _)) in chars.iter().enumerate().take(j).skip(i) {
                        push(*from, end_of(k + 1), &mut tokens);
                    }
                }
                i = j + 1;
            } else if c.is_alphanumeric() {
                let mut j = i;
                while j + 1 < chars.len()
                    && chars[j + 1].1.is_alphanumeric()
                    && !is_cjk(chars[j + 1].1)
                {
                    j += 1;
                }
                push(start, end_of(j), &mut tokens);
                i = j + 1;
            } else {
                i += 1;
            }
        }
        Tokens { tokens, at: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(analyzer: &str, text: &str) -> Vec<String> {
        let mut a = analyzers()
            .into_iter()
            .find(|(n, _)| *n == analyzer)
            .map(|(_, a)| a)
            .unwrap_or_default();
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn each_language_is_cut_as_it_is_read() {
        assert_eq!(terms("dl_en", "The ferries reopened"), ["ferri", "reopen"]);
        assert_eq!(
            terms("dl_ru", "переговоры продолжились"),
            ["переговор", "продолж"]
        );
        assert_eq!(
            terms("dl_zh", "港口重新开放 AI2 好"),
            ["港口", "口重", "重新", "新开", "开放", "ai2", "好"]
        );
        assert_eq!(terms("dl_plain", "Café Zürich"), ["cafe", "zurich"]);
    }
}
