//! Person names: `&str + NameOrder -> PersonName` (display forms) and name match keys.

use super::IssueCode;
use super::text::{fold_key, normalize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameOrder {
    /// `Last, First` when there is a comma, else `First Last`.
    #[default]
    Auto,
    FirstLast,
    LastFirst,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonName {
    pub title: Option<String>,
    pub given: Option<String>,
    pub middle: Option<String>,
    pub family: Option<String>,
    pub suffix: Option<String>,
}

impl PersonName {
    /// `Dr Anna M. van der Berg Jr`
    pub fn display(&self) -> String {
        [
            &self.title,
            &self.given,
            &self.middle,
            &self.family,
            &self.suffix,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
    }
}

const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "herr", "frau", "mme", "mlle", "m", "sir",
    "dame", "rev", "dipl-ing", "ing",
];
const SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "junior", "senior", "phd", "md",
];
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "la", "le", "du", "da", "di", "zu", "ten", "ter", "del",
    "dos", "des",
];

fn bare(token: &str) -> String {
    token.trim_end_matches('.').to_lowercase()
}

/// Split a full name into its parts, in the order the mapping declares.
pub fn parse_full_name(raw: &str, order: NameOrder) -> (PersonName, Vec<IssueCode>) {
    let text = normalize(raw);
    let mut name = PersonName::default();
    let (family_part, rest) = match (order, text.split_once(',')) {
        (NameOrder::LastFirst | NameOrder::Auto, Some((last, first))) => {
            (Some(last.trim().to_string()), first.trim().to_string())
        }
        (NameOrder::LastFirst, None) => {
            // `MUELLER HANS`: the first token is the family name.
            match text.split_once(' ') {
                Some((last, first)) => (Some(last.to_string()), first.to_string()),
                None => (Some(text.clone()), String::new()),
            }
        }
        _ => (None, text.clone()),
    };
    let mut tokens: Vec<&str> = rest.split_whitespace().collect();
    let mut titles = Vec::new();
    while let Some(t) = tokens.first() {
        if TITLES.contains(&bare(t).as_str()) && tokens.len() > 1
            || (TITLES.contains(&bare(t).as_str()) && family_part.is_some())
        {
            titles.push(proper_case(t));
            tokens.remove(0);
        } else {
            break;
        }
    }
    let mut suffixes = Vec::new();
    while let Some(t) = tokens.last() {
        if SUFFIXES.contains(&bare(t).as_str()) && (tokens.len() > 1 || family_part.is_some()) {
            suffixes.insert(0, suffix_case(t));
            tokens.pop();
        } else {
            break;
        }
    }
    let family = match family_part {
        Some(f) => {
            let mut ftoks: Vec<&str> = f.split_whitespace().collect();
            while let Some(t) = ftoks.last() {
                if SUFFIXES.contains(&bare(t).as_str()) && ftoks.len() > 1 {
                    suffixes.insert(0, suffix_case(t));
                    ftoks.pop();
                } else {
                    break;
                }
            }
            Some(ftoks.join(" "))
        }
        None => {
            // The family name is the last token plus any particles before it.
            let mut start = tokens.len().saturating_sub(1);
            while start > 1 && PARTICLES.contains(&tokens[start - 1].to_lowercase().as_str()) {
                start -= 1;
            }
            if tokens.len() >= 2 {
                let f = tokens[start..].join(" ");
                tokens.truncate(start);
                Some(f)
            } else {
                None
            }
        }
    };
    name.family = family
        .filter(|f| !f.is_empty())
        .map(|f| clean_name_part(&f));
    let mut it = tokens.into_iter();
    name.given = it.next().map(clean_name_part);
    let middle: Vec<String> = it.map(clean_name_part).collect();
    if !middle.is_empty() {
        name.middle = Some(middle.join(" "));
    }
    if name.family.is_none() && name.given.is_some() && order != NameOrder::LastFirst {
        // A single token: most exports mean the family name.
        name.family = name.given.take();
    }
    if !titles.is_empty() {
        name.title = Some(titles.join(" "));
    }
    if !suffixes.is_empty() {
        name.suffix = Some(suffixes.join(" "));
    }
    let mut issues = Vec::new();
    if name.family.is_none() && name.given.is_none() {
        issues.push("name.empty");
    }
    (name, issues)
}

/// A family name with a generational suffix written into it (`Miller Jr`), split.
pub fn split_suffix(family: &str) -> (String, Option<String>) {
    let tokens: Vec<&str> = family.split_whitespace().collect();
    match tokens.split_last() {
        Some((last, rest)) if !rest.is_empty() && SUFFIXES.contains(&bare(last).as_str()) => {
            (rest.join(" "), Some(suffix_case(last)))
        }
        _ => (family.to_string(), None),
    }
}

