//! Dates and timestamps: `&str + format -> NaiveDate / epoch seconds`.
//!
//! A mapping names the format of each source (`%d/%m/%Y`), which is what resolves `03/04/1990`;
//! without one only unambiguous forms are read. Formats are parsed once ([`DateFormat`]).
//! Time-zone abbreviations (`CET`, `EST`) are in `data/time_zones.csv`.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::format::{Item, ParseErrorKind, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime};

use super::IssueCode;
use super::reference::{self, field};

/// Formats tried when a mapping names none, or after the mapping's format failed. Only
/// unambiguous forms: a `03/04/2020` needs the mapping to say whether the day or the month
/// comes first. Dotted dates are day-first wherever they are written.
const UNAMBIGUOUS_DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y%m%d",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d %B %Y",
    "%d. %B %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%b %d, %Y",
];

/// Timestamp forms tried after the mapping's format (all unambiguous).
const ZONED_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f %z",
    "%Y-%m-%dT%H:%M%:z",
];
const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
];

/// Birth dates systems write when they have none.
const PLACEHOLDER_BIRTH_DATES: &[(i32, u32, u32)] = &[
    (1900, 1, 1),
    (1899, 12, 31),
    (1899, 12, 30),
    (1901, 1, 1),
    (1800, 1, 1),
    (1, 1, 1),
];

/// A chrono format (`%d.%m.%Y`), parsed once: a run reads millions of values with a
/// handful of formats.
#[derive(Debug, Clone)]
pub struct DateFormat {
    text: String,
    /// `None` when the format itself does not parse (every value then fails).
    items: Option<Vec<Item<'static>>>,
    /// The format reads an offset (`%z`), so values give a `DateTime`.
    zoned: bool,
    /// For an all-numeric format (`%d.%m.%Y %H:%M`): the fast reading of values written
    /// exactly in it (see [`Numeric`]).
    numeric: Option<Numeric>,
}

/// One element of an all-numeric format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Byte(u8),
}

impl Piece {
    fn width(self) -> usize {
        match self {
            Piece::Year => 4,
            Piece::Byte(_) => 1,
            _ => 2,
        }
    }
}

/// An all-numeric format (`%Y %m %d %H %M %S` once each at most, and ASCII punctuation,
/// spaces or the letters `T` and `Z` between them), read without chrono for values written
/// in it exactly: four-digit year, two-digit fields, the same separators. Such a value is
/// read by chrono to the same date and time; anything else (`1.2.1980`, `31.02.1980`, a
/// leap second) goes to chrono.
#[derive(Debug, Clone)]
struct Numeric {
    pieces: Vec<Piece>,
    /// Length in bytes of a value written exactly in the format.
    len: usize,
    /// The format has `%H` and `%M`.
    time: bool,
}

impl Numeric {
    fn new(format: &str) -> Option<Numeric> {
        let mut pieces = Vec::new();
        let mut bytes = format.bytes();
        while let Some(b) = bytes.next() {
            let piece = match b {
                b'%' => match bytes.next()? {
                    b'Y' => Piece::Year,
                    b'm' => Piece::Month,
                    b'd' => Piece::Day,
                    b'H' => Piece::Hour,
                    b'M' => Piece::Minute,
                    b'S' => Piece::Second,
                    _ => return None,
                },
                b' ' | b'.' | b'/' | b'-' | b':' | b'T' | b'Z' | b',' => Piece::Byte(b),
                _ => return None,
            };
            if !matches!(piece, Piece::Byte(_)) && pieces.contains(&piece) {
                return None;
            }
            pieces.push(piece);
        }
        let has = |p: Piece| pieces.contains(&p);
        if !(has(Piece::Year) && has(Piece::Month) && has(Piece::Day)) {
            return None;
        }
        // chrono reads a run of spaces in a format as any white space: keep to single ones.
        if pieces
            .windows(2)
            .any(|w| w == [Piece::Byte(b' '), Piece::Byte(b' ')])
        {
            return None;
        }
        let time = has(Piece::Hour) && has(Piece::Minute);
        if !time && (has(Piece::Hour) || has(Piece::Minute) || has(Piece::Second)) {
            return None;
        }
        Some(Numeric {
            len: pieces.iter().map(|p| p.width()).sum(),
            pieces,
            time,
        })
    }

