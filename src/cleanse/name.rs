//! Person names: `&str + NameOrder -> PersonName` (display forms) and name match keys.
//!
//! Titles, suffixes, particles and the `Mac` exceptions are reference data in `data/name_*.csv`.

use std::sync::OnceLock;

use super::IssueCode;
use super::reference::{self, FastMap, FastSet, Shapes, field};
use super::text::{capitalise, is_single_case, normalize, normalize_cow, squash_key};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    /// `Dr. Anna M. van der Berg Jr`
    pub fn display(&self) -> String {
        display_of([
            self.title.as_deref(),
            self.given.as_deref(),
            self.middle.as_deref(),
            self.family.as_deref(),
            self.suffix.as_deref(),
        ])
    }
}

/// Title, given, middle, family and suffix written as one name, single-spaced.
pub fn display_of(parts: [Option<&str>; 5]) -> String {
    let mut out = String::with_capacity(parts.iter().flatten().map(|p| p.len() + 1).sum());
    for part in parts.into_iter().flatten().filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

struct Title {
    display: &'static str,
    /// The title (table key) this one may only follow: `med` follows `dr`.
    follows: Option<&'static str>,
}

struct Suffix {
    display: &'static str,
    generation: bool,
}

struct Tables {
    titles: FastMap<&'static str, Title>,
    suffixes: FastMap<&'static str, Suffix>,
    particles: FastSet<&'static str>,
    mac_exceptions: FastSet<&'static str>,
    company_forms: FastSet<&'static str>,
    title_shapes: Shapes,
    suffix_shapes: Shapes,
    particle_shapes: Shapes,
    company_shapes: Shapes,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            titles: reference::rows(reference::TITLES)
                .map(|r| {
                    let follows = field(&r, 2);
                    (
                        field(&r, 0),
                        Title {
                            display: field(&r, 1),
                            follows: (!follows.is_empty()).then_some(follows),
                        },
                    )
                })
                .collect(),
            suffixes: reference::rows(reference::SUFFIXES)
                .map(|r| {
                    (
                        field(&r, 0),
                        Suffix {
                            display: field(&r, 1),
                            generation: field(&r, 2) == "generation",
                        },
                    )
                })
                .collect(),
            particles: reference::rows(reference::PARTICLES)
                .map(|r| field(&r, 0))
                .collect(),
            mac_exceptions: reference::rows(reference::MAC_EXCEPTIONS)
                .map(|r| field(&r, 0))
                .collect(),
            company_forms: reference::rows(reference::COMPANY_FORMS)
                .map(|r| field(&r, 0))
                .collect(),
            title_shapes: Shapes::default(),
            suffix_shapes: Shapes::default(),
            particle_shapes: Shapes::default(),
            company_shapes: Shapes::default(),
        };
        t.title_shapes = Shapes::of(t.titles.keys().copied());
        t.suffix_shapes = Shapes::of(t.suffixes.keys().copied());
        t.particle_shapes = Shapes::of(t.particles.iter().copied());
        t.company_shapes = Shapes::of(t.company_forms.iter().copied());
        t
    })
}

/// Look a token up as written (lower-cased, so `ing.` needs its dot) and then without its
/// trailing dots (`Dr.` = `dr`). Returns the table key and the entry.
fn lookup<'t, T>(map: &'t FastMap<&'static str, T>, token: &str) -> Option<(&'static str, &'t T)> {
    with_lower(token, |lower| {
        map.get_key_value(lower)
            .or_else(|| map.get_key_value(lower.trim_end_matches('.')))
            .map(|(k, v)| (*k, v))
    })
}

/// Run `f` on the lower-case form of a short token without allocating (names are looked
/// up word by word, millions of times a run). Long tokens are no table's words.
fn with_lower<R>(token: &str, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    const MAX: usize = 32;
    if token.len() > MAX {
        return None;
    }
    let mut buf = [0u8; MAX * 2];
    if token.is_ascii() {
        let b = &mut buf[..token.len()];
        b.copy_from_slice(token.as_bytes());
        b.make_ascii_lowercase();
        return f(std::str::from_utf8(b).ok()?);
    }
    let mut n = 0;
    for c in token.chars() {
        for l in c.to_lowercase() {
            if n + l.len_utf8() > buf.len() {
                return None;
            }
            n += l.encode_utf8(&mut buf[n..]).len();
        }
    }
    f(std::str::from_utf8(&buf[..n]).ok()?)
}

