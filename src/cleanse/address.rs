//! Postal addresses: countries (`&str -> ISO 3166-1 alpha-2`), street lines (display form and
//! match key), postcodes (validated and written per country) and place names.
//!
//! Reference data: `data/countries.csv`, `data/street_abbreviations.csv`,
//! `data/postcodes.csv`, `data/place_words.csv`.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::IssueCode;
use super::name::proper_case;
use super::reference::{self, FastMap, FastSet, Shapes, field, list};
use super::text::{is_single_case, normalize, normalize_cow, squash_key};
use crate::record::Text;

// ---------------------------------------------------------------------------------------
// Countries

struct Countries {
    /// Upper-case alpha-2 -> address languages (bits of [`language_bit`]).
    languages: FastMap<&'static str, u32>,
    alpha3: FastMap<&'static str, &'static str>,
    /// Folded name (`squash_key`) -> alpha-2.
    names: FastMap<String, &'static str>,
}

fn countries() -> &'static Countries {
    static COUNTRIES: OnceLock<Countries> = OnceLock::new();
    COUNTRIES.get_or_init(|| {
        let mut c = Countries {
            languages: FastMap::default(),
            alpha3: FastMap::default(),
            names: FastMap::default(),
        };
        for r in reference::rows(reference::COUNTRIES) {
            let code = field(&r, 0);
            let mask = field(&r, 2)
                .split_whitespace()
                .fold(0, |m, l| m | language_bit(l));
            c.languages.insert(code, mask);
            c.alpha3.insert(field(&r, 1), code);
            for name in list(field(&r, 3)) {
                c.names.entry(squash_key(name)).or_insert(code);
            }
        }
        c
    })
}

/// The ISO 3166-1 alpha-2 code of a country written as a code (`de`, `DEU`), a vehicle sign
/// (`D`, `A`, `CH`) or a name in one of several languages (`Deutschland`, `Allemagne`,
/// `Vereinigtes Königreich`, `U.S.A.`).
pub fn country_code(raw: &str) -> Option<&'static str> {
    let t = raw.trim();
    let c = countries();
    if t.is_ascii() && t.chars().all(|ch| ch.is_ascii_alphabetic()) {
        let upper = t.to_ascii_uppercase();
        let by_code = match upper.len() {
            2 => c.languages.get_key_value(upper.as_str()).map(|(k, _)| *k),
            3 => c.alpha3.get(upper.as_str()).copied(),
            _ => None,
        };
        if by_code.is_some() {
            return by_code;
        }
    }
    if t.len() > 80 {
        return None;
    }
    c.names.get(&squash_key(t)).copied()
}

/// Languages with street rules, as bits: a country's set is a mask.
const LANGUAGES: &[&str] = &["en", "de", "nl", "fr", "it", "es", "pt"];

fn language_bit(language: &str) -> u32 {
    LANGUAGES
        .iter()
        .position(|l| *l == language)
        .map_or(0, |i| 1 << i)
}

/// The languages street lines of a country are written in (`CH` -> de, fr, it); every
/// language when the country is unknown.
fn languages(country: Option<&str>) -> u32 {
    match country {
        None => u32::MAX,
        Some(code) => countries().languages.get(code).copied().unwrap_or(0),
    }
}

// ---------------------------------------------------------------------------------------
// Street lines

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Suffix,
    Prefix,
    Compound,
    Directional,
    Unit,
    UnitWord,
    UnitAfter,
}

struct StreetWord {
    /// The language's bit (see [`language_bit`]).
    language: u32,
    position: Position,
    short: &'static str,
}

struct Streets {
    /// Lower-case written form (long, short or variant, no trailing dot) -> entries.
    by_token: FastMap<String, Vec<usize>>,
    /// Word endings of compound types (`straße`, `strasse`), longest first.
    endings: Vec<(String, usize)>,
    words: Vec<StreetWord>,
    /// Words written in lower case inside a re-cased name (`de`, `am`, `upon`).
    connectors: FastSet<&'static str>,
    /// What the looked-up words look like: most words of a line are none of them.
    shapes: Shapes,
    /// Last bytes of the compound endings.
    ending_last: [bool; 256],
}

fn streets() -> &'static Streets {
    static STREETS: OnceLock<Streets> = OnceLock::new();
    STREETS.get_or_init(|| {
        let mut s = Streets {
            by_token: FastMap::default(),
            endings: Vec::new(),
            words: Vec::new(),
            connectors: FastSet::default(),
            shapes: Shapes::default(),
            ending_last: [false; 256],
        };
        for r in reference::rows(reference::STREETS) {
            let position = match field(&r, 1) {
                "suffix" => Position::Suffix,
                "prefix" => Position::Prefix,
                "compound" => Position::Compound,
                "directional" => Position::Directional,
                "unit" => Position::Unit,
                "unit_after" => Position::UnitAfter,
                _ => Position::UnitWord,
            };
            let long = field(&r, 2);
            let short = field(&r, 3);
            for language in field(&r, 0).split_whitespace() {
                let i = s.words.len();
                s.words.push(StreetWord {
                    language: language_bit(language),
                    position,
                    short,
                });
                let forms = [long, short].into_iter().chain(list(field(&r, 4)));
                for form in forms {
                    let key = form.trim_end_matches('.').to_lowercase();
                    let entry = s.by_token.entry(key.clone()).or_default();
                    if !entry.contains(&i) {
                        entry.push(i);
                    }
                    if position == Position::Compound && key.chars().count() >= 3 {
                        s.endings.push((key, i));
                    }
                }
            }
        }
        s.endings.sort_by_key(|(e, _)| std::cmp::Reverse(e.len()));
        s.shapes = Shapes::of(s.by_token.keys().map(String::as_str));
        for (e, _) in &s.endings {
            if let Some(&b) = e.as_bytes().last() {
                s.ending_last[b as usize] = true;
            }
        }
        s.connectors
            .extend(reference::rows(reference::PLACE_WORDS).map(|r| field(&r, 0)));
        s.connectors
            .extend(reference::rows(reference::PARTICLES).map(|r| field(&r, 0)));
        s
    })
}

