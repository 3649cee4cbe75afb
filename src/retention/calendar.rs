//! The working-day calendar (R3, R7): public holidays and make-up working days (调休上班, a
//! Saturday or Sunday that is a working day), and the ingest deadline counted in hours, the same
//! day, or working days.
//!
//! Calendar file format (TOML, one file per year, several may be merged):
//!
//! ```toml
//! year = 2026                       # the year whose schedule this is
//! source = "State Council notice …" # optional, where the dates come from
//! workdays = ["2026-01-04"]         # weekend days that are working days
//!
//! [[holiday]]
//! name = "元旦 New Year's Day"
//! from = "2026-01-01"               # or `date = "…"` for a single day
//! to = "2026-01-03"                 # inclusive
//! ```
//!
//! Saturdays and Sundays are rest days unless listed in `workdays`; a listed holiday is a rest
//! day whatever its weekday. Dates may be TOML strings or TOML dates. A date both a holiday and
//! a working day, a weekday in `workdays`, a reversed range or a range over 31 days is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use super::months::{local_to_utc, Pick};
use super::RetentionError;

/// The longest holiday range accepted, in days (a typo guard).
const MAX_RANGE_DAYS: i64 = 31;

/// Holidays and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeMap<NaiveDate, String>,
    workdays: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
    sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    year: i32,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    workdays: Vec<toml::Value>,
    #[serde(default)]
    holiday: Vec<HolidayFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: String,
    date: Option<toml::Value>,
    from: Option<toml::Value>,
    to: Option<toml::Value>,
}

fn bad(key: String, value: impl fmt::Display, reason: impl Into<String>) -> RetentionError {
    RetentionError::CalendarValue { key, value: value.to_string(), reason: reason.into() }
}