fn suffix_case(t: &str) -> String {
    let b = bare(t);
    match b.as_str() {
        "ii" | "iii" | "iv" => b.to_uppercase(),
        "phd" => "PhD".into(),
        "md" => "MD".into(),
        "junior" => "Jr".into(),
        "senior" => "Sr".into(),
        _ => proper_case(&b),
    }
}

/// Display form of one name part: `MCDONALD` -> `McDonald`, `o'brien` -> `O'Brien`,
/// `VAN DER BERG` -> `van der Berg`. Mixed-case input is kept as written.
pub fn clean_name_part(raw: &str) -> String {
    let s = normalize(raw);
    let has_lower = s.chars().any(char::is_lowercase);
    let has_upper = s.chars().any(char::is_uppercase);
    if has_lower && has_upper {
        return s;
    }
    let words: Vec<String> = s.split(' ').map(proper_case).collect();
    let n = words.len();
    words
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 < n && PARTICLES.contains(&w.to_lowercase().as_str()) {
                w.to_lowercase()
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Proper case of one word, with `-`, `'` and `Mc` handled.
pub fn proper_case(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut upper_next = true;
    for c in word.chars() {
        if upper_next {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper_next = matches!(c, '-' | '\'' | '’' | ' ');
    }
    if out.len() > 2 && out.starts_with("Mc") {
        let (head, tail) = out.split_at(2);
        let mut chars = tail.chars();
        if let Some(first) = chars.next() {
            return format!("{head}{}{}", first.to_uppercase(), chars.as_str());
        }
    }
    out
}

/// The key names are matched on: diacritics folded and German transliterations made equal
/// (`Müller` = `Mueller` = `Muller`), case and punctuation dropped.
pub fn name_key(raw: &str) -> String {
    let folded = fold_key(raw);
    folded
        .replace("ae", "a")
        .replace("oe", "o")
        .replace("ue", "u")
        .replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(n: &PersonName) -> [Option<&str>; 5] {
        [
            n.title.as_deref(),
            n.given.as_deref(),
            n.middle.as_deref(),
            n.family.as_deref(),
            n.suffix.as_deref(),
        ]
    }

    #[test]
    fn parses_names() {
        use NameOrder::*;
        let cases: &[(&str, NameOrder, [Option<&str>; 5])] = &[
            (
                "John Smith",
                Auto,
                [None, Some("John"), None, Some("Smith"), None],
            ),
            (
                "SMITH, JOHN",
                Auto,
                [None, Some("John"), None, Some("Smith"), None],
            ),
            (
                "Müller, Hans P.",
                LastFirst,
                [None, Some("Hans"), Some("P."), Some("Müller"), None],
            ),
            (
                "Dr. Anna van der Berg",
                Auto,
                [Some("Dr."), Some("Anna"), None, Some("van der Berg"), None],
            ),
            (
                "Robert Miller Jr.",
                Auto,
                [None, Some("Robert"), None, Some("Miller"), Some("Jr")],
            ),
            (
                "MILLER JR, ROBERT",
                Auto,
                [None, Some("Robert"), None, Some("Miller"), Some("Jr")],
            ),
            (
                "MCDONALD, RONALD",
                Auto,
                [None, Some("Ronald"), None, Some("McDonald"), None],
            ),
            (
                "o'brien, sean",
                Auto,
                [None, Some("Sean"), None, Some("O'Brien"), None],
            ),
            ("Madonna", Auto, [None, None, None, Some("Madonna"), None]),
            (
                "MUELLER HANS",
                LastFirst,
                [None, Some("Hans"), None, Some("Mueller"), None],
            ),
        ];
        for (raw, order, want) in cases {
            let (n, issues) = parse_full_name(raw, *order);
            assert_eq!(parts(&n), *want, "{raw}");
            assert!(issues.is_empty(), "{raw}");
        }
    }

    #[test]
    fn suffix_in_family_name() {
        assert_eq!(
            split_suffix("Miller Jr"),
            ("Miller".to_string(), Some("Jr".to_string()))
        );
        assert_eq!(
            split_suffix("Miller III"),
            ("Miller".to_string(), Some("III".to_string()))
        );
        assert_eq!(split_suffix("Jr"), ("Jr".to_string(), None));
        assert_eq!(
            split_suffix("van der Berg"),
            ("van der Berg".to_string(), None)
        );
    }

    #[test]
    fn empty_name_is_flagged() {
        assert_eq!(parse_full_name("  ", NameOrder::Auto).1, vec!["name.empty"]);
    }

    #[test]
    fn keys_fold_transliterations() {
        for (a, b) in [
            ("Müller", "Mueller"),
            ("Müller", "MULLER"),
            ("Zoë", "Zoe"),
            ("O'Brien", "OBrien"),
            ("van der Berg", "Van Der Berg"),
        ] {
            assert_eq!(name_key(a), name_key(b), "{a} {b}");
        }
        assert_ne!(name_key("Schmidt"), name_key("Schmitt"));
    }
}
