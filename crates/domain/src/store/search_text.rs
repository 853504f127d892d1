//! The text rules of store search, shared by both engines: how a name splits into terms,
//! how many typos a query word may carry, and whether a vocabulary term is close enough.

/// Longest query the store accepts, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words of a query that are searched (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 8;

/// The lower-cased words of `text`: runs of letters and digits in any script. This is what
/// the vocabulary of app names holds and what typo correction compares against.
pub fn terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let term: String = word.chars().flat_map(char::to_lowercase).collect();
        if term.chars().count() <= 255 && !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

/// The query's words, at most [`MAX_QUERY_WORDS`].
pub fn query_words(query: &str) -> Vec<String> {
    let mut words = terms(query);
    words.truncate(MAX_QUERY_WORDS);
    words
}

/// Typos tolerated in a word of `chars` characters: one from 5, two from 9.
pub fn typo_budget(chars: usize) -> usize {
    match chars {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Whether `term` is within the typo budget of `word` (Damerau: a swap of two neighbours is
/// one typo).
pub fn within_typos(word: &str, term: &str) -> bool {
    let budget = typo_budget(word.chars().count());
    budget > 0 && word != term && strsim::damerau_levenshtein(word, term) <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_every_script() {
        assert_eq!(
            terms("Photo-Editor 2 Pro!"),
            ["photo", "editor", "2", "pro"]
        );
        assert_eq!(terms("Карта Города"), ["карта", "города"]);
        assert_eq!(terms("天气预报"), ["天气预报"]);
        assert_eq!(terms("a a A"), ["a"]);
    }

    #[test]
    fn typo_budgets() {
        assert!(within_typos("spotfy", "spotify"));
        assert!(within_typos("hexlo", "hello"));
        assert!(!within_typos("helo", "hell"));
        assert!(within_typos("calculatr", "calculator"));
        assert!(within_typos("calcluatro", "calculator"));
        assert!(!within_typos("calxxxator", "calculator"));
        assert!(!within_typos("hello", "hello"));
    }
}
