//! The full-screen console: one loop owns the terminal and the state. Inputs (keys through the
//! keymap, sync messages, signals, a clock only while a timer is visible) become `Action`s,
//! `state::update` folds them and returns `Effect`s, and the screen is drawn only when
//! something changed, at most once per frame budget, after every pending input is folded.
//! The network is reached only through `SyncHandle` commands; nothing here awaits it.

pub mod action;
pub mod drafts;
pub mod event;
pub mod format;
pub mod keymap;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod timeline;
pub mod ui;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event as TermEvent, KeyEventKind};
use tokio::time::Instant;

use crate::client::{SyncHandle, SyncMsg, startup};
use crate::tui::format::TimeDisplay;
use action::Action;
use event::{Events, Input};
use keymap::{Context, Key, Keymap};
use state::{Effect, Screen, State, update};
use theme::Theme;

/// At most one frame per this long (about 60 per second).
const FRAME: Duration = Duration::from_millis(16);

/// What the CLI hands the console.
pub struct ConsoleOptions {
    pub sync: SyncHandle,
    pub events: tokio::sync::mpsc::UnboundedReceiver<SyncMsg>,
    /// E.g. "embedded server on http://127.0.0.1:7878 (join with --server ...)".
    pub server_label: String,
    /// `--theme`/config; `None` = auto (NO_COLOR or TERM=dumb -> mono, else default).
    pub theme: Option<String>,
    /// User themes live in `<config_dir>/themes/NAME.toml`; a keymap in `<config_dir>/keymap.toml`.
    pub config_dir: PathBuf,
    /// Keymap overrides by action name (config `[keys]`).
    pub keys: BTreeMap<String, Vec<String>>,
    pub time: TimeDisplay,
    /// Open this incident's war room at start.
    pub open: Option<String>,
    /// Where unsent drafts are kept (`<data dir>/drafts/<server>`); `None`: in memory only.
    pub drafts_dir: Option<PathBuf>,
    /// What the local cache holds for this server and identity: the first frame shows it,
    /// marked cached until the link is live.
    pub cached: Option<crate::client::cache::Cached>,
    /// The cached timeline of `open`, when there is one.
    pub cached_timeline: Option<Vec<crate::domain::Event>>,
}

/// Maps one terminal event to an action for the focused context.
pub fn action_for(ev: TermEvent, s: &State, keys: &Keymap) -> Option<Action> {
    match ev {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
            let ctx = s.context();
            let key = Key::from_event(&k);
            // In replay, the focused pane's keys still resolve (its writes are then refused
            // with a notice, its reading keys work on the replayed timeline).
            let found = keys.lookup(ctx, key).or_else(|| match (ctx, &s.screen) {
                (Context::Replay, Screen::WarRoom(_)) => keys.lookup(s.room.focus.context(), key),
                _ => None,
            });
            match found {
                Some(a) => Some(a.clone()),
                None if ctx.takes_text() => Some(Action::Input(k)),
                None => None,
            }
        }
        TermEvent::Paste(p) if s.context().takes_text() => Some(Action::Paste(p)),
        TermEvent::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}