fn title(token: &str) -> Option<(&'static str, &'static Title)> {
    let t = tables();
    if !t.title_shapes.may_hold(token) {
        return None;
    }
    lookup(&t.titles, token)
}

fn suffix(token: &str) -> Option<&'static Suffix> {
    let t = tables();
    if !t.suffix_shapes.may_hold(token) {
        return None;
    }
    lookup(&t.suffixes, token).map(|(_, s)| s)
}

fn is_particle(token: &str) -> bool {
    let t = tables();
    t.particle_shapes.may_hold(token)
        && with_lower(token, |l| t.particles.contains(l).then_some(())).is_some()
}

fn is_company_form(token: &str) -> bool {
    let t = tables();
    if !t.company_shapes.may_hold(token) {
        return false;
    }
    let forms = &t.company_forms;
    if token.contains('.') {
        forms.contains(token.replace('.', "").to_lowercase().as_str())
    } else {
        with_lower(token, |l| forms.contains(l).then_some(())).is_some()
    }
}

/// Titles at the front of `tokens`, removed and written in their standard form. `keep` is
/// how many tokens must remain.
fn take_titles(tokens: &mut Vec<&str>, keep: usize, out: &mut Vec<&'static str>) {
    let mut prev: Option<&'static str> = None;
    while tokens.len() > keep {
        match title(tokens[0]) {
            Some((key, t)) if t.follows.is_none() || t.follows == prev => {
                out.push(t.display);
                prev = Some(key);
                tokens.remove(0);
            }
            _ => break,
        }
    }
}

/// Suffixes at the end of `tokens`, removed, in written order. `keep` tokens remain.
fn take_suffixes(tokens: &mut Vec<&str>, keep: usize, out: &mut Vec<&'static Suffix>) {
    let mut found = Vec::new();
    while tokens.len() > keep {
        match tokens.last().and_then(|t| suffix(t)) {
            Some(s) => {
                found.push(s);
                tokens.pop();
            }
            None => break,
        }
    }
    found.reverse();
    out.extend(found);
}

/// Generation suffixes first (`Jr PhD`), each once.
fn suffix_display(suffixes: &[&'static Suffix]) -> Option<String> {
    let mut shown: Vec<&str> = Vec::new();
    for s in suffixes.iter().filter(|s| s.generation) {
        if !shown.contains(&s.display) {
            shown.push(s.display);
        }
    }
    for s in suffixes.iter().filter(|s| !s.generation) {
        if !shown.contains(&s.display) {
            shown.push(s.display);
        }
    }
    (!shown.is_empty()).then(|| shown.join(" "))
}

/// Words of a name part: quoted or bracketed nicknames (`John "Jack" Smith`) dropped, a
/// title glued to the name split off (`Dr.Müller`), tokens without letters or digits dropped.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    for word in text.split(' ') {
        let opens = word.starts_with('(') || word.starts_with('"') || word.starts_with('“');
        if opens && depth == 0 && !quoted {
            let closes_here = word.len() > 1
                && (word.ends_with(')') || word.ends_with('"') || word.ends_with('”'));
            if !closes_here {
                if word.starts_with('(') {
                    depth = 1;
                } else {
                    quoted = true;
                }
            }
            continue;
        }
        if depth > 0 || quoted {
            if word.ends_with(')') {
                depth = 0;
            }
            if word.ends_with('"') || word.ends_with('”') {
                quoted = false;
            }
            continue;
        }
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        // `Dr.Müller` -> `Dr.` `Müller`
        if let Some(dot) = word.find('.')
            && dot + 1 < word.len()
            && title(&word[..=dot]).is_some()
            && word[dot + 1..].starts_with(char::is_uppercase)
        {
            out.push(&word[..=dot]);
            out.push(&word[dot + 1..]);
            continue;
        }
        out.push(word);
    }
    out
}

fn has_several_people(text: &str) -> bool {
    text.split(' ').any(|w| {
        w.len() <= 3
            && ["&", "+", "and", "und", "et", "u."]
                .iter()
                .any(|c| w.eq_ignore_ascii_case(c))
    })
}

fn has_invalid_chars(text: &str) -> bool {
    text.chars().any(|c| {
        !(c.is_alphabetic()
            || c.is_whitespace()
            || unicode_normalization::char::is_combining_mark(c)
            || matches!(
                c,
                '-' | '\''
                    | '’'
                    | '.'
                    | ','
                    | '`'
                    | '´'
                    | '('
                    | ')'
                    | '"'
                    | '“'
                    | '”'
                    | '&'
                    | '+'
                    | '?'
                    | '\u{fffd}'
            ))
    })
}

