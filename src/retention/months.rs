//! Calendar-month arithmetic and station-local time (R7): month ends clamp (31 August plus six
//! months is 28 or 29 February), and a station-local time becomes an absolute one in the
//! station's time zone without ever landing earlier than the rule allows.

use chrono::offset::LocalResult;
use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// Which absolute time to take when a local time is ambiguous (the hour repeated when clocks
/// go back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The earlier of the two (for starts).
    Earliest,
    /// The later of the two (for deadlines: never earlier than the rule allows).
    Latest,
}

/// Adds calendar months to a date; a day that does not exist in the target month becomes that
/// month's last day. `None` only beyond the representable range of dates.
pub fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The first moment a recording ending at station-local `end` is past `months` calendar months
/// of retention: the start of the day after the same day `months` later (clamped to the month
/// end), in the station's time zone. Counting whole days keeps deadlines readable ("kept through
/// 15 July") and makes a later end never give an earlier deadline. `None` only beyond the
/// representable range of dates.
pub fn expiry_after_months(tz: Tz, end: NaiveDateTime, months: u32) -> Option<DateTime<Utc>> {
    let last_day = add_months(end.date(), months)?;
    let next = last_day.succ_opt()?;
    Some(local_to_utc(tz, next.and_time(NaiveTime::MIN), Pick::Latest))
}

/// The absolute time of a station-local time in `tz`.
///
/// An ambiguous local time (clocks going back) resolves by `pick`; a local time that does not
/// exist (clocks going forward) becomes the first local minute after the gap that exists.
pub fn local_to_utc(tz: Tz, t: NaiveDateTime, pick: Pick) -> DateTime<Utc> {
    let mut probe = t;
    // Gaps in the time-zone database are at most a day long (Pacific/Apia, 2011); two days of
    // minutes is a generous bound.
    for _ in 0..(2 * 24 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                return match pick {
                    Pick::Earliest => a.min(b),
                    Pick::Latest => a.max(b),
                };
            }
            LocalResult::None => match probe.checked_add_signed(TimeDelta::minutes(1)) {
                Some(next) => probe = next,
                None => break,
            },
        }
    }
    // Unreachable with the real database; fall back to the offset in force at that UTC time.
    let offset = tz.offset_from_utc_datetime(&t).fix().local_minus_utc();
    Utc.from_utc_datetime(&(t - TimeDelta::seconds(i64::from(offset))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn check(from: &str, months: u32, expect: &str) {
        assert_eq!(add_months(d(from), months), Some(d(expect)), "{from} + {months} months");
    }

    #[test]
    fn month_ends_clamp_and_leap_years_count() {
        check("2025-08-31", 6, "2026-02-28");
        check("2027-08-31", 6, "2028-02-29");
        check("2024-02-29", 12, "2025-02-28");
        check("2024-02-29", 48, "2028-02-29");
        check("2026-01-31", 1, "2026-02-28");
        check("2026-03-31", 3, "2026-06-30");
        check("2026-05-31", 6, "2026-11-30");
        check("2026-07-15", 6, "2027-01-15");
        check("2026-09-30", 3, "2026-12-30");
        check("2100-08-31", 6, "2101-02-28");
        check("2099-08-31", 6, "2100-02-28");
        check("2026-01-01", 0, "2026-01-01");
    }

    #[test]
    fn local_times_resolve_in_the_station_zone() {
        let t = NaiveDateTime::parse_from_str("2026-03-01T08:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        let u = local_to_utc(chrono_tz::Asia::Shanghai, t, Pick::Latest);
        assert_eq!(u.to_rfc3339(), "2026-03-01T00:00:00+00:00");
    }

    #[test]
    fn a_missing_local_time_moves_past_the_gap() {
        // New York springs forward at 02:00 on 8 March 2026: 02:30 does not exist.
        let t = NaiveDateTime::parse_from_str("2026-03-08T02:30:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        let u = local_to_utc(chrono_tz::America::New_York, t, Pick::Latest);
        assert_eq!(u.to_rfc3339(), "2026-03-08T07:00:00+00:00");
    }

    #[test]
    fn an_ambiguous_local_time_picks_as_asked() {
        // New York falls back at 02:00 on 1 November 2026: 01:30 happens twice.
        let t = NaiveDateTime::parse_from_str("2026-11-01T01:30:00", "%Y-%m-%dT%H:%M:%S").unwrap();
        let early = local_to_utc(chrono_tz::America::New_York, t, Pick::Earliest);
        let late = local_to_utc(chrono_tz::America::New_York, t, Pick::Latest);
        assert_eq!(early.to_rfc3339(), "2026-11-01T05:30:00+00:00");
        assert_eq!(late.to_rfc3339(), "2026-11-01T06:30:00+00:00");
    }

    /// Reference: step one day at a time into the target month, then along it while the day of
    /// the month stays at or below the original day.
    fn reference_add_months(date: NaiveDate, months: u32) -> NaiveDate {
        let target = date.year() * 12 + date.month0() as i32 + months as i32;
        let mut x = date;
        while x.year() * 12 + x.month0() as i32 != target {
            x = x.succ_opt().unwrap();
        }
        loop {
            let next = x.succ_opt().unwrap();
            if next.month() != x.month() || next.day() > date.day() {
                return x;
            }
            x = next;
        }
    }

    const ZONES: [Tz; 6] = [
        chrono_tz::Asia::Shanghai,
        chrono_tz::Asia::Urumqi,
        chrono_tz::America::New_York,
        chrono_tz::Europe::London,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Apia,
    ];

    proptest! {
        #[test]
        fn month_arithmetic_matches_day_stepping(day in 0i64..(366 * 12), months in 0u32..40) {
            let date = d("2020-01-01") + TimeDelta::days(day);
            prop_assert_eq!(add_months(date, months), Some(reference_add_months(date, months)));
        }

        #[test]
        fn expiry_is_the_local_day_after_and_never_goes_back(
            day in 0i64..(366 * 8), minute in 0u32..(24 * 60), months in 0u32..13, zone in 0usize..ZONES.len()
        ) {
            let tz = ZONES[zone];
            let end = (d("2008-01-01") + TimeDelta::days(day))
                .and_time(NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap());
            let u = expiry_after_months(tz, end, months).unwrap();
            let local = u.with_timezone(&tz).naive_local();
            let expected = reference_add_months(end.date(), months).succ_opt().unwrap().and_time(NaiveTime::MIN);
            // Local midnight of the day after, or the first local time after a gap at midnight.
            prop_assert!(local >= expected, "{local} < {expected}");
            prop_assert!(local - expected <= TimeDelta::days(1));
            // One minute before the expiry is still inside the last day (or the gap before it).
            let before = (u - TimeDelta::minutes(1)).with_timezone(&tz).naive_local();
            prop_assert!(before < expected || tz.from_local_datetime(&expected).single().is_none());
            // Later ends never get earlier deadlines, across month ends.
            let later = expiry_after_months(tz, end + TimeDelta::hours(7), months).unwrap();
            prop_assert!(later >= u);
            // At least `months` months of retention in absolute time: 28 days a month at the
            // least, less at most a day that the zone skipped.
            let kept = u - local_to_utc(tz, end, Pick::Earliest);
            prop_assert!(kept >= TimeDelta::days(28 * i64::from(months)) - TimeDelta::hours(25), "{kept}");
        }
    }
}