impl Streets {
    /// The entry for a word at a position (looked up lower-case, without trailing dots).
    fn find(&self, word: &str, position: Position, langs: u32) -> Option<&StreetWord> {
        if !self.shapes.may_hold(word) {
            return None;
        }
        with_lookup_form(word, |lower| {
            self.by_token
                .get(lower)?
                .iter()
                .map(|&i| &self.words[i])
                .find(|w| w.position == position && langs & w.language != 0)
        })
    }
}

/// Run `f` on a word in lower case without trailing dots, the form street words are looked
/// up in; no allocation for the usual short ASCII word.
fn with_lookup_form<R>(word: &str, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    const MAX: usize = 32;
    let t = word.trim_end_matches('.');
    if t.len() <= MAX && t.is_ascii() {
        let mut buf = [0u8; MAX];
        let b = &mut buf[..t.len()];
        b.copy_from_slice(t.as_bytes());
        b.make_ascii_lowercase();
        f(std::str::from_utf8(b).ok()?)
    } else if t.len() <= MAX && !t.contains('Σ') {
        // `Straße`, `Mühlenweg`: lower-cased char by char on the stack, which is what
        // `str::to_lowercase` does for every character but the Greek capital sigma.
        let mut buf = [0u8; MAX * 2];
        let mut n = 0;
        for c in t.chars() {
            for l in c.to_lowercase() {
                if n + l.len_utf8() > buf.len() {
                    return f(&t.to_lowercase());
                }
                n += l.encode_utf8(&mut buf[n..]).len();
            }
        }
        f(std::str::from_utf8(&buf[..n]).ok()?)
    } else {
        f(&t.to_lowercase())
    }
}

/// A unit number: `4`, `4B`, `12a`, `B`, `2/3`.
fn is_unit_identifier(token: &str) -> bool {
    let t = token.trim_end_matches([',', '.']);
    let n = t.chars().count();
    (1..=6).contains(&n)
        && t.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '/')
        && (t.chars().any(|c| c.is_ascii_digit()) || n == 1)
}

/// A floor or storey number written as an ordinal: `2.`, `3rd`, `1er`, `2e` (a bare `5`
/// before `EG` is the house number).
fn is_ordinal(token: &str) -> bool {
    let rest = token.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < token.len()
        && [".", "st", "nd", "rd", "th", "er", "e", "ème", "eme"]
            .iter()
            .any(|o| rest.eq_ignore_ascii_case(o))
}

/// A house number (`12`, `94a`, `12-14`), not an ordinal street name (`5th`, `1st`).
fn is_house_number(token: &str) -> bool {
    if !token.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let letters = token.trim_start_matches(|c: char| c.is_ascii_digit());
    !["st", "nd", "rd", "th"]
        .iter()
        .any(|o| letters.eq_ignore_ascii_case(o))
}

/// One word of a street line, as written and then standardised, and whether it belongs to
/// a unit (`Apt 4`).
struct Word<'a> {
    text: Cow<'a, str>,
    unit: bool,
}

/// One comma- or semicolon-separated part of a street line.
struct Segment<'a> {
    words: Vec<Word<'a>>,
    /// The separator that ended the segment in the input (`,` `;`), if any.
    separator: Option<char>,
}

fn segments<'a>(line: &'a str, langs: u32) -> Vec<Segment<'a>> {
    let s = streets();
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let (part, sep, next) = match rest.find([',', ';']) {
            Some(i) => (&rest[..i], rest[i..].chars().next(), &rest[i + 1..]),
            None => (rest, None, ""),
        };
        let mut words: Vec<Word<'a>> = part
            .split_whitespace()
            .map(|t| Word {
                text: Cow::Borrowed(t),
                unit: false,
            })
            .collect();
        let mut i = 0;
        while i < words.len() {
            let t: &str = &words[i].text;
            if t.len() > 1 && t.starts_with('#') && is_unit_identifier(&t[1..]) {
                words[i].unit = true;
            } else if (t == "#" || s.find(t, Position::Unit, langs).is_some())
                && i + 1 < words.len()
                && is_unit_identifier(&words[i + 1].text)
            {
                words[i].unit = true;
                words[i + 1].unit = true;
                i += 1;
            } else if s.find(t, Position::UnitWord, langs).is_some() {
                words[i].unit = true;
            } else if i > 0
                && is_ordinal(&words[i - 1].text)
                && s.find(t, Position::UnitAfter, langs).is_some()
            {
                // `2. OG`, `3rd floor`: the number comes first.
                words[i - 1].unit = true;
                words[i].unit = true;
            }
            i += 1;
        }
        if !words.is_empty() || sep.is_some() {
            out.push(Segment {
                words,
                separator: sep,
            });
        }
        match sep {
            Some(_) => rest = next,
            None => break,
        }
    }
    out
}

