//! The console's inputs, merged: terminal events (crossterm `EventStream`), the sync worker's
//! messages, termination signals, a 1 Hz clock only while something on screen shows time, and
//! the moment a pending draw is due. Nothing ticks while the console is idle.

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::client::SyncMsg;

// Moved once into an `Action`; boxing would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Input {
    Term(TermEvent),
    Net(SyncMsg),
    Tick,
    /// A draw that was held back (frame budget) is due.
    DrawDue,
    /// SIGTERM, SIGHUP or SIGINT: leave cleanly.
    Signal(&'static str),
    /// SIGCONT: the process was stopped and continued; take the terminal back and repaint.
    Continued,
    /// The terminal's event stream ended or failed.
    TermClosed(String),
}

pub struct Events {
    term: EventStream,
    term_open: bool,
    net: UnboundedReceiver<SyncMsg>,
    net_open: bool,
    clock: Interval,
    #[cfg(unix)]
    signals: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl Events {
    pub fn new(net: UnboundedReceiver<SyncMsg>) -> Events {
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        clock.set_missed_tick_behavior(MissedTickBehavior::Skip);
        #[cfg(unix)]
        let signals = {
            use tokio::signal::unix::{SignalKind, signal};
            [
                ("SIGTERM", SignalKind::terminate()),
                ("SIGHUP", SignalKind::hangup()),
                ("SIGINT", SignalKind::interrupt()),
                // Continued after a stop from outside (or after our own Ctrl-Z): repaint.
                ("SIGCONT", SignalKind::from_raw(nix::sys::signal::Signal::SIGCONT as i32)),
            ]
            .into_iter()
            .filter_map(|(n, k)| signal(k).ok().map(|s| (n, s)))
            .collect()
        };
        Events {
            term: EventStream::new(),
            term_open: true,
            net,
            net_open: true,
            clock,
            #[cfg(unix)]
            signals,
        }
    }

    /// Waits for the next input. `clock`: tick at 1 Hz. `draw_at`: wake up then to draw.
    pub async fn next(&mut self, clock: bool, draw_at: Option<Instant>) -> Input {
        #[cfg(unix)]
        let signal = {
            let futs: Vec<_> =
                self.signals.iter_mut().map(|(n, s)| Box::pin(s.recv().map(move |_| *n))).collect();
            async move {
                if futs.is_empty() {
                    std::future::pending::<&'static str>().await
                } else {
                    futures::future::select_all(futs).await.0
                }
            }
        };
        #[cfg(not(unix))]
        let signal = std::future::pending::<&'static str>();
        tokio::select! {
            biased;
            name = signal => if name == "SIGCONT" { Input::Continued } else { Input::Signal(name) },
            ev = self.term.next(), if self.term_open => match ev {
                Some(Ok(e)) => Input::Term(e),
                Some(Err(e)) => { self.term_open = false; Input::TermClosed(e.to_string()) }
                None => { self.term_open = false; Input::TermClosed("end of input".into()) }
            },
            msg = self.net.recv(), if self.net_open => match msg {
                Some(m) => Input::Net(m),
                None => {
                    self.net_open = false;
                    Input::Net(SyncMsg::Notice("the sync worker stopped".into()))
                }
            },
            _ = tokio::time::sleep_until(draw_at.unwrap_or_else(Instant::now)), if draw_at.is_some() => Input::DrawDue,
            _ = self.clock.tick(), if clock => Input::Tick,
        }
    }

    /// A sync message that is ready now, without waiting (to fold a burst before drawing).
    /// Terminal events are not drained here: polling `EventStream` with a no-op waker would
    /// hand its wake-up thread a waker that wakes nobody. They come through `next`, which
    /// prefers input over a due draw, so a burst of keys is still folded before the frame.
    pub fn ready(&mut self) -> Option<Input> {
        if self.net_open
            && let Ok(m) = self.net.try_recv()
        {
            return Some(Input::Net(m));
        }
        None
    }
}
