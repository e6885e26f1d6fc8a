//! The board's response figures at a glance: a one-line summary (incidents in the last 14 days,
//! MTTA and MTTR means, response targets met / breached) and, when there is room, a chart of
//! incidents per day by severity (a sparkline per level; ASCII in the mono theme, on TERM=dumb
//! and in narrow terminals). The figures come from `State::board_figures`, computed once per
//! change of the incident set, never per frame.

use chrono::Duration;
use ratatui::text::{Line, Span};

use super::Ctx;
use crate::domain::report::{Report, TargetCounts};
use crate::domain::text;
use crate::domain::timers::format_duration;
use crate::render::report;
use crate::tui::state::State;
use crate::tui::state::replay::CHART_DAYS;
use crate::tui::theme::Role;

/// Below this width the chart is drawn in ASCII.
pub const ASCII_BELOW: u16 = 60;

/// Whether the chart should avoid block characters.
pub fn ascii(s: &State, cx: &Ctx<'_>, width: u16) -> bool {
    s.ascii || !cx.theme.colored || width < ASCII_BELOW
}

fn dur(secs: Option<i64>) -> String {
    secs.map_or_else(|| "–".to_string(), |s| format_duration(Duration::seconds(s)))
}

fn targets(t: &TargetCounts) -> String {
    format!("{} met / {} breached", t.met, t.breached)
}

/// The figures' lines for a band of at most `max` lines (0 when there are no figures).
pub fn lines(s: &State, cx: &Ctx<'_>, width: u16, max: usize) -> Vec<Line<'static>> {
    let Some(f) = s.board_figures() else { return Vec::new() };
    if max == 0 {
        return Vec::new();
    }
    let r = &f.report;
    let ascii = ascii(s, cx, width);
    let spark = |v: &[usize]| if ascii { report::sparkline_ascii(v) } else { report::sparkline(v) };
    let t = cx.theme;
    let mut out = vec![summary(r, &spark(&r.daily_totals()), width >= 100, cx)];
    // The chart: a line per severity, only when it fits whole.
    if max > r.severities.len() + 1 && !r.severities.is_empty() {
        let w = r.severities.iter().map(|s| s.chars().count()).max().unwrap_or(4).max(4);
        for (rank, sev) in r.severities.iter().enumerate() {
            let v = r.daily(sev);
            let n: usize = v.iter().sum();
            out.push(Line::from(vec![
                Span::styled(format!(" {:<w$} ", text::line(sev)), t.severity(rank)),
                Span::raw(" "),
                Span::styled(spark(&v), t.style(if n > 0 { Role::Accent } else { Role::Muted })),
                Span::styled(format!(" {n}"), t.style(Role::Muted)),
            ]));
        }
    }
    out
}

fn summary(r: &Report, totals: &str, wide: bool, cx: &Ctx<'_>) -> Line<'static> {
    let t = cx.theme;
    let sep = || Span::styled(" · ", t.style(Role::Muted));
    let a = &r.all;
    Line::from(vec![
        Span::styled(format!("last {CHART_DAYS}d "), t.style(Role::Header)),
        Span::styled(totals.to_string(), t.style(Role::Accent)),
        Span::styled(
            if wide {
                format!(" {} incident{}", a.incidents, if a.incidents == 1 { "" } else { "s" })
            } else {
                format!(" {} inc", a.incidents)
            },
            t.style(Role::Text),
        ),
        sep(),
        Span::styled(format!("MTTA {}", dur(a.acknowledge.mean_secs)), t.style(Role::Text)),
        sep(),
        Span::styled(format!("MTTR {}", dur(a.resolve.mean_secs)), t.style(Role::Text)),
        sep(),
        Span::styled(
            if wide {
                format!("response {}", targets(&a.response))
            } else {
                format!("met {} / breached {}", a.response.met, a.response.breached)
            },
            t.style(if a.response.breached > 0 { Role::Breached } else { Role::Muted }),
        ),
    ])
}
