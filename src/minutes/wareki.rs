//! Japanese era (和暦) dates and times as 会議録 print them: [`format_date`]
//! (`令和7年11月25日(火)`), [`format_time`] (`午後3時45分`) and [`format_range`]
//! (`令和7年11月25日(火) 午後3時45分～午後4時49分`).
//!
//! Rules, chosen once and used everywhere:
//! - Numbers are half-width Arabic digits without zero padding (horizontal writing).
//! - The first year of an era is 元年 (`令和元年5月1日(水)`).
//! - An era starts on the day its name took effect: 大正 1912-07-30, 昭和 1926-12-25,
//!   平成 1989-01-08, 令和 2019-05-01. 明治 is used from 1873-01-01 (明治6年), the day Japan
//!   adopted the Gregorian calendar; earlier days were lunisolar dates, so converting a
//!   Gregorian date would give the wrong month and day. Those fall back to `1872年12月31日(火)`.
//! - Times use the 12-hour clock: 0:00 is 午前0時, 12:00 is 午後0時. Minutes are left out on
//!   the hour (`午前10時`) and not padded otherwise (`午前10時5分`); seconds are dropped.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

/// (first day as (year, month, day), era name), newest first.
const ERAS: [((i32, u32, u32), &str); 5] = [
    ((2019, 5, 1), "令和"),
    ((1989, 1, 8), "平成"),
    ((1926, 12, 25), "昭和"),
    ((1912, 7, 30), "大正"),
    // Gregorian dates only from the calendar reform; 明治 began (retroactively) in 1868.
    ((1873, 1, 1), "明治"),
];

/// The first day (Gregorian year) of 明治, needed to count 明治 years from the 1873 cut-off.
const MEIJI_FIRST_YEAR: i32 = 1868;

/// Era name and year within the era (1 = 元年), or `None` before 1873-01-01.
pub fn era_year(date: NaiveDate) -> Option<(&'static str, i32)> {
    for ((y, m, d), name) in ERAS {
        let first = NaiveDate::from_ymd_opt(y, m, d)?;
        if date >= first {
            let first_year = if name == "明治" {
                MEIJI_FIRST_YEAR
            } else {
                y
            };
            return Some((name, date.year() - first_year + 1));
        }
    }
    None
}

fn weekday_kanji(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "月",
        Weekday::Tue => "火",
        Weekday::Wed => "水",
        Weekday::Thu => "木",
        Weekday::Fri => "金",
        Weekday::Sat => "土",
        Weekday::Sun => "日",
    }
}

/// `令和7年11月25日(火)`; `令和元年5月1日(水)`; before 1873 `1872年12月31日(火)`.
pub fn format_date(date: NaiveDate) -> String {
    let year = match era_year(date) {
        Some((era, 1)) => format!("{era}元年"),
        Some((era, n)) => format!("{era}{n}年"),
        None => format!("{}年", date.year()),
    };
    format!(
        "{year}{}月{}日({})",
        date.month(),
        date.day(),
        weekday_kanji(date.weekday())
    )
}

/// `午後3時45分`, `午前10時`, `午前10時5分`, `午前0時` (midnight), `午後0時` (noon).
pub fn format_time(time: NaiveTime) -> String {
    let (half, hour) = match time.hour() {
        h @ 0..=11 => ("午前", h),
        h => ("午後", h - 12),
    };
    match time.minute() {
        0 => format!("{half}{hour}時"),
        m => format!("{half}{hour}時{m}分"),
    }
}