/// Re-case one word of a single-case street line or place name.
fn recase_word(word: &str, first: bool) -> String {
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        return word.to_lowercase();
    }
    let connector = with_lookup_form(word, |l| streets().connectors.contains(l).then_some(()));
    if !first && connector.is_some() {
        return word.to_lowercase();
    }
    proper_case(word)
}

fn standardise_segment(seg: &mut Segment<'_>, langs: u32, recase: bool) {
    let s = streets();
    let words = &mut seg.words;
    let n = words.len();
    if recase {
        let mut first = true;
        for w in words.iter_mut() {
            let text = recase_word(&w.text, first);
            if !text.starts_with(|c: char| c.is_ascii_digit()) {
                first = false;
            }
            w.text = Cow::Owned(text);
        }
    }
    // Units: `Apartment 4` -> `Apt 4`, `#4` kept.
    for w in words.iter_mut().filter(|w| w.unit) {
        for pos in [Position::Unit, Position::UnitWord, Position::UnitAfter] {
            if let Some(e) = s.find(&w.text, pos, langs) {
                w.text = Cow::Borrowed(e.short);
            }
        }
    }
    let street: Vec<usize> = (0..n).filter(|&i| !words[i].unit).collect();
    // Compound types (de, nl): `Hauptstraße` -> `Hauptstr.`, `Straße` -> `Str.`.
    for &i in &street {
        if let Some(e) = s.find(&words[i].text, Position::Compound, langs) {
            words[i].text = Cow::Borrowed(e.short);
            continue;
        }
        let token = words[i].text.trim_end_matches('.');
        let last = token.as_bytes().last().map(u8::to_ascii_lowercase);
        if !last.is_some_and(|b| s.ending_last[b as usize]) {
            continue;
        }
        let found = with_lookup_form(token, |lower| {
            if lower.len() != token.len() {
                return None;
            }
            s.endings
                .iter()
                .find(|(ending, idx)| {
                    langs & s.words[*idx].language != 0
                        && lower.len() > ending.len()
                        && lower.ends_with(ending.as_str())
                })
                .map(|(ending, idx)| (lower.chars().count() - ending.chars().count(), *idx))
        });
        if let Some((keep, idx)) = found {
            let stem: String = token.chars().take(keep).collect();
            let short = s.words[idx].short;
            // `Kaiser-Joseph-Str.` after a hyphen, `Hauptstr.` inside a word.
            let mut text = stem;
            if text.ends_with('-') {
                text.push_str(short);
            } else {
                text.extend(short.chars().flat_map(char::to_lowercase));
            }
            words[i].text = Cow::Owned(text);
        }
    }
    // Suffix types (en): the last type word, after at least one name word.
    let names: Vec<usize> = street
        .iter()
        .copied()
        .filter(|&i| !is_house_number(&words[i].text))
        .collect();
    let mut last = names.len();
    if last >= 3
        && s.find(&words[names[last - 1]].text, Position::Directional, langs)
            .is_some()
        && s.find(&words[names[last - 2]].text, Position::Suffix, langs)
            .is_some()
    {
        // `Main St NW`: a post-directional after the type.
        let i = names[last - 1];
        if let Some(e) = s.find(&words[i].text, Position::Directional, langs) {
            words[i].text = Cow::Borrowed(e.short);
        }
        last -= 1;
    }
    let mut suffixed = false;
    if last >= 2 {
        let i = names[last - 1];
        if let Some(e) = s.find(&words[i].text, Position::Suffix, langs) {
            suffixed = true;
            words[i].text = Cow::Borrowed(e.short);
            // `100 North Main Street`: a pre-directional before at least one name word.
            if last >= 3 {
                let j = names[0];
                if let Some(d) = s.find(&words[j].text, Position::Directional, langs) {
                    words[j].text = Cow::Borrowed(d.short);
                }
            }
        }
    }
    // Prefix types (fr): the first type word among the first three, before a name word.
    // (A line read in every language is English when it ends in an English type.)
    if !suffixed {
        for (k, &i) in street.iter().enumerate().take(3) {
            if k + 1 < street.len()
                && let Some(e) = s.find(&words[i].text, Position::Prefix, langs)
            {
                words[i].text = Cow::Borrowed(e.short);
                break;
            }
        }
    }
}

/// A street line in its standard form, with the parts matching and display need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanStreet {
    /// `12 Main St, Apt 4`, `Hauptstr. 5`.
    pub display: String,
    /// The standard form without unit numbers, folded, without spaces: `12mainst`.
    pub key: String,
    /// The unit part in its standard form (`Apt 4`, `Whg. 3`), if any.
    pub unit: Option<String>,
}

/// Standardise a street line once for display, key and unit.
pub fn clean_street(raw: &str, country: Option<&str>) -> CleanStreet {
    let line = normalize_cow(raw);
    let langs = languages(country);
    let recase = is_single_case(&line);
    let mut segs = segments(&line, langs);
    let mut display = String::with_capacity(line.len());
    let mut key_text = String::with_capacity(line.len());
    let mut unit = String::new();
    for seg in &mut segs {
        standardise_segment(seg, langs, recase);
        for (i, w) in seg.words.iter().enumerate() {
            if i > 0 || (!display.is_empty() && !display.ends_with(' ')) {
                display.push(' ');
            }
            display.push_str(&w.text);
            let target = if w.unit { &mut unit } else { &mut key_text };
            if !target.is_empty() {
                target.push(' ');
            }
            target.push_str(&w.text);
        }
        if let Some(sep) = seg.separator {
            display.push(sep);
        }
    }
    CleanStreet {
        display: display.trim_matches([' ', ',', ';']).to_string(),
        key: squash_key(&key_text),
        unit: (!unit.is_empty()).then_some(unit),
    }
}

