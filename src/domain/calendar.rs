//! When a team works: a scheme's [`BusinessHours`], the business-time arithmetic the clocks in
//! [`timers`](super::timers) use, and the post-incident deadlines ([`DeadlineDef`]) a scheme
//! lists. Data from the practice files plus pure functions of an explicit instant; a leaf of
//! `domain` (the practice holds these, the timers compute with them).
//!
//! # Business hours
//!
//! A scheme's [`BusinessHours`] say when a team works: by default Monday to Friday,
//! 09:00 to 17:00 UTC, no holidays. A team sets its own days, opening and closing times, a
//! fixed offset from UTC (no daylight-saving rules) and holiday dates in the scheme file.
//!
//! - *Within business hours*: the instant is on a business day (a listed weekday that is not a
//!   holiday) and `start <= local time < end`.
//! - *Business minutes* (`response_business_hours`): the clock only runs within business hours;
//!   a 4-hour target declared on Friday 16:00 falls due on Monday 12:00.
//! - *Next business day*: the end (`end`, 17:00) of the first business day that opens strictly
//!   after the instant. Declared Monday 10:00 -> Tuesday 17:00; Monday 08:00 -> Monday 17:00;
//!   Friday 18:00 or Saturday -> Monday 17:00.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How far ahead business-day arithmetic looks before giving up (a calendar with no business
/// day at all yields no deadline rather than a hang).
const MAX_DAYS: usize = 3660;

/// When a team works; see the module docs for the exact definitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// Working weekdays, e.g. `["mon", "tue", "wed", "thu", "fri"]`.
    #[serde(default = "default_days")]
    #[schema(value_type = Vec<String>)]
    pub days: Vec<Weekday>,
    /// Opening time, local to `utc_offset_minutes`, e.g. `"09:00"`.
    #[serde(default = "default_start")]
    #[schema(value_type = String)]
    pub start: NaiveTime,
    /// Closing time, e.g. `"17:00"`.
    #[serde(default = "default_end")]
    #[schema(value_type = String)]
    pub end: NaiveTime,
    /// Fixed offset of the team's clock from UTC, in minutes (0 = UTC).
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Dates (local) that are not business days.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn default_days() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}
fn default_start() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}
fn default_end() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            days: default_days(),
            start: default_start(),
            end: default_end(),
            utc_offset_minutes: 0,
            holidays: Vec::new(),
        }
    }
}

impl BusinessHours {
    fn offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + self.offset()
    }

    fn utc(&self, l: NaiveDateTime) -> DateTime<Utc> {
        (l - self.offset()).and_utc()
    }

    fn usable(&self) -> bool {
        self.start < self.end && !self.days.is_empty()
    }

    /// A listed weekday that is not a holiday.
    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        self.days.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// Whether `t` falls within business hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let l = self.local(t);
        self.usable() && self.is_business_day(l.date()) && self.start <= l.time() && l.time() < self.end
    }

    /// `t` plus `minutes` of business time (the clock stops outside business hours). With 0
    /// minutes outside business hours, the next opening. `None` for a calendar without
    /// business hours.
    pub fn add_business_minutes(&self, t: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
        if !self.usable() {
            return None;
        }
        let mut left = Duration::minutes(i64::from(minutes));
        let mut cur = self.local(t);
        for _ in 0..MAX_DAYS {
            let d = cur.date();
            if self.is_business_day(d) {
                let from = cur.max(d.and_time(self.start));
                let close = d.and_time(self.end);
                if from < close {
                    let avail = close - from;
                    if left <= avail {
                        return Some(self.utc(from + left));
                    }
                    left -= avail;
                }
            }
            cur = d.succ_opt()?.and_time(NaiveTime::MIN);
        }
        None
    }

    /// The close of the `n`-th business day that opens strictly after `t` (`n = 1`: "next
    /// business day"). `n = 0` gives `t`.
    pub fn end_of_business_days(&self, t: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        if n == 0 {
            return Some(t);
        }
        if !self.usable() {
            return None;
        }
        let l = self.local(t);
        let mut d = l.date();
        let mut count = 0;
        for _ in 0..MAX_DAYS {
            if self.is_business_day(d) && d.and_time(self.start) > l {
                count += 1;
                if count == n {
                    return Some(self.utc(d.and_time(self.end)));
                }
            }
            d = d.succ_opt()?;
        }
        None
    }

    /// The close of the next business day (see the module docs).
    pub fn next_business_day_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.end_of_business_days(t, 1)
    }
}

/// A post-incident deadline, counted from resolution: `days` and `hours` of wall-clock time,
/// then (if set) to the close of the `business_days`-th business day after that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineDef {
    pub id: String,
    /// What is due, e.g. `Initial incident report`.
    pub name: String,
    #[serde(default)]
    pub hours: u32,
    #[serde(default)]
    pub days: u32,
    #[serde(default)]
    pub business_days: u32,
    /// A checklist item (`checklist/item`) whose tick marks the deadline met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<String>,
}

impl DeadlineDef {
    /// When this deadline falls for an incident resolved at `resolved`.
    pub fn due(&self, hours: &BusinessHours, resolved: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let t = resolved + Duration::days(i64::from(self.days)) + Duration::hours(i64::from(self.hours));
        hours.end_of_business_days(t, self.business_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn business_minutes_stop_outside_hours() {
        let bh = BusinessHours::default();
        // 2026-11-20 is a Friday.
        assert_eq!(bh.add_business_minutes(t(2026, 11, 20, 16, 0), 240), Some(t(2026, 11, 23, 12, 0)));
        assert_eq!(bh.add_business_minutes(t(2026, 11, 21, 3, 0), 60), Some(t(2026, 11, 23, 10, 0)));
        assert_eq!(bh.add_business_minutes(t(2026, 11, 23, 9, 0), 480), Some(t(2026, 11, 23, 17, 0)));
    }

    #[test]
    fn next_business_day() {
        let bh = BusinessHours::default();
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 10, 0)), Some(t(2026, 11, 24, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 8, 0)), Some(t(2026, 11, 23, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 23, 9, 0)), Some(t(2026, 11, 24, 17, 0)));
        assert_eq!(bh.next_business_day_end(t(2026, 11, 20, 18, 0)), Some(t(2026, 11, 23, 17, 0)));
        assert_eq!(bh.end_of_business_days(t(2026, 11, 23, 14, 0), 5), Some(t(2026, 11, 30, 17, 0)));
    }

    #[test]
    fn holidays_offsets_and_empty_calendars() {
        let bh = BusinessHours {
            holidays: vec![NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()],
            utc_offset_minutes: 60,
            ..BusinessHours::default()
        };
        // Friday 17:30 UTC is 18:30 local; Monday is a holiday: Tuesday 17:00 local = 16:00 UTC.
        assert_eq!(bh.next_business_day_end(t(2026, 11, 20, 17, 30)), Some(t(2026, 11, 24, 16, 0)));
        assert!(bh.is_open(t(2026, 11, 20, 8, 0)));
        assert!(!bh.is_open(t(2026, 11, 20, 16, 0)));
        let none = BusinessHours { days: vec![], ..BusinessHours::default() };
        assert_eq!(none.next_business_day_end(t(2026, 11, 20, 17, 30)), None);
        assert_eq!(none.add_business_minutes(t(2026, 11, 20, 17, 30), 5), None);
    }
}
