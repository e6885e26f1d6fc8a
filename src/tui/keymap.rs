//! Key bindings as data: the defaults in `assets/keymap.toml` (embedded), patched by an optional
//! `<config dir>/keymap.toml` of the same shape and by the config's `[keys]` overrides (action
//! name -> keys). Every binding carries a `desc` that feeds `?` help and the command bar.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::Action;
use crate::assets::{ASSETS, FileError, parse_toml};

/// Where a key is looked up. A war-room pane also falls back to `WarRoom`, then `Global`.
/// Its snake_case name (`war_room`) is what keymap files, help and errors say.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum Context {
    Global,
    Board,
    WarRoom,
    Timeline,
    Roster,
    Checklists,
    Composer,
    Comms,
    Prompt,
    Form,
    Picker,
    Popup,
    /// Replay mode of a war room (read-only; war-room keys that write are refused).
    Replay,
    /// The timeline while a search is active: `n`/`N` move between matches (as in less/vim).
    Search,
}

impl Context {
    /// Every context, in declaration order.
    pub const ALL: &'static [Context] = <Context as strum::VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    fn from_name(s: &str) -> Option<Context> {
        s.parse().ok()
    }

    /// The contexts searched, in order, when this one is focused.
    pub fn chain(self) -> &'static [Context] {
        match self {
            Context::Board => &[Context::Board, Context::Global],
            Context::WarRoom => &[Context::WarRoom, Context::Global],
            Context::Timeline => &[Context::Timeline, Context::WarRoom, Context::Global],
            Context::Roster => &[Context::Roster, Context::WarRoom, Context::Global],
            Context::Checklists => &[Context::Checklists, Context::WarRoom, Context::Global],
            Context::Global => &[Context::Global],
            // Overlays capture the keyboard.
            Context::Composer => &[Context::Composer],
            Context::Comms => &[Context::Comms],
            Context::Prompt => &[Context::Prompt],
            Context::Form => &[Context::Form],
            Context::Picker => &[Context::Picker],
            Context::Popup => &[Context::Popup],
            Context::Replay => &[Context::Replay, Context::WarRoom, Context::Global],
            Context::Search => &[Context::Search, Context::Timeline, Context::WarRoom, Context::Global],
        }
    }

    /// Text fields receive unbound keys as input.
    pub fn takes_text(self) -> bool {
        matches!(self, Context::Composer | Context::Comms | Context::Prompt | Context::Form)
    }
}