/// A street line with its numbers stood in for, so that the lines of one street are
/// cleansed once whatever their house numbers (`Hauptstraße 12a` and `Hauptstraße 17b` are
/// both `Hauptstraße 11a`/`11b`): the cleansing rules look at where digits are and how
/// many, never at their values. The n-th run of ASCII digits becomes as many copies of the
/// digit n (1-9), which [`NumberTemplate::put_back`] reads back out of the cleansed forms.
/// `None` for a line without digits (the line is its own template), with more than nine
/// runs, or with other numeric characters (`½`, `²`) that cleansing might turn into digits.
pub struct NumberTemplate<'a> {
    pub template: Text,
    runs: [&'a str; 9],
    count: usize,
}

impl<'a> NumberTemplate<'a> {
    pub fn of(raw: &'a str) -> Option<Self> {
        let bytes = raw.as_bytes();
        if !bytes.iter().any(u8::is_ascii_digit)
            || (!raw.is_ascii() && raw.chars().any(|c| c.is_numeric() && !c.is_ascii_digit()))
        {
            return None;
        }
        let mut template = Text::with_capacity(raw.len());
        let mut runs = [""; 9];
        let (mut count, mut copied, mut i) = (0, 0, 0);
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let len = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if count == runs.len() {
                return None;
            }
            // Digits are ASCII: every cut here is at a character boundary.
            template.push_str(&raw[copied..i]);
            runs[count] = &raw[i..i + len];
            count += 1;
            for _ in 0..len {
                template.push(char::from(b'0' + count as u8));
            }
            i += len;
            copied = i;
        }
        template.push_str(&raw[copied..]);
        Some(NumberTemplate {
            template,
            runs,
            count,
        })
    }

    /// `cleansed` (a form of the template) with the line's own numbers put back. `None`
    /// when its digits are not whole stand-ins, each at most once: then the caller
    /// cleanses the line itself.
    pub fn put_back(&self, cleansed: &str) -> Option<Text> {
        let bytes = cleansed.as_bytes();
        let mut out = Text::with_capacity(cleansed.len());
        let mut used = [false; 9];
        let (mut copied, mut i) = (0, 0);
        while i < bytes.len() {
            let digit = bytes[i];
            if !digit.is_ascii_digit() {
                i += 1;
                continue;
            }
            let len = bytes[i..].iter().take_while(|&&b| b == digit).count();
            let run = usize::from(digit.checked_sub(b'1')?);
            if run >= self.count || used[run] || self.runs[run].len() != len {
                return None;
            }
            used[run] = true;
            out.push_str(&cleansed[copied..i]);
            out.push_str(self.runs[run]);
            i += len;
            copied = i;
        }
        out.push_str(&cleansed[copied..]);
        Some(out)
    }
}

/// Standard display form of a street line, per the country's conventions:
/// `12 Main Street` -> `12 Main St`, `Hauptstraße 5` -> `Hauptstr. 5`,
/// `12 BOULEVARD HAUSSMANN` -> `12 Bd Haussmann`, `Apartment 4` -> `Apt 4`.
pub fn standardise_street(raw: &str, country: Option<&str>) -> String {
    clean_street(raw, country).display
}

/// The key street lines are matched on: the standard form without unit numbers, folded,
/// without spaces (`Hammer Str. 5` = `Hammerstraße 5`, `94 a` = `94a`).
pub fn street_key(raw: &str, country: Option<&str>) -> String {
    clean_street(raw, country).key
}

/// The unit part of a street line in its standard form (`Apt 4`, `Whg. 3`), if any.
pub fn street_unit(raw: &str, country: Option<&str>) -> Option<String> {
    clean_street(raw, country).unit
}

