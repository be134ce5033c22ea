//! "Did you mean": the valid name closest to a misspelt one.
//!
//! An error that lists forty functions is accurate but makes the reader do
//! the search; naming the one they almost wrote does it for them. A
//! suggestion is only offered when it is close, since a wrong guess is
//! worse than none: a case-insensitive match wins outright (`normal` is
//! `Normal`), else the candidate with the highest normalized
//! Damerau-Levenshtein similarity (one minus edits over the longer length,
//! a swap counting as one edit), if that is at least [`THRESHOLD`]. The
//! caller still lists what is valid; the suggestion goes in front of it.

/// The least similarity worth suggesting: at most about one edit in four
/// (`rellu` -> `relu` is 0.8, `unti` -> `unit` 0.75), so that short names
/// that merely share a letter (`sig`, `sin`) are not paired.
pub const THRESHOLD: f64 = 0.7;

/// The candidate `word` most likely meant, or None when none is close.
/// Ties go to the earliest candidate, so the answer is deterministic.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let c_lower = c.to_lowercase();
        if c_lower == lower {
            return Some(c);
        }
        let s = strsim::normalized_damerau_levenshtein(&lower, &c_lower);
        if s >= THRESHOLD && best.is_none_or(|(_, b)| s > b) {
            best = Some((c, s));
        }
    }
    best.map(|(c, _)| c)
}

/// `help` with "did you mean `X`? " in front when a candidate is close.
pub fn help<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    help: impl Into<String>,
) -> String {
    let help = help.into();
    match closest(word, candidates) {
        Some(c) => format!("did you mean `{c}`? {help}"),
        None => help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNCTIONS: [&str; 6] = ["relu", "leaky_relu", "tanh", "sin", "sigmoid", "gelu"];

    #[test]
    fn a_case_difference_wins_over_any_edit() {
        assert_eq!(closest("normal", ["Norma", "Normal"]), Some("Normal"));
        assert_eq!(closest("PHI", ["phi", "Phi"]), Some("phi"));
    }

    #[test]
    fn one_edit_in_a_word_is_suggested() {
        assert_eq!(closest("rellu", FUNCTIONS), Some("relu"));
        assert_eq!(closest("tahn", FUNCTIONS), Some("tanh"));
        assert_eq!(
            closest("require", ["id", "says", "requires"]),
            Some("requires")
        );
        assert_eq!(closest("unti", ["unit", "wide", "narrow"]), Some("unit"));
    }

    #[test]
    fn the_closest_of_several_near_candidates_is_chosen() {
        // leaky_rel is one edit from leaky_relu and far from relu.
        assert_eq!(closest("leaky_rel", FUNCTIONS), Some("leaky_relu"));
    }

    #[test]
    fn a_distant_word_gets_no_suggestion() {
        assert_eq!(closest("sig", FUNCTIONS), None);
        assert_eq!(closest("softmax", FUNCTIONS), None);
        assert_eq!(closest("x", ["y"]), None);
        assert_eq!(closest("relu", std::iter::empty()), None);
    }

    #[test]
    fn the_word_itself_is_not_suggested() {
        assert_eq!(closest("relu", ["relu"]), None);
    }

    #[test]
    fn help_puts_the_suggestion_before_the_list() {
        assert_eq!(
            help("rellu", FUNCTIONS, "functions: relu, tanh"),
            "did you mean `relu`? functions: relu, tanh"
        );
        assert_eq!(help("zzz", FUNCTIONS, "functions: relu"), "functions: relu");
    }
}