/// `令和7年11月25日(火) 午後3時45分～午後4時49分`. An end on another day repeats the date
/// (`… 午後11時30分～令和7年11月26日(水) 午前0時15分`); without an end only the start is shown.
pub fn format_range(start: NaiveDateTime, end: Option<NaiveDateTime>) -> String {
    let mut out = format!(
        "{} {}",
        format_date(start.date()),
        format_time(start.time())
    );
    if let Some(end) = end {
        out.push('～');
        if end.date() != start.date() {
            out.push_str(&format_date(end.date()));
            out.push(' ');
        }
        out.push_str(&format_time(end.time()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn reiwa_date_with_weekday() {
        assert_eq!(format_date(d(2025, 11, 25)), "令和7年11月25日(火)");
        assert_eq!(format_date(d(2020, 1, 1)), "令和2年1月1日(水)");
    }

    #[test]
    fn first_year_is_gannen() {
        assert_eq!(format_date(d(2019, 5, 1)), "令和元年5月1日(水)");
        assert_eq!(format_date(d(2019, 12, 31)), "令和元年12月31日(火)");
        assert_eq!(format_date(d(1989, 1, 8)), "平成元年1月8日(日)");
        assert_eq!(format_date(d(1926, 12, 25)), "昭和元年12月25日(土)");
        assert_eq!(format_date(d(1912, 7, 30)), "大正元年7月30日(火)");
    }

    #[test]
    fn era_change_days() {
        assert_eq!(format_date(d(2019, 4, 30)), "平成31年4月30日(火)");
        assert_eq!(format_date(d(1989, 1, 7)), "昭和64年1月7日(土)");
        assert_eq!(format_date(d(1926, 12, 24)), "大正15年12月24日(金)");
        assert_eq!(format_date(d(1912, 7, 29)), "明治45年7月29日(月)");
        assert_eq!(era_year(d(2019, 5, 1)), Some(("令和", 1)));
        assert_eq!(era_year(d(2019, 4, 30)), Some(("平成", 31)));
    }

    #[test]
    fn meiji_only_after_calendar_reform() {
        assert_eq!(format_date(d(1873, 1, 1)), "明治6年1月1日(水)");
        assert_eq!(format_date(d(1872, 12, 31)), "1872年12月31日(火)");
        assert_eq!(era_year(d(1868, 10, 23)), None);
    }

    #[test]
    fn twelve_hour_clock() {
        assert_eq!(format_time(t(15, 45)), "午後3時45分");
        assert_eq!(format_time(t(10, 0)), "午前10時");
        assert_eq!(format_time(t(10, 5)), "午前10時5分");
        assert_eq!(format_time(t(0, 0)), "午前0時");
        assert_eq!(format_time(t(0, 30)), "午前0時30分");
        assert_eq!(format_time(t(11, 59)), "午前11時59分");
        assert_eq!(format_time(t(12, 0)), "午後0時");
        assert_eq!(format_time(t(12, 1)), "午後0時1分");
        assert_eq!(format_time(t(23, 59)), "午後11時59分");
        // Seconds are dropped, not rounded.
        let late = NaiveTime::from_hms_opt(9, 59, 59).unwrap();
        assert_eq!(format_time(late), "午前9時59分");
    }

    #[test]
    fn range_same_day_other_day_and_open() {
        let start = d(2025, 11, 25).and_time(t(15, 45));
        let end = d(2025, 11, 25).and_time(t(16, 49));
        assert_eq!(
            format_range(start, Some(end)),
            "令和7年11月25日(火) 午後3時45分～午後4時49分"
        );
        let late = d(2025, 11, 25).and_time(t(23, 30));
        let next = d(2025, 11, 26).and_time(t(0, 15));
        assert_eq!(
            format_range(late, Some(next)),
            "令和7年11月25日(火) 午後11時30分～令和7年11月26日(水) 午前0時15分"
        );
        assert_eq!(format_range(start, None), "令和7年11月25日(火) 午後3時45分");
        // A meeting across the era change shows both era names.
        let heisei = d(2019, 4, 30).and_time(t(23, 0));
        let reiwa = d(2019, 5, 1).and_time(t(1, 0));
        assert_eq!(
            format_range(heisei, Some(reiwa)),
            "平成31年4月30日(火) 午後11時～令和元年5月1日(水) 午前1時"
        );
    }
}