/// Display form of a city or other place name: single-case input is re-cased with the
/// connecting words in lower case (`FRANKFURT AM MAIN` -> `Frankfurt am Main`,
/// `BOULOGNE-SUR-MER` -> `Boulogne-sur-Mer`); mixed case is kept as written.
pub fn standardise_place(raw: &str) -> String {
    let s = normalize(raw);
    if !is_single_case(&s) {
        return s;
    }
    s.split(' ')
        .enumerate()
        .map(|(i, word)| {
            word.split('-')
                .enumerate()
                .map(|(j, part)| recase_word(part, i == 0 && j == 0))
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key places are matched on (`München` = `Muenchen` = `MUNCHEN`).
pub fn place_key(raw: &str) -> String {
    squash_key(raw)
}

// ---------------------------------------------------------------------------------------
// Postcodes

struct PostcodeRule {
    formats: Vec<&'static str>,
    key_length: Option<usize>,
}

struct Postcodes {
    rules: FastMap<&'static str, PostcodeRule>,
    /// Old-style prefix (`D`, `CH`) -> alpha-2.
    prefixes: FastMap<&'static str, &'static str>,
}

fn postcodes() -> &'static Postcodes {
    static POSTCODES: OnceLock<Postcodes> = OnceLock::new();
    POSTCODES.get_or_init(|| {
        let mut p = Postcodes {
            rules: FastMap::default(),
            prefixes: FastMap::default(),
        };
        for r in reference::rows(reference::POSTCODES) {
            let code = field(&r, 0);
            p.rules.insert(
                code,
                PostcodeRule {
                    formats: list(field(&r, 1)).collect(),
                    key_length: field(&r, 2).parse().ok(),
                },
            );
            for prefix in list(field(&r, 3)) {
                p.prefixes.insert(prefix, code);
            }
        }
        p
    })
}

/// A postcode in its standard form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postcode {
    /// Upper case, written in the country's format (`SW1A 1AA`, `1011 AB`, `80802`).
    pub display: String,
    /// What postcodes are matched on: no spaces or dashes (`SW1A1AA`), the ZIP of a ZIP+4.
    pub key: String,
    /// The country an old-style prefix names (`D-80802` -> `DE`).
    pub country: Option<&'static str>,
    pub issues: Vec<IssueCode>,
}

/// `fits("SW1A1AA", "AA9A 9AA")`: the postcode without separators against a format.
fn fits(compact: &str, format: &str) -> bool {
    let mut pc = compact.chars();
    for f in format.chars().filter(|c| !matches!(c, ' ' | '-')) {
        let Some(c) = pc.next() else {
            return false;
        };
        let ok = match f {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            'X' => c.is_ascii_digit() || c.is_ascii_uppercase(),
            lit => c == lit,
        };
        if !ok {
            return false;
        }
    }
    pc.next().is_none()
}

fn render(compact: &str, format: &str) -> String {
    let mut pc = compact.chars();
    format
        .chars()
        .filter_map(|f| match f {
            ' ' | '-' => Some(f),
            _ => pc.next(),
        })
        .collect()
}

/// Validate and write a postcode for its country. Old-style prefixes name the country
/// (`D-80802`, `A-5020`, `CH-8001`); a prefix that contradicts `country` is flagged
/// `postcode.country_mismatch` and the postcode read for the prefix's country. Without a
/// known format the postcode is accepted when it looks like one (letters, digits, at most
/// ten, at least one digit).
pub fn parse_postcode(raw: &str, country: Option<&str>) -> Result<Postcode, IssueCode> {
    let text = normalize(raw).to_uppercase();
    let p = postcodes();
    let mut issues = Vec::new();
    let mut body = text.as_str();
    let mut from_prefix = None;
    if let Some(i) = text.find(['-', '–'])
        && (1..=3).contains(&i)
        && text[..i].chars().all(|c| c.is_ascii_uppercase())
        && let Some(code) = p.prefixes.get(text[..i].trim())
    {
        from_prefix = Some(*code);
        body = text[i..].trim_start_matches(['-', '–']).trim();
        if country.is_some_and(|c| c != *code) {
            issues.push("postcode.country_mismatch");
        }
    }
    let country = from_prefix.or(country);
    let compact: String = body
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    match country.and_then(|c| p.rules.get(c)) {
        Some(rule) => {
            let format = rule
                .formats
                .iter()
                .find(|f| fits(&compact, f))
                .ok_or("postcode.invalid")?;
            let key = match rule.key_length {
                Some(n) => compact.chars().take(n).collect(),
                None => compact.clone(),
            };
            Ok(Postcode {
                display: render(&compact, format),
                key,
                country: from_prefix,
                issues,
            })
        }
        None => {
            let n = compact.chars().count();
            let plausible = (2..=10).contains(&n)
                && compact.chars().all(|c| c.is_alphanumeric())
                && compact.chars().any(|c| c.is_ascii_digit());
            if !plausible {
                return Err("postcode.invalid");
            }
            Ok(Postcode {
                display: body.split_whitespace().collect::<Vec<_>>().join(" "),
                key: compact,
                country: from_prefix,
                issues,
            })
        }
    }
}

/// The display form of a postcode (see [`parse_postcode`]).
pub fn normalise_postcode(raw: &str, country: Option<&str>) -> Result<String, IssueCode> {
    parse_postcode(raw, country).map(|p| p.display)
}

#[cfg(test)]
mod number_template_tests {
    use super::*;

    #[test]
    fn lines_of_one_street_share_a_template_and_keep_their_numbers() {
        let a = NumberTemplate::of("Hauptstraße 12a, 2. OG").unwrap();
        let b = NumberTemplate::of("Hauptstraße 47b, 3. OG").unwrap();
        assert_eq!(a.template, "Hauptstraße 11a, 2. OG");
        assert_eq!(a.template, b.template.replace("11b", "11a"));
        for (line, country) in [
            ("Hauptstraße 12a, 2. OG", Some("DE")),
            ("1234 North Main Street Apt 56", Some("US")),
            ("12-14 RUE DE LA PAIX", Some("FR")),
            ("Flat 3/4, 221B Baker St", Some("GB")),
            ("3rd Floor, 100 5th Avenue", Some("US")),
            ("Weg 1 2 3 4 5 6 7 8 9", None),
        ] {
            let n = NumberTemplate::of(line).unwrap();
            let t = clean_street(&n.template, country);
            let direct = clean_street(line, country);
            assert_eq!(
                n.put_back(&t.display).as_deref(),
                Some(&*direct.display),
                "{line}"
            );
            assert_eq!(n.put_back(&t.key).as_deref(), Some(&*direct.key), "{line}");
        }
    }

    #[test]
    fn what_cannot_be_put_back_is_refused() {
        // No digits: the line is its own template. Ten runs, or a numeric character that
        // cleansing might turn into a digit: cleansed as itself.
        assert!(NumberTemplate::of("Hauptstraße").is_none());
        assert!(NumberTemplate::of("1 2 3 4 5 6 7 8 9 10").is_none());
        assert!(NumberTemplate::of("Hauptstraße 5½").is_none());
        let n = NumberTemplate::of("Weg 12, 7").unwrap();
        assert_eq!(n.put_back("Weg 11, 2").as_deref(), Some("Weg 12, 7"));
        assert_eq!(n.put_back("weg112").as_deref(), Some("weg127"));
        // A stand-in cut short, repeated, unknown or a digit not standing in for anything.
        for bad in ["Weg 1, 2", "Weg 11, 11", "Weg 33", "Weg 0", "Weg 11 2 2"] {
            assert_eq!(n.put_back(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Deutschland", Some("DE")),
            ("DEUTSCHLAND", Some("DE")),
            ("Germany", Some("DE")),
            ("D", Some("DE")),
            ("de", Some("DE")),
            ("DEU", Some("DE")),
            ("BRD", Some("DE")),
            ("Allemagne", Some("DE")),
            ("Österreich", Some("AT")),
            ("Oesterreich", Some("AT")),
            ("A", Some("AT")),
            ("at", Some("AT")),
            ("Austria", Some("AT")),
            ("Schweiz", Some("CH")),
            ("Suisse", Some("CH")),
            ("Svizzera", Some("CH")),
            ("Switzerland", Some("CH")),
            ("CH", Some("CH")),
            ("UK", Some("GB")),
            ("U.K.", Some("GB")),
            ("GB", Some("GB")),
            ("Großbritannien", Some("GB")),
            ("Grossbritannien", Some("GB")),
            ("Vereinigtes Königreich", Some("GB")),
            ("United Kingdom", Some("GB")),
            ("England", Some("GB")),
            ("Scotland", Some("GB")),
            ("Royaume-Uni", Some("GB")),
            ("USA", Some("US")),
            ("U.S.A.", Some("US")),
            ("us", Some("US")),
            ("United States of America", Some("US")),
            ("Vereinigte Staaten", Some("US")),
            ("États-Unis", Some("US")),
            ("Frankreich", Some("FR")),
            ("France", Some("FR")),
            ("F", Some("FR")),
            ("Niederlande", Some("NL")),
            ("Holland", Some("NL")),
            ("Nederland", Some("NL")),
            ("België", Some("BE")),
            ("Italia", Some("IT")),
            ("España", Some("ES")),
            ("Polska", Some("PL")),
            ("Danmark", Some("DK")),
            ("Liechtenstein", Some("LI")),
            ("FL", Some("LI")),
            ("Luxemburg", Some("LU")),
            ("Türkei", Some("TR")),
            ("Südkorea", Some("KR")),
            ("Côte d'Ivoire", Some("CI")),
            ("AE", Some("AE")),
            ("Atlantis", None),
            ("Hannover", None),
            ("LAND", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(country_code(raw), *want, "{raw}");
        }
    }

    #[test]
    fn every_country_name_names_its_country() {
        let mut n = 0;
        for r in reference::rows(reference::COUNTRIES) {
            let code = field(&r, 0);
            assert_eq!(country_code(code), Some(code));
            assert_eq!(country_code(field(&r, 1)), Some(code));
            for name in list(field(&r, 3)) {
                assert_eq!(country_code(name), Some(code), "{name}");
                n += 1;
            }
        }
        assert!(n > 2000, "{n}");
    }

    #[test]
    fn streets() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("12 Main Street", Some("US"), "12 Main St"),
            ("12 Main St.", Some("US"), "12 Main St"),
            ("12 MAIN STREET", Some("US"), "12 Main St"),
            ("5 Elm Avenue", Some("US"), "5 Elm Ave"),
            ("5 Elm Av.", Some("US"), "5 Elm Ave"),
            ("147 Wilmslow Road", Some("GB"), "147 Wilmslow Rd"),
            ("147 Wilmslow Rd", Some("GB"), "147 Wilmslow Rd"),
            ("12 Avenue Road", Some("GB"), "12 Avenue Rd"),
            ("St. John's Road", Some("GB"), "St. John's Rd"),
            ("100 North Main Street", Some("US"), "100 N Main St"),
            ("12 North Street", Some("US"), "12 North St"),
            (
                "1600 Pennsylvania Avenue NW",
                Some("US"),
                "1600 Pennsylvania Ave NW",
            ),
            ("221B BAKER STREET", Some("GB"), "221b Baker St"),
            ("5TH AVENUE", Some("US"), "5th Ave"),
            ("12 Main St Apartment 4", Some("US"), "12 Main St Apt 4"),
            ("12 Main St, Apt. 4B", Some("US"), "12 Main St, Apt 4B"),
            ("12 Main St #4", Some("US"), "12 Main St #4"),
            ("Flat 2, 14 Albion Road", Some("GB"), "Flat 2, 14 Albion Rd"),
            ("Hauptstraße 5", Some("DE"), "Hauptstr. 5"),
            ("Hauptstrasse 5", Some("DE"), "Hauptstr. 5"),
            ("Hauptstr. 5", Some("DE"), "Hauptstr. 5"),
            ("Hauptstr 5", Some("DE"), "Hauptstr. 5"),
            ("HAUPTSTRASSE 5", Some("DE"), "Hauptstr. 5"),
            ("Hammer Straße 138", Some("DE"), "Hammer Str. 138"),
            ("Kaiser-Joseph-Straße 1", Some("DE"), "Kaiser-Joseph-Str. 1"),
            (
                "KAISER-JOSEPH-STRASSE 1",
                Some("DE"),
                "Kaiser-Joseph-Str. 1",
            ),
            (
                "Straße des 17. Juni 135",
                Some("DE"),
                "Str. des 17. Juni 135",
            ),
            (
                "STRASSE DES 17. JUNI 135",
                Some("DE"),
                "Str. des 17. Juni 135",
            ),
            ("Marienplatz 8", Some("DE"), "Marienpl. 8"),
            ("Hauptstraße 5, Whg. 3", Some("DE"), "Hauptstr. 5, Whg. 3"),
            ("Hauptstraße 5 Wohnung 3", Some("DE"), "Hauptstr. 5 Whg. 3"),
            ("Mühlstraße 18, 2. OG", Some("DE"), "Mühlstr. 18, 2. OG"),
            ("Waldstr. 90 3. Stock", Some("DE"), "Waldstr. 90 3. Stock"),
            ("Hauptstr. 5 EG", Some("DE"), "Hauptstr. 5 EG"),
            (
                "12 High Street, 2nd floor",
                Some("GB"),
                "12 High St, 2nd Floor",
            ),
            (
                "Podbielskistraße 116b; Hinterhaus",
                Some("DE"),
                "Podbielskistr. 116b; Hinterhaus",
            ),
            ("Mariahilfer Straße 117", Some("AT"), "Mariahilfer Str. 117"),
            ("Langstrasse 138", Some("CH"), "Langstr. 138"),
            (
                "Linzer Gasse 41, Stiege 2, Top 5",
                Some("AT"),
                "Linzer Gasse 41, Stg. 2, Top 5",
            ),
            ("12 Boulevard Haussmann", Some("FR"), "12 Bd Haussmann"),
            ("12 BOULEVARD HAUSSMANN", Some("FR"), "12 Bd Haussmann"),
            (
                "3 avenue des Champs-Élysées",
                Some("FR"),
                "3 Av. des Champs-Élysées",
            ),
            ("10 RUE DE LA PAIX", Some("FR"), "10 Rue de la Paix"),
            ("10 r. de la Paix", Some("FR"), "10 Rue de la Paix"),
            ("12 bis place du Marché", Some("FR"), "12 bis Pl. du Marché"),
            ("5 chemin des Vignes", Some("CH"), "5 Ch. des Vignes"),
            ("Kalverstraat 92", Some("NL"), "Kalverstr. 92"),
            ("Via Roma 1", Some("IT"), "Via Roma 1"),
            ("12 Main Street", None, "12 Main St"),
            ("Hauptstraße 5", None, "Hauptstr. 5"),
            ("  12   Main   Street ", Some("US"), "12 Main St"),
            ("", Some("DE"), ""),
        ];
        for (raw, c, want) in cases {
            let got = standardise_street(raw, *c);
            assert_eq!(got, *want, "{raw}");
            assert_eq!(standardise_street(&got, *c), got, "idempotent: {raw}");
        }
    }

    #[test]
    fn street_keys() {
        let same: &[(&str, &str, Option<&str>)] = &[
            ("Hauptstraße 5", "Hauptstr. 5", Some("DE")),
            ("Hauptstrasse 5", "HAUPTSTR 5", Some("DE")),
            ("Hammer Straße 138", "Hammerstraße 138", Some("DE")),
            (
                "Kaiser-Joseph-Str. 94a",
                "Kaiser-Joseph-Straße 94 a",
                Some("DE"),
            ),
            ("Mühlenweg 3", "Muehlenweg 3", Some("DE")),
            ("Leopoldstrasse 112", "Leopoldstr. 112", Some("DE")),
            ("12 Main Street", "12 MAIN ST.", Some("US")),
            ("12 Main St Apt 4", "12 Main Street", Some("US")),
            ("Flat 2, 14 Albion Road", "14 Albion Rd", Some("GB")),
            ("Hauptstr. 5, Whg. 3", "Hauptstraße 5", Some("DE")),
            ("Mühlstr. 18, 2. OG", "Mühlstraße 18", Some("DE")),
            ("Hauptstr. 5 EG", "Hauptstr. 5 eg", Some("DE")),
            ("12 High Street, 2nd floor", "12 High St", Some("GB")),
            ("12 Boulevard Haussmann", "12 bd Haussmann", Some("FR")),
        ];
        for (a, b, c) in same {
            assert_eq!(street_key(a, *c), street_key(b, *c), "{a} / {b}");
        }
        assert_eq!(street_key("Hauptstraße 5", Some("DE")), "hauptstr5");
        assert_ne!(
            street_key("Hauptstr. 5 EG", Some("DE")),
            street_key("Hauptstr. EG", Some("DE"))
        );
        assert_ne!(
            street_key("Hauptstraße 5", Some("DE")),
            street_key("Hauptstraße 7", Some("DE"))
        );
        assert_eq!(
            street_unit("12 Main St, Apartment 4", Some("US")).as_deref(),
            Some("Apt 4")
        );
        assert_eq!(street_unit("12 Main St", Some("US")), None);
    }

    #[test]
    fn places() {
        let cases: &[(&str, &str)] = &[
            ("KÖLN", "Köln"),
            ("köln", "Köln"),
            ("FRANKFURT AM MAIN", "Frankfurt am Main"),
            ("Frankfurt am Main", "Frankfurt am Main"),
            ("BOULOGNE-SUR-MER", "Boulogne-sur-Mer"),
            ("STRATFORD-UPON-AVON", "Stratford-upon-Avon"),
            ("GARMISCH-PARTENKIRCHEN", "Garmisch-Partenkirchen"),
            ("freiburg im breisgau", "Freiburg im Breisgau"),
            ("SAINT-ÉTIENNE", "Saint-Étienne"),
            ("DEN HAAG", "Den Haag"),
            ("  Zürich ", "Zürich"),
        ];
        for (raw, want) in cases {
            assert_eq!(standardise_place(raw), *want, "{raw}");
        }
        assert_eq!(place_key("München"), place_key("Muenchen"));
        assert_eq!(place_key("MÜNCHEN"), place_key("munchen"));
    }

    #[test]
    fn postcodes() {
        // (raw, country, display, key)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Result<(&'a str, &'a str), IssueCode>,
        );
        let cases: &[Case<'_>] = &[
            ("sw1a1aa", Some("GB"), Ok(("SW1A 1AA", "SW1A1AA"))),
            ("SW1A 1AA", Some("GB"), Ok(("SW1A 1AA", "SW1A1AA"))),
            ("m202rw", Some("GB"), Ok(("M20 2RW", "M202RW"))),
            ("EH1 2NG", Some("GB"), Ok(("EH1 2NG", "EH12NG"))),
            ("n16 9ps", Some("GB"), Ok(("N16 9PS", "N169PS"))),
            ("W1D 3QF", Some("GB"), Ok(("W1D 3QF", "W1D3QF"))),
            ("SW9", Some("GB"), Err("postcode.invalid")),
            ("10115", Some("DE"), Ok(("10115", "10115"))),
            ("04315", Some("DE"), Ok(("04315", "04315"))),
            ("1011", Some("DE"), Err("postcode.invalid")),
            ("D-80802", Some("DE"), Ok(("80802", "80802"))),
            ("D-80802", None, Ok(("80802", "80802"))),
            ("D 80802", Some("DE"), Err("postcode.invalid")),
            ("DE-80802", Some("DE"), Ok(("80802", "80802"))),
            ("A-5020", Some("AT"), Ok(("5020", "5020"))),
            ("A-5020", None, Ok(("5020", "5020"))),
            ("CH-8001", None, Ok(("8001", "8001"))),
            ("F-75001", None, Ok(("75001", "75001"))),
            ("1010", Some("AT"), Ok(("1010", "1010"))),
            ("8001", Some("CH"), Ok(("8001", "8001"))),
            ("75001", Some("FR"), Ok(("75001", "75001"))),
            ("7500", Some("FR"), Err("postcode.invalid")),
            ("1011ab", Some("NL"), Ok(("1011 AB", "1011AB"))),
            ("1011 AB", Some("NL"), Ok(("1011 AB", "1011AB"))),
            ("1011", Some("NL"), Err("postcode.invalid")),
            ("10001", Some("US"), Ok(("10001", "10001"))),
            ("10001-1234", Some("US"), Ok(("10001-1234", "10001"))),
            ("100011234", Some("US"), Ok(("10001-1234", "10001"))),
            ("2108", Some("US"), Err("postcode.invalid")),
            ("K1A 0B1", Some("CA"), Ok(("K1A 0B1", "K1A0B1"))),
            ("00-950", Some("PL"), Ok(("00-950", "00950"))),
            ("114 55", Some("SE"), Ok(("114 55", "11455"))),
            ("1000-001", Some("PT"), Ok(("1000-001", "1000001"))),
            ("ab 12", None, Ok(("AB 12", "AB12"))),
            ("Bucher Straße 160", None, Err("postcode.invalid")),
            ("Bucher Straße 160", Some("DE"), Err("postcode.invalid")),
            ("PLZ", None, Err("postcode.invalid")),
            ("12345", Some("JP"), Err("postcode.invalid")),
            ("100-0001", Some("JP"), Ok(("100-0001", "1000001"))),
            ("00100", Some("KE"), Ok(("00100", "00100"))),
        ];
        for (raw, c, want) in cases {
            let got = parse_postcode(raw, *c).map(|p| (p.display, p.key));
            let want = want.map(|(d, k)| (d.to_string(), k.to_string()));
            assert_eq!(got, want, "{raw} {c:?}");
        }
    }

    #[test]
    fn postcode_prefix_names_the_country() {
        let p = parse_postcode("A-5020", Some("DE")).unwrap();
        assert_eq!(p.country, Some("AT"));
        assert_eq!(p.issues, ["postcode.country_mismatch"]);
        let p = parse_postcode("D-80802", None).unwrap();
        assert_eq!(p.country, Some("DE"));
        assert!(p.issues.is_empty());
        assert_eq!(parse_postcode("80802", Some("DE")).unwrap().country, None);
    }
}