fn date_value(key: String, v: &toml::Value) -> Result<NaiveDate, RetentionError> {
    let text = match v {
        toml::Value::String(s) => s.trim().to_string(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => return Err(bad(key, other, "expected a date such as \"2026-01-01\"")),
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| bad(key, &text, "expected a date such as \"2026-01-01\""))
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// A calendar with no holidays: Monday to Friday are working days.
    pub fn weekends_only() -> Calendar {
        Calendar::default()
    }

    /// Parses one calendar file.
    ///
    /// # Errors
    /// [`RetentionError::CalendarSyntax`] when the text is not TOML of this format;
    /// [`RetentionError::CalendarValue`] naming the key and value when a date is malformed, a
    /// range is reversed or too long, a weekday is listed as a make-up working day, a name is
    /// blank, or a date is both a holiday and a working day.
    pub fn parse(text: &str) -> Result<Calendar, RetentionError> {
        let file: CalendarFile =
            toml::from_str(text).map_err(|e| RetentionError::CalendarSyntax { message: e.to_string() })?;
        let mut cal = Calendar {
            years: BTreeSet::from([file.year]),
            sources: file.source.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            ..Calendar::default()
        };
        for (i, v) in file.workdays.iter().enumerate() {
            let key = format!("workdays[{i}]");
            let d = date_value(key.clone(), v)?;
            if !is_weekend(d) {
                return Err(bad(
                    key,
                    d,
                    format!("{} is a weekday; list only weekend days that are worked", d.weekday()),
                ));
            }
            cal.workdays.insert(d);
        }
        for (i, h) in file.holiday.iter().enumerate() {
            let name = h.name.trim();
            if name.is_empty() {
                return Err(bad(format!("holiday[{i}].name"), "\"\"", "a holiday needs a name"));
            }
            let (from, to) = match (&h.date, &h.from, &h.to) {
                (Some(d), None, None) => {
                    let d = date_value(format!("holiday[{i}].date"), d)?;
                    (d, d)
                }
                (None, Some(f), Some(t)) => {
                    (date_value(format!("holiday[{i}].from"), f)?, date_value(format!("holiday[{i}].to"), t)?)
                }
                _ => return Err(bad(format!("holiday[{i}]"), name, "give either `date`, or both `from` and `to`")),
            };
            if to < from {
                return Err(bad(format!("holiday[{i}].to"), to, format!("ends before it starts ({from})")));
            }
            if (to - from).num_days() >= MAX_RANGE_DAYS {
                return Err(bad(format!("holiday[{i}].to"), to, format!("longer than {MAX_RANGE_DAYS} days")));
            }
            let mut d = from;
            while d <= to {
                if cal.workdays.contains(&d) {
                    return Err(bad(format!("holiday[{i}]"), d, "this date is also listed in `workdays`"));
                }
                cal.holidays.insert(d, name.to_string());
                d = d.succ_opt().ok_or_else(|| bad(format!("holiday[{i}].to"), to, "out of range"))?;
            }
        }
        Ok(cal)
    }

    /// Adds another calendar's days (e.g. next year's file).
    ///
    /// # Errors
    /// [`RetentionError::CalendarValue`] when a date is a holiday in one and a working day in
    /// the other.
    pub fn merge(&mut self, other: Calendar) -> Result<(), RetentionError> {
        for d in &other.workdays {
            if self.holidays.contains_key(d) {
                return Err(bad("workdays".into(), d, "a holiday in another calendar file"));
            }
        }
        for d in other.holidays.keys() {
            if self.workdays.contains(d) {
                return Err(bad("holiday".into(), d, "a working day in another calendar file"));
            }
        }
        self.holidays.extend(other.holidays);
        self.workdays.extend(other.workdays);
        self.years.extend(other.years);
        self.sources.extend(other.sources);
        Ok(())
    }

    /// Where the loaded files say their dates come from (`source` keys), for reports.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether a calendar file for `year` was loaded (otherwise that year counts plain weekends
    /// only, and a report should say so).
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The holiday's name, if `d` is one.
    pub fn holiday(&self, d: NaiveDate) -> Option<&str> {
        self.holidays.get(&d).map(String::as_str)
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.holidays.contains_key(&d) {
            return false;
        }
        !is_weekend(d) || self.workdays.contains(&d)
    }

    /// The `n`-th working day after `d` (`d` itself when `n` is 0). Saturates at the end of the
    /// representable dates.
    pub fn nth_working_day_after(&self, d: NaiveDate, n: u32) -> NaiveDate {
        let mut left = n;
        let mut x = d;
        while left > 0 {
            // Skip whole weeks while no holiday or make-up day falls inside them.
            if left > 5 {
                if let Some(week_end) = x.checked_add_signed(TimeDelta::days(7)) {
                    let plain = self.holidays.range(x.succ_opt().unwrap_or(x)..=week_end).next().is_none()
                        && self.workdays.range(x.succ_opt().unwrap_or(x)..=week_end).next().is_none();
                    if plain {
                        x = week_end;
                        left -= 5;
                        continue;
                    }
                }
            }
            match x.succ_opt() {
                Some(next) => x = next,
                None => return x,
            }
            if self.is_working_day(x) {
                left -= 1;
            }
        }
        x
    }

    /// The same time of day on the `n`-th working day after `t`'s date.
    pub fn add_working_days(&self, t: NaiveDateTime, n: u32) -> NaiveDateTime {
        self.nth_working_day_after(t.date(), n).and_time(t.time())
    }

    /// Working days after `a`'s date up to and including `b`'s date; negative when `b` is
    /// earlier. `working_days_between(t, add_working_days(t, n)) == n`.
    pub fn working_days_between(&self, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
        let (from, to) = (a.date(), b.date());
        if to < from {
            return -self.working_days_in(to, from);
        }
        self.working_days_in(from, to)
    }

    /// Working days in `(from, to]`, `from <= to`, counted without stepping day by day.
    fn working_days_in(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let days = (to - from).num_days();
        let weeks = days / 7;
        let mut count = weeks * 5;
        let mut d = from + TimeDelta::days(weeks * 7);
        while d < to {
            d = d.succ_opt().unwrap_or(d);
            if !is_weekend(d) {
                count += 1;
            }
        }
        let Some(start) = from.succ_opt() else { return count };
        if start > to {
            return count;
        }
        // Disjoint by construction: a weekday holiday removes one, a worked weekend day adds one.
        count -= self.holidays.range(start..=to).filter(|(d, _)| !is_weekend(**d)).count() as i64;
        count += self.workdays.range(start..=to).filter(|d| is_weekend(**d)).count() as i64;
        count
    }
}

/// How soon after the work ends footage must be in dedicated storage (R3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestRule {
    /// Within this many hours (S1 §16: 24 hours).
    Hours(u32),
    /// The same day, before local midnight.
    SameDay,
    /// By the end of the `n`-th working day after the day the work ended (S2 §22, S3 §26: 2).
    WorkingDays(u32),
}

