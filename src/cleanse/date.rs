//! Dates and timestamps: `&str + formats -> NaiveDate / epoch seconds`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::IssueCode;

/// Formats tried when a mapping names none. Only unambiguous forms: a `03/04/2020` needs
/// the mapping to say whether the day or the month comes first.
const DEFAULT_DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y", "%Y/%m/%d"];

pub fn parse_date(raw: &str, format: Option<&str>) -> Result<NaiveDate, IssueCode> {
    let s = raw.trim();
    // A timestamp in a date column: keep the date part.
    let s = s.split(['T', ' ']).next().unwrap_or(s);
    let parsed = match format {
        Some(f) => NaiveDate::parse_from_str(s, f)
            .or_else(|_| NaiveDate::parse_from_str(raw.trim(), f))
            .map_err(|_| ()),
        None => DEFAULT_DATE_FORMATS
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
            .ok_or(()),
    };
    parsed.map_err(|_| "date.invalid")
}

/// Birth dates in the future or more than 120 years back are flagged.
pub fn check_birth_date(date: NaiveDate, today: NaiveDate) -> Option<IssueCode> {
    if date > today {
        Some("dob.future")
    } else if today.years_since(date).is_some_and(|y| y > 120) {
        Some("dob.implausible")
    } else {
        None
    }
}

/// A timestamp as seconds since the epoch (UTC). RFC 3339 with an offset is honoured;
/// a timestamp without a zone is taken as UTC; a bare date is midnight UTC.
pub fn parse_timestamp(raw: &str, format: Option<&str>) -> Result<i64, IssueCode> {
    let s = raw.trim();
    if let Some(f) = format {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Ok(t.timestamp());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp());
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(midnight(d));
        }
        return Err("timestamp.invalid");
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp());
        }
    }
    parse_date(s, None)
        .map(midnight)
        .map_err(|_| "timestamp.invalid")
}

fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dates() {
        let cases: &[(&str, Option<&str>, Option<NaiveDate>)] = &[
            ("1980-02-29", None, Some(d(1980, 2, 29))),
            ("29.02.1980", None, Some(d(1980, 2, 29))),
            ("03/04/1990", Some("%d/%m/%Y"), Some(d(1990, 4, 3))),
            ("03/04/1990", Some("%m/%d/%Y"), Some(d(1990, 3, 4))),
            ("03/04/1990", None, None),
            ("1981-02-29", None, None),
            ("2021-03-04T10:22:00Z", None, Some(d(2021, 3, 4))),
            ("tomorrow", None, None),
        ];
        for (raw, fmt, want) in cases {
            assert_eq!(parse_date(raw, *fmt).ok(), *want, "{raw} {fmt:?}");
        }
    }

    #[test]
    fn birth_date_checks() {
        let today = d(2026, 11, 23);
        assert_eq!(check_birth_date(d(2030, 1, 1), today), Some("dob.future"));
        assert_eq!(
            check_birth_date(d(1850, 1, 1), today),
            Some("dob.implausible")
        );
        assert_eq!(check_birth_date(d(1980, 1, 1), today), None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2021-03-04T10:22:00Z", None),
            Ok(1614853320)
        );
        assert_eq!(
            parse_timestamp("2021-03-04T11:22:00+01:00", None),
            Ok(1614853320)
        );
        assert_eq!(
            parse_timestamp("04.03.2021 10:22", Some("%d.%m.%Y %H:%M")),
            Ok(1614853320)
        );
        assert_eq!(parse_timestamp("2021-03-04", None), Ok(1614816000));
        assert!(parse_timestamp("soon", None).is_err());
    }
}
