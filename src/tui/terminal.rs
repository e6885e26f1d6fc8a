//! The terminal guard: raw mode, alternate screen and bracketed paste on entry; everything
//! restored on drop, on panic (chaining the previous hook), around Ctrl-Z suspension, and by
//! the loop on SIGTERM/SIGHUP. Frames go through a large buffered writer inside a
//! synchronized-output bracket, so a frame reaches the terminal in one piece.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::Once;

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute, queue};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

/// The console's backend: crossterm over a buffered stdout.
pub type ConsoleBackend = CrosstermBackend<BufWriter<Stdout>>;

/// Owns the terminal's mode while the console runs.
pub struct TerminalGuard {
    active: bool,
}

fn enter_modes() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, EnableBracketedPaste, cursor::Hide)
}

/// Puts the terminal back as the shell expects it. Safe to call more than once.
pub fn restore() {
    let _ = execute!(
        io::stdout(),
        EndSynchronizedUpdate,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        if let Err(e) = enter_modes() {
            restore();
            return Err(e);
        }
        Ok(TerminalGuard { active: true })
    }

    /// Ctrl-Z: restore the terminal, stop the process (SIGTSTP), and take the terminal back
    /// when the shell continues it. The caller must redraw everything afterwards.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore();
        self.active = false;
        // The default action stops the process until SIGCONT.
        #[cfg(unix)]
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP);
        enter_modes()?;
        self.active = true;
        Ok(())
    }
}

impl TerminalGuard {
    /// After a stop this process did not ask for (SIGSTOP/SIGTSTP from outside, then SIGCONT):
    /// the shell may have reset the terminal, so set the modes again.
    pub fn reenter(&mut self) -> io::Result<()> {
        enter_modes()?;
        self.active = true;
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if self.active {
            restore();
        }
    }
}

/// A terminal on buffered stdout.
pub fn terminal() -> io::Result<Terminal<ConsoleBackend>> {
    Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(256 * 1024, io::stdout())))
}

/// Clears the screen of a terminal that has not drawn yet (its back buffer is blank, as the
/// screen then is). Unlike `Terminal::clear`, it does not ask the terminal where its cursor is:
/// that question waits for the terminal's answer, a round trip before the first frame (one
/// network round trip over SSH). Queued: it reaches the terminal with the first frame.
pub fn clear_new<W: Write>(terminal: &mut Terminal<CrosstermBackend<W>>) -> io::Result<()> {
    queue!(terminal.backend_mut(), crossterm::terminal::Clear(crossterm::terminal::ClearType::All))
}

/// Draws one frame inside a synchronized-output bracket (terminals that do not know it ignore
/// it). Any writer works, so tests can count the bytes a frame costs.
pub fn draw_synced<W: Write>(
    terminal: &mut Terminal<CrosstermBackend<W>>,
    render: impl FnOnce(&mut ratatui::Frame<'_>),
) -> io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(render)?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    Ok(())
}

/// Writes raw bytes (an OSC 52 sequence) to the terminal.
pub fn write_raw<B: Backend + Write>(terminal: &mut Terminal<B>, bytes: &str) -> io::Result<()> {
    let b = terminal.backend_mut();
    b.write_all(bytes.as_bytes())?;
    Write::flush(b)
}