/// Split a full name into its parts, in the order the mapping declares.
pub fn parse_full_name(raw: &str, order: NameOrder) -> (PersonName, Vec<IssueCode>) {
    let text = normalize_cow(raw);
    let mut issues: Vec<IssueCode> = Vec::new();
    if has_several_people(&text) {
        issues.push("name.multiple");
    }
    if text.contains(['?', '\u{fffd}']) {
        // `Wi?niewski`: a letter the export's encoding could not hold.
        issues.push("name.encoding_loss");
    }
    if has_invalid_chars(&text) {
        issues.push("name.invalid_chars");
    }
    let parts: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let mut titles: Vec<&'static str> = Vec::new();
    let mut suffixes: Vec<&'static Suffix> = Vec::new();

    let only_suffixes_and_titles = |p: &&str| {
        let t = tokens(p);
        !t.is_empty() && t.iter().all(|t| suffix(t).is_some() || title(t).is_some())
    };
    // `John Smith, Jr.` is First Last whatever the order says; so is any comma followed
    // only by suffixes or titles.
    let comma_is_last_first = parts.len() >= 2 && !parts[1..].iter().all(only_suffixes_and_titles);

    let (given_tokens, family_tokens): (Vec<&str>, Vec<&str>) = if comma_is_last_first {
        // `Last [Jr], [Title] First [Middle] [particles], [Suffix | Title]...`
        let mut family = tokens(parts[0]);
        let mut given = tokens(parts[1]);
        for extra in &parts[2..] {
            for t in tokens(extra) {
                if let Some(s) = suffix(t) {
                    suffixes.push(s);
                } else if let Some((_, ti)) = title(t) {
                    titles.push(ti.display);
                } else {
                    given.push(t);
                }
            }
        }
        take_titles(&mut family, 1, &mut titles);
        take_titles(&mut given, 0, &mut titles);
        take_suffixes(&mut family, 1, &mut suffixes);
        take_suffixes(&mut given, 1, &mut suffixes);
        // `Jr., Anna`: nothing but a suffix before the comma; the name is after it.
        if family.iter().all(|t| suffix(t).is_some()) && !given.is_empty() {
            suffixes.extend(family.iter().filter_map(|t| suffix(t)));
            family = given.pop().into_iter().collect();
        }
        // Dutch and German indexes write particles after the given name:
        // `Berg, Anna van der` is Anna van der Berg.
        let mut lead = Vec::new();
        while given.len() > 1 && given.last().is_some_and(|t| is_particle(t)) {
            lead.push(given.pop().unwrap_or_default());
        }
        lead.reverse();
        lead.extend(family);
        (given, lead)
    } else {
        let mut words = tokens(parts.first().copied().unwrap_or(""));
        for extra in parts.iter().skip(1) {
            for t in tokens(extra) {
                if let Some(s) = suffix(t) {
                    suffixes.push(s);
                } else if let Some((_, ti)) = title(t) {
                    titles.push(ti.display);
                }
            }
        }
        let mut trailing = Vec::new();
        take_suffixes(&mut words, 1, &mut trailing);
        trailing.append(&mut suffixes);
        suffixes = trailing;
        take_titles(&mut words, 1, &mut titles);
        if order == NameOrder::LastFirst {
            // `VAN DER BERG ANNA`: leading particles and the next word are the family name.
            let mut end = 0;
            while end + 1 < words.len() && is_particle(words[end]) {
                end += 1;
            }
            let end = (end + 1).min(words.len());
            let family = words[..end].to_vec();
            (words[end..].to_vec(), family)
        } else if words.len() >= 2 {
            // `Anna Maria van der Berg`: the last word and the particles before it.
            // A first word that is a particle in lower case (`van Gogh`) is part of the
            // family name; capitalised (`Van Morrison`, `Al Pacino`) it is a given name.
            let mut start = words.len() - 1;
            while start > 0
                && is_particle(words[start - 1])
                && (start > 1 || words[0].starts_with(char::is_lowercase))
            {
                start -= 1;
            }
            let family = words[start..].to_vec();
            words.truncate(start);
            (words, family)
        } else {
            // A single word: most exports mean the family name.
            (Vec::new(), words)
        }
    };

    let mut name = PersonName::default();
    if !family_tokens.is_empty() {
        name.family = Some(recase_normalized(&family_tokens.join(" "), true));
    }
    let mut given = given_tokens.into_iter();
    name.given = given.next().map(initial_or_part);
    let middle: Vec<String> = given.map(initial_or_part).collect();
    if !middle.is_empty() {
        name.middle = Some(middle.join(" "));
    }
    if !titles.is_empty() {
        titles.dedup();
        name.title = Some(titles.join(" "));
    }
    name.suffix = suffix_display(&suffixes);

    if name.family.is_none() && name.given.is_none() {
        issues.push("name.empty");
    }
    let all_tokens = name
        .given
        .iter()
        .chain(&name.middle)
        .chain(&name.family)
        .flat_map(|p| p.split(' '));
    if all_tokens.clone().count() >= 2 && all_tokens.into_iter().any(is_company_form) {
        issues.push("name.company");
    }
    (name, issues)
}