impl IngestRule {
    /// Parses `"24h"`, `"24 hours"`, `"same-day"`, `"same day"`, `"2wd"`, `"2 working days"`.
    ///
    /// # Errors
    /// The text it could not read, for the configuration error message.
    pub fn parse(s: &str) -> Result<IngestRule, String> {
        let t = s.trim().to_ascii_lowercase();
        if t == "same-day" || t == "same day" {
            return Ok(IngestRule::SameDay);
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u32 = num.parse().map_err(|_| format!("{s:?}: expected e.g. \"24h\", \"same-day\" or \"2wd\""))?;
        match unit.trim() {
            "h" | "hour" | "hours" if n > 0 => Ok(IngestRule::Hours(n)),
            "wd" | "working day" | "working days" if n > 0 => Ok(IngestRule::WorkingDays(n)),
            _ => Err(format!(
                "{s:?}: expected a positive number of hours (\"24h\") or working days (\"2wd\"), or \"same-day\""
            )),
        }
    }
}

impl fmt::Display for IngestRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IngestRule::Hours(h) => write!(f, "{h}h"),
            IngestRule::SameDay => write!(f, "same-day"),
            IngestRule::WorkingDays(n) => write!(f, "{n}wd"),
        }
    }
}

/// The first moment footage of work that ended at station-local `ended` counts as late.
pub fn ingest_deadline(ended: NaiveDateTime, rule: IngestRule, cal: &Calendar, tz: Tz) -> DateTime<Utc> {
    let midnight_after = |d: NaiveDate| {
        let next = d.succ_opt().unwrap_or(d);
        local_to_utc(tz, next.and_time(NaiveTime::MIN), Pick::Latest)
    };
    match rule {
        IngestRule::Hours(h) => local_to_utc(tz, ended, Pick::Latest) + TimeDelta::hours(i64::from(h)),
        IngestRule::SameDay => midnight_after(ended.date()),
        IngestRule::WorkingDays(n) => midnight_after(cal.nth_working_day_after(ended.date(), n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHIPPED: &str = include_str!("../../config/holidays-2026.toml");

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    fn cal() -> Calendar {
        Calendar::parse(SHIPPED).unwrap()
    }

    #[test]
    fn the_shipped_2026_calendar_parses_and_matches_the_notice() {
        let c = cal();
        assert!(c.covers(2026) && !c.covers(2027));
        assert_eq!(c.sources().len(), 1);
        assert!(c.sources()[0].contains("2026年部分节假日安排"));
        // New Year's Day: 1-3 January off, Sunday 4 January worked.
        assert!(!c.is_working_day(d("2026-01-01")) && !c.is_working_day(d("2026-01-02")));
        assert!(c.is_working_day(d("2026-01-04")));
        // Spring Festival: 15-23 February off (9 days), Saturdays 14 and 28 February worked.
        for day in 15..=23 {
            assert!(!c.is_working_day(d(&format!("2026-02-{day}"))), "2026-02-{day}");
        }
        assert!(c.is_working_day(d("2026-02-14")) && c.is_working_day(d("2026-02-28")));
        assert!(c.is_working_day(d("2026-02-24")));
        assert!(!c.is_working_day(d("2026-04-06")));
        assert!(!c.is_working_day(d("2026-05-05")) && c.is_working_day(d("2026-05-09")));
        assert!(!c.is_working_day(d("2026-06-19")));
        assert!(!c.is_working_day(d("2026-09-25")));
        assert!(c.is_working_day(d("2026-09-20")) && c.is_working_day(d("2026-10-10")));
        assert!(!c.is_working_day(d("2026-10-07")) && c.is_working_day(d("2026-10-08")));
        assert_eq!(c.holiday(d("2026-02-17")), Some("春节 Spring Festival"));
        // 2026 has 365 days, 104 weekend days, 6 worked weekend days and 33 holiday days of
        // which 19 fall on weekdays.
        assert_eq!(c.working_days_between(t("2025-12-31T12:00:00"), t("2026-12-31T12:00:00")), 365 - 104 + 6 - 19);
    }

    fn check_deadline(ended: &str, rule: IngestRule, expect_utc: &str) {
        let got = ingest_deadline(t(ended), rule, &cal(), chrono_tz::Asia::Shanghai);
        assert_eq!(got.to_rfc3339(), expect_utc, "{ended} + {rule}");
    }

    #[test]
    fn ingest_deadlines_follow_the_rule_and_the_calendar() {
        check_deadline("2026-03-06T15:00:00", IngestRule::Hours(24), "2026-03-07T07:00:00+00:00");
        check_deadline("2026-03-06T15:00:00", IngestRule::SameDay, "2026-03-06T16:00:00+00:00");
        // Friday: Monday and Tuesday are the two working days; late from Wednesday 00:00.
        check_deadline("2026-03-06T15:00:00", IngestRule::WorkingDays(2), "2026-03-10T16:00:00+00:00");
        // Thursday 12 February: Friday 13 and Saturday 14 (worked) are the two working days.
        check_deadline("2026-02-12T10:00:00", IngestRule::WorkingDays(2), "2026-02-14T16:00:00+00:00");
        // Friday 13 February: Saturday 14, then the festival, then Tuesday 24 February.
        check_deadline("2026-02-13T10:00:00", IngestRule::WorkingDays(2), "2026-02-24T16:00:00+00:00");
        // Work on a holiday (1 May): 6 and 7 May.
        check_deadline("2026-05-01T09:00:00", IngestRule::WorkingDays(2), "2026-05-07T16:00:00+00:00");
    }

    #[test]
    fn ingest_rules_parse() {
        assert_eq!(IngestRule::parse("24h"), Ok(IngestRule::Hours(24)));
        assert_eq!(IngestRule::parse("24 hours"), Ok(IngestRule::Hours(24)));
        assert_eq!(IngestRule::parse("same-day"), Ok(IngestRule::SameDay));
        assert_eq!(IngestRule::parse("2wd"), Ok(IngestRule::WorkingDays(2)));
        assert_eq!(IngestRule::parse("2 working days"), Ok(IngestRule::WorkingDays(2)));
        for bad in ["", "0h", "two days", "2d", "-1h", "2 weeks"] {
            assert!(IngestRule::parse(bad).is_err(), "{bad}");
        }
        for r in [IngestRule::Hours(24), IngestRule::SameDay, IngestRule::WorkingDays(2)] {
            assert_eq!(IngestRule::parse(&r.to_string()), Ok(r));
        }
    }

    fn check_err(text: &str, needle: &str) {
        let err = Calendar::parse(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }

    #[test]
    fn malformed_calendars_are_refused_with_the_key() {
        check_err("year = 2026\nworkdays = [\"2026-13-01\"]", "workdays[0]");
        check_err("year = 2026\nworkdays = [\"2026-01-05\"]", "is a weekday");
        check_err(
            "year = 2026\nworkdays = [\"2026-01-04\"]\n[[holiday]]\nname = \"x\"\ndate = \"2026-01-04\"",
            "also listed",
        );
        check_err(
            "year = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-01-03\"\nto = \"2026-01-01\"",
            "holiday[0].to",
        );
        check_err("year = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-01-01\"\nto = \"2026-03-01\"", "longer than");
        check_err("year = 2026\n[[holiday]]\nname = \" \"\ndate = \"2026-01-01\"", "holiday[0].name");
        check_err("year = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-01-01\"", "either `date`");
        check_err("year = 2026\nholidays = []", "unknown field");
        check_err("workdays = []", "year");
    }

    #[test]
    fn toml_dates_and_merging_work() {
        let a =
            Calendar::parse("year = 2026\nworkdays = [2026-01-04]\n[[holiday]]\nname = \"元旦\"\ndate = 2026-01-01")
                .unwrap();
        assert!(a.is_working_day(d("2026-01-04")) && !a.is_working_day(d("2026-01-01")));
        let mut m = a.clone();
        m.merge(Calendar::parse("year = 2027\n[[holiday]]\nname = \"元旦\"\ndate = 2027-01-01").unwrap()).unwrap();
        assert!(m.covers(2026) && m.covers(2027) && !m.is_working_day(d("2027-01-01")));
        let clash = Calendar::parse("year = 2026\n[[holiday]]\nname = \"x\"\ndate = 2026-01-04").unwrap();
        assert!(m.merge(clash).is_err());
    }

    /// Reference: step one day at a time.
    fn reference_is_working(holidays: &BTreeSet<NaiveDate>, workdays: &BTreeSet<NaiveDate>, d: NaiveDate) -> bool {
        !holidays.contains(&d) && (workdays.contains(&d) || d.weekday().num_days_from_monday() < 5)
    }

    fn reference_nth(h: &BTreeSet<NaiveDate>, w: &BTreeSet<NaiveDate>, d: NaiveDate, n: u32) -> NaiveDate {
        let (mut x, mut left) = (d, n);
        while left > 0 {
            x = x.succ_opt().unwrap();
            if reference_is_working(h, w, x) {
                left -= 1;
            }
        }
        x
    }

    fn reference_between(h: &BTreeSet<NaiveDate>, w: &BTreeSet<NaiveDate>, a: NaiveDate, b: NaiveDate) -> i64 {
        let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let mut x = lo;
        let mut n = 0;
        while x < hi {
            x = x.succ_opt().unwrap();
            n += i64::from(reference_is_working(h, w, x));
        }
        sign * n
    }

    /// A random calendar around 2026: holiday days and worked weekend days, disjoint.
    fn calendar_strategy() -> impl Strategy<Value = (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>, Calendar)> {
        (proptest::collection::btree_set(0i64..400, 0..60), proptest::collection::btree_set(0i64..400, 0..20)).prop_map(
            |(hs, ws)| {
                let base = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
                let holidays: BTreeSet<NaiveDate> = hs.iter().map(|o| base + TimeDelta::days(*o)).collect();
                let workdays: BTreeSet<NaiveDate> = ws
                    .iter()
                    .map(|o| base + TimeDelta::days(*o))
                    .filter(|d| is_weekend(*d) && !holidays.contains(d))
                    .collect();
                let mut text = String::from("year = 2026\nworkdays = [");
                text.push_str(&workdays.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", "));
                text.push_str("]\n");
                for (i, h) in holidays.iter().enumerate() {
                    text.push_str(&format!("[[holiday]]\nname = \"假日{i}\"\ndate = \"{h}\"\n"));
                }
                let cal = Calendar::parse(&text).unwrap();
                (holidays, workdays, cal)
            },
        )
    }

    proptest! {
        #[test]
        fn working_day_arithmetic_matches_day_stepping(
            (h, w, c) in calendar_strategy(), start in 0i64..420, n in 0u32..60, other in 0i64..420, minute in 0u32..1440
        ) {
            let base = NaiveDate::from_ymd_opt(2025, 11, 20).unwrap();
            let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap();
            let a = (base + TimeDelta::days(start)).and_time(time);
            let b = (base + TimeDelta::days(other)).and_time(NaiveTime::MIN);
            let added = c.add_working_days(a, n);
            prop_assert_eq!(added.date(), reference_nth(&h, &w, a.date(), n));
            prop_assert_eq!(added.time(), a.time());
            prop_assert_eq!(c.working_days_between(a, added), i64::from(n));
            prop_assert_eq!(c.working_days_between(a, b), reference_between(&h, &w, a.date(), b.date()));
            prop_assert_eq!(c.working_days_between(b, a), -c.working_days_between(a, b));
            for day in [a.date(), b.date()] {
                prop_assert_eq!(c.is_working_day(day), reference_is_working(&h, &w, day));
            }
            // The ingest deadline in working days is local midnight after the n-th working day.
            if n > 0 {
                let dl = ingest_deadline(a, IngestRule::WorkingDays(n), &c, chrono_tz::Asia::Shanghai);
                let last = reference_nth(&h, &w, a.date(), n);
                prop_assert_eq!(dl.with_timezone(&chrono_tz::Asia::Shanghai).naive_local(),
                    last.succ_opt().unwrap().and_time(NaiveTime::MIN));
            }
        }
    }
}