/// Runs the console until the user quits (or a termination signal arrives).
pub async fn run(opts: ConsoleOptions) -> anyhow::Result<()> {
    // Configuration errors are reported before the terminal changes mode.
    let theme = Theme::select(opts.theme.as_deref(), &opts.config_dir)?;
    let keys = Keymap::load(&opts.config_dir, &opts.keys)?;
    startup::mark("theme+keymap");
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the console needs a terminal (stdin and stdout must be a TTY)");
    }
    let sync = opts.sync;
    let mut state = State::new(opts.server_label, opts.time, Utc::now());
    state.ascii = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    state.plain = !theme.colored;
    let mut pending_effects = Vec::new();
    if let Some(c) = opts.cached {
        state.cached = Some(c.saved_at);
        update(&mut state, Action::Net(SyncMsg::Hello { me: c.me, practice: Box::new(c.practice) }));
        update(&mut state, Action::Net(SyncMsg::Snapshot(c.list)));
        if let (Some(id), Some(events)) = (&opts.open, opts.cached_timeline) {
            update(&mut state, Action::Net(SyncMsg::Timeline { incident: id.clone(), events }));
        }
    }
    let mut drafts = opts.drafts_dir.map(|dir| drafts::DraftStore::open(dir, &mut state));
    if let Some(id) = opts.open {
        pending_effects = state::update::open_room(&mut state, id);
    }
    startup::mark("state");

    let mut guard = terminal::TerminalGuard::enter().context("cannot set up the terminal")?;
    let mut term = terminal::terminal()?;
    terminal::clear_new(&mut term)?;
    if let Ok(size) = term.size() {
        state.size = (size.width, size.height);
    }
    startup::mark("terminal");
    let mut events = Events::new(opts.events);
    let mut last_draw: Option<Instant> = None;
    // The first frame of a war room with its timeline: logged (with the start's phases) and,
    // in a bench run, reported and the console left.
    let mut first_frame = Some(startup::bench_file());

    let result: anyhow::Result<()> = async {
        let mut quit = run_effects(&sync, &mut term, &mut guard, &mut state, pending_effects)?;
        while !quit {
            // Draw when dirty and the frame budget allows; otherwise wait for the budget.
            let now = Instant::now();
            if let Some(d) = drafts.as_mut() {
                d.observe(&state, now);
            }
            let draw_at = state.dirty.then(|| last_draw.map_or(now, |t| t + FRAME));
            if let Some(at) = draw_at
                && at <= now
            {
                terminal::draw_synced(&mut term, |f| ui::draw(f, &state, &theme, &keys))?;
                state.dirty = false;
                last_draw = Some(Instant::now());
                if first_frame.is_some() && shows_a_timeline(&state) {
                    let bench = first_frame.take().flatten();
                    if first_frame_reported(&state, bench) {
                        break;
                    }
                }
                continue;
            }
            // A draft waiting to be saved wakes the loop like a frame does.
            let wake = match (draw_at, drafts.as_ref().and_then(|d| d.due())) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let first = events.next(state.wants_clock(), wake).await;
            let mut batch = vec![first];
            // Fold everything already waiting before the next draw.
            while batch.len() < 512 {
                match events.ready() {
                    Some(i) => batch.push(i),
                    None => break,
                }
            }
            for input in batch {
                state.now = Utc::now();
                let action = match input {
                    Input::DrawDue => continue,
                    Input::Tick => Action::Tick,
                    Input::Net(m) => Action::Net(m),
                    Input::Term(ev) => match action_for(ev, &state, &keys) {
                        Some(a) => a,
                        None => continue,
                    },
                    Input::Continued => {
                        guard.reenter()?;
                        term.clear()?;
                        state.dirty = true;
                        continue;
                    }
                    Input::Signal(name) => {
                        tracing::info!("{name}: leaving the console");
                        quit = true;
                        break;
                    }
                    Input::TermClosed(why) => {
                        tracing::warn!("terminal input closed: {why}");
                        quit = true;
                        break;
                    }
                };
                let effects = update(&mut state, action);
                if run_effects(&sync, &mut term, &mut guard, &mut state, effects)? {
                    quit = true;
                    break;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Some(d) = drafts.as_mut() {
        d.flush(&state);
    }
    sync.shutdown();
    drop(term);
    drop(guard);
    result
}

/// Whether the screen is a war room whose timeline is loaded (from the cache or the server).
fn shows_a_timeline(s: &State) -> bool {
    matches!(&s.screen, Screen::WarRoom(id) if s.timeline(id).is_some_and(|t| t.loaded))
}

/// Logs how long the first war-room frame took since `main` and each phase before it; with a
/// bench file, appends that to it too and returns true: the console then quits.
fn first_frame_reported(s: &State, bench: Option<PathBuf>) -> bool {
    let took = startup::elapsed();
    let from = if s.cached.is_some() { "the cache" } else { "the server" };
    tracing::info!(
        "first war-room frame (timeline from {from}) {:.1} ms after start: {}",
        took.as_secs_f64() * 1e3,
        startup::marks()
    );
    let Some(path) = bench else { return false };
    let line = startup::bench_line(took);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    if let Err(e) = written {
        tracing::warn!("{}: cannot write {}: {e}", startup::BENCH_ENV, path.display());
    }
    true
}

/// Carries effects out. Returns true when the console should quit.
fn run_effects(
    sync: &SyncHandle,
    term: &mut ratatui::Terminal<terminal::ConsoleBackend>,
    guard: &mut terminal::TerminalGuard,
    state: &mut State,
    effects: Vec<Effect>,
) -> anyhow::Result<bool> {
    for e in effects {
        match e {
            Effect::Submit(target, event, if_match) => sync.submit(target, event, if_match),
            Effect::LoadTimeline(id) => sync.load_timeline(&id),
            Effect::Copy(text) => terminal::write_raw(term, &state::effect::osc52(&text))?,
            Effect::Suspend => {
                guard.suspend()?;
                // The shell used the screen meanwhile: repaint all of it.
                term.clear()?;
                state.dirty = true;
            }
            Effect::Quit => return Ok(true),
        }
    }
    Ok(false)
}