    /// Year, month, day, hour, minute, second of a value written exactly in the format,
    /// with every field in range; `None` sends the value to chrono.
    fn read(&self, s: &str) -> Option<(NaiveDate, u32, u32, u32)> {
        let s = s.as_bytes();
        if s.len() != self.len {
            return None;
        }
        let (mut y, mut mo, mut d, mut h, mut mi, mut sec) = (0, 0, 0, 0, 0, 0);
        let mut at = 0;
        for &p in &self.pieces {
            let w = p.width();
            let field = &s[at..at + w];
            at += w;
            if let Piece::Byte(b) = p {
                if field[0] != b {
                    return None;
                }
                continue;
            }
            let mut n = 0u32;
            for &c in field {
                if !c.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u32::from(c - b'0');
            }
            match p {
                Piece::Year => y = n,
                Piece::Month => mo = n,
                Piece::Day => d = n,
                Piece::Hour => h = n,
                Piece::Minute => mi = n,
                Piece::Second => sec = n,
                Piece::Byte(_) => {}
            }
        }
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
        Some((date, h, mi, sec))
    }
}

impl DateFormat {
    pub fn new(text: &str) -> DateFormat {
        DateFormat {
            text: text.to_string(),
            items: StrftimeItems::new(text).parse_to_owned().ok(),
            zoned: text.contains("%z") || text.contains("%:z") || text.contains("%#z"),
            numeric: Numeric::new(text),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The date of a value written exactly in an all-numeric format (`24.12.1980` for
    /// `%d.%m.%Y`), read without chrono; `None` for anything else. Where it gives a date,
    /// [`parse_date_with`] and [`parse_birth_date_with`] give the same.
    pub fn read_exact(&self, s: &str) -> Option<NaiveDate> {
        self.numeric.as_ref()?.read(s.trim()).map(|(d, ..)| d)
    }

    fn parsed(&self, s: &str) -> Result<Parsed, ParseErrorKind> {
        let items = self.items.as_ref().ok_or(ParseErrorKind::BadFormat)?;
        let mut p = Parsed::new();
        chrono::format::parse(&mut p, s, items.iter()).map_err(|e| e.kind())?;
        Ok(p)
    }

    fn date(&self, s: &str) -> Result<NaiveDate, ParseErrorKind> {
        if let Some((d, ..)) = self.numeric.as_ref().and_then(|n| n.read(s)) {
            return Ok(d);
        }
        self.parsed(s)?.to_naive_date().map_err(|e| e.kind())
    }

    fn datetime(&self, s: &str) -> Result<NaiveDateTime, ParseErrorKind> {
        if let Some(n) = self.numeric.as_ref().filter(|n| n.time)
            && let Some((d, h, mi, sec)) = n.read(s)
            && let Some(t) = d.and_hms_opt(h, mi, sec)
        {
            return Ok(t);
        }
        self.parsed(s)?
            .to_naive_datetime_with_offset(0)
            .map_err(|e| e.kind())
    }

    fn zoned(&self, s: &str) -> Result<DateTime<FixedOffset>, ParseErrorKind> {
        self.parsed(s)?.to_datetime().map_err(|e| e.kind())
    }
}

fn parsed_list(
    list: &'static [&'static str],
    cell: &'static OnceLock<Vec<DateFormat>>,
) -> &'static [DateFormat] {
    cell.get_or_init(|| list.iter().map(|f| DateFormat::new(f)).collect())
}

fn unambiguous_dates() -> &'static [DateFormat] {
    static F: OnceLock<Vec<DateFormat>> = OnceLock::new();
    parsed_list(UNAMBIGUOUS_DATE_FORMATS, &F)
}

fn zoned_timestamps() -> &'static [DateFormat] {
    static F: OnceLock<Vec<DateFormat>> = OnceLock::new();
    parsed_list(ZONED_FORMATS, &F)
}

fn naive_timestamps() -> &'static [DateFormat] {
    static F: OnceLock<Vec<DateFormat>> = OnceLock::new();
    parsed_list(NAIVE_FORMATS, &F)
}

fn failure(kind: ParseErrorKind) -> IssueCode {
    match kind {
        // The value has the right shape but names no real day (31.02., month 13).
        ParseErrorKind::OutOfRange => "date.impossible",
        _ => "date.invalid",
    }
}

/// The first separator of a numeric date format: `.` for `%d.%m.%Y`.
fn separator(format: &str) -> Option<char> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            chars.next();
        } else if matches!(c, '.' | '/' | '-') {
            return Some(c);
        } else {
            return None;
        }
    }
    None
}