/// A given or middle name; a bare initial gets its dot (`M` -> `M.`).
fn initial_or_part(token: &str) -> String {
    // `Maria de Souza Santos`: a particle written in lower case stays so.
    if is_particle(token) && !token.chars().any(char::is_uppercase) {
        return token.to_string();
    }
    let part = recase_normalized(token, false);
    let mut chars = part.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_alphabetic() => format!("{part}."),
        _ => part,
    }
}

/// A given-name column: titles written into it split off (`Dr. Anna` -> (`Anna`, `Dr.`)).
pub fn split_title(given: &str) -> (String, Option<String>) {
    let text = normalize(given);
    let mut words: Vec<&str> = text.split(' ').collect();
    let mut titles = Vec::new();
    take_titles(&mut words, 1, &mut titles);
    if titles.is_empty() {
        (clean_name_part(&text), None)
    } else {
        (clean_name_part(&words.join(" ")), Some(titles.join(" ")))
    }
}

/// A family name with a suffix written into it (`Miller Jr`), split.
pub fn split_suffix(family: &str) -> (String, Option<String>) {
    let mut words: Vec<&str> = family.split_whitespace().collect();
    let mut found = Vec::new();
    take_suffixes(&mut words, 1, &mut found);
    match suffix_display(&found) {
        Some(s) => (words.join(" "), Some(s)),
        None => (family.to_string(), None),
    }
}

/// The standard form of a suffix column or of suffixes found in a name (`jr.` -> `Jr`,
/// `iii` -> `III`); unknown suffixes are kept as written.
pub fn standardise_suffix(raw: &str) -> String {
    let text = normalize(raw);
    let found: Vec<&'static Suffix> = text
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .filter_map(suffix)
        .collect();
    let known = text
        .split([' ', ','])
        .filter(|t| !t.is_empty())
        .all(|t| suffix(t).is_some());
    match suffix_display(&found) {
        Some(s) if known => s,
        _ => text,
    }
}

/// The generation a suffix names (`Jr`, `Sr`, `III`), which tells a father from his son;
/// post-nominal letters (`PhD`) are not a generation. The key suffixes are matched on.
pub fn generation_key(suffix_text: &str) -> Option<&'static str> {
    suffix_text
        .split([' ', ','])
        .filter_map(suffix)
        .find(|s| s.generation)
        .map(|s| s.display)
}

/// A title column in its standard form (`DR.` -> `Dr.`, `herr` -> `Herr`); unknown titles
/// are kept as written.
pub fn standardise_title(raw: &str) -> String {
    let text = normalize(raw);
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let shown: Option<Vec<&str>> = words
        .iter()
        .map(|w| title(w).map(|(_, t)| t.display))
        .collect();
    match shown {
        Some(s) if !s.is_empty() => s.join(" "),
        _ => text,
    }
}

/// Display form of one name part: `MCDONALD` -> `McDonald`, `o'brien` -> `O'Brien`,
/// `VAN DER BERG` -> `van der Berg`. Words in mixed case are kept as written.
pub fn clean_name_part(raw: &str) -> String {
    recase(raw, false)
}

/// `clean_name_part` for a family name, which also knows the Scottish and Irish `Mac`
/// (`MACDONALD` -> `MacDonald`, but `MACHADO` -> `Machado`).
pub fn clean_family_name(raw: &str) -> String {
    recase(raw, true)
}