/// A key with its modifiers, normalised (shifted letters carry no SHIFT flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                // Terminals report ctrl-letters in either case.
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    code
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                code
            }
            c => c,
        };
        Key { code, mods }
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        Key::new(e.code, e.modifiers)
    }

    /// Parses `ctrl-c`, `alt-enter`, `S`, `?`, `pageup`, `space`, `f1`, `shift-tab`...
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (m, n) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            if rest.len() == n {
                break; // a bare "ctrl-" etc. is an error below
            }
            mods |= m;
            rest = &rest[n..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if mods.contains(KeyModifiers::SHIFT) {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if mods.contains(KeyModifiers::SHIFT) => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                f if f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=24).contains(&n)) => {
                    KeyCode::F(f[1..].parse().unwrap_or(1))
                }
                _ => return Err(format!("unknown key `{s}`")),
            },
        };
        Ok(Key::new(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::Insert => f.write_str("ins"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One binding: an action, its keys and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub action: Action,
    pub keys: Vec<Key>,
    pub desc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    action: String,
    keys: Vec<String>,
    #[serde(default)]
    desc: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Keymap {
    contexts: BTreeMap<Context, Vec<Binding>>,
    /// Where each binding was last set (file and line), for errors about the whole keymap.
    origins: Vec<Origin>,
}

#[derive(Debug, Clone)]
struct Origin {
    ctx: Context,
    action: Action,
    file: String,
    line: Option<usize>,
}

/// The contexts a person navigates in (overlays are left with their own keys): quit and help
/// must each have a key that reaches them in every one of these.
const NAVIGATION: &[Context] = &[
    Context::Board,
    Context::WarRoom,
    Context::Timeline,
    Context::Roster,
    Context::Checklists,
    Context::Replay,
    Context::Search,
];

/// The line of the `keys` of the `n`th (0-based) `[[ctx]]` table in a keymap file.
fn binding_line(text: &str, ctx: &str, n: usize) -> Option<usize> {
    let header = format!("[[{ctx}]]");
    let mut seen = 0;
    let mut in_block = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with("[[") || (t.starts_with('[') && !t.starts_with("[[")) {
            in_block = t == header && {
                seen += 1;
                seen == n + 1
            };
            continue;
        }
        if in_block && t.starts_with("keys") {
            return Some(i + 1);
        }
    }
    None
}

/// The line of the first occurrence of `needle` in `text` (1-based), for error messages.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle).map(|i| text[..i].matches('\n').count() + 1)
}

fn file_err(file: &str, text: &str, needle: &str, message: String) -> FileError {
    FileError { file: file.to_string(), line: line_of(text, needle), message }
}

impl Keymap {
    /// The embedded defaults.
    pub fn defaults() -> Keymap {
        let text = ASSETS.get_file("keymap.toml").and_then(|f| f.contents_utf8()).unwrap_or_default();
        let mut k = Keymap::default();
        k.patch("assets/keymap.toml", text).expect("the embedded keymap is valid");
        k
    }

    /// Defaults, then `<config_dir>/keymap.toml` if present, then the config's `[keys]`.
    pub fn load(config_dir: &Path, overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, FileError> {
        let mut k = Keymap::defaults();
        let path = config_dir.join("keymap.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => k.patch(&path.display().to_string(), &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(FileError {
                    file: path.display().to_string(),
                    line: None,
                    message: e.to_string(),
                });
            }
        }
        k.override_keys(&config_dir.join("config.toml").display().to_string(), overrides)?;
        k.validate()?;
        Ok(k)
    }

    /// Where a binding was last set: the latest origin of `action` in `ctx`.
    fn origin(&self, ctx: Context, action: &Action) -> Option<&Origin> {
        self.origins.iter().rev().find(|o| o.ctx == ctx && &o.action == action)
    }

    /// Refuses a keymap where one key does two things in one context, or where quit or help
    /// cannot be reached from a context a person navigates in. The error names the file and
    /// line that set the binding last, and the key.
    pub fn validate(&self) -> Result<(), FileError> {
        let name = |a: &Action| a.name().unwrap_or_else(|| format!("{a:?}"));
        let blame = |origin: Option<&Origin>, message: String| match origin {
            Some(o) => FileError { file: o.file.clone(), line: o.line, message },
            None => FileError { file: "keymap".into(), line: None, message },
        };
        for (ctx, list) in &self.contexts {
            for (j, b) in list.iter().enumerate() {
                for a in &list[..j] {
                    if a.action == b.action {
                        continue;
                    }
                    if let Some(k) = b.keys.iter().find(|k| a.keys.contains(k)) {
                        // Blame whichever of the two was set last (the user's file over the defaults).
                        let oa = self.origins.iter().rposition(|o| o.ctx == *ctx && o.action == a.action);
                        let ob = self.origins.iter().rposition(|o| o.ctx == *ctx && o.action == b.action);
                        let last = if oa > ob { &a.action } else { &b.action };
                        return Err(blame(
                            self.origin(*ctx, last),
                            format!(
                                "key `keys`: `{k}` is bound to both `{}` and `{}` in [[{}]]; a key does one thing in a context",
                                name(&a.action),
                                name(&b.action),
                                ctx.name()
                            ),
                        ));
                    }
                }
            }
        }
        for needed in [Action::Quit, Action::Help] {
            for ctx in NAVIGATION {
                let reached = ctx
                    .chain()
                    .iter()
                    .flat_map(|c| self.bindings(*c))
                    .filter(|b| b.action == needed)
                    .flat_map(|b| b.keys.iter())
                    .any(|k| self.lookup(*ctx, *k) == Some(&needed));
                if !reached {
                    let origin = ctx.chain().iter().find_map(|c| self.origin(*c, &needed));
                    let what = if needed == Action::Quit {
                        "the console could not be left"
                    } else {
                        "its keys could not be looked up"
                    };
                    return Err(blame(
                        origin,
                        format!(
                            "key `keys`: `{}` has no key that reaches it in [[{}]]: {what}",
                            name(&needed),
                            ctx.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies a keymap file: a binding replaces the same action's binding in its context.
    pub fn patch(&mut self, file: &str, text: &str) -> Result<(), FileError> {
        let raw: BTreeMap<String, Vec<RawBinding>> = parse_toml(file, text)?;
        for (ctx_name, bindings) in raw {
            let ctx = Context::from_name(&ctx_name).ok_or_else(|| {
                let names: Vec<_> = Context::ALL.iter().map(|c| c.name()).collect();
                file_err(
                    file,
                    text,
                    &format!("[[{ctx_name}]]"),
                    format!("unknown context `{ctx_name}` (contexts: {})", names.join(", ")),
                )
            })?;
            for (n, rb) in bindings.into_iter().enumerate() {
                let line =
                    binding_line(text, &ctx_name, n).or_else(|| line_of(text, &format!("\"{}\"", rb.action)));
                let action = Action::from_name(&rb.action).ok_or_else(|| {
                    file_err(
                        file,
                        text,
                        &format!("\"{}\"", rb.action),
                        format!("key `action`: unknown action `{}`", rb.action),
                    )
                })?;
                let keys = rb
                    .keys
                    .iter()
                    .map(|k| {
                        Key::parse(k).map_err(|m| {
                            file_err(file, text, &format!("\"{k}\""), format!("key `keys`: {m}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.origins.push(Origin { ctx, action: action.clone(), file: file.to_string(), line });
                let list = self.contexts.entry(ctx).or_default();
                match list.iter_mut().find(|b| b.action == action) {
                    Some(b) => {
                        b.keys = keys;
                        if let Some(d) = rb.desc {
                            b.desc = d;
                        }
                    }
                    None => {
                        let desc = rb.desc.unwrap_or_else(|| rb.action.replace('_', " "));
                        list.push(Binding { action, keys, desc });
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces the keys of an action wherever it is bound (config `[keys]`).
    pub fn override_keys(
        &mut self,
        file: &str,
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<(), FileError> {
        for (name, keys) in overrides {
            let err = |message: String| FileError { file: file.to_string(), line: None, message };
            let action = Action::from_name(name)
                .ok_or_else(|| err(format!("key `keys.{name}`: unknown action `{name}`")))?;
            let keys = keys
                .iter()
                .map(|k| Key::parse(k).map_err(|m| err(format!("key `keys.{name}`: {m}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let mut found = false;
            let line = std::fs::read_to_string(file).ok().and_then(|t| {
                t.lines().position(|l| l.trim_start().starts_with(name.as_str())).map(|i| i + 1)
            });
            for (ctx, list) in self.contexts.iter_mut() {
                for b in list.iter_mut().filter(|b| b.action == action) {
                    b.keys = keys.clone();
                    found = true;
                    self.origins.push(Origin {
                        ctx: *ctx,
                        action: action.clone(),
                        file: file.to_string(),
                        line,
                    });
                }
            }
            if !found {
                return Err(err(format!("key `keys.{name}`: action `{name}` has no binding to override")));
            }
        }
        Ok(())
    }

    pub fn bindings(&self, ctx: Context) -> &[Binding] {
        self.contexts.get(&ctx).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The action a key triggers in a focused context (searching its chain).
    pub fn lookup(&self, ctx: Context, key: Key) -> Option<&Action> {
        ctx.chain().iter().flat_map(|c| self.bindings(*c)).find(|b| b.keys.contains(&key)).map(|b| &b.action)
    }

    /// Every binding that works in a focused context, nearest context first, shadowed keys
    /// and actions dropped (what `?` lists and the command bar shows).
    pub fn effective(&self, ctx: Context) -> Vec<(Context, Binding)> {
        let mut seen_actions: Vec<&Action> = Vec::new();
        let mut seen_keys: Vec<Key> = Vec::new();
        let mut out = Vec::new();
        for c in ctx.chain() {
            for b in self.bindings(*c) {
                if seen_actions.contains(&&b.action) {
                    continue;
                }
                seen_actions.push(&b.action);
                // A key a nearer context binds does something else here (e.g. `n` in a search).
                let keys: Vec<Key> = b.keys.iter().copied().filter(|k| !seen_keys.contains(k)).collect();
                seen_keys.extend(&keys);
                if keys.is_empty() && !b.keys.is_empty() {
                    continue;
                }
                out.push((*c, Binding { keys, ..b.clone() }));
            }
        }
        out
    }

    /// The first key of an action in a context chain, for hints like "press n".
    pub fn key_for(&self, ctx: Context, action: &Action) -> Option<Key> {
        ctx.chain()
            .iter()
            .flat_map(|c| self.bindings(*c))
            .find(|b| &b.action == action)
            .and_then(|b| b.keys.first().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_are_those_of_keymap_files() {
        let names: Vec<&str> = Context::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "global",
                "board",
                "war_room",
                "timeline",
                "roster",
                "checklists",
                "composer",
                "comms",
                "prompt",
                "form",
                "picker",
                "popup",
                "replay",
                "search"
            ]
        );
        for c in Context::ALL {
            assert_eq!(Context::from_name(c.name()), Some(*c));
        }
        assert_eq!(Context::from_name("warroom"), None);
        assert_eq!(Context::from_name("Board"), None);
    }

    #[test]
    fn parses_keys() {
        assert_eq!(Key::parse("ctrl-c").unwrap(), Key::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(Key::parse("S").unwrap(), Key::new(KeyCode::Char('S'), KeyModifiers::SHIFT));
        assert_eq!(Key::parse("shift-s").unwrap(), Key::new(KeyCode::Char('S'), KeyModifiers::NONE));
        assert_eq!(Key::parse("shift-tab").unwrap(), Key::new(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(Key::parse("alt-enter").unwrap(), Key::new(KeyCode::Enter, KeyModifiers::ALT));
        assert_eq!(Key::parse("space").unwrap().code, KeyCode::Char(' '));
        assert_eq!(Key::parse("f5").unwrap().code, KeyCode::F(5));
        assert!(Key::parse("hyper-x").is_err());
        assert!(Key::parse("ctrl-").is_err());
    }

    #[test]
    fn defaults_resolve_by_context() {
        let k = Keymap::defaults();
        let key = |s| Key::parse(s).unwrap();
        assert_eq!(k.lookup(Context::Timeline, key("n")), Some(&Action::Note));
        assert_eq!(k.lookup(Context::Timeline, key("enter")), Some(&Action::Open));
        assert_eq!(k.lookup(Context::Roster, key("m")), Some(&Action::AssignSelf));
        assert_eq!(k.lookup(Context::Roster, key("enter")), None);
        assert_eq!(k.lookup(Context::Board, key("D")), Some(&Action::Declare));
        assert_eq!(k.lookup(Context::Board, key("q")), Some(&Action::Quit));
        assert_eq!(k.lookup(Context::Board, key("Q")), Some(&Action::Quit));
        // In a war room `q` goes back to the board (like esc); `Q` quits from anywhere.
        assert_eq!(k.lookup(Context::Timeline, key("q")), Some(&Action::Back));
        assert_eq!(k.lookup(Context::Roster, key("q")), Some(&Action::Back));
        assert_eq!(k.lookup(Context::Timeline, key("Q")), Some(&Action::Quit));
        assert_eq!(k.lookup(Context::Replay, key("Q")), Some(&Action::Quit));
        // While a search is active, `n`/`N` move between matches; other keys still work.
        assert_eq!(k.lookup(Context::Search, key("n")), Some(&Action::SearchNext));
        assert_eq!(k.lookup(Context::Search, key("N")), Some(&Action::SearchPrev));
        assert_eq!(k.lookup(Context::Search, key("f")), Some(&Action::Finding));
        assert_eq!(k.lookup(Context::Search, key("enter")), Some(&Action::Open));
        // The composer captures the keyboard: `q` is text there.
        assert_eq!(k.lookup(Context::Composer, key("q")), None);
        assert_eq!(k.lookup(Context::Composer, key("alt-enter")), Some(&Action::Newline));
    }

    #[test]
    fn replay_keys_shadow_the_war_rooms() {
        let k = Keymap::defaults();
        let key = |s| Key::parse(s).unwrap();
        assert_eq!(k.lookup(Context::Timeline, key("R")), Some(&Action::Replay));
        assert_eq!(k.lookup(Context::Replay, key("l")), Some(&Action::ReplayNext));
        assert_eq!(k.lookup(Context::Replay, key("left")), Some(&Action::ReplayPrev));
        assert_eq!(k.lookup(Context::Replay, key("esc")), Some(&Action::Replay));
        assert_eq!(k.lookup(Context::Replay, key("}")), Some(&Action::ReplayNextStatus));
        assert_eq!(k.lookup(Context::Replay, key("g")), Some(&Action::Top));
        // Writing keys still resolve (the reducer refuses them with a notice).
        assert_eq!(k.lookup(Context::Replay, key("n")), Some(&Action::Note));
    }

    #[test]
    fn overrides_by_action_name() {
        let mut k = Keymap::defaults();
        let o = BTreeMap::from([("note".to_string(), vec!["N".to_string(), "ctrl-n".to_string()])]);
        k.override_keys("config.toml", &o).unwrap();
        assert_eq!(k.lookup(Context::Timeline, Key::parse("N").unwrap()), Some(&Action::Note));
        assert_eq!(k.lookup(Context::Timeline, Key::parse("n").unwrap()), None);
        let bad = BTreeMap::from([("nope".to_string(), vec!["x".to_string()])]);
        let e = k.override_keys("config.toml", &bad).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("keys.nope"), "{e}");
        let bad = BTreeMap::from([("note".to_string(), vec!["hyper-q".to_string()])]);
        assert!(k.override_keys("config.toml", &bad).unwrap_err().to_string().contains("hyper-q"));
    }

    #[test]
    fn defaults_pass_validation() {
        Keymap::defaults().validate().unwrap();
    }

    #[test]
    fn one_key_for_two_actions_or_no_quit_is_refused() {
        let mut k = Keymap::defaults();
        let text = "# mine\n[[board]]\naction = \"open\"\nkeys = [\"enter\"]\n\n[[board]]\naction = \"declare\"\nkeys = [\"enter\"]\n";
        k.patch("my/keymap.toml", text).unwrap();
        let e = k.validate().unwrap_err().to_string();
        assert!(e.starts_with("my/keymap.toml:8:") && e.contains("`enter`") && e.contains("board"), "{e}");
        let mut k = Keymap::defaults();
        k.patch(
            "my/keymap.toml",
            "[[global]]\naction = \"quit\"\nkeys = []\n[[board]]\naction = \"quit\"\nkeys = []\n",
        )
        .unwrap();
        let e = k.validate().unwrap_err().to_string();
        assert!(e.starts_with("my/keymap.toml:") && e.contains("`quit`"), "{e}");
    }

    #[test]
    fn bad_keymap_file_names_file_line_and_key() {
        let mut k = Keymap::defaults();
        let text = "[[board]]\naction = \"open\"\nkeys = [\"enter\"]\n\n[[board]]\naction = \"fly\"\nkeys = [\"x\"]\n";
        let e = k.patch("my/keymap.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("my/keymap.toml:6:"), "{e}");
        assert!(e.contains("action") && e.contains("fly"), "{e}");
        let text = "[[board]]\naction = \"open\"\nkeys = [\"enter\", \"ctl-x\"]\n";
        let e = k.patch("my/keymap.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("my/keymap.toml:3:") && e.contains("ctl-x"), "{e}");
        let text = "[[board]]\naction = \"open\"\nkey = [\"enter\"]\n";
        let e = k.patch("my/keymap.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("my/keymap.toml:"), "{e}");
    }
}