/// A date in the mapping's format, else in an unambiguous form; a time after the date is
/// ignored. Days that do not exist (`31.02.1980`) are `date.impossible`, anything else that
/// cannot be read is `date.invalid`.
pub fn parse_date(raw: &str, format: Option<&str>) -> Result<NaiveDate, IssueCode> {
    parse_date_with(raw, format.map(DateFormat::new).as_ref())
}

/// [`parse_date`] with the format parsed beforehand.
pub fn parse_date_with(raw: &str, format: Option<&DateFormat>) -> Result<NaiveDate, IssueCode> {
    let s = raw.trim();
    // A timestamp in a date column: keep the date part.
    let date_part = s.split(['T', ' ']).next().unwrap_or(s);
    let mut worst = ParseErrorKind::Invalid;
    let mut note = |kind: ParseErrorKind| {
        if kind == ParseErrorKind::OutOfRange {
            worst = kind;
        }
    };
    if let Some(f) = format {
        match f.date(s) {
            Ok(d) => return Ok(d),
            Err(k) => note(k),
        }
        if date_part != s {
            match f.date(date_part) {
                Ok(d) => return Ok(d),
                Err(k) => note(k),
            }
        }
        // The mapping's order with another separator: `03-04-1990` for `%d/%m/%Y`.
        if let Some(sep) = separator(&f.text) {
            let swapped = date_part.replace(['.', '/', '-'], &sep.to_string());
            if swapped != date_part {
                match f.date(&swapped) {
                    Ok(d) => return Ok(d),
                    Err(k) => note(k),
                }
            }
        }
    }
    for f in unambiguous_dates() {
        let candidate = if f.text.contains(' ') { s } else { date_part };
        match f.date(candidate) {
            Ok(d) => return Ok(d),
            Err(k) => note(k),
        }
    }
    if let Some(d) = excel_serial(s) {
        return Ok(d);
    }
    Err(failure(worst))
}

/// A spreadsheet's day number (`29281` = 1980-03-01), as exports from Excel leave them.
fn excel_serial(s: &str) -> Option<NaiveDate> {
    if s.len() != 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = s.parse().ok()?;
    if !(10_000..=80_000).contains(&n) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(Days::new(n))
}

/// A birth date: `parse_date`, and a two-digit year (`%y`) that would lie in the future
/// belongs to the century before (`05.03.45` is 1945).
pub fn parse_birth_date(
    raw: &str,
    format: Option<&str>,
    today: NaiveDate,
) -> Result<NaiveDate, IssueCode> {
    parse_birth_date_with(raw, format.map(DateFormat::new).as_ref(), today)
}

/// [`parse_birth_date`] with the format parsed beforehand.
pub fn parse_birth_date_with(
    raw: &str,
    format: Option<&DateFormat>,
    today: NaiveDate,
) -> Result<NaiveDate, IssueCode> {
    let d = parse_date_with(raw, format)?;
    if d > today && format.is_some_and(|f| f.text.contains("%y")) {
        return d.with_year(d.year() - 100).ok_or("date.invalid");
    }
    Ok(d)
}

/// Birth dates in the future, more than 120 years back, or a system's placeholder for "no
/// birth date" (`1900-01-01`) are flagged.
pub fn check_birth_date(date: NaiveDate, today: NaiveDate) -> Option<IssueCode> {
    if PLACEHOLDER_BIRTH_DATES.contains(&(date.year(), date.month(), date.day())) {
        Some("dob.placeholder")
    } else if date > today {
        Some("dob.future")
    } else if today.years_since(date).is_some_and(|y| y > 120) {
        Some("dob.implausible")
    } else {
        None
    }
}

fn time_zones() -> &'static HashMap<&'static str, i32> {
    static ZONES: OnceLock<HashMap<&'static str, i32>> = OnceLock::new();
    ZONES.get_or_init(|| {
        reference::rows(reference::TIME_ZONES)
            .filter_map(|r| Some((field(&r, 0), field(&r, 1).parse().ok()?)))
            .collect()
    })
}

/// `2021-03-04 10:22 CET` -> (`2021-03-04 10:22`, +60 minutes).
fn split_zone(s: &str) -> (&str, Option<i32>) {
    if let Some((head, zone)) = s.rsplit_once(' ')
        && zone.len() <= 5
        && zone.bytes().all(|b| b.is_ascii_alphabetic())
        && let Some(minutes) = time_zones().get(zone.to_ascii_uppercase().as_str())
    {
        return (head.trim_end(), Some(*minutes));
    }
    (s, None)
}