/// Re-case word by word: a word written in one case (`MÜLLER`, `müller`) gets its proper
/// case, a word in mixed case (`McDonald`, `DiCaprio`, `Van`) is kept as written. Deciding
/// per word keeps the result the same however the words are grouped into parts.
fn recase(raw: &str, family: bool) -> String {
    recase_normalized(&normalize(raw), family)
}

/// [`recase`] of text already normalised (single spaces, trimmed).
fn recase_normalized(s: &str, family: bool) -> String {
    let n = s.split(' ').count();
    let mut out = String::with_capacity(s.len() + 2);
    for (i, w) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let last = i + 1 == n;
        let mut chars = w.chars();
        if family
            && !last
            && matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic())
        {
            // An initial inside a family name is written as one, as in a middle name.
            out.push_str(&capitalise(w));
            out.push('.');
        } else if let Some(s) = suffix(w) {
            // A suffix word where a name is expected takes its standard form (`III`).
            out.push_str(s.display);
        } else if !is_single_case(w) {
            out.push_str(w);
        } else if !last && is_particle(w) {
            out.push_str(&w.to_lowercase());
        } else {
            out.push_str(&proper_case_with(w, family));
        }
    }
    out
}

/// Proper case of one word, with `-`, `O'`/`D'` and `Mc` handled: `MEYER-LÜDENSCHEID` ->
/// `Meyer-Lüdenscheid`, `O'BRIEN` -> `O'Brien`, `MCKAY` -> `McKay`.
pub fn proper_case(word: &str) -> String {
    proper_case_with(word, false)
}

fn proper_case_with(word: &str, mac: bool) -> String {
    if !word.contains('-') {
        return proper_segment(word, mac);
    }
    word.split('-')
        .map(|segment| proper_segment(segment, mac))
        .collect::<Vec<_>>()
        .join("-")
}

