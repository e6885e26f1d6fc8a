//! What the reducer asks the outside world to do. The loop in `tui::run` carries effects out;
//! the reducer itself never touches the network or the terminal.

use base64::Engine;

use crate::client::Target;
use crate::domain::NewEvent;

// Effects are returned in small vectors and carried out at once; `Submit` is the common one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue a write through the sync worker (outbox first). The `u64` is the `If-Match`
    /// revision of a guarded change (severity, status, commander).
    Submit(Target, NewEvent, Option<u64>),
    /// Fetch an incident's whole timeline.
    LoadTimeline(String),
    /// Put text on the clipboard by OSC 52 (works over SSH).
    Copy(String),
    /// Suspend the process (Ctrl-Z); the terminal is restored around it.
    Suspend,
    Quit,
}

/// The OSC 52 sequence that puts `text` on the system clipboard.
pub fn osc52(text: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{b64}\x07")
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_encodes_base64() {
        assert_eq!(super::osc52("hi ✓"), "\x1b]52;c;aGkg4pyT\x07");
    }
}