/// `2024-09-23 13:49:02` or `2024-09-23T13:49:02`, read without chrono.
fn iso_without_offset(s: &str) -> Option<(NaiveDate, u32, u32, u32)> {
    static SHAPES: OnceLock<[Numeric; 2]> = OnceLock::new();
    let shapes = SHAPES.get_or_init(|| {
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"].map(|f| Numeric::new(f).expect("numeric"))
    });
    shapes.iter().find_map(|n| n.read(s))
}

/// A timestamp as seconds since the epoch (UTC). An offset (`+01:00`, `Z`) or a zone
/// abbreviation (`CET`) is honoured; a timestamp without one is taken as UTC; a date
/// without a time is midnight UTC (so a date-only format works for a timestamp field);
/// ten digits are epoch seconds and thirteen epoch milliseconds.
pub fn parse_timestamp(raw: &str, format: Option<&str>) -> Result<i64, IssueCode> {
    parse_timestamp_with(raw, format.map(DateFormat::new).as_ref())
}

/// [`parse_timestamp`] with the format parsed beforehand.
pub fn parse_timestamp_with(raw: &str, format: Option<&DateFormat>) -> Result<i64, IssueCode> {
    let s = raw.trim();
    let (s, zone) = split_zone(s);
    let naive = |t: NaiveDateTime| t.and_utc().timestamp() - i64::from(zone.unwrap_or(0)) * 60;
    if let Some(f) = format {
        if f.zoned {
            if let Ok(t) = f.zoned(s) {
                return Ok(t.timestamp());
            }
        } else if let Ok(t) = f.datetime(s) {
            return Ok(naive(t));
        }
        if let Ok(d) = f.date(s) {
            return Ok(naive(midnight(d)));
        }
    }
    // The commonest shapes without a format, read as the first naive format that fits
    // would read them (nothing zoned fits a value without an offset).
    if zone.is_none()
        && let Some((d, h, mi, sec)) = iso_without_offset(s)
        && let Some(t) = d.and_hms_opt(h, mi, sec)
    {
        return Ok(naive(t));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Ok(t.timestamp());
    }
    for f in zoned_timestamps() {
        if let Ok(t) = f.zoned(s) {
            return Ok(t.timestamp());
        }
    }
    for f in naive_timestamps() {
        if let Ok(t) = f.datetime(s) {
            return Ok(naive(t));
        }
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        match s.len() {
            10 => return s.parse().map_err(|_| "timestamp.invalid"),
            13 => {
                return s
                    .parse::<i64>()
                    .map(|ms| ms / 1000)
                    .map_err(|_| "timestamp.invalid");
            }
            _ => {}
        }
    }
    if s.contains(':') {
        // A time that could not be read is not silently midnight.
        return Err("timestamp.invalid");
    }
    parse_date_with(s, format)
        .map(|d| naive(midnight(d)))
        .map_err(|_| "timestamp.invalid")
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(chrono::NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates() {
        let cases: &[(&str, Option<&str>, Result<NaiveDate, IssueCode>)] = &[
            ("1980-02-29", None, Ok(d(1980, 2, 29))),
            ("29.02.1980", None, Ok(d(1980, 2, 29))),
            ("1.2.1980", None, Ok(d(1980, 2, 1))),
            ("03/04/1990", Some("%d/%m/%Y"), Ok(d(1990, 4, 3))),
            ("03/04/1990", Some("%m/%d/%Y"), Ok(d(1990, 3, 4))),
            ("3/4/1990", Some("%d/%m/%Y"), Ok(d(1990, 4, 3))),
            ("03-04-1990", Some("%d/%m/%Y"), Ok(d(1990, 4, 3))),
            ("03.04.1990", Some("%m/%d/%Y"), Ok(d(1990, 3, 4))),
            ("1990-04-03", Some("%d/%m/%Y"), Ok(d(1990, 4, 3))),
            ("03/04/1990", None, Err("date.invalid")),
            ("1981-02-29", None, Err("date.impossible")),
            ("31.02.1980", Some("%d.%m.%Y"), Err("date.impossible")),
            ("32.01.1980", Some("%d.%m.%Y"), Err("date.impossible")),
            ("13/13/1980", Some("%d/%m/%Y"), Err("date.impossible")),
            ("2021-03-04T10:22:00Z", None, Ok(d(2021, 3, 4))),
            ("1980-02-29 00:00:00", Some("%Y-%m-%d"), Ok(d(1980, 2, 29))),
            ("19800229", None, Ok(d(1980, 2, 29))),
            ("3 March 1980", None, Ok(d(1980, 3, 3))),
            ("March 3, 1980", None, Ok(d(1980, 3, 3))),
            ("03-Mar-1980", None, Ok(d(1980, 3, 3))),
            ("29281", None, Ok(d(1980, 3, 1))),
            ("12345678", None, Err("date.impossible")),
            ("1234-56-78", None, Err("date.impossible")),
            ("tomorrow", None, Err("date.invalid")),
            ("", None, Err("date.invalid")),
            ("09/06/1964", Some("%d/%m/%Y"), Ok(d(1964, 6, 9))),
            ("21/11/1949", Some("%d/%m/%Y"), Ok(d(1949, 11, 21))),
            ("05.03.45", Some("%d.%m.%y"), Ok(d(2045, 3, 5))),
        ];
        for (raw, fmt, want) in cases {
            assert_eq!(parse_date(raw, *fmt), *want, "{raw} {fmt:?}");
        }
    }

    #[test]
    fn birth_dates() {
        let today = d(2026, 11, 23);
        let cases: &[(&str, Option<&str>, Result<NaiveDate, IssueCode>)] = &[
            ("05.03.45", Some("%d.%m.%y"), Ok(d(1945, 3, 5))),
            ("05.03.12", Some("%d.%m.%y"), Ok(d(2012, 3, 5))),
            ("05.03.2045", Some("%d.%m.%Y"), Ok(d(2045, 3, 5))),
        ];
        for (raw, fmt, want) in cases {
            assert_eq!(parse_birth_date(raw, *fmt, today), *want, "{raw}");
        }
        let checks: &[(NaiveDate, Option<IssueCode>)] = &[
            (d(2030, 1, 1), Some("dob.future")),
            (d(2026, 11, 24), Some("dob.future")),
            (d(2026, 11, 23), None),
            (d(1850, 1, 1), Some("dob.implausible")),
            (d(1900, 1, 1), Some("dob.placeholder")),
            (d(1899, 12, 30), Some("dob.placeholder")),
            (d(1980, 1, 1), None),
            (d(1906, 6, 1), None),
        ];
        for (date, want) in checks {
            assert_eq!(check_birth_date(*date, today), *want, "{date}");
        }
    }

    /// Values written exactly in an all-numeric format are read without chrono, and to
    /// what chrono reads; the rest (and every failure) is chrono's.
    #[test]
    fn numeric_formats_read_as_chrono_does() {
        let formats = [
            "%d.%m.%Y",
            "%Y-%m-%d",
            "%Y%m%d",
            "%m/%d/%Y",
            "%d.%m.%Y %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%d/%m/%Y",
            "%Y-%m-%dT%H:%M:%SZ",
        ];
        for f in [
            "%d.%m.%y",
            "%d %B %Y",
            "%Y-%m-%dT%H:%M%:z",
            "%H:%M",
            "%d.%m.%Y  %H:%M",
        ] {
            assert!(DateFormat::new(f).numeric.is_none(), "{f}");
        }
        let mut rng = crate::rng::Rng::new(0x2545_f491_4f6c_dd1du64);
        let mut next = |n: u64| rng.below(n);
        let mut fast = 0;
        for text in formats {
            let f = DateFormat::new(text);
            let numeric = f.numeric.as_ref().expect(text);
            for _ in 0..20_000 {
                // The format's shape with digits in and out of range, now and then a wrong
                // separator or a digit too few.
                let mut v = String::new();
                let mut chars = text.chars();
                while let Some(c) = chars.next() {
                    if c == '%' {
                        let (width, top) = match chars.next() {
                            Some('Y') => (4, 10_000),
                            Some('m') => (2, 14),
                            Some('d') => (2, 33),
                            Some('H') => (2, 26),
                            _ => (2, 62),
                        };
                        let width = if next(50) == 0 { width - 1 } else { width };
                        v.push_str(&format!("{:0width$}", next(top)));
                    } else if next(50) == 0 {
                        v.push('-');
                    } else {
                        v.push(c);
                    }
                }
                let chrono_date = f
                    .parsed(&v)
                    .and_then(|p| p.to_naive_date().map_err(|e| e.kind()));
                let chrono_time = f
                    .parsed(&v)
                    .and_then(|p| p.to_naive_datetime_with_offset(0).map_err(|e| e.kind()));
                if let Some((d, h, mi, sec)) = numeric.read(&v) {
                    fast += 1;
                    assert_eq!(chrono_date, Ok(d), "{v} {text}");
                    if numeric.time {
                        assert_eq!(chrono_time.ok(), d.and_hms_opt(h, mi, sec), "{v} {text}");
                    }
                }
                assert_eq!(f.date(&v), chrono_date, "{v} {text}");
                if numeric.time {
                    assert_eq!(f.datetime(&v), chrono_time, "{v} {text}");
                }
            }
        }
        assert!(fast > 40_000, "{fast}");
    }

    /// Without a format, `2024-09-23 13:49:02` and `2024-09-23T13:49:02` are read without
    /// chrono, to what the first naive format that fits reads.
    #[test]
    fn iso_timestamps_without_a_format_read_as_chrono_does() {
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = |n: u64| rng.below(n);
        let mut fast = 0;
        for i in 0..20_000 {
            let sep = if i % 2 == 0 { ' ' } else { 'T' };
            let v = format!(
                "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
                next(3000),
                next(14),
                next(33),
                next(26),
                next(62),
                next(62)
            );
            let chrono = naive_timestamps()
                .iter()
                .find_map(|f| f.parsed(&v).ok()?.to_naive_datetime_with_offset(0).ok())
                .map(|t| t.and_utc().timestamp());
            if iso_without_offset(&v).is_some() {
                fast += 1;
                assert_eq!(parse_timestamp_with(&v, None).ok(), chrono, "{v}");
            }
        }
        assert!(fast > 5_000, "{fast}");
    }

    #[test]
    fn timestamps() {
        let t = 1614853320; // 2021-03-04T10:22:00Z
        let cases: &[(&str, Option<&str>, Result<i64, IssueCode>)] = &[
            ("2021-03-04T10:22:00Z", None, Ok(t)),
            ("2021-03-04T11:22:00+01:00", None, Ok(t)),
            ("2021-03-04T05:22:00-05:00", None, Ok(t)),
            ("2021-03-04T10:22:00.250Z", None, Ok(t)),
            ("2021-03-04 11:22:00+0100", None, Ok(t)),
            ("2021-03-04 11:22:00 +0100", None, Ok(t)),
            ("Thu, 04 Mar 2021 11:22:00 +0100", None, Ok(t)),
            ("2021-03-04 11:22:00 CET", None, Ok(t)),
            ("2021-03-04 05:22:00 EST", None, Ok(t)),
            ("2021-03-04 10:22:00 UTC", None, Ok(t)),
            ("04.03.2021 11:22 MEZ", Some("%d.%m.%Y %H:%M"), Ok(t)),
            ("04.03.2021 10:22", Some("%d.%m.%Y %H:%M"), Ok(t)),
            ("2021-03-04 10:22:00", Some("%Y-%m-%d %H:%M:%S"), Ok(t)),
            ("2021-03-04T10:22:00Z", Some("%Y-%m-%dT%H:%M:%SZ"), Ok(t)),
            ("2021-03-04T11:22:00+01:00", Some("%d.%m.%Y %H:%M"), Ok(t)),
            ("2021-03-04 10:22:00", None, Ok(t)),
            ("1614853320", None, Ok(t)),
            ("1614853320000", None, Ok(t)),
            ("2021-03-04", None, Ok(1614816000)),
            ("04/03/2021", Some("%d/%m/%Y"), Ok(1614816000)),
            ("4/3/2021", Some("%d/%m/%Y"), Ok(1614816000)),
            ("13/8/2024", Some("%d/%m/%Y"), Ok(1723507200)),
            ("soon", None, Err("timestamp.invalid")),
            (
                "31.02.2021 10:00",
                Some("%d.%m.%Y %H:%M"),
                Err("timestamp.invalid"),
            ),
            ("2021-03-04 25:00", None, Err("timestamp.invalid")),
        ];
        for (raw, fmt, want) in cases {
            assert_eq!(parse_timestamp(raw, *fmt), *want, "{raw} {fmt:?}");
        }
    }
}