fn proper_segment(segment: &str, mac: bool) -> String {
    // `O'Brien`, `D'Angelo`, `L'Hôpital`: a one-letter prefix and an apostrophe.
    let mut chars = segment.char_indices();
    if let (Some((_, first)), Some((i, apo))) = (chars.next(), chars.next())
        && first.is_alphabetic()
        && matches!(apo, '\'' | '’')
        && segment.len() > i + apo.len_utf8()
    {
        let rest = &segment[i + apo.len_utf8()..];
        return format!(
            "{}{apo}{}",
            capitalise(&segment[..i]),
            proper_segment(rest, mac)
        );
    }
    let starts = |prefix: &str| {
        segment.len() > prefix.len()
            && segment.is_char_boundary(prefix.len())
            && segment[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts("mc") {
        return format!("Mc{}", capitalise(&segment[2..]));
    }
    if mac
        && starts("mac")
        && segment[3..].chars().count() >= 3
        && segment[3..].chars().all(char::is_alphabetic)
        && !tables()
            .mac_exceptions
            .contains(segment.to_lowercase().as_str())
    {
        return format!("Mac{}", capitalise(&segment[3..]));
    }
    capitalise(segment)
}

/// The key names are matched on: diacritics folded and German transliterations made equal
/// (`Müller` = `Mueller` = `Muller`), case, spaces and punctuation dropped.
pub fn name_key(raw: &str) -> String {
    squash_key(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parts<'a> = [Option<&'a str>; 5];

    fn parts(n: &PersonName) -> Parts<'_> {
        [
            n.title.as_deref(),
            n.given.as_deref(),
            n.middle.as_deref(),
            n.family.as_deref(),
            n.suffix.as_deref(),
        ]
    }

    const N: Option<&str> = None;

    #[test]
    fn parses_names() {
        use NameOrder::*;
        let cases: &[(&str, NameOrder, Parts<'_>)] = &[
            ("John Smith", Auto, [N, Some("John"), N, Some("Smith"), N]),
            ("SMITH, JOHN", Auto, [N, Some("John"), N, Some("Smith"), N]),
            (
                "Müller, Hans P.",
                LastFirst,
                [N, Some("Hans"), Some("P."), Some("Müller"), N],
            ),
            (
                "Dr. Anna van der Berg",
                Auto,
                [Some("Dr."), Some("Anna"), N, Some("van der Berg"), N],
            ),
            (
                "Robert Miller Jr.",
                Auto,
                [N, Some("Robert"), N, Some("Miller"), Some("Jr")],
            ),
            (
                "MILLER JR, ROBERT",
                Auto,
                [N, Some("Robert"), N, Some("Miller"), Some("Jr")],
            ),
            (
                "MCDONALD, RONALD",
                Auto,
                [N, Some("Ronald"), N, Some("McDonald"), N],
            ),
            (
                "o'brien, sean",
                Auto,
                [N, Some("Sean"), N, Some("O'Brien"), N],
            ),
            ("Madonna", Auto, [N, N, N, Some("Madonna"), N]),
            (
                "MUELLER HANS",
                LastFirst,
                [N, Some("Hans"), N, Some("Mueller"), N],
            ),
            (
                "Prof. Dr. Ute Lange",
                FirstLast,
                [Some("Prof. Dr."), Some("Ute"), N, Some("Lange"), N],
            ),
            (
                "Dr. med. Klaus Weber",
                FirstLast,
                [Some("Dr. med."), Some("Klaus"), N, Some("Weber"), N],
            ),
            (
                "Dr. rer. nat. Eva Schulz",
                Auto,
                [Some("Dr. rer. nat."), Some("Eva"), N, Some("Schulz"), N],
            ),
            (
                "Herr Thomas Müller",
                Auto,
                [Some("Herr"), Some("Thomas"), N, Some("Müller"), N],
            ),
            ("Frau Meier", Auto, [Some("Frau"), N, N, Some("Meier"), N]),
            (
                "MRS. JANE DOE",
                Auto,
                [Some("Mrs"), Some("Jane"), N, Some("Doe"), N],
            ),
            (
                "Mme Zoë Lefèvre",
                Auto,
                [Some("Mme"), Some("Zoë"), N, Some("Lefèvre"), N],
            ),
            (
                "Stein, Wolfgang, Dr.",
                LastFirst,
                [Some("Dr."), Some("Wolfgang"), N, Some("Stein"), N],
            ),
            (
                "Müller, Dr. Hans",
                LastFirst,
                [Some("Dr."), Some("Hans"), N, Some("Müller"), N],
            ),
            (
                "Dr. Müller, Hans",
                LastFirst,
                [Some("Dr."), Some("Hans"), N, Some("Müller"), N],
            ),
            (
                "John Smith, Jr.",
                Auto,
                [N, Some("John"), N, Some("Smith"), Some("Jr")],
            ),
            (
                "John Smith, Jr.",
                FirstLast,
                [N, Some("John"), N, Some("Smith"), Some("Jr")],
            ),
            (
                "Smith, John, III",
                Auto,
                [N, Some("John"), N, Some("Smith"), Some("III")],
            ),
            (
                "Henry Ford II",
                Auto,
                [N, Some("Henry"), N, Some("Ford"), Some("II")],
            ),
            (
                "Jane Doe PhD",
                Auto,
                [N, Some("Jane"), N, Some("Doe"), Some("PhD")],
            ),
            (
                "John Smith Jr. MD",
                Auto,
                [N, Some("John"), N, Some("Smith"), Some("Jr MD")],
            ),
            (
                "Hans Müller jun.",
                Auto,
                [N, Some("Hans"), N, Some("Müller"), Some("Jr")],
            ),
            ("Li Jun", Auto, [N, Some("Li"), N, Some("Jun"), N]),
            (
                "Ludwig van Beethoven",
                Auto,
                [N, Some("Ludwig"), N, Some("van Beethoven"), N],
            ),
            (
                "Maria de la Cruz",
                Auto,
                [N, Some("Maria"), N, Some("de la Cruz"), N],
            ),
            (
                "Jean-Claude Van Damme",
                Auto,
                [N, Some("Jean-Claude"), N, Some("Van Damme"), N],
            ),
            (
                "Berg, Anna van der",
                LastFirst,
                [N, Some("Anna"), N, Some("van der Berg"), N],
            ),
            (
                "VAN DER BERG ANNA",
                LastFirst,
                [N, Some("Anna"), N, Some("van der Berg"), N],
            ),
            (
                "ANNA VAN DER BERG",
                Auto,
                [N, Some("Anna"), N, Some("van der Berg"), N],
            ),
            (
                "Otto von Bismarck",
                FirstLast,
                [N, Some("Otto"), N, Some("von Bismarck"), N],
            ),
            ("Al Pacino", Auto, [N, Some("Al"), N, Some("Pacino"), N]),
            (
                "Van Morrison",
                Auto,
                [N, Some("Van"), N, Some("Morrison"), N],
            ),
            ("van Gogh", Auto, [N, N, N, Some("van Gogh"), N]),
            (
                "Anna Maria Schmidt",
                Auto,
                [N, Some("Anna"), Some("Maria"), Some("Schmidt"), N],
            ),
            (
                "John F Kennedy",
                Auto,
                [N, Some("John"), Some("F."), Some("Kennedy"), N],
            ),
            (
                "J. R. R. Tolkien",
                Auto,
                [N, Some("J."), Some("R. R."), Some("Tolkien"), N],
            ),
            (
                "JEAN-PIERRE DUPONT",
                Auto,
                [N, Some("Jean-Pierre"), N, Some("Dupont"), N],
            ),
            (
                "MEYER-LÜDENSCHEID, KARL",
                Auto,
                [N, Some("Karl"), N, Some("Meyer-Lüdenscheid"), N],
            ),
            (
                "MACDONALD, ANGUS",
                Auto,
                [N, Some("Angus"), N, Some("MacDonald"), N],
            ),
            (
                "MACHADO, ANA",
                Auto,
                [N, Some("Ana"), N, Some("Machado"), N],
            ),
            ("MACK, TOM", Auto, [N, Some("Tom"), N, Some("Mack"), N]),
            (
                "SEAN O'CONNOR",
                Auto,
                [N, Some("Sean"), N, Some("O'Connor"), N],
            ),
            (
                "D'ANGELO, MARIA",
                Auto,
                [N, Some("Maria"), N, Some("D'Angelo"), N],
            ),
            (
                "John \"Jack\" Smith",
                Auto,
                [N, Some("John"), N, Some("Smith"), N],
            ),
            (
                "William (Bill) Gates",
                Auto,
                [N, Some("William"), N, Some("Gates"), N],
            ),
            ("Dr.Müller", Auto, [Some("Dr."), N, N, Some("Müller"), N]),
            (
                "  Käthe   Stein ",
                Auto,
                [N, Some("Käthe"), N, Some("Stein"), N],
            ),
            (
                "Thiele, Stefan L.",
                LastFirst,
                [N, Some("Stefan"), Some("L."), Some("Thiele"), N],
            ),
            (
                "STEIN, BERND SR.",
                LastFirst,
                [N, Some("Bernd"), N, Some("Stein"), Some("Sr")],
            ),
            (
                "Sig. Mario Rossi",
                Auto,
                [Some("Sig."), Some("Mario"), N, Some("Rossi"), N],
            ),
            (
                "Dipl.-Ing. Peter Lustig",
                Auto,
                [Some("Dipl.-Ing."), Some("Peter"), N, Some("Lustig"), N],
            ),
            ("Ing Chen", Auto, [N, Some("Ing"), N, Some("Chen"), N]),
            (
                "Nat King Cole",
                Auto,
                [N, Some("Nat"), Some("King"), Some("Cole"), N],
            ),
            (
                "ÖZTÜRK, AYŞE",
                LastFirst,
                [N, Some("Ayşe"), N, Some("Öztürk"), N],
            ),
            (
                "Søren Kierkegaard",
                Auto,
                [N, Some("Søren"), N, Some("Kierkegaard"), N],
            ),
            (
                "dr. hans-peter müller-wohlfahrt",
                Auto,
                [
                    Some("Dr."),
                    Some("Hans-Peter"),
                    N,
                    Some("Müller-Wohlfahrt"),
                    N,
                ],
            ),
        ];
        for (raw, order, want) in cases {
            let (n, issues) = parse_full_name(raw, *order);
            assert_eq!(parts(&n), *want, "{raw}");
            assert!(issues.is_empty(), "{raw}: {issues:?}");
        }
    }

    #[test]
    fn flags_names() {
        let cases: &[(&str, &[IssueCode])] = &[
            ("  ", &["name.empty"]),
            ("-", &["name.empty"]),
            ("Hans & Grete Müller", &["name.multiple"]),
            ("Anna und Peter Meier", &["name.multiple"]),
            ("John Smith 2", &["name.invalid_chars"]),
            ("jane@example.com", &["name.invalid_chars"]),
            ("Kletterhalle Südwand GmbH", &["name.company"]),
            ("Smith Ltd", &["name.company"]),
            ("Jane Doe", &[]),
            ("WI?NIEWSKI, SUSANNE", &["name.encoding_loss"]),
            ("Dvo\u{fffd}ák, Michael", &["name.encoding_loss"]),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_full_name(raw, NameOrder::Auto).1, *want, "{raw}");
        }
    }

    #[test]
    fn suffix_in_family_name() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("Miller Jr", "Miller", Some("Jr")),
            ("Miller III", "Miller", Some("III")),
            ("Miller Junior", "Miller", Some("Jr")),
            ("Jr", "Jr", None),
            ("van der Berg", "van der Berg", None),
            ("Meier sen.", "Meier", Some("Sr")),
            // French: the father and the son of one name.
            ("Martin père", "Martin", Some("Sr")),
            ("MARTIN PERE", "MARTIN", Some("Sr")),
            ("Martin fils", "Martin", Some("Jr")),
            ("Fils", "Fils", None),
        ];
        for (raw, family, suffix) in cases {
            assert_eq!(
                split_suffix(raw),
                (family.to_string(), suffix.map(str::to_string)),
                "{raw}"
            );
        }
    }

    #[test]
    fn generations() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Jr", Some("Jr")),
            ("jr.", Some("Jr")),
            ("Junior", Some("Jr")),
            ("Sr", Some("Sr")),
            ("III", Some("III")),
            ("PhD", None),
            ("Jr MD", Some("Jr")),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(generation_key(raw), *want, "{raw}");
        }
    }

    #[test]
    fn titles_and_suffix_columns() {
        let cases: &[(&str, &str)] = &[
            ("DR.", "Dr."),
            ("herr", "Herr"),
            ("Prof. Dr.", "Prof. Dr."),
            ("Mrs.", "Mrs"),
            ("Kapitän", "Kapitän"),
        ];
        for (raw, want) in cases {
            assert_eq!(standardise_title(raw), *want, "{raw}");
        }
        let cases: &[(&str, &str)] = &[("jr.", "Jr"), ("iii", "III"), ("der Ältere", "der Ältere")];
        for (raw, want) in cases {
            assert_eq!(standardise_suffix(raw), *want, "{raw}");
        }
        assert_eq!(
            split_title("Dr. Anna"),
            ("Anna".to_string(), Some("Dr.".to_string()))
        );
        assert_eq!(split_title("ANNA"), ("Anna".to_string(), None));
    }

    #[test]
    fn name_parts_are_recased() {
        let cases: &[(&str, &str)] = &[
            ("MÜLLER", "Müller"),
            ("müller", "Müller"),
            ("McDonald", "McDonald"),
            ("MCDONALD", "McDonald"),
            ("mckay", "McKay"),
            ("O'BRIEN", "O'Brien"),
            ("o’neill", "O’Neill"),
            ("VAN DER BERG", "van der Berg"),
            ("de la cruz", "de la Cruz"),
            ("DiCaprio", "DiCaprio"),
            ("STRAUß", "Strauß"),
            ("ÉLODIE", "Élodie"),
            ("hans-jürgen", "Hans-Jürgen"),
            ("ß", "ß"),
            ("ZOË", "Zoë"),
            ("ŁUKASZ", "Łukasz"),
            ("ΑΛΈΞΑΝΔΡΟΣ", "Αλέξανδρος"),
            ("Иван", "Иван"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_name_part(raw), *want, "{raw}");
        }
        assert_eq!(clean_family_name("MACDONALD"), "MacDonald");
        assert_eq!(clean_name_part("MACIEJ"), "Maciej");
        assert_eq!(clean_family_name("MACY"), "Macy");
    }

    #[test]
    fn keys_fold_transliterations() {
        for (a, b) in [
            ("Müller", "Mueller"),
            ("Müller", "MULLER"),
            ("Zoë", "Zoe"),
            ("O'Brien", "OBrien"),
            ("van der Berg", "Van Der Berg"),
            ("Jürgen", "Juergen"),
            ("Strauß", "Strauss"),
            ("Öztürk", "Oeztuerk"),
            ("Lefèvre", "LEFEVRE"),
            ("Søren", "Soren"),
            ("Meyer-Lüdenscheid", "Meyer Ludenscheid"),
        ] {
            assert_eq!(name_key(a), name_key(b), "{a} {b}");
        }
        for (a, b) in [("Schmidt", "Schmitt"), ("Meier", "Maier"), ("Jr", "Sr")] {
            assert_ne!(name_key(a), name_key(b), "{a} {b}");
        }
    }
}
